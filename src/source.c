/*-------------------------------------------------------------------------
 *
 * source.c
 *		Streaming the rows of a read-only MySQL query.
 *
 * The query runs in a read-only MySQL transaction with a consistent
 * snapshot and its rows are read unbuffered (mysql_use_result), one at a
 * time, so memory does not grow with the row count.  Values are converted
 * as they arrive; a conversion error names the server, the ETL, the column
 * and the row.
 *
 * Calls options.c, connection.c and convert.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* First words of the statements pypeline sends to MySQL. */
static const char *const read_only_keywords[] = {
	"select", "with", "show", "describe", "desc", "explain", "values", "table", NULL
};

static const char *
skip_space_and_comments(const char *p)
{
	for (;;)
	{
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '(')
			p++;
		if (p[0] == '/' && p[1] == '*')
		{
			const char *end = strstr(p + 2, "*/");

			if (end == NULL)
				return p;
			p = end + 2;
		}
		else if ((p[0] == '-' && p[1] == '-' && (p[2] == ' ' || p[2] == '\t')) || p[0] == '#')
		{
			while (*p && *p != '\n')
				p++;
		}
		else
			return p;
	}
}

static bool
is_word_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$' || (c & 0x80);
}

/*
 * Scans MySQL text for what no read-only query needs and what could write:
 * a second statement, an executable comment (MySQL and MariaDB run the
 * text of "/ *! ... * /" and "/ *M! ... * /" comments), INTO OUTFILE or
 * INTO DUMPFILE.  Whether a backslash escapes a quote in a string depends
 * on the server's sql_mode (NO_BACKSLASH_ESCAPES; ANSI_QUOTES makes "..." a
 * name, quoted alike), so the caller scans both ways.  Returns what was
 * found, or NULL.
 */
static const char *
scan_for_writes(const char *sql, bool backslash_escapes)
{
	const char *p = sql;
	bool		statement_ended = false;
	bool		after_into = false;

	while (*p)
	{
		if (*p == '\'' || *p == '"' || *p == '`')
		{
			char		quote = *p++;

			if (statement_ended)
				return "a second statement";
			while (*p)
			{
				if (backslash_escapes && quote != '`' && *p == '\\' && p[1])
					p += 2;
				else if (*p == quote && p[1] == quote)
					p += 2;
				else if (*p == quote)
					break;
				else
					p++;
			}
			if (*p)
				p++;
			after_into = false;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			const char *end;

			if (p[2] == '!' || (p[2] == 'M' && p[3] == '!'))
				return "an executable comment (/*! ... */)";
			end = strstr(p + 2, "*/");
			if (end == NULL)
				return "a comment that does not end";
			p = end + 2;
		}
		else if ((p[0] == '-' && p[1] == '-' && (p[2] == '\0' || isspace((unsigned char) p[2]))) ||
				 p[0] == '#')
		{
			while (*p && *p != '\n')
				p++;
		}
		else if (*p == ';')
		{
			statement_ended = true;
			p++;
		}
		else if (isspace((unsigned char) *p))
			p++;
		else if (statement_ended)
			return "a second statement";
		else if (is_word_char(*p))
		{
			const char *word = p;
			size_t		len;

			while (is_word_char(*p))
				p++;
			len = p - word;
			if (after_into && ((len == 7 && pg_strncasecmp(word, "outfile", 7) == 0) ||
							   (len == 8 && pg_strncasecmp(word, "dumpfile", 8) == 0)))
				return "INTO OUTFILE or INTO DUMPFILE";
			after_into = len == 4 && pg_strncasecmp(word, "into", 4) == 0;
		}
		else
		{
			after_into = false;
			p++;
		}
	}
	return NULL;
}

/*
 * Refuses anything but a single query.  The MySQL transaction is read-only
 * as well, and the client sends one statement at a time; this check also
 * stops statements that commit implicitly (DDL) and the ways MySQL has of
 * writing from inside a SELECT.  The MySQL account's grants stay the real
 * boundary (doc/security.md).
 */
