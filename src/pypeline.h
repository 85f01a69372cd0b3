/*-------------------------------------------------------------------------
 *
 * pypeline.h
 *		Shared declarations of the pypeline extension, grouped by the file
 *		that defines them.
 *
 * Calls point down, never up (doc/design.md, "Map of the code"):
 *   entry points   run.c (process_etl, refresh_data_warehouse,
 *                  test_dimension_source), worker.c (tasks in background
 *                  workers), query.c (pypeline.query, describe),
 *                  schedule.c (pg_cron from any database)
 *   loaders        dimension.c, versions.c (type 2), schema.c (source
 *                  schema changes), fact.c
 *   services       catalog.c (definitions, watermarks), task.c (task
 *                  states), runlog.c, target.c (target tables), members.c
 *                  (unknown and inferred members), partition.c
 *                  (partitions of targets), stage.c (staging and
 *                  direct writes), split.c (a source read in ranges by
 *                  workers), source.c (MySQL queries), binlog.c
 *                  (a table's changes in the binary log), execute.c
 *                  (running generated SQL), deparse.c (SQL text)
 *   ground         connection.c, convert.c, options.c, privilege.c,
 *                  progress.c, pypeline.c (settings)
 * Data flows the same way: options.c resolves a server and the owner's
 * user mapping, connection.c connects, source.c streams the rows and
 * convert.c turns each value into a Datum, stage.c writes them, and the
 * loaders merge them into the warehouse with set-based SQL.
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
#include "postmaster/bgworker.h"
#include "utils/timestamp.h"

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
	bool		password_required;	/* authenticate by password, never by OS identity */
} SourceOptions;

extern SourceOptions *pypeline_get_source_options(const char *server_name);
extern char *pypeline_options_flatten(const SourceOptions *opts, Size *len);
extern SourceOptions *pypeline_options_unflatten(const char *flat);

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
	void		(*before_close) (void *arg);	/* frees what uses the connection */
	void	   *before_close_arg;
} SourceConnection;

extern SourceConnection *pypeline_connect(SourceOptions *options);
extern void pypeline_disconnect(SourceConnection *conn);
extern int	pypeline_wait_for_mysql(SourceConnection *conn, int status);
extern void pypeline_send_query(SourceConnection *conn, const char *sql, const char *action);
extern void pypeline_execute(SourceConnection *conn, const char *sql);
extern MYSQL_RES *pypeline_store_result(SourceConnection *conn, const char *sql, const char *action);
extern char **pypeline_query_row(SourceConnection *conn, const char *sql, int ncolumns, const char *action);

/*
 * Runs a call of the client library's non-blocking API to its end: the
 * *_start call, then its *_cont call whenever pypeline_wait_for_mysql says
 * the socket is ready.  "result" and "handle" are what the *_cont call takes
 * besides the readiness.
 */
#define MYSQL_NONBLOCKING(conn, start_call, cont, result, handle) \
	do { \
		int			mysql_status_ = (start_call); \
		while (mysql_status_) \
			mysql_status_ = cont((result), (handle), pypeline_wait_for_mysql((conn), mysql_status_)); \
	} while (0)
extern void pypeline_report_mysql_error(SourceConnection *conn, const char *action) pg_attribute_noreturn();

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
	Oid			mapped_type;	/* its PostgreSQL type (doc/design.md) */
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
	char	   *table_column;	/* the table column it reads, "" for an expression */
	char	   *table;			/* and its table and database, "" if none */
	char	   *database;
} ColumnConverter;

extern void convert_init_column(ColumnConverter *cc, MYSQL_FIELD *field,
								const SourceOptions *options);
extern void convert_set_result_type(ColumnConverter *cc, Oid typid, int32 typmod);
extern Datum convert_value(ColumnConverter *cc, const SourceOptions *options,
						   char *raw, unsigned long len, bool *isnull);
extern char *convert_mapped_type_name(ColumnConverter *cc);

/* ----------------------------------------------------------------
 * binlog.c: one table's row changes from the binary log
 * ----------------------------------------------------------------
 */
typedef struct BinlogReader BinlogReader;

typedef enum BinlogChangeKind
{
	BINLOG_INSERT,
	BINLOG_UPDATE,
	BINLOG_DELETE
} BinlogChangeKind;

