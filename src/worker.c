/*-------------------------------------------------------------------------
 *
 * worker.c
 *		Asynchronous tasks (the old Celery tasks): rows of pypeline.task run
 *		by dynamic background workers.
 *
 * pypeline._submit inserts a PENDING task and asks for a worker when the
 * submitting transaction commits, so a rolled-back submit starts nothing.
 * A worker connects to the submitter's database as the submitter's role,
 * marks the task STARTED, and runs it in a transaction of its own: the ETL
 * and the SUCCESS mark commit together, so a revoked task (revoke cancels
 * the worker) never commits its load.  Errors are recorded as FAILURE with
 * the message (etl.c puts the failed run in pypeline.run_log).  A worker that dies without a word
 * (SIGKILL, server restart) is found by pypeline._reap_tasks, which marks
 * its task FAILURE.  After its task, a worker takes other PENDING tasks of
 * the same role, so a task whose worker could not be started still runs.
 *
 * An incremental refresh runs in parallel: its worker coordinates.  It adds
 * a sub-task per active dimension, starts up to pypeline.max_parallel_etls
 * - 1 helper workers and works through the sub-tasks with them, then does
 * the same for the facts once every dimension is done.  A rebuilding
 * refresh (delete_existing_tables) runs in one transaction instead, so no
 * fact ever points at a rebuilt dimension's old keys.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(pypeline_submit);

PGDLLEXPORT void pypeline_worker_main(Datum main_arg);

int			pypeline_max_parallel_etls = 4;

/* What a worker needs to know before it can read the catalog. */
typedef struct TaskLaunch
{
	Oid			database;
	Oid			role;
} TaskLaunch;

/* Tasks submitted by the current transaction, started when it commits. */
static List *tasks_to_launch = NIL;

/* A dynamic worker of this library, started once, never restarted. */
static void
init_worker(BackgroundWorker *worker, const char *function, const char *type, Datum main_arg)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "pypeline");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
	worker->bgw_main_arg = main_arg;
}

static bool
launch_worker(int64 task_id, Oid database, Oid role)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	TaskLaunch	launch = {database, role};

	init_worker(&worker, "pypeline_worker_main", "pypeline worker", Int64GetDatum(task_id));
	snprintf(worker.bgw_name, BGW_MAXLEN, "pypeline worker for task " INT64_FORMAT, task_id);
	memcpy(worker.bgw_extra, &launch, sizeof(launch));
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

static void
launch_at_commit(XactEvent event, void *arg pg_attribute_unused())
{
	ListCell   *lc;

	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, tasks_to_launch)
			if (!launch_worker(*(int64 *) lfirst(lc), MyDatabaseId, GetUserId()))
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("no background worker slot is free for pypeline task " INT64_FORMAT,
								*(int64 *) lfirst(lc)),
						 errdetail("The task stays PENDING until another pypeline worker of this role takes it."),
						 errhint("Raise max_worker_processes.")));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
	{
		list_free_deep(tasks_to_launch);
		tasks_to_launch = NIL;
	}
}

void
pypeline_register_worker_callbacks(void)
{
	RegisterXactCallback(launch_at_commit, NULL);
}

/*
 * pypeline._submit(what, arguments) -> task id
 */