void
source_check_read_only(const char *sql, const char *server_name)
{
	const char *p;
	const char *found = scan_for_writes(sql, true);

	if (found == NULL)
		found = scan_for_writes(sql, false);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("only read-only queries can be sent to MySQL server \"%s\"", server_name),
				 errdetail("The query contains %s.", found),
				 errhint("Send one SELECT without executable comments, file output or a second statement.")));

	p = skip_space_and_comments(sql);
	for (int i = 0; read_only_keywords[i]; i++)
	{
		size_t		len = strlen(read_only_keywords[i]);

		if (pg_strncasecmp(p, read_only_keywords[i], len) == 0 &&
			!isalnum((unsigned char) p[len]) && p[len] != '_')
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("only read-only queries can be sent to MySQL server \"%s\"", server_name),
			 errdetail("The statement starts with \"%.20s\".", p),
			 errhint("Source queries must start with SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, VALUES or TABLE.")));
}

static void
source_error_context(void *arg)
{
	SourceCursor *cursor = arg;
	const char *server = cursor->conn->options->server_name;

	if (cursor->current_column >= 0)
	{
		ColumnConverter *cc = &cursor->columns[cursor->current_column];

		if (cursor->etl_name)
			errcontext("column \"%s\" (MySQL %s) of row %llu from MySQL server \"%s\", ETL \"%s\"",
					   cc->name, cc->mysql_type, (unsigned long long) cursor->rownum,
					   server, cursor->etl_name);
		else
			errcontext("column \"%s\" (MySQL %s) of row %llu from MySQL server \"%s\"",
					   cc->name, cc->mysql_type, (unsigned long long) cursor->rownum, server);
	}
	else if (cursor->etl_name)
		errcontext("reading row %llu from MySQL server \"%s\", ETL \"%s\"",
				   (unsigned long long) cursor->rownum + 1, server, cursor->etl_name);
	else
		errcontext("reading row %llu from MySQL server \"%s\"",
				   (unsigned long long) cursor->rownum + 1, server);
}

/* Starts "sql" on a connection whose transaction is open, for a cursor. */
static SourceCursor *
start_query(SourceConnection *conn, const char *sql, const char *etl_kind, const char *etl_name)
{
	SourceCursor *cursor = palloc0(sizeof(SourceCursor));
	const char *server_name = conn->options->server_name;
	MYSQL_FIELD *fields;

	cursor->etl_kind = etl_kind;
	cursor->etl_name = etl_name;
	cursor->current_column = -1;
	cursor->conn = conn;
	pypeline_send_query(conn, sql, "execute query on");

	conn->result = mysql_use_result(conn->mysql);
	if (conn->result == NULL)
	{
		if (mysql_errno(conn->mysql))
			pypeline_report_mysql_error(conn, "execute query on");
		ereport(ERROR,
				(errcode(ERRCODE_FDW_NO_SCHEMAS),
				 errmsg("query on MySQL server \"%s\" returned no result set", server_name),
				 errhint("Source queries must return rows, like SELECT.")));
	}

	cursor->ncolumns = mysql_num_fields(conn->result);
	fields = mysql_fetch_fields(conn->result);
	cursor->columns = palloc0(sizeof(ColumnConverter) * cursor->ncolumns);
	for (int i = 0; i < cursor->ncolumns; i++)
		convert_init_column(&cursor->columns[i], &fields[i], conn->options);

	cursor->nsource = cursor->ncolumns;
	cursor->errcallback.callback = source_error_context;
	cursor->errcallback.arg = cursor;
	return cursor;
}

/*
 * Connects to the server and starts the query in a consistent snapshot;
 * with "coordinates", also returns where in the binary log the snapshot
 * is.  The cursor lives in the current memory context; its connection is
 * closed by source_close or, on error, when the (sub)transaction ends.
 */