/* A changed row: its images as the text protocol's text per table column. */
typedef struct BinlogChange
{
	BinlogChangeKind kind;
	uint32		event_time;		/* seconds since 1970, as the log has it */
	char	  **before;			/* update, delete; NULL values for NULL */
	unsigned long *before_lengths;
	char	  **after;			/* insert, update */
	unsigned long *after_lengths;
} BinlogChange;

extern char *binlog_coordinates(const char *file, uint64 position);
extern bool binlog_parse_coordinates(const char *text, char **file, uint64 *position);
extern void binlog_check_access(SourceConnection *conn, const char *etl);
extern char *binlog_snapshot_coordinates(SourceConnection *conn, bool missing_ok);
extern char *binlog_current_coordinates(SourceConnection *conn);
extern BinlogReader *binlog_open(SourceConnection *conn, const char *etl, const char *database,
								 const char *table, const char *from, char **stop);
extern bool binlog_before(BinlogReader *r);
extern int	binlog_column_index(BinlogReader *r, const char *name);
extern bool binlog_next_change(BinlogReader *r, BinlogChange *change);
extern char *binlog_time_text(int64 micros);
extern void binlog_close(BinlogReader *r);

/* ----------------------------------------------------------------
 * source.c: streaming a MySQL query, or a captured table's changes
 * ----------------------------------------------------------------
 */

/* Columns a cursor of changes adds to the source's: when, and what change. */
#define COL_EVENT_TIME "pypeline_event_time"
#define COL_CHANGE "pypeline_change"		/* CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE */
#define CHANGE_INSERT "0"
#define CHANGE_UPDATE "1"
#define CHANGE_DELETE "2"

typedef struct SourceCursor
{
	SourceConnection *conn;
	MYSQL_RES  *result;
	int			ncolumns;
	ColumnConverter *columns;
	uint64		rownum;			/* rows fetched so far */
	int			current_column; /* for the error context, -1 outside values */
	const char *etl_kind;		/* for messages ("dimension", "fact"); NULL */
	const char *etl_name;		/* outside ETL runs */
	ErrorContextCallback errcallback;
	/* a cursor of changes (source_open_changes) */
	BinlogReader *binlog;
	int			nsource;		/* the source's columns, then the two above */
	int		   *table_columns;	/* each source column's in the table */
	int		   *key_columns;	/* the natural key's, nkeys of them */
	int			nkeys;
	MemoryContext change_context;	/* the change being returned */
	char	  **change_row;		/* its row, as text per cursor column */
	unsigned long *change_lengths;
	BinlogChange change;
	int			pending;		/* 2: its before image as a delete, 1: its after image */
	bool		key_moved;		/* the pending update changed the key */
	int64		last_instant;	/* of the change before, microseconds since 1970 */
	char	   *stop;			/* coordinates the changes end at */
	/* a cursor whose rows other processes read (split.c) */
	bool		(*next_row) (void *arg, Datum *values, bool *nulls);
	void		(*on_close) (void *arg);
	void	   *reader_arg;
	char	   *read_note;		/* how split.c read it, for the run log */
} SourceCursor;

extern SourceCursor *source_open(const char *server_name, const char *sql, const char *etl_kind,
								 const char *etl_name);
extern SourceCursor *source_open_snapshot(const char *server_name, const char *sql, const char *etl_kind,
										  const char *etl_name, char **coordinates);
extern SourceCursor *source_open_changes(const char *server_name, const char *sql, const char *etl_kind,
										 const char *etl_name, const char *from, List *key);
extern SourceCursor *source_open_on(SourceConnection *conn, const char *sql, const char *etl_kind,
									const char *etl_name);
extern char *source_changes_position(SourceCursor *cursor);
extern bool source_next(SourceCursor *cursor, Datum *values, bool *nulls);
extern void source_close(SourceCursor *cursor);
extern SourceCursor *source_describe(const char *server_name, const char *sql);
extern void source_check_read_only(const char *sql, const char *server_name);
extern int	source_column_index(SourceCursor *cursor, const char *name);
extern void source_require_column(SourceCursor *cursor, const char *column, const char *role);
extern char *source_quote_identifier(const char *name);
extern char *source_query_text(const char *source_sql, const char *column, const char *watermark);
extern void source_require_column_names(SourceCursor *cursor);
extern char *source_quote_literal(const char *value);

/* ----------------------------------------------------------------
 * split.c: a source read as key ranges by background workers
 * ----------------------------------------------------------------
 */
