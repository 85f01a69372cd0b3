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
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "miscadmin.h"
#include "utils/builtins.h"

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
		if (p[0] == '/' && p[1] == '*' && p[2] != '!')
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

/*
 * Refuses anything but a query.  The MySQL transaction is read-only as
 * well; this check also stops statements that commit implicitly (DDL).
 */
void
source_check_read_only(const char *sql, const char *server_name)
{
	const char *p = skip_space_and_comments(sql);

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

/*
 * Connects to the server and starts the query.  The cursor lives in the
 * current memory context; its connection is closed by source_close or, on
 * error, when the (sub)transaction ends.
 */
SourceCursor *
source_open(const char *server_name, const char *sql, const char *etl_name)
{
	SourceOptions *options = pypeline_get_source_options(server_name);
	SourceCursor *cursor = palloc0(sizeof(SourceCursor));
	SourceConnection *conn;
	MYSQL_FIELD *fields;
	int			err = 0;
	int			status;

	source_check_read_only(sql, server_name);

	cursor->etl_name = etl_name;
	cursor->current_column = -1;
	cursor->conn = conn = pypeline_connect(options);
	pypeline_execute(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");

	conn->busy = true;
	status = mysql_real_query_start(&err, conn->mysql, sql, strlen(sql));
	while (status)
		status = mysql_real_query_cont(&err, conn->mysql, pypeline_wait_for_mysql(conn, status));
	if (err)
		pypeline_report_mysql_error(conn, "execute query on");

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
		convert_init_column(&cursor->columns[i], &fields[i], options);

	cursor->errcallback.callback = source_error_context;
	cursor->errcallback.arg = cursor;
	return cursor;
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
	int			status;

	cursor->errcallback.previous = error_context_stack;
	error_context_stack = &cursor->errcallback;

	CHECK_FOR_INTERRUPTS();

	status = mysql_fetch_row_start(&row, conn->result);
	while (status)
		status = mysql_fetch_row_cont(&row, conn->result, pypeline_wait_for_mysql(conn, status));
	if (row == NULL)
	{
		if (mysql_errno(conn->mysql))
			pypeline_report_mysql_error(conn, "fetch rows from");
		conn->busy = false;
		error_context_stack = cursor->errcallback.previous;
		return false;
	}

	cursor->rownum++;
	lengths = mysql_fetch_lengths(conn->result);
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
	int			status;

	source_check_read_only(sql, server_name);
	cursor->current_column = -1;
	cursor->conn = conn = pypeline_connect(options);

	stmt = mysql_stmt_init(conn->mysql);
	if (stmt == NULL)
		pypeline_report_mysql_error(conn, "prepare query on");
	status = mysql_stmt_prepare_start(&err, stmt, sql, strlen(sql));
	while (status)
		status = mysql_stmt_prepare_cont(&err, stmt, pypeline_wait_for_mysql(conn, status));
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
	mysql_free_result(metadata);
	mysql_stmt_close(stmt);
	source_close(cursor);
	return cursor;
}