static SourceCursor *
open_query(const char *server_name, const char *sql, const char *etl_kind, const char *etl_name,
		   char **coordinates)
{
	SourceOptions *options = pypeline_get_source_options(server_name);
	SourceConnection *conn;

	source_check_read_only(sql, server_name);
	conn = pypeline_connect(options);
	if (coordinates)
		binlog_check_access(conn, etl_name);
	pypeline_execute(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
	if (coordinates)
		*coordinates = binlog_snapshot_coordinates(conn, false);
	return start_query(conn, sql, etl_kind, etl_name);
}

/*
 * Starts a query on a connection whose snapshot the caller took (split.c's
 * readers compare theirs before they read).
 */
SourceCursor *
source_open_on(SourceConnection *conn, const char *sql, const char *etl_kind, const char *etl_name)
{
	source_check_read_only(sql, conn->options->server_name);
	return start_query(conn, sql, etl_kind, etl_name);
}

SourceCursor *
source_open(const char *server_name, const char *sql, const char *etl_kind, const char *etl_name)
{
	return open_query(server_name, sql, etl_kind, etl_name, NULL);
}

/*
 * The table every column of a captured source reads; a column that is an
 * expression, or columns of two tables, cannot be followed in the log.
 */
static void
captured_table(SourceCursor *cursor, const char *server_name, char **database, char **table)
{
	*database = *table = NULL;
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		ColumnConverter *cc = &cursor->columns[i];
		const char *problem = NULL;

		if (cc->table_column[0] == '\0' || cc->table[0] == '\0')
			problem = "is not a column of a table";
		else if (*table && (strcmp(cc->table, *table) != 0 || strcmp(cc->database, *database) != 0))
			problem = psprintf("comes from table %s.%s, another table than %s.%s",
							   cc->database, cc->table, *database, *table);
		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of the source of ETL \"%s\" %s, which capture => 'binlog' cannot follow",
							cc->name, cursor->etl_name, problem),
					 errhint("A captured source selects columns of one table (renamed as need be): SELECT id AS customer_id, email FROM customers.")));
		*database = cc->database[0] ? cc->database : pypeline_get_source_options(server_name)->dbname;
		*table = cc->table;
	}
}

/* A query and the binary log coordinates of its snapshot (capture => 'binlog'). */
SourceCursor *
source_open_snapshot(const char *server_name, const char *sql, const char *etl_kind,
					 const char *etl_name, char **coordinates)
{
	SourceCursor *cursor = open_query(server_name, sql, etl_kind, etl_name, coordinates);
	char	   *database;
	char	   *table;

	/* what later runs could not follow is refused before anything is loaded */
	captured_table(cursor, server_name, &database, &table);
	return cursor;
}

/*
 * A cursor over the changes of a captured source's table since the binary
 * log coordinates "from", up to where the log ends now (cursor->stop).  Its
 * rows are the source's columns, then the change's time (COL_EVENT_TIME,
 * increasing in log order) and the change (COL_CHANGE): an insert is its row, an update its new row
 * (preceded by a delete of its old key when the natural key changed), a
 * delete its old row.
 */
SourceCursor *
source_open_changes(const char *server_name, const char *sql, const char *etl_kind,
					const char *etl_name, const char *from, List *key)
{
	SourceCursor *described = source_describe(server_name, sql);
	SourceOptions *options = pypeline_get_source_options(server_name);
	SourceCursor *cursor = palloc0(sizeof(SourceCursor));
	MYSQL_FIELD extra[2] = {{0}};
	char	   *database;
	char	   *table;
	const char *at;
	ListCell   *lc;

	cursor->etl_kind = etl_kind;
	cursor->etl_name = etl_name;
	cursor->current_column = -1;
	captured_table(described, server_name, &database, &table);
	if (database == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the source of ETL \"%s\" reads no table, which capture => 'binlog' needs", etl_name)));

	/* "file:position", then "@" and the instant of the last change applied */
	at = strchr(from, '@');
	if (at)
	{
		cursor->last_instant = strtoll(at + 1, NULL, 10);
		from = pnstrdup(from, at - from);
	}
	cursor->nsource = described->ncolumns;
	cursor->ncolumns = described->ncolumns + 2;
	cursor->columns = palloc0(sizeof(ColumnConverter) * cursor->ncolumns);
	memcpy(cursor->columns, described->columns, sizeof(ColumnConverter) * described->ncolumns);
	extra[0].name = COL_EVENT_TIME;
	extra[0].type = MYSQL_TYPE_TIMESTAMP;
	extra[0].decimals = 6;
	extra[0].charsetnr = 63;
	extra[1].name = COL_CHANGE;
	extra[1].type = MYSQL_TYPE_SHORT;
	extra[1].length = 6;
	extra[1].charsetnr = 63;
	convert_init_column(&cursor->columns[cursor->nsource], &extra[0], options);
	convert_init_column(&cursor->columns[cursor->nsource + 1], &extra[1], options);

	cursor->conn = pypeline_connect(options);
	binlog_check_access(cursor->conn, etl_name);
	cursor->binlog = binlog_open(cursor->conn, etl_name, database, table, from, &cursor->stop);
	cursor->table_columns = palloc(sizeof(int) * cursor->nsource);
	for (int i = 0; i < cursor->nsource; i++)
	{
		cursor->table_columns[i] = binlog_column_index(cursor->binlog, cursor->columns[i].table_column);
		if (cursor->table_columns[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table %s.%s on MySQL server \"%s\" has no column \"%s\" (ETL \"%s\")",
							database, table, server_name, cursor->columns[i].table_column, etl_name)));
	}
	cursor->nkeys = list_length(key);
	cursor->key_columns = palloc(sizeof(int) * Max(cursor->nkeys, 1));
	foreach(lc, key)
	{
		int			i = source_column_index(cursor, lfirst(lc));

		cursor->key_columns[foreach_current_index(lc)] = i >= 0 && i < cursor->nsource ? cursor->table_columns[i] : -1;
	}
	cursor->change_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline captured change",
												   ALLOCSET_DEFAULT_SIZES);
	cursor->change_row = palloc(sizeof(char *) * cursor->ncolumns);
	cursor->change_lengths = palloc(sizeof(unsigned long) * cursor->ncolumns);
	cursor->errcallback.callback = source_error_context;
	cursor->errcallback.arg = cursor;
	return cursor;
}