Datum
pypeline_submit(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		args[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
	bool		isnull;
	int64		task_id;
	int64	   *saved;
	MemoryContext oldcxt;

	SPI_connect();
	SPI_execute_with_args("INSERT INTO pypeline.task (what, arguments) VALUES ($1, $2) RETURNING id",
						  2, argtypes, args, NULL, false, 1);
	task_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	saved = palloc(sizeof(int64));
	*saved = task_id;
	tasks_to_launch = lappend(tasks_to_launch, saved);
	MemoryContextSwitchTo(oldcxt);
	PG_RETURN_INT64(task_id);
}

/* ---- inside the worker ---- */

/*
 * A worker's work is a series of steps, each its own transaction; what a
 * step returns is copied with keep() into the context it was called from.
 */
static MemoryContext step_caller_context;

static void
begin_step(void)
{
	step_caller_context = CurrentMemoryContext;
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static char *
keep(const char *value)
{
	return value ? MemoryContextStrdup(step_caller_context, value) : NULL;
}

static void
end_step(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(step_caller_context);
}

static char *
single_text(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 1);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

typedef struct Task
{
	int64		id;
	char	   *what;
	char	   *arguments;		/* jsonb as text */
} Task;

/* Marks a PENDING task STARTED by this process; NULL if someone else has it. */
static Task *
claim(int64 task_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(task_id)};
	Task	   *task = NULL;

	begin_step();
	SPI_execute_with_args("UPDATE pypeline.task SET state = 'STARTED', started_at = clock_timestamp(), "
						  "  worker_pid = pg_backend_pid() "
						  "WHERE id = $1 AND state = 'PENDING' RETURNING what, arguments::text",
						  1, argtypes, args, NULL, false, 1);
	if (SPI_processed == 1)
	{
		task = MemoryContextAllocZero(step_caller_context, sizeof(Task));
		task->id = task_id;
		task->what = keep(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		task->arguments = keep(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	end_step();
	return task;
}

/* The next PENDING task of this role here (of one parent, if given), or 0. */
static int64
next_pending(int64 parent_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(parent_id)};
	char	   *id;
	int64		result = 0;

	begin_step();
	id = single_text("SELECT id FROM pypeline.task WHERE state = 'PENDING' "
					 "AND submitted_by = current_user AND database = current_database() "
					 "AND ($1 = 0 OR parent_id = $1) ORDER BY id LIMIT 1",
					 1, argtypes, args);
	if (id)
		result = strtoll(id, NULL, 10);
	end_step();
	return result;
}

static char *
argument(Task *task, const char *key)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(task->arguments), CStringGetTextDatum(key)};

	return single_text("SELECT $1::jsonb ->> $2", 2, argtypes, args);
}

/* Marks the task SUCCESS with its result; false if it was revoked meanwhile. */
static bool
mark_success(Task *task, const char *result)
{
	Oid			argtypes[2] = {INT8OID, JSONBOID};
	Datum		args[2] = {Int64GetDatum(task->id),
	DirectFunctionCall1(jsonb_in, CStringGetDatum(result ? result : "[]"))};

	SPI_execute_with_args("UPDATE pypeline.task SET state = 'SUCCESS', result = $2, finished_at = clock_timestamp() "
						  "WHERE id = $1 AND state = 'STARTED'",
						  2, argtypes, args, NULL, false, 0);
	return SPI_processed == 1;
}

/*
 * Runs a task's work in the current transaction through the SQL functions
 * a user would call; returns the result as jsonb text.
 */
static char *
run_in_transaction(Task *task)
{
	if (strcmp(task->what, "process_etl") == 0)
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, BOOLOID};
		Datum		args[3] = {CStringGetTextDatum(argument(task, "name")),
			CStringGetTextDatum(argument(task, "kind")),
		BoolGetDatum(strcmp(argument(task, "delete_existing_table"), "true") == 0)};

		return single_text("SELECT jsonb_build_array(jsonb_build_array(etl_type, etl_name, rows))::text "
						   "FROM pypeline.process_etl($1, $2, $3)", 3, argtypes, args);
	}
	else
	{
		Oid			argtypes[3] = {BOOLOID, BOOLOID, BOOLOID};
		Datum		args[3] = {
			BoolGetDatum(strcmp(argument(task, "run_dimensions"), "true") == 0),
			BoolGetDatum(strcmp(argument(task, "run_facts"), "true") == 0),
		BoolGetDatum(strcmp(argument(task, "delete_existing_tables"), "true") == 0)};

		return single_text("SELECT coalesce(jsonb_agg(jsonb_build_array(etl_type, etl_name, rows)), '[]')::text "
						   "FROM pypeline.refresh_data_warehouse($1, $2, $3)", 3, argtypes, args);
	}
}

static void run_task(Task *task);

/*
 * One pass of a parallel refresh: a sub-task per active ETL of a kind, run
 * by this worker and up to max_parallel_etls - 1 helpers; returns when all
 * have ended, raising an error naming the first that failed.
 */
