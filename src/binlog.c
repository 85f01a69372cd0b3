/*-------------------------------------------------------------------------
 *
 * binlog.c
 *		Reading one table's row changes from a MySQL/MariaDB binary log.
 *
 * The replication client of Connector/C (mariadb_rpl.h) fetches the events
 * from stored coordinates up to a stop position taken when the run starts,
 * which is always at a transaction boundary: a run applies whole
 * transactions only, and a transaction rolled back in MySQL never reaches
 * the log.  The library's own row decoder skips rows of several common
 * column types (Connector/C 3.3 returns no row for INT, DECIMAL, DATE, ENUM
 * or YEAR columns), so row images are decoded here, from the documented
 * format: the TABLE_MAP event gives each column's type and metadata, the
 * rows event a null bitmap and the packed values.  Each value becomes the
 * text the text protocol would have sent for it, so convert.c turns it
 * into the same Datum a snapshot read gives.
 *
 * The table's columns (names, signedness, ENUM and SET members, charsets)
 * come from information_schema when the reader opens; a TABLE_MAP whose
 * column count or types differ from them, or a statement that changes the
 * table (ALTER, TRUNCATE, DROP, RENAME), stops the run: the log no longer
 * says what the rows mean.
 *
 * Calls connection.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include <mariadb_rpl.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/memutils.h"

/*
 * What Connector/C 3.3 leaves in mysql_errno when a non-blocking dump ends
 * (2008, its CR_OUT_OF_MEMORY): a fetch that returns nothing before the stop
 * position, with this or no error, means the log ended early.
 */
#define CR_BINLOG_END_OF_DUMP 2008

/* every event of a version 4 log starts with a header of this size */
#define EVENT_HEADER_SIZE 19

/* longest file name of a log (MySQL's FN_REFLEN) */
#define LOG_NAME_SIZE 512

/* what a failed query of the log's state was doing, for its message */
#define COORDINATES_ACTION "read the binary log coordinates of"

typedef struct BinlogColumn
{
	char	   *name;
	unsigned char type;			/* from TABLE_MAP */
	unsigned int meta;			/* its metadata, as read below */
	bool		is_unsigned;
	bool		is_binary;		/* binary strings: bytes as they are */
	bool		is_latin1;		/* MySQL latin1 is cp1252: converted to UTF-8 */
	List	   *members;		/* ENUM and SET */
	char	   *column_type;	/* information_schema's, for messages */
	int			logged_type;	/* the type its TABLE_MAP must say, -1 if any */
} BinlogColumn;

struct BinlogReader
{
	SourceConnection *conn;
	const char *server;
	const char *etl;
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *event;
	char		file[LOG_NAME_SIZE];	/* coordinates of the next event */
	uint64		position;
	char		event_file[LOG_NAME_SIZE];	/* and of the current one */
	uint64		event_position;
	char	   *stop_file;
	uint64		stop_position;
	char	   *database;
	char	   *table;
	int			ncolumns;
	BinlogColumn *columns;
	int			checksum_size;	/* ending each event: 4 with CRC32 */
	bool		map_seen;		/* table_id is the table's */
	uint64		table_id;

	/* the rows event being read */
	int			change;			/* BINLOG_INSERT, ... */
	const unsigned char *row;
	const unsigned char *row_end;
	uint32		event_time;
};

/* Where the current event is, for messages. */
static char *
event_coordinates(BinlogReader *r)
{
	return binlog_coordinates(r->event_file, r->event_position);
}

/* ---- small helpers ---- */

static uint64
little_endian(const unsigned char *p, int n)
{
	uint64		v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64
big_endian(const unsigned char *p, int n)
{
	uint64		v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void pg_attribute_noreturn()
malformed(BinlogReader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("binary log of MySQL server \"%s\" has a malformed row event for table %s.%s at %s (ETL \"%s\")",
					r->server, r->database, r->table, event_coordinates(r), r->etl),
			 errdetail("%s", what),
			 errhint("Re-snapshot with pypeline.process_etl(..., delete_existing_table => true).")));
}

/* The next n bytes of the row being read. */
static const unsigned char *
take(BinlogReader *r, size_t n)
{
	const unsigned char *p = r->row;

	if ((size_t) (r->row_end - r->row) < n)
		malformed(r, "A value runs past the end of the event.");
	r->row += n;
	return p;
}

/* "file:position" */
char *
binlog_coordinates(const char *file, uint64 position)
{
	return psprintf("%s:%llu", file, (unsigned long long) position);
}

/* Splits "file:position"; false if the text is not that. */
bool
binlog_parse_coordinates(const char *text, char **file, uint64 *position)
{
	const char *colon = strrchr(text, ':');
	char	   *end;

	if (colon == NULL || colon == text || colon[1] == '\0')
		return false;
	errno = 0;
	*position = strtoull(colon + 1, &end, 10);
	if (*end != '\0' || errno != 0 || *position < 4)
		return false;
	*file = pnstrdup(text, colon - text);
	return true;
}

/*
 * The coordinates matching the consistent snapshot the connection's
 * transaction has just taken (MariaDB's Binlog_snapshot_file/position);
 * with missing_ok, NULL from a server without them (binary log off).
 */
char *
binlog_snapshot_coordinates(SourceConnection *conn, bool missing_ok)
{
	char	  **file = pypeline_query_row(conn, "SHOW STATUS LIKE 'binlog_snapshot_file'", 2, COORDINATES_ACTION);
	char	  **position = pypeline_query_row(conn, "SHOW STATUS LIKE 'binlog_snapshot_position'", 2, COORDINATES_ACTION);

	if (file == NULL || position == NULL || file[1] == NULL || position[1] == NULL || file[1][0] == '\0')
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("MySQL server \"%s\" does not say where in its binary log a consistent snapshot is",
						conn->options->server_name),
				 errdetail("capture => 'binlog' needs MariaDB's Binlog_snapshot_file and Binlog_snapshot_position status variables with the binary log on."),
				 errhint("See pypeline.capture_requirements('%s').", conn->options->server_name)));
	}
	return psprintf("%s:%s", file[1], position[1]);
}