/*
 * What a run that read a cursor of changes stores: where the changes ended
 * and the instant of the last one, from which the next run goes on.
 */
char *
source_changes_position(SourceCursor *cursor)
{
	return psprintf("%s@" INT64_FORMAT, cursor->stop, cursor->last_instant);
}

/* Whether an update changed the natural key (compared as the log's text). */
static bool
key_changed(SourceCursor *cursor)
{
	BinlogChange *c = &cursor->change;

	for (int k = 0; k < cursor->nkeys; k++)
	{
		int			i = cursor->key_columns[k];

		if (i < 0)
			continue;
		if ((c->before[i] == NULL) != (c->after[i] == NULL) ||
			(c->before[i] && (c->before_lengths[i] != c->after_lengths[i] ||
							  memcmp(c->before[i], c->after[i], c->before_lengths[i]) != 0)))
			return true;
	}
	return false;
}

/*
 * The next row of a cursor of changes, as text per cursor column; false
 * after the last change.
 */
static bool
next_change_row(SourceCursor *cursor, char **row, unsigned long *lengths)
{
	char	  **image;
	unsigned long *image_lengths;
	bool		deleted;
	BinlogChange *c = &cursor->change;
	MemoryContext oldcxt;

	while (cursor->pending == 0)
	{
		MemoryContextReset(cursor->change_context);
		oldcxt = MemoryContextSwitchTo(cursor->change_context);
		if (!binlog_next_change(cursor->binlog, c))
		{
			MemoryContextSwitchTo(oldcxt);
			return false;
		}
		MemoryContextSwitchTo(oldcxt);
		cursor->key_moved = c->kind == BINLOG_UPDATE && key_changed(cursor);
		cursor->pending = c->kind == BINLOG_DELETE || cursor->key_moved ? 2 : 1;
	}
	deleted = cursor->pending == 2;
	image = deleted ? c->before : c->after;
	image_lengths = deleted ? c->before_lengths : c->after_lengths;
	/* a delete has no after image: nothing follows it */
	cursor->pending = deleted && c->kind != BINLOG_DELETE ? 1 : 0;

	for (int i = 0; i < cursor->nsource; i++)
	{
		row[i] = image[cursor->table_columns[i]];
		lengths[i] = image_lengths[cursor->table_columns[i]];
	}
	/*
	 * Event times are whole seconds, and a transaction's are when its
	 * statements started, not when it committed: log order (commit order)
	 * is kept by moving a change a microsecond past the one before it when
	 * it would not be later.
	 */
	cursor->last_instant = Max((int64) c->event_time * USECS_PER_SEC, cursor->last_instant + 1);
	row[cursor->nsource] = binlog_time_text(cursor->last_instant);
	/* the new key of an update that moved it is an insert of that key */
	row[cursor->nsource + 1] = deleted ? CHANGE_DELETE :
		c->kind == BINLOG_UPDATE && !cursor->key_moved ? CHANGE_UPDATE : CHANGE_INSERT;
	lengths[cursor->nsource] = strlen(row[cursor->nsource]);
	lengths[cursor->nsource + 1] = 1;
	return true;
}

