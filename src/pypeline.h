/*-------------------------------------------------------------------------
 *
 * pypeline.h
 *		Shared declarations of the pypeline extension, grouped by the file
 *		that defines them.
 *
 * Data flows one way: options.c resolves a foreign server and user mapping
 * into SourceOptions; connection.c opens a MySQL connection from them;
 * source.c streams a query's rows, converting each value with convert.c;
 * query.c exposes that as SQL functions; stage.c writes the rows into a
 * temporary staging table; dimension.c and fact.c merge the staging table
 * into the warehouse with set-based SQL; etl.c reads definitions (catalog.c),
 * orders, locks and logs the runs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYPELINE_H
#define PYPELINE_H

#include "postgres.h"

/* mysql.h declares list functions whose names PostgreSQL's pg_list.h uses */
#define list_length mysql_list_length
#define list_delete mysql_list_delete
#define list_free mysql_list_free
#include <mysql.h>
#undef list_length
#undef list_delete
#undef list_free

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

/* ----------------------------------------------------------------
 * options.c: FDW validator and resolution of server + user mapping
 * ----------------------------------------------------------------
 */
typedef enum ZeroDatePolicy
{
	ZERO_DATES_NULL,			/* 0000-00-00 and partial zero dates become NULL */
	ZERO_DATES_ERROR			/* they raise an error */
} ZeroDatePolicy;

typedef struct SourceOptions
{
	char	   *server_name;
	Oid			serverid;
	char	   *host;
	int			port;
	char	   *socket;
	char	   *dbname;
	char	   *charset;
	char	   *ssl_mode;		/* DISABLED, PREFERRED, REQUIRED, VERIFY_CA,
								 * VERIFY_IDENTITY */
	char	   *ssl_ca;
	char	   *ssl_cert;
	char	   *ssl_key;
	int			connect_timeout;	/* seconds */
	int			read_timeout;	/* seconds without a byte from the server */
	int			fetch_size;		/* rows per batch written to staging */
	bool		tinyint1_as_boolean;
	ZeroDatePolicy zero_dates;
	bool		strip_nul;		/* drop NUL bytes from text instead of failing */
	char	   *username;
	char	   *password;
} SourceOptions;

extern SourceOptions *pypeline_get_source_options(const char *server_name);

/* ----------------------------------------------------------------
 * connection.c: MySQL connections, waits, cleanup at transaction end
 * ----------------------------------------------------------------
 */
typedef struct SourceConnection
{
	MYSQL	   *mysql;
	SourceOptions *options;
	unsigned long thread_id;	/* server-side id, for KILL on cancel */
	MYSQL_RES  *result;			/* unbuffered result being read, if any */
	bool		busy;			/* a statement is running or its rows unread */
	SubTransactionId subxid;	/* opened in this (sub)transaction */
	dlist_node	node;			/* in the list of open connections */
} SourceConnection;

extern SourceConnection *pypeline_connect(SourceOptions *options);
extern void pypeline_disconnect(SourceConnection *conn);
extern int	pypeline_wait_for_mysql(SourceConnection *conn, int status);
extern void pypeline_execute(SourceConnection *conn, const char *sql);
extern void pypeline_report_mysql_error(SourceConnection *conn, const char *action) pg_attribute_noreturn();
extern void pypeline_register_xact_callbacks(void);

/* ----------------------------------------------------------------
 * convert.c: MySQL values to Datums
 * ----------------------------------------------------------------
 */
typedef enum ConvertKind
{
	CONVERT_INPUT_FUNCTION,		/* the text is valid input for the type */
	CONVERT_TEXT,				/* checked for NUL and UTF-8, then text */
	CONVERT_TEMPORAL,			/* zero dates checked, then input function */
	CONVERT_TIMESTAMP_UTC,		/* TIMESTAMP: UTC wall time to timestamptz */
	CONVERT_BOOL_FROM_INT,		/* TINYINT(1): nonzero is true */
	CONVERT_BOOL_FROM_BIT,		/* BIT(1): one raw byte */
	CONVERT_VARBIT,				/* BIT(n): n bits, big-endian raw bytes */
	CONVERT_BYTEA,				/* binary strings, kept byte for byte */
	CONVERT_SET,				/* SET: comma-separated members to text[] */
	CONVERT_JSON				/* JSON: checked like text, then jsonb */
} ConvertKind;

typedef struct ColumnConverter
{
	char	   *name;			/* source column name */
	char	   *mysql_type;		/* e.g. "int unsigned", for messages */
	ConvertKind kind;
	Oid			mapped_type;	/* the PostgreSQL type of DESIGN section 3 */
	int32		mapped_typmod;
	Oid			result_type;	/* what the caller wants (usually mapped) */
	int32		result_typmod;
	FmgrInfo	input;			/* input function of the type text is fed to */
	Oid			input_ioparam;
	int32		input_typmod;
	bool		coerce_via_io;	/* mapped value needs output->input to result */
	FmgrInfo	mapped_output;
	FmgrInfo	result_input;
	Oid			result_ioparam;
	unsigned int bit_length;	/* BIT(n) */
} ColumnConverter;

extern void convert_init_column(ColumnConverter *cc, MYSQL_FIELD *field,
								const SourceOptions *options);
extern void convert_set_result_type(ColumnConverter *cc, Oid typid, int32 typmod);
extern Datum convert_value(ColumnConverter *cc, const SourceOptions *options,
						   char *raw, unsigned long len, bool *isnull);
extern char *convert_mapped_type_name(ColumnConverter *cc);

/* ----------------------------------------------------------------
 * source.c: streaming a MySQL query
 * ----------------------------------------------------------------
 */
typedef struct SourceCursor
{
	SourceConnection *conn;
	MYSQL_RES  *result;
	int			ncolumns;
	ColumnConverter *columns;
	uint64		rownum;			/* rows fetched so far */
	int			current_column; /* for the error context, -1 outside values */
	const char *etl_name;		/* for messages; NULL outside ETL runs */
	ErrorContextCallback errcallback;
} SourceCursor;

extern SourceCursor *source_open(const char *server_name, const char *sql,
								 const char *etl_name);
extern bool source_next(SourceCursor *cursor, Datum *values, bool *nulls);
extern void source_close(SourceCursor *cursor);
extern SourceCursor *source_describe(const char *server_name, const char *sql);
extern void source_check_read_only(const char *sql, const char *server_name);
extern char *source_quote_literal(const char *value);

/* ----------------------------------------------------------------
 * stage.c: staging tables
 * ----------------------------------------------------------------
 */
extern char *stage_create(SourceCursor *cursor, const char *etl_name);
extern uint64 stage_load(SourceCursor *cursor, const char *stage_table);
extern void stage_drop(const char *stage_table);

/* ----------------------------------------------------------------
 * pypeline.c: GUCs
 * ----------------------------------------------------------------
 */
extern int	pypeline_default_fetch_size;

#endif							/* PYPELINE_H */