static void
run_subtasks(Task *parent, const char *kind, int max_parallel)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(parent->id), CStringGetTextDatum(kind)};
	int			count;
	char	   *failed;
	int64		next;
	bool		done;

	begin_step();
	SPI_execute_with_args(psprintf("INSERT INTO pypeline.task (parent_id, what, arguments) "
								   "SELECT $1, 'process_etl', jsonb_build_object('name', name, "
								   "  'kind', $2, 'delete_existing_table', false) "
								   "FROM pypeline.%s WHERE active ORDER BY position", kind),
						  2, argtypes, args, NULL, false, 0);
	count = (int) SPI_processed;
	end_step();

	for (int i = 1; i < Min(count, max_parallel); i++)
		if (!launch_worker(parent->id, MyDatabaseId, GetUserId()))
			break;				/* this worker does the rest itself */

	while ((next = next_pending(parent->id)) != 0)
	{
		Task	   *sub = claim(next);

		if (sub)
			run_task(sub);
	}

	/* wait for the helpers' last sub-tasks */
	for (;;)
	{
		begin_step();
		SPI_execute("SELECT pypeline._reap_tasks()", false, 0);
		done = strcmp(single_text("SELECT count(*) FROM pypeline.task WHERE parent_id = $1 "
								  "AND arguments ->> 'kind' = $2 AND state IN ('PENDING', 'STARTED')",
								  2, argtypes, args), "0") == 0;
		end_step();
		if (done)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	begin_step();
	failed = keep(single_text("SELECT format('%s %s failed: %s', arguments ->> 'kind', arguments ->> 'name', "
							  "  coalesce(error, state)) FROM pypeline.task WHERE parent_id = $1 "
							  "AND arguments ->> 'kind' = $2 AND state <> 'SUCCESS' ORDER BY id LIMIT 1",
							  2, argtypes, args));
	end_step();
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("refresh stopped: %s", failed)));
}

static void
run_parallel_refresh(Task *task)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(task->id)};
	char	   *result;
	bool		run_dimensions;
	bool		run_facts;
	char	   *submitted_parallel;
	int			max_parallel = pypeline_max_parallel_etls;

	begin_step();
	run_dimensions = strcmp(argument(task, "run_dimensions"), "true") == 0;
	run_facts = strcmp(argument(task, "run_facts"), "true") == 0;
	/* the submitter's setting, not this worker's default */
	submitted_parallel = argument(task, "max_parallel_etls");
	if (submitted_parallel)
		max_parallel = Max(1, atoi(submitted_parallel));
	end_step();

	if (run_dimensions)
		run_subtasks(task, "dimension", max_parallel);
	if (run_facts)
		run_subtasks(task, "fact", max_parallel);

	begin_step();
	result = single_text("SELECT coalesce(jsonb_agg(result -> 0 ORDER BY arguments ->> 'kind', id), '[]')::text "
						 "FROM pypeline.task WHERE parent_id = $1", 1, argtypes, args);
	if (!mark_success(task, result))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("task " INT64_FORMAT " was revoked", task->id)));
	end_step();
}

static void
mark_failure(Task *task, ErrorData *edata)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task->id), CStringGetTextDatum(edata->message)};

	begin_step();
	SPI_execute_with_args("UPDATE pypeline.task SET state = 'FAILURE', error = $2, finished_at = clock_timestamp() "
						  "WHERE id = $1 AND state = 'STARTED'",
						  2, argtypes, args, NULL, false, 0);
	end_step();
}

/*
 * Runs a claimed task to SUCCESS or FAILURE.  Errors are caught here, so a
 * worker always records how its task ended.
 */