/*
 * Fetches the next row into values/nulls (ncolumns each), in the current
 * memory context.  Returns false after the last row.
 */
bool
source_next(SourceCursor *cursor, Datum *values, bool *nulls)
{
	SourceConnection *conn = cursor->conn;
	MYSQL_ROW	row = NULL;
	unsigned long *lengths;

	if (cursor->next_row)
	{
		if (!cursor->next_row(cursor->reader_arg, values, nulls))
			return false;
		cursor->rownum++;
		return true;
	}

	cursor->errcallback.previous = error_context_stack;
	error_context_stack = &cursor->errcallback;

	CHECK_FOR_INTERRUPTS();

	if (cursor->binlog)
	{
		row = cursor->change_row;
		lengths = cursor->change_lengths;
		if (!next_change_row(cursor, row, lengths))
		{
			error_context_stack = cursor->errcallback.previous;
			return false;
		}
	}
	else
	{
		MYSQL_NONBLOCKING(conn, mysql_fetch_row_start(&row, conn->result), mysql_fetch_row_cont, &row,
						  conn->result);
		if (row == NULL)
		{
			if (mysql_errno(conn->mysql))
				pypeline_report_mysql_error(conn, "fetch rows from");
			conn->busy = false;
			error_context_stack = cursor->errcallback.previous;
			return false;
		}
		lengths = mysql_fetch_lengths(conn->result);
	}

	cursor->rownum++;
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		cursor->current_column = i;
		values[i] = convert_value(&cursor->columns[i], conn->options,
								  row[i], lengths[i], &nulls[i]);
	}
	cursor->current_column = -1;
	error_context_stack = cursor->errcallback.previous;
	return true;
}

/*
 * Quotes a value as a MySQL string literal that means the same whatever the
 * server's sql_mode: quotes are doubled, and backslashes (an escape
 * character unless NO_BACKSLASH_ESCAPES) are spliced in as CHAR(92).
 */
char *
source_quote_literal(const char *value)
{
	StringInfoData buf;
	bool		spliced = strchr(value, '\\') != NULL;

	initStringInfo(&buf);
	appendStringInfoString(&buf, spliced ? "CONCAT('" : "'");
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'')
			appendStringInfoString(&buf, "''");
		else if (*p == '\\')
			appendStringInfoString(&buf, "', CHAR(92), '");
		else
			appendStringInfoChar(&buf, *p);
	}
	appendStringInfoString(&buf, spliced ? "')" : "'");
	return buf.data;
}

void
source_close(SourceCursor *cursor)
{
	if (cursor->on_close)
		cursor->on_close(cursor->reader_arg);
	cursor->on_close = NULL;
	if (cursor->binlog)
		binlog_close(cursor->binlog);
	cursor->binlog = NULL;
	if (cursor->conn)
		pypeline_disconnect(cursor->conn);
	cursor->conn = NULL;
}

/*
 * The columns a query would return, with their conversions, from a
 * prepared statement's metadata: nothing is executed on the MySQL server.
 */
SourceCursor *
source_describe(const char *server_name, const char *sql)
{
	SourceOptions *options = pypeline_get_source_options(server_name);
	SourceCursor *cursor = palloc0(sizeof(SourceCursor));
	SourceConnection *conn;
	MYSQL_STMT *stmt;
	MYSQL_RES  *metadata;
	MYSQL_FIELD *fields;
	int			err = 0;

	source_check_read_only(sql, server_name);
	cursor->current_column = -1;
	cursor->conn = conn = pypeline_connect(options);

	stmt = mysql_stmt_init(conn->mysql);
	if (stmt == NULL)
		pypeline_report_mysql_error(conn, "prepare query on");
	MYSQL_NONBLOCKING(conn, mysql_stmt_prepare_start(&err, stmt, sql, strlen(sql)),
					  mysql_stmt_prepare_cont, &err, stmt);
	if (err)
	{
		char	   *message = pstrdup(mysql_stmt_error(stmt));
		unsigned int code = mysql_stmt_errno(stmt);

		ereport(ERROR,
				(errcode(code == 1064 ? ERRCODE_SYNTAX_ERROR : ERRCODE_FDW_ERROR),
				 errmsg("could not prepare query on MySQL server \"%s\"", server_name),
				 errdetail("MySQL error %u: %s", code, message)));
	}
	metadata = mysql_stmt_result_metadata(stmt);
	if (metadata == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_NO_SCHEMAS),
				 errmsg("query on MySQL server \"%s\" returns no result set", server_name),
				 errhint("Source queries must return rows, like SELECT.")));
	cursor->ncolumns = mysql_num_fields(metadata);
	fields = mysql_fetch_fields(metadata);
	cursor->columns = palloc0(sizeof(ColumnConverter) * cursor->ncolumns);
	for (int i = 0; i < cursor->ncolumns; i++)
		convert_init_column(&cursor->columns[i], &fields[i], options);
	cursor->nsource = cursor->ncolumns;
	mysql_free_result(metadata);
	mysql_stmt_close(stmt);
	source_close(cursor);
	return cursor;
}

