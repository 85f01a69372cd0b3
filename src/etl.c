/*-------------------------------------------------------------------------
 *
 * etl.c
 *		Running ETLs: pypeline.process_etl, pypeline.refresh_data_warehouse
 *		and pypeline.test_dimension_source; locking, the run log and the
 *		old tool's log lines; small SPI helpers the loaders share.
 *
 * An ETL runs inside the caller's transaction, so it is atomic: an error
 * anywhere rolls back its target and its watermark, and readers see the old
 * table until the new one commits.  The error carries a context line naming
 * the ETL and its target; the failed run is recorded in pypeline.run_log by
 * a worker of its own (worker.c), since the caller's transaction rolls back.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(pypeline_process_etl);
PG_FUNCTION_INFO_V1(pypeline_refresh_data_warehouse);
PG_FUNCTION_INFO_V1(pypeline_test_dimension_source);

/*
 * The old tool's log lines go to the server log at LOG; a client sees them
 * with SET client_min_messages = log.
 */
void
etl_log(const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ereport(LOG, (errmsg_internal("%s", buf.data), errhidestmt(true)));
	pfree(buf.data);
}

/* Runs a statement through SPI; returns the rows it processed. */
uint64
etl_exec(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	progress_restore();
	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for: %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/* Runs a query returning one bigint (NULL counts as 0). */
uint64
etl_count(const char *sql)
{
	bool		isnull;
	Datum		value;

	etl_exec(sql, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "expected one row from: %s", sql);
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : (uint64) DatumGetInt64(value);
}

bool
etl_table_exists(const char *quoted_name)
{
	return etl_count(psprintf("SELECT count(*) FROM pg_catalog.to_regclass(%s) r WHERE r IS NOT NULL",
							  quote_literal_cstr(quoted_name))) > 0;
}

void
etl_drop_table(const char *quoted_name)
{
	etl_log("Dropping table %s", quoted_name);
	etl_exec(psprintf("DROP TABLE %s", quoted_name), SPI_OK_UTILITY);
	etl_log("Dropped table %s", quoted_name);
}

/* "a, b" or, with a prefix, "p.a, p.b"; every name quoted */
char *
etl_column_list(List *columns, const char *prefix)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		if (prefix)
			appendStringInfo(&buf, "%s.", prefix);
		appendStringInfoString(&buf, quote_identifier(lfirst(lc)));
	}
	return buf.data;
}

/* "l.a = r.x AND l.b = r.y" */
char *
etl_join_condition(List *left, const char *left_alias, List *right, const char *right_alias)
{
	StringInfoData buf;
	ListCell   *l;
	ListCell   *r;

	initStringInfo(&buf);
	forboth(l, left, r, right)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, " AND ");
		appendStringInfo(&buf, "%s.%s = %s.%s",
						 left_alias, quote_identifier(lfirst(l)),
						 right_alias, quote_identifier(lfirst(r)));
	}
	return buf.data;
}

/* `name`, with backticks doubled */
static char *
mysql_quote_identifier(const char *name)
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

bool
etl_list_has_string(List *list, const char *value)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), value) == 0)
			return true;
	return false;
}

int
etl_source_column_index(SourceCursor *cursor, const char *name)
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

void
etl_require_source_column(EtlDefinition *def, SourceCursor *cursor, const char *column,
					  const char *role)
{
	if (etl_source_column_index(cursor, column) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("source query of %s \"%s\" returns no column \"%s\" (its %s)",
						etl_kind_name(def->kind), def->name, column, role),
				 errdetail("The query returns: %s.", source_column_names(cursor)),
				 errhint("Alias the column in the source query (SELECT id AS %s ...) or fix the definition.",
						 mysql_quote_identifier(column))));
}

/* Column names of an existing table. */
List *
etl_table_columns(const char *quoted_table)
{
	List	   *result = NIL;

	etl_exec(psprintf("SELECT attname FROM pg_catalog.pg_attribute "
					  "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
					  "ORDER BY attnum", quote_literal_cstr(quoted_table)),
			 SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	return result;
}

/*
 * Refuses a run that would write columns the target does not have.  A
 * target made by hand (target_ddl) or by an older source must be altered
 * on purpose: a silent drop of a source column's values is never right.
 */
void
etl_require_target_columns(EtlDefinition *def, List *needed)
{
	List	   *existing = etl_table_columns(def->target_quoted);
	ListCell   *lc;

	foreach(lc, needed)
		if (!etl_list_has_string(existing, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table %s of %s \"%s\" has no column \"%s\"",
							def->target, etl_kind_name(def->kind), def->name, (char *) lfirst(lc)),
					 errdetail("The source query returns that column, or the ETL needs it."),
					 errhint("Add the column with ALTER TABLE, or rebuild the table with delete_existing_table => true.")));
}