extern SourceCursor *split_open(const char *server_name, const char *source_sql, const char *sql,
								const char *column, int nreaders, const char *etl_kind, const char *etl_name,
								Oid owner);

/* ----------------------------------------------------------------
 * stage.c: staging tables
 * ----------------------------------------------------------------
 */
extern char *stage_create(SourceCursor *cursor, const char *etl_name);
extern uint64 stage_load(SourceCursor *cursor, const char *stage_table);
extern void stage_drop(const char *stage_table);

/*
 * A new table filled straight from a cursor (stage_load_direct): columns
 * named in source_columns take the cursor's same-named column,
 * numbered_column takes first_number, first_number + 1, ... in source
 * order, constant_columns the matching text of constant_values read as the
 * column's type, and the others their constant default or NULL.
 */
typedef struct DirectTarget
{
	Oid			relid;
	List	   *source_columns;
	char	   *numbered_column;
	int64		first_number;
	List	   *constant_columns;
	List	   *constant_values;
	List	   *key_columns;	/* a NULL in them stops the load */
	bool		keys_ascending; /* so does a key not above the previous one */
	/* resolved_columns take resolve's values; resolve returning false stops the load */
	List	   *resolved_columns;
	bool		(*resolve) (void *arg, Datum *values, bool *nulls, Datum *resolved);
	void	   *resolve_arg;
} DirectTarget;

extern int64 stage_load_direct(SourceCursor *cursor, DirectTarget *target);

/*
 * A rerun's comparison of the source with a table's current rows
 * (stage_load_changes).  current_sql returns the current rows in key
 * order: the nkeys key columns, the other compared columns (ncolumns in
 * all, the i-th being the cursor's column source_columns[i]), then a
 * boolean that stages the row's source row even when equal (an inferred
 * or deleted member).  Keys of current rows the source lacks go to
 * missing_table, whose columns are the key's.
 */
typedef struct ChangeFilter
{
	const char *current_sql;
	int			nkeys;
	int			ncolumns;
	int		   *source_columns;
	const char *missing_table;
} ChangeFilter;

extern int64 stage_load_changes(SourceCursor *cursor, const char *stage_table, ChangeFilter *filter,
								uint64 *read);

/*
 * What stage_split_changes did to a staged cursor of changes: keys whose
 * last change is a delete, keys deleted and inserted again, updates dropped.
 */
typedef struct ChangeSplit
{
	uint64		deleted;
	uint64		returned;
	uint64		updates_dropped;
} ChangeSplit;

extern ChangeSplit stage_split_changes(const char *stage_table, List *key, const char *gone_table,
									   bool keep_updates, bool last_per_key);

/* ----------------------------------------------------------------
 * privilege.c: whose rights pypeline's work runs with
 * ----------------------------------------------------------------
 */
typedef struct RoleSwitch
{
	Oid			userid;
	int			sec_context;
	int			guc_level;
} RoleSwitch;

extern Oid	privilege_extension_owner(void);
extern void privilege_become(RoleSwitch *saved, Oid role, bool restricted);
extern void privilege_restore(RoleSwitch *saved);
extern uint64 privilege_internal_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
									  const char *nulls, int expected);
extern bool privilege_may_act_for(Oid owner);
extern char *privilege_role_name(Oid role);
extern bool privilege_role_can_login(Oid role);
extern int	privilege_role_connection_limit(Oid role);

/* ----------------------------------------------------------------
 * catalog.c: ETL definitions and watermarks
 * ----------------------------------------------------------------
 */
typedef enum EtlKind
{
	ETL_DIMENSION,
	ETL_FACT
} EtlKind;

static inline const char *
etl_kind_name(EtlKind kind)
{
	return kind == ETL_DIMENSION ? "dimension" : "fact";
}

/* What happens to members whose key a full source no longer returns. */
typedef enum DeletePolicy
{
	DELETES_IGNORE,
	DELETES_INVALIDATE,			/* the current version is closed */
	DELETES_NEW_RECORD			/* a version flagged deleted follows it */
} DeletePolicy;

/* What happens when the source's columns differ from the target's. */
typedef enum SchemaChangePolicy
{
	SCHEMA_CHANGES_FAIL,
	SCHEMA_CHANGES_ADD_TYPE1,
	SCHEMA_CHANGES_ADD_TYPE2
} SchemaChangePolicy;

