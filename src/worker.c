/*-------------------------------------------------------------------------
 *
 * worker.c
 *		Background workers that run tasks: launching them (when a task is
 *		submitted, or for a task left without one) and their main loop;
 *		pypeline._submit and pypeline.wait, the calls that may start one.
 *
 * A task's worker starts when the submitting transaction commits, so a
 * rolled-back submit starts nothing, and only if the role runs fewer
 * workers than it may (task.c says how many); otherwise one of the role's
 * workers takes the task when its own ends.  A worker connects to the
 * submitter's database as the submitter's role and runs each task in a
 * transaction of its own through the SQL functions a user would call: the
 * ETL and the SUCCESS mark commit together, so a revoked task (revoke
 * cancels the worker) never commits its load.  Errors end the task as
 * FAILURE with the message (run.c puts the failed run in the run log).  A
 * task whose row does not make sense is ended as FAILURE too, never run.
 *
 * An incremental refresh runs in parallel: its worker coordinates.  It adds
 * a sub-task per active dimension, starts helpers up to the submitter's
 * pypeline.max_parallel_etls and works through the sub-tasks with them,
 * then does the same for the facts once every dimension is done.  A
 * rebuilding refresh (delete_existing_tables) runs in one transaction, so
 * no fact ever points at a rebuilt dimension's old keys.
 *
 * When a worker has nothing left of its role's, it starts a worker for each
 * role whose queued task has none (task_stranded), so a role whose workers
 * could not start is not left waiting behind the others.
 *
 * Calls task.c and privilege.c; runs the rest through SQL.
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
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(pypeline_submit);
PG_FUNCTION_INFO_V1(pypeline_wait);

PGDLLEXPORT void pypeline_worker_main(Datum main_arg);


/* Milliseconds between two looks at a task or at a refresh's sub-tasks. */
#define POLL_MS 50

/* Tasks submitted by the current transaction, launched when it commits. */
static List *launch_at_commit = NIL;
static bool launch_callback_registered = false;

/* Starts a worker for a task (or, for a helper, a refresh's sub-tasks). */
static bool
worker_launch(TaskLaunch *launch)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	worker_init(&worker, "pypeline_worker_main", "pypeline worker", Int64GetDatum(launch->task_id));
	snprintf(worker.bgw_name, BGW_MAXLEN, "pypeline worker for task " INT64_FORMAT, launch->task_id);
	memcpy(worker.bgw_extra, launch, sizeof(*launch));
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

static int	workers_available(Oid role);

/* A worker for each role whose queued tasks have none (and may have one). */
static void
launch_stranded_tasks(void)
{
	ListCell   *lc;

	foreach(lc, task_stranded())
	{
		TaskLaunch *launch = lfirst(lc);

		if (workers_available(launch->role) > 0)
			(void) worker_launch(launch);
	}
}

/* The most pypeline workers a role may run at once. */
static int
worker_limit(Oid role)
{
	int			limit = pypeline_max_parallel_etls;
	int			connection_limit = privilege_role_connection_limit(role);

	return connection_limit >= 0 ? Min(limit, connection_limit) : limit;
}

/* How many more workers a role may start now (0 or more). */
static int
workers_available(Oid role)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(role)};
	bool		isnull;
	int			running;

	privilege_internal_exec("SELECT pg_catalog.pg_stat_clear_snapshot(), count(*)::int "
							"FROM pg_catalog.pg_stat_activity "
							"WHERE backend_type = 'pypeline worker' AND usesysid = $1",
							1, argtypes, args, NULL, SPI_OK_SELECT);
	running = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return Max(0, worker_limit(role) - running);
}

static void
launch_at_commit_callback(XactEvent event, void *arg pg_attribute_unused())
{
	ListCell   *lc;

	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, launch_at_commit)
		{
			TaskLaunch *launch = lfirst(lc);

			if (!worker_launch(launch))
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("no background worker slot is free for pypeline task " INT64_FORMAT,
								launch->task_id),
						 errdetail("The task stays PENDING until a slot frees up and a pypeline worker or pypeline.wait starts it."),
						 errhint("Raise max_worker_processes.")));
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
	{
		list_free_deep(launch_at_commit);
		launch_at_commit = NIL;
	}
}