/* "t.a = s.a, t.b = s.b" for UPDATE ... SET */
char *
etl_set_list(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s = s.%s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc)), quote_identifier(lfirst(lc)));
	return buf.data;
}

/* "ROW(t.a, t.b) IS DISTINCT FROM ROW(s.a, s.b)"; false for no columns */
char *
etl_differs(List *columns)
{
	if (columns == NIL)
		return "false";
	return psprintf("ROW(%s) IS DISTINCT FROM ROW(%s)",
					etl_column_list(columns, "t"), etl_column_list(columns, "s"));
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
 * The source query, restricted to rows past the watermark when the load is
 * incremental.  A trailing semicolon would end the derived table early.
 */
char *
etl_source_query(EtlDefinition *def, bool incremental)
{
	char	   *sql = pstrdup(def->source_sql);
	int			len = strlen(sql);

	while (len > 0 && (sql[len - 1] == ';' || isspace((unsigned char) sql[len - 1])))
		sql[--len] = '\0';
	if (!incremental)
		return sql;
	/* integers unquoted: MySQL compares an integer with a string as doubles */
	/* the newline ends a trailing -- or # comment of the source query */
	return psprintf("SELECT * FROM (%s\n) AS pypeline_source WHERE %s > %s", sql,
					mysql_quote_identifier(def->incremental_column),
					is_integer(def->watermark) ? def->watermark : source_quote_literal(def->watermark));
}

/*
 * Saves the highest incremental_column value of the staged rows, in the
 * transaction that loads them; an empty increment keeps the watermark.
 */
void
etl_advance_watermark(EtlDefinition *def, const char *stage)
{
	char	   *column = pstrdup(quote_identifier(def->incremental_column));
	char	   *type = etl_column_type(psprintf("pg_temp.%s", stage), def->incremental_column);
	char	   *value;

	/* as MySQL reads literals: ISO dates, and instants in the connection's UTC */
	if (strcmp(type, "timestamp with time zone") == 0)
		column = psprintf("to_char(max(%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", column);
	else if (strcmp(type, "timestamp without time zone") == 0)
		column = psprintf("to_char(max(%s), 'YYYY-MM-DD HH24:MI:SS.US')", column);
	else if (strcmp(type, "date") == 0)
		column = psprintf("to_char(max(%s), 'YYYY-MM-DD')", column);
	else
		column = psprintf("max(%s)::text", column);
	etl_exec(psprintf("SELECT %s FROM pg_temp.%s", column, stage), SPI_OK_SELECT);
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (value != NULL)
		catalog_save_watermark(def, value);
}

/*
 * Refreshes a table's statistics when the current role may (it owns the
 * table); a role that only has INSERT and UPDATE leaves it to autovacuum.
 */
void
etl_analyze(const char *quoted_name)
{
	Oid			relid = DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(quoted_name)));

	if (pg_class_ownercheck(relid, GetUserId()))
		etl_exec(psprintf("ANALYZE %s", quoted_name), SPI_OK_UTILITY);
}

/* format_type of a column of a table, e.g. "bigint" */
char *
etl_column_type(const char *quoted_table, const char *column)
{
	etl_exec(psprintf("SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
					  "WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped",
					  quote_literal_cstr(quoted_table), quote_literal_cstr(column)),
			 SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s has no column \"%s\"", quoted_table, column)));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * SQL for the instant held by staged column "s.<column>": timestamptz as it
 * is; DATETIME and DATE values, which carry no zone, read as UTC like the
 * MySQL connection.
 */
char *
etl_utc_instant(SourceCursor *cursor, const char *column)
{
	for (int i = 0; i < cursor->ncolumns; i++)
		if (strcmp(cursor->columns[i].name, column) == 0 &&
			cursor->columns[i].mapped_type == TIMESTAMPTZOID)
			return psprintf("s.%s", quote_identifier(column));
	return psprintf("(CAST(s.%s AS timestamp) AT TIME ZONE 'UTC')", quote_identifier(column));
}