/* What a fact row whose dimension key matches no member gets. */
typedef enum UnmatchedPolicy
{
	UNMATCHED_UNKNOWN,			/* the unknown member, -1 */
	UNMATCHED_INFERRED,			/* a new member flagged inferred */
	UNMATCHED_ERROR
} UnmatchedPolicy;

/* Columns pypeline manages in a dimension besides its keys and attributes. */
#define COL_VALID_FROM "valid_from"		/* type 2: [valid_from, valid_to) */
#define COL_VALID_TO "valid_to"
#define COL_VERSION "version"			/* type 2: 1, 2, ... in time order */
#define COL_IS_CURRENT "is_current"		/* type 2 */
#define COL_DELETED "deleted"			/* type 2: a version for deletes => 'new_record' */
#define COL_INFERRED "inferred"			/* made by a fact, completed by the next load */

typedef struct FactLookup
{
	char	   *dimension;		/* name of the dimension ETL */
	List	   *columns;		/* source columns holding its natural key */
} FactLookup;

typedef struct TargetRebuild TargetRebuild;

typedef struct EtlDefinition
{
	EtlKind		kind;
	char	   *name;
	Oid			owner;			/* the ETL runs with this role's rights */
	char	   *server;			/* NULL for the calendar */
	char	   *source_sql;
	char	   *target;			/* as defined, e.g. 'school_dim', for messages */
	char	   *target_schema;	/* resolved when defined */
	char	   *target_table;
	char	   *target_quoted;	/* schema.table, quoted, safe to paste into SQL */
	char	   *target_ddl;
	struct TargetRebuild *rebuild;	/* while a rebuild writes a shadow table */
	bool		active;
	char	   *incremental_column;	/* read only rows past the watermark */
	char	   *watermark;		/* NULL before the first incremental load */

	/* dimensions */
	List	   *natural_key;
	char	   *surrogate_key;
	int			scd_type;
	List	   *type1_columns;	/* overwritten on every version (type1_all) */
	List	   *current_only_columns;	/* overwritten on the current version */
	List	   *ignored_columns;	/* keep the first value */
	DeletePolicy deletes;
	double		max_closed_fraction;	/* refuse to close more of the members */
	SchemaChangePolicy schema_changes;
	char	   *change_date_column;
	bool		is_calendar;	/* generated by define_date_dimension */
	char	   *first_date;		/* YYYY-MM-DD */
	char	   *last_date;
	char	   *beginning_of_time;
	char	   *end_of_time;
	bool		reject_bad_keys;	/* on_bad_key = 'reject' */
	bool		capture_binlog; /* capture => 'binlog': reruns read the log */

	/* facts */
	List	   *lookups;		/* of FactLookup */
	List	   *measures;
	List	   *degenerate_columns;
	char	   *event_time_column;
	UnmatchedPolicy unmatched;
	List	   *key_columns;	/* an accumulating snapshot's business key */
	char	   *snapshot_column;	/* a periodic snapshot's period */
	bool		delete_missing; /* deletes => 'delete' */
	double		max_deleted_fraction;
	char	   *partition_by;	/* day, month, year: of event_time_column */
	char	   *split_column;	/* read as key ranges by background workers */
} EtlDefinition;

extern EtlKind etl_kind_from_name(const char *name);
extern EtlDefinition *catalog_get_etl(EtlKind kind, const char *name, bool lock_for_run);
extern List *catalog_active_etls(EtlKind kind, int *skipped);
extern List *catalog_facts_using(const char *dimension);
extern void catalog_save_watermark(EtlDefinition *def, const char *value);
extern void catalog_forget_watermark(EtlDefinition *def);
extern void catalog_advance_watermark(EtlDefinition *def, const char *stage);

/* ----------------------------------------------------------------
 * target.c: the tables ETLs write
 * ----------------------------------------------------------------
 */
extern void target_check_owner(Oid relid, Oid owner, const char *what);
extern Oid	target_open(EtlDefinition *def);
extern struct RawStmt *target_check_ddl(const char *ddl, const char *schema, const char *table);
extern bool target_prepare(EtlDefinition *def, bool rebuild, const char *derived_ddl,
						   void (*before_drop) (EtlDefinition *def, void *arg), void *arg);
extern void target_abandon_rebuild(EtlDefinition *def);
extern void target_finish_rebuild(EtlDefinition *def);
extern void target_analyze(EtlDefinition *def, uint64 written);
extern void target_require_columns(EtlDefinition *def, List *needed);
extern void target_require_lossless(EtlDefinition *def, SourceCursor *cursor, const char *stage,
									List *columns, List *label);