/*
 * Refuses an account that could not read the binary log on the next run:
 * reading it needs REPLICATION SLAVE, and its coordinates BINLOG MONITOR
 * (MariaDB; REPLICATION CLIENT on MySQL) or SUPER.  Privileges granted
 * through a MySQL role are not seen here.
 */
void
binlog_check_access(SourceConnection *conn, const char *etl)
{
	char	  **row = pypeline_query_row(conn,
									"SELECT SUM(PRIVILEGE_TYPE IN ('REPLICATION SLAVE', 'REPLICATION REPLICA')), "
									"       SUM(PRIVILEGE_TYPE IN ('BINLOG MONITOR', 'REPLICATION CLIENT', 'SUPER')) "
									"FROM information_schema.USER_PRIVILEGES", 2, COORDINATES_ACTION);
	const char *server = conn->options->server_name;

	if (row == NULL || row[0] == NULL || strcmp(row[0], "0") == 0 || row[1] == NULL || strcmp(row[1], "0") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the account of ETL \"%s\" on MySQL server \"%s\" may not read the binary log, which capture => 'binlog' needs",
						etl, server),
				 errdetail("It lacks %s.", row == NULL || row[0] == NULL || strcmp(row[0], "0") == 0 ?
						   "REPLICATION SLAVE" : "BINLOG MONITOR (REPLICATION CLIENT on MySQL)"),
				 errhint("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* to it on the MySQL server; pypeline.capture_requirements('%s') lists what is missing.",
						 server)));
}

/* Where the server's binary log ends now (SHOW MASTER STATUS). */
char *
binlog_current_coordinates(SourceConnection *conn)
{
	char	  **row = pypeline_query_row(conn, "SHOW MASTER STATUS", 2, COORDINATES_ACTION);

	if (row == NULL || row[0] == NULL || row[1] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("MySQL server \"%s\" reports no binary log position", conn->options->server_name),
				 errhint("See pypeline.capture_requirements('%s'): the binary log must be on and the account needs BINLOG MONITOR (MariaDB) or REPLICATION CLIENT.",
						 conn->options->server_name)));
	return psprintf("%s:%s", row[0], row[1]);
}

/* ---- the table's columns ---- */

/* The quoted members of "enum('a','b''c')" or "set(...)". */
static List *
parse_members(const char *column_type)
{
	List	   *members = NIL;
	const char *p = strchr(column_type, '(');

	if (p == NULL)
		return NIL;
	p++;
	while (*p == '\'')
	{
		StringInfoData member;

		initStringInfo(&member);
		for (p++; *p; p++)
		{
			if (*p == '\'' && p[1] == '\'')
				appendStringInfoChar(&member, *p++);
			else if (*p == '\\' && p[1])
				appendStringInfoChar(&member, *++p);
			else if (*p == '\'')
				break;
			else
				appendStringInfoChar(&member, *p);
		}
		members = lappend(members, member.data);
		if (*p == '\'')
			p++;
		if (*p == ',')
			p++;
	}
	return members;
}

/* A name as a MySQL string whatever the sql_mode: its bytes in hex. */
static char *
mysql_text_literal(const char *name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "CONVERT(UNHEX('");
	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		appendStringInfo(&buf, "%02X", *p);
	appendStringInfoString(&buf, "') USING utf8mb4)");
	return buf.data;
}

/*
 * The type a column of information_schema's DATA_TYPE has in a TABLE_MAP
 * (MariaDB's and MySQL 5.6+'s formats); -1 for a type not checked here.
 */
static int
logged_type_of(const char *data_type)
{
	static const struct
	{
		const char *name;
		int			type;
	}			types[] = {
		{"tinyint", MYSQL_TYPE_TINY}, {"smallint", MYSQL_TYPE_SHORT}, {"mediumint", MYSQL_TYPE_INT24},
		{"int", MYSQL_TYPE_LONG}, {"bigint", MYSQL_TYPE_LONGLONG}, {"decimal", MYSQL_TYPE_NEWDECIMAL},
		{"float", MYSQL_TYPE_FLOAT}, {"double", MYSQL_TYPE_DOUBLE}, {"date", MYSQL_TYPE_DATE},
		{"datetime", MYSQL_TYPE_DATETIME2}, {"timestamp", MYSQL_TYPE_TIMESTAMP2}, {"time", MYSQL_TYPE_TIME2},
		{"year", MYSQL_TYPE_YEAR}, {"bit", MYSQL_TYPE_BIT}, {"varchar", MYSQL_TYPE_VARCHAR},
		{"varbinary", MYSQL_TYPE_VARCHAR}, {"char", MYSQL_TYPE_STRING}, {"binary", MYSQL_TYPE_STRING},
		{"enum", MYSQL_TYPE_STRING}, {"set", MYSQL_TYPE_STRING},
		{"tinytext", MYSQL_TYPE_BLOB}, {"text", MYSQL_TYPE_BLOB}, {"mediumtext", MYSQL_TYPE_BLOB},
		{"longtext", MYSQL_TYPE_BLOB}, {"tinyblob", MYSQL_TYPE_BLOB}, {"blob", MYSQL_TYPE_BLOB},
		{"mediumblob", MYSQL_TYPE_BLOB}, {"longblob", MYSQL_TYPE_BLOB}, {"json", -1},
	};

	for (int i = 0; i < (int) lengthof(types); i++)
		if (pg_strcasecmp(data_type, types[i].name) == 0)
			return types[i].type;
	return -1;
}

