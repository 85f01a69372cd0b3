/*-------------------------------------------------------------------------
 *
 * run.c
 *		Running ETLs: pypeline.process_etl, pypeline.refresh_data_warehouse
 *		and pypeline.test_dimension_source, the top of the house.
 *
 * A run locks and reads its definition (catalog.c), checks that the caller
 * may run it, becomes the ETL's owner (privilege.c), hands the load to
 * dimension.c or fact.c, and records it in the run log (runlog.c) with the
 * old tool's log line.  An ETL runs inside the caller's transaction, so it
 * is atomic: an error anywhere rolls back its target and its watermark, and
 * readers see the old table until the new one commits.  The error carries a
 * context line naming the ETL and its target.
 *
 * Calls catalog.c, privilege.c, dimension.c, fact.c, runlog.c, source.c,
 * progress.c, execute.c.
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
PG_FUNCTION_INFO_V1(pypeline_test_fact_source);

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
		progress_begin(etl_kind_name(kind), name, def->target);

		if (kind == ETL_DIMENSION)
			counts = dimension_load(def, rebuild, facts_rebuilt_too);
		else
			counts = fact_load(def, rebuild);
		target_finish_rebuild(def);

		progress_end();
		privilege_restore(&as_owner);
		finished = GetCurrentTimestamp();
		/* a capture that looks every second would fill the run log with nothing */
		if (!counts.nothing_new)
		{
			runlog_record_success(def, runner, started, finished, &counts);
			progress_log("Loaded %llu rows into table %s (elapsed time: %s)",
						 (unsigned long long) counts.read, def->target, format_elapsed(started, finished));
		}
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
 * Reads an ETL's source to the end, converting every value, and checks that
 * it returns the columns the definition names; returns the row count.
 */
static uint64
read_source(EtlDefinition *def)
{
	SourceCursor *cursor = source_open(def->server, def->source_sql, etl_kind_name(def->kind), def->name);
	MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext,
													  "pypeline source test row",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt;
	Datum	   *values = palloc(sizeof(Datum) * cursor->ncolumns);
	bool	   *nulls = palloc(sizeof(bool) * cursor->ncolumns);
	uint64		rows = 0;

	if (def->kind == ETL_DIMENSION)
		dimension_require_source_columns(def, cursor);
	else
		fact_require_source_columns(def, cursor);
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

/* One source test, with its owner's user mapping, as when the ETL runs. */
typedef struct SourceTest
{
	EtlDefinition *def;
	uint64		rows;
} SourceTest;

static bool
test_source(void *arg)
{
	SourceTest *test = arg;
	RoleSwitch	as_owner;

	privilege_become(&as_owner, test->def->owner, false);
	test->rows = read_source(test->def);
	privilege_restore(&as_owner);
	return true;
}

/*
 * (etl_name, server, status, rows, message) for every active ETL of a kind
 * the caller may run: its source query is run (read-only on MySQL, nothing
 * written here) and each outcome reported instead of stopping at the first
 * error.
 */
static void
test_sources(FunctionCallInfo fcinfo, EtlKind kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callcxt = CurrentMemoryContext;
	List	   *names;
	int			skipped;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	names = catalog_active_etls(kind, &skipped);
	report_skipped(kind, skipped);
	foreach(lc, names)
	{
		SourceTest	test = {catalog_get_etl(kind, lfirst(lc), false), 0};
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		ErrorData  *edata;

		if (test.def->is_calendar)
			continue;
		values[0] = CStringGetTextDatum(test.def->name);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(test.def->server));
		edata = exec_in_subtransaction(test_source, &test);
		values[2] = CStringGetTextDatum(edata ? "error" : "ok");
		values[3] = Int64GetDatum((int64) test.rows);
		nulls[3] = edata != NULL;
		nulls[4] = edata == NULL;
		if (edata)
			values[4] = CStringGetTextDatum(edata->detail ?
											psprintf("%s: %s", edata->message, edata->detail) :
											edata->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
}

/* pypeline.test_dimension_source(): the old --test_dimension_source */
Datum
pypeline_test_dimension_source(PG_FUNCTION_ARGS)
{
	test_sources(fcinfo, ETL_DIMENSION);
	return (Datum) 0;
}

/* pypeline.test_fact_source(): the same for the facts */
Datum
pypeline_test_fact_source(PG_FUNCTION_ARGS)
{
	test_sources(fcinfo, ETL_FACT);
	return (Datum) 0;
}