/* ----------------------------------------------------------------
 * partition.c: partitions of targets
 * ----------------------------------------------------------------
 */
extern char *partition_clause(EtlDefinition *def);
extern int	partition_for_rows(EtlDefinition *def, const char *stage);
extern void partition_copy_bounds(Oid from, Oid to);

/* ----------------------------------------------------------------
 * deparse.c: pieces of PostgreSQL SQL text, lists of column names
 * ----------------------------------------------------------------
 */
extern char *deparse_columns(List *columns, const char *alias);
extern char *deparse_row(List *columns, const char *alias);
extern char *deparse_join(List *left, const char *left_alias, List *right, const char *right_alias);
extern char *deparse_any_null(List *columns, const char *alias);
extern char *deparse_set_list(List *columns);
extern char *deparse_differs(List *columns);
extern char *deparse_utc_instant(SourceCursor *cursor, const char *column);
extern int	string_list_position(List *list, const char *value);
extern bool string_list_member(List *list, const char *value);
extern List *string_list_difference(List *all, List *remove);

/* ----------------------------------------------------------------
 * execute.c: running generated statements, looking at tables
 * ----------------------------------------------------------------
 */
extern uint64 exec_sql(const char *sql, int expected);
extern uint64 exec_count(const char *sql);
extern Oid	exec_relation(const char *quoted_name);
extern bool exec_table_exists(const char *quoted_name);
extern List *exec_table_columns(const char *quoted_table);
extern List *exec_relation_columns(Oid relid);
extern Oid	exec_column_type_oid(const char *quoted_table, const char *column, int32 *typmod);
extern char *exec_column_type(const char *quoted_table, const char *column);
extern void exec_analyze(const char *quoted_name);
extern ErrorData *exec_in_subtransaction(bool (*work) (void *arg), void *arg);

/* What a load did, for the run log. */
typedef struct LoadCounts
{
	uint64		read;			/* source rows */
	uint64		inserted;		/* new members / fact rows */
	uint64		updated;		/* members changed (in place or new version) */
	uint64		unchanged;
	uint64		rejected;		/* source rows set aside in pypeline.reject */
	uint64		deleted;		/* members closed, fact rows deleted or replaced */
	uint64		repaired;		/* facts given their member, which had not arrived */
	char	   *unmatched;		/* facts given the unknown member per dimension, JSON */
	char	   *message;		/* schema changes applied, instants moved */
	bool		nothing_new;	/* a captured run found no change in the log */
} LoadCounts;

/* ----------------------------------------------------------------
 * members.c: unknown and inferred members
 * ----------------------------------------------------------------
 */
extern void members_insert_unknown(EtlDefinition *dim);
extern uint64 members_add_inferred(EtlDefinition *dim, List *key_exprs, const char *rows);
extern void members_complete_inferred(EtlDefinition *dim, const char *rows, List *attributes);

/* ----------------------------------------------------------------
 * dimension.c: dimension loads
 * ----------------------------------------------------------------
 */
extern LoadCounts dimension_load(EtlDefinition *def, bool rebuild, bool facts_rebuilt_too);
extern void dimension_require_source_columns(EtlDefinition *def, SourceCursor *cursor);
extern uint64 calendar_grow(EtlDefinition *calendar, const char *through);

/* ----------------------------------------------------------------
 * versions.c: type 2 versions and hard deletes
 * ----------------------------------------------------------------
 */
extern void versions_merge(EtlDefinition *def, SourceCursor *cursor, const char *stage,
						   List *attributes, bool has_inferred, bool has_deleted,
						   LoadCounts *counts);
extern uint64 versions_close_deleted(EtlDefinition *def, const char *stage, const char *missing_keys,
									  bool has_deleted, LoadCounts *counts);

/* ----------------------------------------------------------------
 * schema.c: source columns that changed since the target was made
 * ----------------------------------------------------------------
 */
extern char *schema_reconcile(EtlDefinition *def, SourceCursor *cursor, List *columns);

/* ----------------------------------------------------------------
 * lookup.c: a dimension's keys in memory for a fact load
 * ----------------------------------------------------------------
 */
typedef struct LookupCache LookupCache;

extern LookupCache *lookup_cache_build(const char *sql, uint64 rows, int nkeys, Oid *key_types,
									   Oid *collations, bool as_of, Size budget);