static void
read_table_columns(BinlogReader *r)
{
	SourceConnection *conn = r->conn;
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	char	   *sql = psprintf("SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, '') "
							   "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
							   "ORDER BY ORDINAL_POSITION",
							   mysql_text_literal(r->database), mysql_text_literal(r->table));
	int			i = 0;

	res = pypeline_store_result(conn, sql, "read the columns of a captured table on");
	r->ncolumns = (int) mysql_num_rows(res);
	r->columns = palloc0(sizeof(BinlogColumn) * Max(r->ncolumns, 1));
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		BinlogColumn *col = &r->columns[i++];
		const char *charset = row[3] ? row[3] : "";

		col->name = pstrdup(row[0] ? row[0] : "");
		col->column_type = pstrdup(row[1] ? row[1] : "");
		col->is_unsigned = strstr(col->column_type, "unsigned") != NULL;
		col->is_binary = charset[0] == '\0' || strcmp(charset, "binary") == 0;
		col->is_latin1 = strcmp(charset, "latin1") == 0;
		if (!col->is_binary && !col->is_latin1 && strncmp(charset, "utf8", 4) != 0 &&
			strcmp(charset, "ascii") != 0)
		{
			mysql_free_result(res);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of table %s.%s on MySQL server \"%s\" uses character set %s, which capture => 'binlog' cannot read",
							col->name, r->database, r->table, r->server, charset),
					 errhint("Captured text columns must be utf8mb4, utf8mb3, ascii or latin1; or capture a view of the column converted in the source query without capture.")));
		}
		if (row[2] && (strcmp(row[2], "enum") == 0 || strcmp(row[2], "set") == 0))
			col->members = parse_members(col->column_type);
		col->logged_type = row[2] ? logged_type_of(row[2]) : -1;
		if (list_length(col->members) > 64)
		{
			mysql_free_result(res);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of table %s.%s on MySQL server \"%s\" has %d members, more than a SET or ENUM pypeline reads (64)",
							col->name, r->database, r->table, r->server, list_length(col->members))));
		}
	}
	mysql_free_result(res);
	if (r->ncolumns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("table %s.%s of ETL \"%s\" is not on MySQL server \"%s\"",
						r->database, r->table, r->etl, r->server)));
}

/* The index of a table column by name, -1 if none. */
int
binlog_column_index(BinlogReader *r, const char *name)
{
	for (int i = 0; i < r->ncolumns; i++)
		if (pg_strcasecmp(r->columns[i].name, name) == 0)
			return i;
	return -1;
}

/* ---- opening and closing ---- */

static void
free_replication(void *arg)
{
	BinlogReader *r = arg;

	if (r->event)
		mariadb_free_rpl_event(r->event);
	r->event = NULL;
	if (r->rpl)
		mariadb_rpl_close(r->rpl);
	r->rpl = NULL;
}

static void pg_attribute_noreturn()
report_replication_error(BinlogReader *r)
{
	unsigned int err = mysql_errno(r->conn->mysql);

	/* 1236: the server cannot send from there (purged, or never was) */
	if (err == 1236)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("binary log position %s of ETL \"%s\" is no longer on MySQL server \"%s\"",
						binlog_coordinates(r->file, r->position), r->etl, r->server),
				 errdetail("MySQL error %u: %s", err, mysql_error(r->conn->mysql)),
				 errhint("The changes since then are lost to capture (the log was purged or reset): re-snapshot with pypeline.process_etl('%s', 'dimension', delete_existing_table => true).",
						 r->etl)));
	pypeline_report_mysql_error(r->conn, "read the binary log of");
}

/*
 * Opens the binary log of "database"."table" at file:position, to be read
 * up to stop_file:stop_position.
 */
BinlogReader *
binlog_open(SourceConnection *conn, const char *etl, const char *database, const char *table,
			const char *from, char **stop)
{
	char	   *to;
	BinlogReader *r = palloc0(sizeof(BinlogReader));
	unsigned int server_id = 0x50000000u | (unsigned int) MyProcPid;
	char	   *file;
	char	  **checksum;
	unsigned int flags = MARIADB_RPL_BINLOG_DUMP_NON_BLOCK;

	r->conn = conn;
	r->server = conn->options->server_name;
	r->etl = etl;
	r->database = pstrdup(database);
	r->table = pstrdup(table);
	if (!binlog_parse_coordinates(from, &file, &r->position) || strlen(file) >= LOG_NAME_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ETL \"%s\" has binary log coordinates \"%s\", not file:position", etl, from),
				 errhint("Re-snapshot it: process_etl(..., delete_existing_table => true).")));
	strlcpy(r->file, file, LOG_NAME_SIZE);

	/*
	 * The columns first, then the stop: a change of the table after them is
	 * before the stop, where check_statement sees it.
	 */
	read_table_columns(r);
	*stop = to = binlog_current_coordinates(conn);
	if (!binlog_parse_coordinates(to, &r->stop_file, &r->stop_position))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("MySQL server \"%s\" reports binary log position \"%s\", not file:position",
						r->server, to)));
	if (strcmp(r->file, r->stop_file) > 0 ||
		(strcmp(r->file, r->stop_file) == 0 && r->position > r->stop_position))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("binary log position %s of ETL \"%s\" is past the end of the log of MySQL server \"%s\" (%s)",
						from, etl, r->server, to),
				 errdetail("The log was reset (RESET MASTER) or the server replaced since the last run: the changes in between are lost to capture."),
				 errhint("Re-snapshot with pypeline.process_etl('%s', 'dimension', delete_existing_table => true).", etl)));
	if (!binlog_before(r))
		return r;

	/* the events come with the checksums the log has, the first one too */
	checksum = pypeline_query_row(conn, "SELECT @@global.binlog_checksum", 1, COORDINATES_ACTION);
	r->checksum_size = checksum && checksum[0] && pg_strcasecmp(checksum[0], "NONE") != 0 ? 4 : 0;
	pypeline_execute(conn, "SET @mariadb_slave_capability = 4");
	pypeline_execute(conn, "SET @master_binlog_checksum = @@global.binlog_checksum");
	r->rpl = mariadb_rpl_init(conn->mysql);
	if (r->rpl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate a binary log reader")));
	/* closed with its connection, which an error closes at the end of the transaction */
	conn->before_close = free_replication;
	conn->before_close_arg = r;
	mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_FILENAME, r->file, strlen(r->file));
	mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_START, (unsigned long) r->position);
	mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_SERVER_ID, server_id);
	mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_FLAGS, flags);
	conn->busy = true;
	if (mariadb_rpl_open(r->rpl) != 0)
		report_replication_error(r);
	return r;
}