/*
 * pypeline._submit(what, arguments) -> task id
 *
 * Queues a task (task.c checks it) and, unless the role already runs as many
 * workers as it may, launches a worker for it when the transaction commits.
 */
Datum
pypeline_submit(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	int64		task_id;

	if (!privilege_role_can_login(role))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("role %s cannot log in, so no background worker can run a task as it",
						privilege_role_name(role)),
				 errhint("Submit the task as a role with LOGIN.")));
	SPI_connect();
	task_id = task_insert(PG_GETARG_DATUM(0), PG_ARGISNULL(0), PG_GETARG_DATUM(1), PG_ARGISNULL(1), role);
	if (workers_available(role) > list_length(launch_at_commit))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		TaskLaunch *launch = palloc(sizeof(TaskLaunch));

		if (!launch_callback_registered)
			RegisterXactCallback(launch_at_commit_callback, NULL);
		launch_callback_registered = true;
		launch->task_id = task_id;
		launch->database = MyDatabaseId;
		launch->role = role;
		launch_at_commit = lappend(launch_at_commit, launch);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	PG_RETURN_INT64(task_id);
}

/*
 * pypeline.wait(task_id, timeout) -> state: looks at the task every 50 ms,
 * each time with a fresh snapshot, until it ends or the timeout passes; a
 * queued task left without a worker gets one meanwhile.
 */
Datum
pypeline_wait(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	TimestampTz deadline;
	MemoryContext poll_context;
	TaskView	view;
	text	   *state;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pypeline.wait needs READ COMMITTED isolation"),
				 errdetail("A transaction snapshot would never see the task end."),
				 errhint("Call it outside a REPEATABLE READ or SERIALIZABLE transaction.")));
	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   PG_GETARG_DATUM(1)));
	poll_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline wait poll", ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		MemoryContext oldcxt;

		/* a look per poll, in memory the next poll frees */
		MemoryContextReset(poll_context);
		oldcxt = MemoryContextSwitchTo(poll_context);
		SPI_connect();
		view = task_read(task_id);
		if (!task_is_final(view.state) && !view.submitted_here)
			launch_stranded_tasks();
		SPI_finish();
		MemoryContextSwitchTo(oldcxt);
		if (task_is_final(view.state))
			break;
		if (view.submitted_here)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("task " INT64_FORMAT " starts when the transaction that submitted it commits", task_id),
					 errhint("COMMIT first, then wait.")));
		if (GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	state = cstring_to_text(view.state);
	MemoryContextDelete(poll_context);
	PG_RETURN_TEXT_P(state);
}

/* ---- inside the worker ---- */


/*
 * A worker's work is a series of steps, each its own transaction, started
 * and ended in one function; what a step returns is copied into the
 * worker's memory (task_context) before the step ends.
 */
static MemoryContext task_context;