/* Python's str(timedelta), as the old tool printed it: 0:00:00.124727 */
static char *
format_elapsed(TimestampTz start, TimestampTz end)
{
	long		secs;
	int			usecs;

	TimestampDifference(start, end, &secs, &usecs);
	return psprintf("%ld:%02ld:%02ld.%06d", secs / 3600, (secs / 60) % 60, secs % 60, usecs);
}

typedef struct EtlErrorContext
{
	EtlKind		kind;
	const char *name;
	const char *target;
} EtlErrorContext;

static void
etl_error_context(void *arg)
{
	EtlErrorContext *ctx = arg;

	if (ctx->target)
		errcontext("%s ETL \"%s\" (table %s)", etl_kind_name(ctx->kind), ctx->name, ctx->target);
	else
		errcontext("%s ETL \"%s\"", etl_kind_name(ctx->kind), ctx->name);
}

/*
 * An ETL runs with its owner's rights; the role that starts it must have
 * them (be the owner, a member of it, or a superuser).
 */
static void
require_may_run(EtlDefinition *def)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(def->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of %s \"%s\" (role OID %u) no longer exists",
						etl_kind_name(def->kind), def->name, def->owner),
				 errhint("Drop the ETL with pypeline.drop_etl, or define it again as another role.")));
	if (!privilege_may_act_for(def->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run %s \"%s\"", etl_kind_name(def->kind), def->name),
				 errdetail("It belongs to role %s, and an ETL runs with its owner's rights.",
						   privilege_role_name(def->owner)),
				 errhint("Run it as role %s, or be granted that role.", privilege_role_name(def->owner))));
}

/*
 * Runs one ETL; the caller is connected to SPI.  facts_rebuilt_too says
 * that the facts looking up a rebuilt dimension are rebuilt in the same
 * transaction, so their old surrogate keys need not stay valid.
 */
static LoadCounts
run_etl(EtlKind kind, const char *name, bool rebuild, bool facts_rebuilt_too)
{
	EtlErrorContext ctx = {kind, name, NULL};
	ErrorContextCallback callback = {error_context_stack, etl_error_context, &ctx};
	MemoryContext run_context = AllocSetContextCreate(CurrentMemoryContext,
													  "pypeline ETL run",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(run_context);
	Oid			runner = GetUserId();
	char	   *runner_name = privilege_role_name(runner);
	EtlDefinition *volatile def = NULL;
	LoadCounts	counts;
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz finished;
	RoleSwitch	as_owner;

	error_context_stack = &callback;
	PG_TRY();
	{
		/* the definition and watermark are those the previous run committed */
		def = catalog_get_etl(kind, name, true);
		ctx.target = def->target;
		require_may_run(def);
		privilege_become(&as_owner, def->owner, false);

		/*
		 * The merges are plain joins that JIT compilation only slows down;
		 * the setting goes back with the owner's identity.
		 */
		(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		progress_begin(kind, name, def->target);

		if (kind == ETL_DIMENSION)
			counts = dimension_load(def, rebuild, facts_rebuilt_too);
		else
			counts = fact_load(def, rebuild);

		progress_end();
		privilege_restore(&as_owner);
		finished = GetCurrentTimestamp();
		runlog_record_success(def, runner, started, finished, &counts);
		etl_log("Loaded %llu rows into table %s (elapsed time: %s)",
				(unsigned long long) counts.read, def->target, format_elapsed(started, finished));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		progress_end();
		MemoryContextSwitchTo(run_context);
		edata = CopyErrorData();
		runlog_record_failure(kind, name, ctx.target, def ? def->owner : runner, runner_name, started,
							  edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
							  : edata->message);
		PG_RE_THROW();
	}
	PG_END_TRY();
	error_context_stack = callback.previous;
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(run_context);
	return counts;
}

static HeapTuple
result_tuple(TupleDesc tupdesc, EtlKind kind, const char *name, uint64 rows)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = CStringGetTextDatum(etl_kind_name(kind));
	values[1] = CStringGetTextDatum(name);
	values[2] = Int64GetDatum((int64) rows);
	return heap_form_tuple(tupdesc, values, nulls);
}

/*
 * pypeline.process_etl(name, kind, delete_existing_table) -> (etl_type, etl_name, rows)
 */
Datum
pypeline_process_etl(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	EtlKind		kind = etl_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	bool		rebuild = PG_GETARG_BOOL(2);
	TupleDesc	tupdesc;
	LoadCounts	counts;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	SPI_connect();
	counts = run_etl(kind, name, rebuild, false);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(result_tuple(BlessTupleDesc(tupdesc), kind, name, counts.read)));
}