/* Whether the reader is still before its stop position. */
bool
binlog_before(BinlogReader *r)
{
	int			cmp = strcmp(r->file, r->stop_file);

	return cmp < 0 || (cmp == 0 && r->position < r->stop_position);
}

/* ---- events ---- */

static void pg_attribute_noreturn()
malformed_map(BinlogReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("binary log of MySQL server \"%s\" has a malformed table map for %s.%s at %s",
					r->server, r->database, r->table, event_coordinates(r))));
}

/* A column whose logged type pypeline does not decode. */
static void pg_attribute_noreturn()
unreadable_column(BinlogReader *r, BinlogColumn *col)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("capture => 'binlog' cannot read column \"%s\" (%s) of %s.%s on MySQL server \"%s\"",
					col->name, col->column_type, r->database, r->table, r->server),
			 errdetail("Its binary log type is %d.", col->type),
			 errhint("Leave the column out of the table, or define ETL \"%s\" without capture.", r->etl)));
}

/* A TABLE_MAP type, its synonyms folded (what logged_type_of says). */
static int
logged_kind(int type)
{
	switch (type)
	{
		case MYSQL_TYPE_NEWDATE:
			return MYSQL_TYPE_DATE;
		case MYSQL_TYPE_VAR_STRING:
			return MYSQL_TYPE_VARCHAR;
		case MYSQL_TYPE_ENUM:
		case MYSQL_TYPE_SET:
			return MYSQL_TYPE_STRING;
		case MYSQL_TYPE_TINY_BLOB:
		case MYSQL_TYPE_MEDIUM_BLOB:
		case MYSQL_TYPE_LONG_BLOB:
			return MYSQL_TYPE_BLOB;
		default:
			return type;
	}
}

/* Reads each column's metadata from a TABLE_MAP event. */
static void
read_table_map(BinlogReader *r, struct st_mariadb_rpl_table_map_event *map)
{
	const unsigned char *types = (const unsigned char *) map->column_types.str;
	const unsigned char *meta = (const unsigned char *) map->metadata.str;
	const unsigned char *meta_end = meta + map->metadata.length;

	if (map->column_types.length < map->column_count)
		malformed_map(r);
	if ((int) map->column_count != r->ncolumns)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION),
				 errmsg("table %s.%s had %u columns at binary log position %s, not the %d it has now (ETL \"%s\")",
						r->database, r->table, map->column_count, event_coordinates(r), r->ncolumns, r->etl),
				 errdetail("The table changed after those rows were written, so the log no longer says which value is which column."),
				 errhint("Re-snapshot with pypeline.process_etl('%s', 'dimension', delete_existing_table => true).", r->etl)));
	for (int i = 0; i < r->ncolumns; i++)
	{
		BinlogColumn *col = &r->columns[i];
		int			nmeta;

		col->type = types[i];
		if (col->logged_type >= 0 && logged_kind(col->type) != col->logged_type)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION),
					 errmsg("column \"%s\" of table %s.%s was of another type at binary log position %s (logged as type %d) than it is now (%s) (ETL \"%s\")",
							col->name, r->database, r->table, event_coordinates(r), col->type,
							col->column_type, r->etl),
					 errdetail("The table changed after those rows were written, or its type is logged in a format pypeline does not read."),
					 errhint("Re-snapshot with pypeline.process_etl('%s', ..., delete_existing_table => true).", r->etl)));
		switch (col->type)
		{
			case MYSQL_TYPE_FLOAT:
			case MYSQL_TYPE_DOUBLE:
			case MYSQL_TYPE_BLOB:
			case MYSQL_TYPE_TINY_BLOB:
			case MYSQL_TYPE_MEDIUM_BLOB:
			case MYSQL_TYPE_LONG_BLOB:
			case MYSQL_TYPE_GEOMETRY:
			case MYSQL_TYPE_JSON:
			case MYSQL_TYPE_TIMESTAMP2:
			case MYSQL_TYPE_DATETIME2:
			case MYSQL_TYPE_TIME2:
				nmeta = 1;
				break;
			case MYSQL_TYPE_VARCHAR:
			case MYSQL_TYPE_VAR_STRING:
			case MYSQL_TYPE_BIT:
			case MYSQL_TYPE_NEWDECIMAL:
			case MYSQL_TYPE_STRING:
			case MYSQL_TYPE_ENUM:
			case MYSQL_TYPE_SET:
				nmeta = 2;
				break;
			case MYSQL_TYPE_TINY:
			case MYSQL_TYPE_SHORT:
			case MYSQL_TYPE_INT24:
			case MYSQL_TYPE_LONG:
			case MYSQL_TYPE_LONGLONG:
			case MYSQL_TYPE_YEAR:
			case MYSQL_TYPE_DATE:
			case MYSQL_TYPE_NEWDATE:
				nmeta = 0;
				break;
			default:
				/* its metadata's size unknown, the columns after it could not be read */
				unreadable_column(r, col);
		}
		if (meta + nmeta > meta_end)
			malformed_map(r);
		/* VARCHAR's maximum length is little-endian; the others are two bytes in order */
		if (col->type == MYSQL_TYPE_VARCHAR || col->type == MYSQL_TYPE_VAR_STRING)
			col->meta = (unsigned int) little_endian(meta, 2);
		else
			col->meta = (unsigned int) big_endian(meta, nmeta);
		meta += nmeta;
	}
	r->table_id = map->table_id;
	r->map_seen = true;
}

/*
 * A statement in the log that changes the captured table makes the rows
 * after it unreadable with the columns read at open: refused.
 */