extern Size lookup_cache_memory(LookupCache *cache);
extern bool lookup_cache_find(LookupCache *cache, const Datum *keys, TimestampTz at, int64 *surrogate);
extern void lookup_cache_free(LookupCache *cache);

/* ----------------------------------------------------------------
 * fact.c: fact loads
 * ----------------------------------------------------------------
 */
extern LoadCounts fact_load(EtlDefinition *def, bool rebuild);
extern void fact_require_source_columns(EtlDefinition *def, SourceCursor *cursor);

/* ----------------------------------------------------------------
 * progress.c: what a running ETL is doing
 * ----------------------------------------------------------------
 */
#define PROGRESS_PHASE_READING 1	/* streaming the source into staging */
#define PROGRESS_PHASE_MERGING 2	/* writing the warehouse table */

extern void progress_begin(const char *kind, const char *name, const char *target);
extern void progress_rows(uint64 rows);
extern void progress_phase(int new_phase);
extern void progress_restore(void);
extern void progress_end(void);
extern void progress_log(const char *fmt,...) pg_attribute_printf(1, 2);

/* ----------------------------------------------------------------
 * runlog.c: pypeline.run_log
 * ----------------------------------------------------------------
 */
extern void runlog_record_success(EtlDefinition *def, Oid runner, TimestampTz started,
								  TimestampTz finished, LoadCounts *counts);
extern void runlog_record_failure(EtlKind kind, const char *name, const char *target, Oid owner,
								  const char *runner_name, TimestampTz started, const char *message);

/* ----------------------------------------------------------------
 * task.c: pypeline.task and its states
 * ----------------------------------------------------------------
 */
typedef enum TaskWhat
{
	TASK_PROCESS_ETL,
	TASK_REFRESH,
	TASK_CAPTURE				/* a captured dimension, run every interval_ms */
} TaskWhat;

/* A task as a worker runs it, checked. */
typedef struct Task
{
	int64		id;
	int64		parent_id;		/* 0 for a task of its own */
	TaskWhat	what;
	char	   *description;	/* what and arguments, for pg_stat_activity */
	char	   *name;			/* process_etl */
	EtlKind		kind;
	bool		rebuild;		/* delete_existing_table(s) */
	bool		run_dimensions; /* refresh_data_warehouse */
	bool		run_facts;
	int			max_parallel;	/* the submitter's pypeline.max_parallel_etls */
	int			interval_ms;	/* capture */
} Task;

/* Who a worker runs as, and where; in the worker's bgw_extra. */
typedef struct TaskLaunch
{
	int64		task_id;
	Oid			database;
	Oid			role;
} TaskLaunch;

/* A task as its role sees it. */
typedef struct TaskView
{
	char	   *state;
	Datum		result;
	bool		result_isnull;
	char	   *error;
	bool		submitted_here; /* by the current transaction */
} TaskView;

extern int64 task_insert(Datum what, bool what_isnull, Datum arguments, bool arguments_isnull, Oid role);
extern void task_reap(void);
extern List *task_stranded(void);
extern TaskView task_read(int64 task_id);
extern bool task_is_final(const char *state);
extern Task *task_claim(int64 task_id, Oid role, const char **problem);
extern int64 task_next_pending(Oid role, int64 parent_id);
extern bool task_mark_success(int64 task_id, const char *result);
extern bool task_note_capture(int64 task_id, int64 runs, int64 changes, const char *error);
extern void task_mark_failure(int64 task_id, const char *message);
extern int	task_add_subtasks(Task *parent, EtlKind kind, Oid role);
extern bool task_subtasks_unfinished(Task *parent, EtlKind kind);
extern char *task_subtask_failure(Task *parent, EtlKind kind);
extern char *task_subtask_results(Task *parent);

/* ----------------------------------------------------------------
 * worker.c: background workers that run tasks
 * ----------------------------------------------------------------
 */

/* ----------------------------------------------------------------
 * pypeline.c: settings, background worker template
 * ----------------------------------------------------------------
 */
extern int	pypeline_default_fetch_size;
extern int	pypeline_max_parallel_etls;
extern int	pypeline_max_queued_tasks;
extern int	pypeline_lookup_memory_kb;
extern void worker_init(BackgroundWorker *worker, const char *function, const char *type, Datum main_arg);

#endif							/* PYPELINE_H */