/* Active ETLs of other roles are not run, and not silently. */
static void
report_skipped(EtlKind kind, int skipped)
{
	if (skipped > 0)
		ereport(NOTICE,
				(errmsg_plural("skipping %d active %s of another role",
							   "skipping %d active %ss of other roles", skipped,
							   skipped, etl_kind_name(kind)),
				 errdetail("An ETL runs with its owner's rights: only roles with those rights may run it.")));
}

/*
 * pypeline.refresh_data_warehouse(run_dimensions, run_facts, delete_existing_tables)
 *
 * Every active dimension, then every active fact, in definition order, in
 * one transaction: one row per ETL, like the old [[dimensions], [facts]].
 */
Datum
pypeline_refresh_data_warehouse(PG_FUNCTION_ARGS)
{
	bool		run_dimensions = PG_GETARG_BOOL(0);
	bool		run_facts = PG_GETARG_BOOL(1);
	bool		rebuild = PG_GETARG_BOOL(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	for (int pass = 0; pass < 2; pass++)
	{
		EtlKind		kind = pass == 0 ? ETL_DIMENSION : ETL_FACT;
		List	   *names;
		int			skipped;

		if ((kind == ETL_DIMENSION && !run_dimensions) || (kind == ETL_FACT && !run_facts))
			continue;
		names = catalog_active_etls(kind, &skipped);
		report_skipped(kind, skipped);
		foreach(lc, names)
		{
			const char *name = lfirst(lc);
			LoadCounts	counts = run_etl(kind, name, rebuild, run_facts);

			tuplestore_puttuple(rsinfo->setResult,
								result_tuple(rsinfo->setDesc, kind, name, counts.read));
		}
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * Reads one dimension's source to the end, converting every value, and
 * checks that its natural key columns are there; returns the row count.
 */
static uint64
read_dimension_source(const char *name, const char *server, const char *sql, List *natural_key)
{
	SourceCursor *cursor = source_open(server, sql, name);
	MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext,
													  "pypeline source test row",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt;
	Datum	   *values = palloc(sizeof(Datum) * cursor->ncolumns);
	bool	   *nulls = palloc(sizeof(bool) * cursor->ncolumns);
	uint64		rows = 0;
	ListCell   *lc;

	foreach(lc, natural_key)
	{
		bool		found = false;

		for (int i = 0; i < cursor->ncolumns && !found; i++)
			found = strcmp(cursor->columns[i].name, lfirst(lc)) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source query of dimension \"%s\" has no natural key column \"%s\"",
							name, (char *) lfirst(lc))));
	}
	oldcxt = MemoryContextSwitchTo(row_context);
	while (source_next(cursor, values, nulls))
	{
		rows++;
		MemoryContextReset(row_context);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(row_context);
	source_close(cursor);
	return rows;
}

/*
 * pypeline.test_dimension_source() -> (etl_name, server, status, rows, message)
 *
 * The old --test_dimension_source: runs every active dimension's source
 * query (read-only on MySQL, nothing written here) and reports each
 * outcome instead of stopping at the first error.
 */
Datum
pypeline_test_dimension_source(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *names;
	int			skipped;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	names = catalog_active_etls(ETL_DIMENSION, &skipped);
	report_skipped(ETL_DIMENSION, skipped);
	foreach(lc, names)
	{
		EtlDefinition *def = catalog_get_etl(ETL_DIMENSION, lfirst(lc), false);
		MemoryContext spicxt = CurrentMemoryContext;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		RoleSwitch	as_owner;

		if (def->is_calendar)
			continue;
		values[0] = CStringGetTextDatum(def->name);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(def->server));

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(spicxt);
		PG_TRY();
		{
			uint64		rows;

			/* its owner's user mapping, as when it runs */
			privilege_become(&as_owner, def->owner, false);
			rows = read_dimension_source(def->name, def->server, def->source_sql, def->natural_key);
			privilege_restore(&as_owner);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(spicxt);
			CurrentResourceOwner = owner;
			values[2] = CStringGetTextDatum("ok");
			values[3] = Int64GetDatum((int64) rows);
			nulls[4] = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(spicxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(spicxt);
			CurrentResourceOwner = owner;
			values[2] = CStringGetTextDatum("error");
			nulls[3] = true;
			values[4] = CStringGetTextDatum(edata->detail ?
											psprintf("%s: %s", edata->message, edata->detail) :
											edata->message);
		}
		PG_END_TRY();
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
	return (Datum) 0;
}