static void
run_task(Task *task)
{
	MemoryContext cxt = CurrentMemoryContext;

	pgstat_report_activity(STATE_RUNNING, psprintf("pypeline task " INT64_FORMAT ": %s %s",
												   task->id, task->what, task->arguments));
	PG_TRY();
	{
		bool		parallel = false;

		if (strcmp(task->what, "refresh_data_warehouse") == 0)
		{
			begin_step();
			parallel = strcmp(argument(task, "delete_existing_tables"), "false") == 0;
			end_step();
		}
		if (parallel)
			run_parallel_refresh(task);
		else
		{
			char	   *result;

			begin_step();
			result = run_in_transaction(task);
			if (!mark_success(task, result))
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("task " INT64_FORMAT " was revoked", task->id)));
			end_step();
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		/* the failure is shown in the task; the server log keeps it too */
		ereport(LOG,
				(errmsg("pypeline task " INT64_FORMAT " failed: %s", task->id, edata->message)));
		QueryCancelPending = false;
		mark_failure(task, edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
pypeline_worker_main(Datum main_arg)
{
	int64		task_id = DatumGetInt64(main_arg);
	TaskLaunch	launch;
	MemoryContext task_context;

	memcpy(&launch, MyBgworkerEntry->bgw_extra, sizeof(launch));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(launch.database, launch.role, 0);

	task_context = AllocSetContextCreate(TopMemoryContext, "pypeline task", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(task_context);

	/*
	 * The id is either a task of our own or, for a helper of a parallel
	 * refresh, the parent whose sub-tasks to work through.
	 */
	for (;;)
	{
		Task	   *task = claim(task_id);

		if (task)
			run_task(task);
		else
		{
			int64		sub = next_pending(task_id);

			if (sub)
			{
				task_id = sub;
				continue;
			}
		}
		MemoryContextReset(task_context);
		task_id = next_pending(0);
		if (task_id == 0)
			break;
	}
	proc_exit(0);
}

/* ---- failed runs in the run log ---- */

/*
 * A failed ETL rolls back with the caller's transaction, run-log row and
 * all.  To keep the failure in pypeline.run_log, the row is written by a
 * short-lived worker in a transaction of its own; the row's text travels
 * in a pinned DSM segment that the worker unpins once it has read it.
 */
typedef struct FailedRun
{
	Oid			database;
	Oid			role;
	TimestampTz started;
	TimestampTz finished;
	char		text[FLEXIBLE_ARRAY_MEMBER];	/* type, name, target, message; NUL-separated */
} FailedRun;

PGDLLEXPORT void pypeline_run_log_writer_main(Datum main_arg);

void
pypeline_record_failed_run(const char *etl_type, const char *etl_name, const char *target,
						   TimestampTz started, const char *message)
{
	const char *parts[4] = {etl_type, etl_name, target ? target : "", message};
	Size		size = offsetof(FailedRun, text);
	dsm_segment *segment;
	FailedRun  *run;
	char	   *p;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	for (int i = 0; i < 4; i++)
		size += strlen(parts[i]) + 1;
	segment = dsm_create(size, 0);
	run = dsm_segment_address(segment);
	run->database = MyDatabaseId;
	run->role = GetUserId();
	run->started = started;
	run->finished = GetCurrentTimestamp();
	p = run->text;
	for (int i = 0; i < 4; i++)
	{
		strcpy(p, parts[i]);
		p += strlen(parts[i]) + 1;
	}

	init_worker(&worker, "pypeline_run_log_writer_main", "pypeline run log writer",
				UInt32GetDatum(dsm_segment_handle(segment)));

	dsm_pin_segment(segment);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		dsm_unpin_segment(dsm_segment_handle(segment));
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no background worker slot is free to record the failed run of %s \"%s\" in pypeline.run_log",
						etl_type, etl_name),
				 errhint("Raise max_worker_processes.")));
	}
	dsm_detach(segment);
}

void
pypeline_run_log_writer_main(Datum main_arg)
{
	dsm_handle	handle = DatumGetUInt32(main_arg);
	dsm_segment *segment;
	FailedRun  *run;
	const char *parts[4];
	const char *p;
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[6];

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pypeline run log writer");
	segment = dsm_attach(handle);
	if (segment == NULL)
		proc_exit(0);
	run = dsm_segment_address(segment);
	BackgroundWorkerInitializeConnectionByOid(run->database, run->role, 0);

	p = run->text;
	for (int i = 0; i < 4; i++)
	{
		parts[i] = p;
		p += strlen(p) + 1;
	}
	begin_step();
	for (int i = 0; i < 3; i++)
		args[i] = CStringGetTextDatum(parts[i]);
	args[3] = TimestampTzGetDatum(run->started);
	args[4] = TimestampTzGetDatum(run->finished);
	args[5] = CStringGetTextDatum(parts[3]);
	SPI_execute_with_args("INSERT INTO pypeline.run_log (etl_type, etl_name, target, started_at, "
						  "  finished_at, status, message) VALUES ($1, $2, $3, $4, $5, 'failure', $6)",
						  6, argtypes, args, NULL, false, 0);
	end_step();
	dsm_unpin_segment(handle);
	dsm_detach(segment);
	proc_exit(0);
}