static void
check_statement(BinlogReader *r, struct st_mariadb_rpl_query_event *query)
{
	const char *verbs[] = {"alter", "truncate", "drop", "rename", "create or replace", NULL};
	char	   *text = pnstrdup(query->statement.str, query->statement.length);
	char	   *lower = asc_tolower(text, strlen(text));
	char	   *table = asc_tolower(r->table, strlen(r->table));
	const char *p = lower;
	bool		names_table = false;

	/* spaces and comments before the verb */
	for (;;)
	{
		while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == '(')
			p++;
		if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/"))
			p = strstr(p + 2, "*/") + 2;
		else if ((p[0] == '-' && p[1] == '-') || p[0] == '#')
			p = strchr(p, '\n') ? strchr(p, '\n') : p + strlen(p);
		else
			break;
	}
	/* the table's name as a whole word */
	for (const char *at = strstr(p, table); at && !names_table; at = strstr(at + 1, table))
	{
		char		before = at == p ? ' ' : at[-1];
		char		after = at[strlen(table)];

		names_table = !(isalnum((unsigned char) before) || before == '_' || before == '$') &&
			!(isalnum((unsigned char) after) || after == '_' || after == '$');
	}
	for (int i = 0; verbs[i] && names_table; i++)
	{
		if (strncmp(p, verbs[i], strlen(verbs[i])) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION),
					 errmsg("table %s.%s of ETL \"%s\" was changed by a statement at binary log position %s of MySQL server \"%s\"",
							r->database, r->table, r->etl, event_coordinates(r), r->server),
					 errdetail("The statement: %.200s", text),
					 errhint("Re-snapshot with pypeline.process_etl('%s', 'dimension', delete_existing_table => true).", r->etl)));
	}
}

/*
 * A FORMAT_DESCRIPTION event says whether the events of its file end with a
 * checksum: its checksum algorithm byte comes just before its own (4-byte)
 * checksum.  The ROTATE that ends the file is written that way too.
 */
static void
read_format_description(BinlogReader *r, MARIADB_RPL_EVENT *ev)
{
	const unsigned char *event = ev->raw_data + ev->raw_data_ofs;

	/* version 2, server version 50, timestamp 4, header length 1, algorithm 1, checksum 4 */
	if (ev->raw_data_ofs + ev->event_length > ev->raw_data_size ||
		ev->event_length < EVENT_HEADER_SIZE + 2 + 50 + 4 + 1 + 1 + 4)
		malformed(r, "A format description event is too short.");
	r->checksum_size = event[ev->event_length - 5] == 1 ? 4 : 0;
}

/*
 * A ROTATE event names the next file and the position in it.  Read from the
 * event itself: Connector/C 3.3 cuts the name of a rotate written in the log
 * (as opposed to the one the server sends first) by eight bytes.
 */
static void
read_rotate(BinlogReader *r, MARIADB_RPL_EVENT *ev)
{
	const unsigned char *body = ev->raw_data + ev->raw_data_ofs + EVENT_HEADER_SIZE;
	size_t		header = EVENT_HEADER_SIZE + 8 + r->checksum_size;
	size_t		name_length = ev->event_length - header;

	if (ev->raw_data_ofs + ev->event_length > ev->raw_data_size || ev->event_length <= header ||
		name_length >= LOG_NAME_SIZE)
		malformed(r, "A rotate event is too short or names too long a file.");
	r->position = little_endian(body, 8);
	memcpy(r->file, body + 8, name_length);
	r->file[name_length] = '\0';
}

/*
 * Fetches events until a rows event of the table; false at the stop
 * position.
 */
static bool
next_rows_event(BinlogReader *r)
{
	while (binlog_before(r))
	{
		MARIADB_RPL_EVENT *ev;
		MARIADB_RPL_EVENT *previous;

		CHECK_FOR_INTERRUPTS();
		/* the library reuses the event, and frees it when the fetch fails */
		previous = r->event;
		r->event = NULL;
		ev = mariadb_rpl_fetch(r->rpl, previous);
		if (ev == NULL)
		{
			if (mysql_errno(r->conn->mysql) == CR_BINLOG_END_OF_DUMP || mysql_errno(r->conn->mysql) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("binary log of MySQL server \"%s\" ended at %s, before %s (ETL \"%s\")",
								r->server, binlog_coordinates(r->file, r->position),
								binlog_coordinates(r->stop_file, r->stop_position), r->etl),
						 errhint("The log was reset or purged while the run read it: run the ETL again.")));
			report_replication_error(r);
		}
		r->event = ev;
		strlcpy(r->event_file, r->file, LOG_NAME_SIZE);
		r->event_position = r->position;
		switch (ev->event_type)
		{
			case ROTATE_EVENT:
				read_rotate(r, ev);
				continue;
			case FORMAT_DESCRIPTION_EVENT:
				read_format_description(r, ev);
				break;
			case TABLE_MAP_EVENT:
				if (ev->event.table_map.database.length == strlen(r->database) &&
					ev->event.table_map.table.length == strlen(r->table) &&
					strncmp(ev->event.table_map.database.str, r->database, strlen(r->database)) == 0 &&
					strncmp(ev->event.table_map.table.str, r->table, strlen(r->table)) == 0)
					read_table_map(r, &ev->event.table_map);
				else if (ev->event.table_map.table_id == r->table_id)
					r->map_seen = false;	/* its id now names another table */
				break;
			case QUERY_EVENT:
			case QUERY_COMPRESSED_EVENT:
				check_statement(r, &ev->event.query);
				break;
			case WRITE_ROWS_EVENT:
			case UPDATE_ROWS_EVENT:
			case DELETE_ROWS_EVENT:
			case WRITE_ROWS_COMPRESSED_EVENT:
			case UPDATE_ROWS_COMPRESSED_EVENT:
			case DELETE_ROWS_COMPRESSED_EVENT:
			case PARTIAL_UPDATE_ROWS_EVENT:
				/* MySQL's version 2 row events: the library leaves their second bitmap unread */
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("binary log of MySQL server \"%s\" has a row event of type %d at %s, which capture => 'binlog' does not read (ETL \"%s\")",
								r->server, ev->event_type, event_coordinates(r), r->etl),
						 errhint("Capture reads MariaDB's row events; a MySQL 8 source cannot be captured yet.")));
				break;
			case WRITE_ROWS_EVENT_V1:
			case UPDATE_ROWS_EVENT_V1:
			case DELETE_ROWS_EVENT_V1:
			case WRITE_ROWS_COMPRESSED_EVENT_V1:
			case UPDATE_ROWS_COMPRESSED_EVENT_V1:
			case DELETE_ROWS_COMPRESSED_EVENT_V1:
				if (r->map_seen && ev->event.rows.table_id == r->table_id)
				{
					struct st_mariadb_rpl_rows_event *rows = &ev->event.rows;

					if (rows->column_bitmap == NULL ||
						(rows->type == UPDATE_ROWS && rows->column_update_bitmap == NULL))
						malformed(r, "A rows event has no column bitmap.");

					if ((int) rows->column_count != r->ncolumns)
						malformed(r, "The rows event has another column count than the table map.");
					for (int i = 0; i < r->ncolumns; i++)
						if (!(rows->column_bitmap[i / 8] & (1 << (i % 8))) ||
							(rows->type == UPDATE_ROWS && !(rows->column_update_bitmap[i / 8] & (1 << (i % 8)))))
							ereport(ERROR,
									(errcode(ERRCODE_FDW_ERROR),
									 errmsg("binary log of MySQL server \"%s\" lacks column \"%s\" of %s.%s in a row at %s (ETL \"%s\")",
											r->server, r->columns[i].name, r->database, r->table,
											event_coordinates(r), r->etl),
									 errhint("Set binlog_row_image = FULL on the server (see pypeline.capture_requirements), then re-snapshot the ETL.")));
					r->change = rows->type == WRITE_ROWS ? BINLOG_INSERT :
						rows->type == UPDATE_ROWS ? BINLOG_UPDATE : BINLOG_DELETE;
					r->row = rows->row_data;
					r->row_end = (const unsigned char *) rows->row_data + rows->row_data_size;
					r->event_time = ev->timestamp;
					if (ev->next_event_pos > 0)
						r->position = ev->next_event_pos;
					return true;
				}
				break;
			default:
				break;
		}
		if (ev->next_event_pos > 0)
			r->position = ev->next_event_pos;
	}
	return false;
}