/*
 * An ETL stores source columns under their names: each must be a name
 * PostgreSQL keeps as it is (not empty, at most NAMEDATALEN - 1 bytes) and
 * appear once.
 */
void
source_require_column_names(SourceCursor *cursor)
{
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		const char *name = cursor->columns[i].name;
		const char *problem = NULL;

		if (name[0] == '\0')
			problem = "has no name";
		else if (strlen(name) >= NAMEDATALEN)
			problem = psprintf("has a name longer than %d bytes", NAMEDATALEN - 1);
		for (int k = 0; k < i && problem == NULL; k++)
			if (strcmp(cursor->columns[k].name, name) == 0)
				problem = "appears twice";
		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column %d (\"%.*s\") of the source query of ETL \"%s\" %s",
							i + 1, NAMEDATALEN - 1, name, cursor->etl_name ? cursor->etl_name : "", problem),
					 errhint("Give each column of the source query a distinct alias: SELECT expr AS name.")));
	}
}

/* The position of a column of the query by name, -1 if it has none. */
int
source_column_index(SourceCursor *cursor, const char *name)
{
	for (int i = 0; i < cursor->ncolumns; i++)
		if (strcmp(cursor->columns[i].name, name) == 0)
			return i;
	return -1;
}

static char *
source_column_names(SourceCursor *cursor)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < cursor->ncolumns; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", cursor->columns[i].name);
	return buf.data;
}

/* `name`, with backticks doubled */
char *
source_quote_identifier(const char *name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '`');
	for (const char *p = name; *p; p++)
	{
		if (*p == '`')
			appendStringInfoChar(&buf, '`');
		appendStringInfoChar(&buf, *p);
	}
	appendStringInfoChar(&buf, '`');
	return buf.data;
}

/*
 * Refuses an ETL whose source query lacks a column its definition names;
 * "role" says what the column is for (natural key, measure, ...).
 */
void
source_require_column(SourceCursor *cursor, const char *column, const char *role)
{
	if (source_column_index(cursor, column) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("source query of %s \"%s\" returns no column \"%s\" (its %s)",
						cursor->etl_kind ? cursor->etl_kind : "ETL", cursor->etl_name ? cursor->etl_name : "",
						column, role),
				 errdetail("The query returns: %s.", source_column_names(cursor)),
				 errhint("Alias the column in the source query (SELECT id AS %s ...) or fix the definition.",
						 source_quote_identifier(column))));
}

static bool
is_integer(const char *value)
{
	const char *p = value;

	if (*p == '-')
		p++;
	if (*p == '\0')
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char) *p))
			return false;
	return true;
}

/*
 * The query an ETL sends: its source query, restricted to rows past the
 * watermark when "column" is given.  A trailing semicolon would end the
 * derived table early.
 */
char *
source_query_text(const char *source_sql, const char *column, const char *watermark)
{
	char	   *sql = pstrdup(source_sql);
	int			len = strlen(sql);

	while (len > 0 && (sql[len - 1] == ';' || isspace((unsigned char) sql[len - 1])))
		sql[--len] = '\0';
	if (column == NULL)
		return sql;
	/* integers unquoted: MySQL compares an integer with a string as doubles */
	/* the newline ends a trailing -- or # comment of the source query */
	return psprintf("SELECT * FROM (%s\n) AS pypeline_source WHERE %s > %s", sql,
					source_quote_identifier(column),
					is_integer(watermark) ? watermark : source_quote_literal(watermark));
}