static void
begin_step(void)
{
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_step(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(task_context);
}

static char *
keep(const char *value)
{
	return value ? MemoryContextStrdup(task_context, value) : NULL;
}

/*
 * A worker runs only while it holds one of its role's worker slots: a
 * session lock in a space of pypeline's own (advisory locks whose fourth
 * field is WORKER_SLOT_SPACE, which no SQL function takes: those use 1 and
 * 2), one per worker the role may run.  Workers launched beyond the limit
 * (a submit cannot see workers that are still starting) find no free slot
 * and leave their task to the role's running workers.
 */
#define WORKER_SLOT_SPACE 3

static LOCKTAG held_slot;
static bool holds_slot = false;

/* Takes a free slot of this worker's role, waiting a moment for one. */
static bool
take_slot(void)
{
	int			limit;

	begin_step();
	limit = worker_limit(GetUserId());
	end_step();
	for (int attempt = 0; attempt < 20 && !holds_slot; attempt++)
	{
		for (int slot = 0; slot < limit && !holds_slot; slot++)
		{
			SET_LOCKTAG_ADVISORY(held_slot, MyDatabaseId, GetUserId(), slot, WORKER_SLOT_SPACE);
			holds_slot = LockAcquire(&held_slot, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
		}
		if (!holds_slot)
			pg_usleep(50000L);
	}
	return holds_slot;
}

static void
release_slot(void)
{
	if (holds_slot)
		LockRelease(&held_slot, ExclusiveLock, true);
	holds_slot = false;
}

static Task *
claim(int64 task_id)
{
	Task	   *task;
	Task	   *kept = NULL;
	const char *problem;

	begin_step();
	task = task_claim(task_id, GetUserId(), &problem);
	if (task && problem)
		ereport(LOG,
				(errmsg("pypeline task " INT64_FORMAT " was not run: %s", task_id, problem)));
	else if (task)
	{
		kept = MemoryContextAlloc(task_context, sizeof(Task));
		*kept = *task;
		kept->name = keep(task->name);
		kept->description = keep(task->description);
	}
	end_step();
	return kept;
}

static int64
next_pending(int64 parent_id)
{
	int64		id;

	begin_step();
	id = task_next_pending(GetUserId(), parent_id);
	end_step();
	return id;
}

static char *
single_text(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 1);

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("unexpected result %s from: %s", SPI_result_code_string(rc), sql)));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * Runs a task's work in the current transaction through the SQL functions
 * a user would call; returns the result as jsonb text.
 */
static char *
run_in_transaction(Task *task)
{
	if (task->what == TASK_PROCESS_ETL)
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, BOOLOID};
		Datum		args[3] = {CStringGetTextDatum(task->name), CStringGetTextDatum(etl_kind_name(task->kind)),
		BoolGetDatum(task->rebuild)};

		return single_text("SELECT jsonb_build_array(jsonb_build_array(etl_type, etl_name, rows))::text "
						   "FROM pypeline.process_etl($1, $2, $3)", 3, argtypes, args);
	}
	else
	{
		Oid			argtypes[3] = {BOOLOID, BOOLOID, BOOLOID};
		Datum		args[3] = {BoolGetDatum(task->run_dimensions), BoolGetDatum(task->run_facts),
		BoolGetDatum(task->rebuild)};

		return single_text("SELECT coalesce(jsonb_agg(jsonb_build_array(etl_type, etl_name, rows)), '[]')::text "
						   "FROM pypeline.refresh_data_warehouse($1, $2, $3)", 3, argtypes, args);
	}
}

static void run_task(Task *task);

/*
 * One pass of a parallel refresh: a sub-task per active ETL of a kind, run
 * by this worker and helpers; returns when all have ended, raising an error
 * naming the first that failed.
 */
static void
run_subtasks(Task *parent, EtlKind kind)
{
	int			count;
	int			helpers;
	char	   *failed;
	int64		next;
	bool		unfinished;

	begin_step();
	count = task_add_subtasks(parent, kind, GetUserId());
	helpers = Min(Min(count, parent->max_parallel) - 1, workers_available(GetUserId()));
	end_step();

	for (int i = 0; i < helpers; i++)
	{
		TaskLaunch	launch = {parent->id, MyDatabaseId, GetUserId()};

		if (!worker_launch(&launch))
			break;				/* this worker does the rest itself */
	}

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
		task_reap();
		unfinished = task_subtasks_unfinished(parent, kind);
		end_step();
		if (!unfinished)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	begin_step();
	failed = keep(task_subtask_failure(parent, kind));
	end_step();
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("refresh stopped: %s", failed)));
}

static void
revoked(Task *task)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("task " INT64_FORMAT " was revoked", task->id)));
}