/* ---- values ---- */

static const int decimal_group_bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

/* A DECIMAL(precision, scale) in MySQL's binary form, as text. */
static char *
decimal_text(BinlogReader *r, int precision, int scale)
{
	int			intg = precision - scale;
	int			intg0 = intg / 9,
				intg0x = intg % 9,
				frac0 = scale / 9,
				frac0x = scale % 9;
	int			size;
	unsigned char *b;
	const unsigned char *p;
	bool		negative;
	StringInfoData digits;
	StringInfoData out;
	const char *first;

	if (precision < 1 || precision > 65 || scale > precision || scale > 38)
		malformed(r, "A DECIMAL column has an impossible precision or scale.");
	size = intg0 * 4 + decimal_group_bytes[intg0x] + frac0 * 4 + decimal_group_bytes[frac0x];
	p = b = palloc(size);
	memcpy(b, take(r, size), size);
	negative = (b[0] & 0x80) == 0;
	b[0] ^= 0x80;
	if (negative)
		for (int i = 0; i < size; i++)
			b[i] ^= 0xFF;
	initStringInfo(&digits);
	if (intg0x > 0)
	{
		appendStringInfo(&digits, "%0*u", intg0x, (unsigned int) big_endian(p, decimal_group_bytes[intg0x]));
		p += decimal_group_bytes[intg0x];
	}
	for (int i = 0; i < intg0; i++, p += 4)
		appendStringInfo(&digits, "%09u", (unsigned int) big_endian(p, 4));
	first = digits.data;
	while (*first == '0' && first[1] != '\0')
		first++;
	initStringInfo(&out);
	appendStringInfo(&out, "%s%s", negative ? "-" : "", *first ? first : "0");
	if (scale > 0)
	{
		appendStringInfoChar(&out, '.');
		for (int i = 0; i < frac0; i++, p += 4)
			appendStringInfo(&out, "%09u", (unsigned int) big_endian(p, 4));
		if (frac0x > 0)
			appendStringInfo(&out, "%0*u", frac0x, (unsigned int) big_endian(p, decimal_group_bytes[frac0x]));
	}
	return out.data;
}

/* Microseconds of a temporal value with fsp fractional digits, big-endian. */
static int
fraction_micros(BinlogReader *r, int fsp)
{
	switch (fsp)
	{
		case 0:
			return 0;
		case 1:
		case 2:
			return (int) big_endian(take(r, 1), 1) * 10000;
		case 3:
		case 4:
			return (int) big_endian(take(r, 2), 2) * 100;
		case 5:
		case 6:
			return (int) big_endian(take(r, 3), 3);
		default:
			malformed(r, "A temporal column has more than 6 fractional digits.");
	}
}

static void
append_fraction(StringInfo s, int micros, int fsp)
{
	if (fsp > 0)
	{
		int			divisor = 1;

		for (int i = fsp; i < 6; i++)
			divisor *= 10;
		appendStringInfo(s, ".%0*d", fsp, micros / divisor);
	}
}

/* TIME2: a signed packed number of hours, minutes, seconds and fraction. */
static char *
time_text(BinlogReader *r, int fsp)
{
	int64		packed;
	int64		intpart;
	int64		frac;
	bool		negative;
	int			hms;
	StringInfoData s;

	switch (fsp)
	{
		case 0:
			intpart = (int64) big_endian(take(r, 3), 3) - 0x800000;
			packed = intpart * ((int64) 1 << 24);
			break;
		case 1:
		case 2:
		case 3:
		case 4:
			{
				/* one or two bytes of fraction, borrowed from the seconds when negative */
				int			nbytes = (fsp + 1) / 2;

				intpart = (int64) big_endian(take(r, 3), 3) - 0x800000;
				frac = (int64) big_endian(take(r, nbytes), nbytes);
				if (intpart < 0 && frac)
				{
					intpart++;
					frac -= (int64) 1 << (8 * nbytes);
				}
				packed = intpart * ((int64) 1 << 24) + frac * (nbytes == 1 ? 10000 : 100);
				break;
			}
		case 5:
		case 6:
			packed = (int64) big_endian(take(r, 6), 6) - INT64CONST(0x800000000000);
			break;
		default:
			malformed(r, "A TIME column has more than 6 fractional digits.");
	}
	negative = packed < 0;
	if (negative)
		packed = -packed;
	hms = (int) (packed >> 24);
	initStringInfo(&s);
	appendStringInfo(&s, "%s%02d:%02d:%02d", negative ? "-" : "",
					 (hms >> 12) % (1 << 10), (hms >> 6) % (1 << 6), hms % (1 << 6));
	append_fraction(&s, (int) (packed % (1 << 24)), fsp);
	return s.data;
}

/* Seconds since 1970 in UTC as MySQL's text of a TIMESTAMP (the session is UTC). */
static char *
epoch_text(uint64 seconds, int micros, int fsp)
{
	StringInfoData s;
	int			year,
				month,
				day;
	uint64		in_day = seconds % SECS_PER_DAY;

	initStringInfo(&s);
	if (seconds == 0 && micros == 0)
		appendStringInfoString(&s, "0000-00-00 00:00:00");
	else
	{
		j2date((int) (seconds / SECS_PER_DAY) + UNIX_EPOCH_JDATE, &year, &month, &day);
		appendStringInfo(&s, "%04d-%02d-%02d %02d:%02d:%02d", year, month, day,
						 (int) (in_day / 3600), (int) (in_day / 60 % 60), (int) (in_day % 60));
	}
	append_fraction(&s, micros, fsp);
	return s.data;
}

/* Microseconds since 1970 as the text of a UTC TIMESTAMP(6). */
char *
binlog_time_text(int64 micros)
{
	return epoch_text((uint64) (micros / USECS_PER_SEC), (int) (micros % USECS_PER_SEC), 6);
}

/* The characters of bytes 0x80 to 0x9F in MySQL's latin1 (cp1252). */
static const pg_wchar cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178
};

/* String bytes as the (UTF-8) connection would have sent them. */
static char *
string_text(BinlogColumn *col, const unsigned char *p, size_t len, unsigned long *out_len)
{
	char	   *s;

	if (col->is_latin1)
	{
		StringInfoData buf;

		/* MySQL's latin1 is cp1252, its five undefined bytes mapped to U+0081, U+008D, ... */
		initStringInfo(&buf);
		for (size_t i = 0; i < len; i++)
		{
			pg_wchar	c = p[i] >= 0x80 && p[i] < 0xA0 ? cp1252_high[p[i] - 0x80] : p[i];
			unsigned char utf8[4];

			appendBinaryStringInfo(&buf, (char *) utf8,
								   pg_utf_mblen(unicode_to_utf8(c, utf8)));
		}
		*out_len = buf.len;
		return buf.data;
	}
	s = palloc(len + 1);
	memcpy(s, p, len);
	s[len] = '\0';
	*out_len = len;
	return s;
}

static char *
set_text(BinlogColumn *col, uint64 bits)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, col->members)
		if (bits & ((uint64) 1 << foreach_current_index(lc)))
			appendStringInfo(&s, "%s%s", s.len > 0 ? "," : "", (char *) lfirst(lc));
	return s.data;
}

static char *
enum_text(BinlogReader *r, BinlogColumn *col, uint64 index)
{
	if (index == 0)
		return pstrdup("");
	if (index > (uint64) list_length(col->members))
		malformed(r, psprintf("ENUM column \"%s\" has member %llu of %d.", col->name,
							  (unsigned long long) index, list_length(col->members)));
	return pstrdup(list_nth(col->members, (int) index - 1));
}