static void
run_parallel_refresh(Task *task)
{
	if (task->run_dimensions)
		run_subtasks(task, ETL_DIMENSION);
	if (task->run_facts)
		run_subtasks(task, ETL_FACT);

	begin_step();
	if (!task_mark_success(task->id, task_subtask_results(task)))
		revoked(task);
	end_step();
}

/* Errors that end a capture: the task was revoked, or the server stops. */
static bool
ends_capture(ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE || edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT;
}

/*
 * A capture task runs its ETL every interval until it is revoked,
 * each run in a transaction of its own that also records in the task's
 * result how many runs there were, the changes applied and when.  A run
 * that fails records its error there and the next one tries again (after
 * a longer wait, up to a minute), so a source that comes back is followed
 * again without anyone restarting the capture; revoking it, losing the
 * right to run the ETL or the ETL's removal ends it.
 */
static void
run_capture(Task *task)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(task->name), CStringGetTextDatum(etl_kind_name(task->kind))};
	int64		runs = 0;
	int64		changes = 0;
	int			wait_ms = task->interval_ms;
	MemoryContext round_context = AllocSetContextCreate(task_context, "pypeline capture round",
														ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MemoryContextReset(round_context);
		MemoryContextSwitchTo(round_context);
		PG_TRY();
		{
			begin_step();
			changes += strtoll(single_text("SELECT rows FROM pypeline.process_etl($1, $2)", 2, argtypes, args),
							   NULL, 10);
			if (!task_note_capture(task->id, ++runs, changes, NULL))
				revoked(task);
			end_step();
			wait_ms = task->interval_ms;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(round_context);
			edata = CopyErrorData();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			if (ends_capture(edata))
				ReThrowError(edata);
			ereport(LOG,
					(errmsg("pypeline capture task " INT64_FORMAT " (%s \"%s\"): %s",
							task->id, etl_kind_name(task->kind), task->name, edata->message)));
			begin_step();
			if (!task_note_capture(task->id, ++runs, changes, edata->message))
				revoked(task);
			end_step();
			wait_ms = Min(Max(wait_ms * 2, 1000), 60000);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(task_context);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Runs a claimed task to SUCCESS or FAILURE.  Errors are caught here, so a
 * worker always records how its task ended.
 */
static void
run_task(Task *task)
{
	pgstat_report_activity(STATE_RUNNING, psprintf("pypeline task " INT64_FORMAT ": %s",
												   task->id, task->description));
	PG_TRY();
	{
		if (task->what == TASK_REFRESH && !task->rebuild)
			run_parallel_refresh(task);
		else if (task->what == TASK_CAPTURE)
			run_capture(task);
		else
		{
			begin_step();
			if (!task_mark_success(task->id, run_in_transaction(task)))
				revoked(task);
			end_step();
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(task_context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		/* the failure is shown in the task; the server log keeps it too */
		ereport(LOG,
				(errmsg("pypeline task " INT64_FORMAT " failed: %s", task->id, edata->message)));
		QueryCancelPending = false;
		begin_step();
		task_mark_failure(task->id, edata->message);
		end_step();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
pypeline_worker_main(Datum main_arg)
{
	int64		task_id = DatumGetInt64(main_arg);
	TaskLaunch	launch;

	memcpy(&launch, MyBgworkerEntry->bgw_extra, sizeof(launch));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(launch.database, launch.role, 0);

	task_context = AllocSetContextCreate(TopMemoryContext, "pypeline task", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(task_context);

	/*
	 * The id is either a task of our own or, for a helper of a parallel
	 * refresh, the parent whose sub-tasks to work through.  With no slot,
	 * the task stays PENDING for the role's running workers.
	 */
	while (take_slot())
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
		if (task_id != 0)
			continue;

		/*
		 * A task committed after that look was launched a worker, which may
		 * have found no slot: look again once the slot is free.
		 */
		release_slot();
		task_id = next_pending(0);
		if (task_id == 0)
			break;
	}
	release_slot();

	begin_step();
	launch_stranded_tasks();
	end_step();
	proc_exit(0);
}