/* One value of the row being read, as text, and its length. */
static char *
value_text(BinlogReader *r, BinlogColumn *col, unsigned long *len)
{
	const unsigned char *p;
	char	   *text;
	uint64		v;
	int			n;

	*len = 0;
	switch (col->type)
	{
		case MYSQL_TYPE_TINY:
			v = big_endian(take(r, 1), 1);
			text = col->is_unsigned ? psprintf("%u", (unsigned int) v) : psprintf("%d", (int) (int8) v);
			break;
		case MYSQL_TYPE_SHORT:
			v = little_endian(take(r, 2), 2);
			text = col->is_unsigned ? psprintf("%u", (unsigned int) v) : psprintf("%d", (int) (int16) v);
			break;
		case MYSQL_TYPE_INT24:
			v = little_endian(take(r, 3), 3);
			text = col->is_unsigned ? psprintf("%u", (unsigned int) v) :
				psprintf("%d", (int) (v & 0x800000 ? (int64) v - 0x1000000 : (int64) v));
			break;
		case MYSQL_TYPE_LONG:
			v = little_endian(take(r, 4), 4);
			text = col->is_unsigned ? psprintf("%u", (unsigned int) v) : psprintf("%d", (int32) v);
			break;
		case MYSQL_TYPE_LONGLONG:
			v = little_endian(take(r, 8), 8);
			text = col->is_unsigned ? psprintf("%llu", (unsigned long long) v) :
				psprintf("%lld", (long long) (int64) v);
			break;
		case MYSQL_TYPE_FLOAT:
			{
				uint32		bits = (uint32) little_endian(take(r, 4), 4);
				float		f;

				memcpy(&f, &bits, sizeof(f));
				text = psprintf("%.9g", f);
				break;
			}
		case MYSQL_TYPE_DOUBLE:
			{
				uint64		bits = little_endian(take(r, 8), 8);
				double		d;

				memcpy(&d, &bits, sizeof(d));
				text = psprintf("%.17g", d);
				break;
			}
		case MYSQL_TYPE_NEWDECIMAL:
			text = decimal_text(r, (int) (col->meta >> 8), (int) (col->meta & 0xFF));
			break;
		case MYSQL_TYPE_YEAR:
			v = big_endian(take(r, 1), 1);
			text = v == 0 ? pstrdup("0000") : psprintf("%d", 1900 + (int) v);
			break;
		case MYSQL_TYPE_DATE:
		case MYSQL_TYPE_NEWDATE:
			v = little_endian(take(r, 3), 3);
			text = psprintf("%04d-%02d-%02d", (int) (v >> 9), (int) ((v >> 5) & 15), (int) (v & 31));
			break;
		case MYSQL_TYPE_DATETIME2:
			{
				int64		packed = (int64) big_endian(take(r, 5), 5) - INT64CONST(0x8000000000);
				int64		ymd = packed >> 17;
				int64		ym = ymd >> 5;
				int			hms = (int) (packed % (1 << 17));
				int			micros = fraction_micros(r, (int) col->meta);
				StringInfoData s;

				initStringInfo(&s);
				appendStringInfo(&s, "%04d-%02d-%02d %02d:%02d:%02d", (int) (ym / 13), (int) (ym % 13),
								 (int) (ymd % 32), hms >> 12, (hms >> 6) % 64, hms % 64);
				append_fraction(&s, micros, (int) col->meta);
				text = s.data;
				break;
			}
		case MYSQL_TYPE_TIMESTAMP2:
			{
				uint64		seconds = big_endian(take(r, 4), 4);

				text = epoch_text(seconds, fraction_micros(r, (int) col->meta), (int) col->meta);
				break;
			}
		case MYSQL_TYPE_TIME2:
			text = time_text(r, (int) col->meta);
			break;
		case MYSQL_TYPE_VARCHAR:
		case MYSQL_TYPE_VAR_STRING:
			n = col->meta < 256 ? 1 : 2;
			v = little_endian(take(r, n), n);
			p = take(r, v);
			return string_text(col, p, v, len);
		case MYSQL_TYPE_BIT:
			n = (int) (col->meta & 0xFF) + ((col->meta >> 8) > 0 ? 1 : 0);
			p = take(r, n);
			text = palloc(n + 1);
			memcpy(text, p, n);
			text[n] = '\0';
			*len = n;
			return text;
		case MYSQL_TYPE_BLOB:
		case MYSQL_TYPE_TINY_BLOB:
		case MYSQL_TYPE_MEDIUM_BLOB:
		case MYSQL_TYPE_LONG_BLOB:
			n = (int) col->meta;
			if (n < 1 || n > 4)
				malformed(r, "A BLOB column has an impossible length size.");
			v = little_endian(take(r, n), n);
			p = take(r, v);
			return string_text(col, p, v, len);
		case MYSQL_TYPE_STRING:
		case MYSQL_TYPE_ENUM:
		case MYSQL_TYPE_SET:
			{
				unsigned int real_type = col->meta >> 8;
				unsigned int length = col->meta & 0xFF;

				/* CHAR longer than 255 bytes keeps two more length bits in the type byte */
				if (col->type == MYSQL_TYPE_STRING && (real_type & 0x30) != 0x30)
				{
					length |= ((real_type & 0x30) ^ 0x30) << 4;
					real_type |= 0x30;
				}
				if (col->type == MYSQL_TYPE_ENUM || real_type == MYSQL_TYPE_ENUM)
				{
					text = enum_text(r, col, little_endian(take(r, length), Min(length, 2)));
					break;
				}
				if (col->type == MYSQL_TYPE_SET || real_type == MYSQL_TYPE_SET)
				{
					if (length > 8)
						malformed(r, "A SET column is wider than 8 bytes.");
					text = set_text(col, little_endian(take(r, length), length));
					break;
				}
				n = length < 256 ? 1 : 2;
				v = little_endian(take(r, n), n);
				p = take(r, v);
				if (col->is_binary && v < length)
				{
					/* the log drops a BINARY(n) value's trailing zero bytes */
					text = palloc0(length + 1);
					memcpy(text, p, v);
					*len = length;
					return text;
				}
				return string_text(col, p, v, len);
			}
		default:
			unreadable_column(r, col);
	}
	*len = strlen(text);
	return text;
}

/*
 * Decodes the next row image of the current rows event into values/lengths
 * (ncolumns each; NULL for NULL).
 */
static void
read_image(BinlogReader *r, char **values, unsigned long *lengths)
{
	const unsigned char *nulls = take(r, (r->ncolumns + 7) / 8);

	for (int i = 0; i < r->ncolumns; i++)
	{
		if (nulls[i / 8] & (1 << (i % 8)))
		{
			values[i] = NULL;
			lengths[i] = 0;
		}
		else
			values[i] = value_text(r, &r->columns[i], &lengths[i]);
	}
}

/*
 * The next change of the table: its kind, the time of its event, and its
 * row images (before: of an update or delete; after: of an insert or
 * update), as text per table column, in the current memory context.
 * Returns false at the stop position.
 */
bool
binlog_next_change(BinlogReader *r, BinlogChange *change)
{
	if (r->rpl == NULL)
		return false;
	while (r->row == NULL || r->row >= r->row_end)
	{
		r->row = NULL;
		if (!next_rows_event(r))
			return false;
	}
	change->kind = r->change;
	change->event_time = r->event_time;
	change->before = change->after = NULL;
	if (r->change != BINLOG_INSERT)
	{
		change->before = palloc(sizeof(char *) * r->ncolumns);
		change->before_lengths = palloc(sizeof(unsigned long) * r->ncolumns);
		read_image(r, change->before, change->before_lengths);
	}
	if (r->change != BINLOG_DELETE)
	{
		change->after = palloc(sizeof(char *) * r->ncolumns);
		change->after_lengths = palloc(sizeof(unsigned long) * r->ncolumns);
		read_image(r, change->after, change->after_lengths);
	}
	return true;
}

void
binlog_close(BinlogReader *r)
{
	free_replication(r);
	r->conn->before_close = NULL;
	r->conn->busy = false;
}
