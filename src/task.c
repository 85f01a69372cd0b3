/*-------------------------------------------------------------------------
 *
 * task.c
 *		pypeline.task, the old Celery tasks: submitting, reading back,
 *		waiting for, revoking and reaping them.  The one owner of the task
 *		state machine:
 *
 *		PENDING -> STARTED		a worker claims it (worker.c)
 *		STARTED -> SUCCESS		its work committed, with the mark
 *		STARTED -> FAILURE		its work failed, or its worker died (reaped)
 *		PENDING|STARTED -> REVOKED		pypeline.revoke
 *		PENDING -> FAILURE		the refresh it belongs to ended first (reaped)
 *
 * Only this file and worker.c write tasks, as the extension's owner; a role
 * reads the tasks of the roles it is a member of (row security).  A task
 * runs as the role that submitted it, in the database it was submitted in.
 *
 * Fairness: a role runs at most pypeline.max_parallel_etls workers at once
 * (fewer if its CONNECTION LIMIT is lower), and queues at most
 * pypeline.max_queued_tasks tasks; a task that gets no worker at once is
 * taken by one of its role's workers when that worker's task ends, or, if
 * its role has none, launched by the next reaping (any role's wait, status
 * or worker), so no role's queue waits on another's.
 *
 * worker.c launches the workers and asks this file for every change of
 * state.  Calls privilege.c and catalog.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pypeline_task_status);
PG_FUNCTION_INFO_V1(pypeline_task_result);
PG_FUNCTION_INFO_V1(pypeline_revoke);


/* A task that got no worker is given one after this long (ms). */
#define STRANDED_AFTER_MS 2000

/*
 * The typed fields of a task, from "what" and its arguments; the same SQL
 * reads them at submit time and when a worker claims the task.
 */
#define TASK_FIELDS \
	"what, " \
	"CASE WHEN jsonb_typeof(arguments) = 'object' THEN 't' END AS is_object, " \
	"CASE WHEN jsonb_typeof(arguments -> 'name') = 'string' THEN arguments ->> 'name' END AS name, " \
	"CASE WHEN jsonb_typeof(arguments -> 'kind') = 'string' THEN arguments ->> 'kind' END AS kind, " \
	"CASE WHEN jsonb_typeof(arguments -> 'delete_existing_table') = 'boolean' " \
	"  THEN arguments ->> 'delete_existing_table' END AS delete_existing_table, " \
	"CASE WHEN jsonb_typeof(arguments -> 'run_dimensions') = 'boolean' " \
	"  THEN arguments ->> 'run_dimensions' END AS run_dimensions, " \
	"CASE WHEN jsonb_typeof(arguments -> 'run_facts') = 'boolean' " \
	"  THEN arguments ->> 'run_facts' END AS run_facts, " \
	"CASE WHEN jsonb_typeof(arguments -> 'delete_existing_tables') = 'boolean' " \
	"  THEN arguments ->> 'delete_existing_tables' END AS delete_existing_tables, " \
	"CASE WHEN jsonb_typeof(arguments -> 'max_parallel_etls') = 'number' " \
	"  AND (arguments ->> 'max_parallel_etls') ~ '^[0-9]{1,4}$' " \
	"  THEN arguments ->> 'max_parallel_etls' END AS max_parallel_etls, " \
	"CASE WHEN jsonb_typeof(arguments -> 'interval_ms') = 'number' " \
	"  AND (arguments ->> 'interval_ms') ~ '^[0-9]{1,9}$' " \
	"  THEN arguments ->> 'interval_ms' END AS interval_ms"

static char *
field(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	return SPI_getvalue(tuple, tupdesc, SPI_fnumber(tupdesc, name));
}

/*
 * Fills *task from a row of TASK_FIELDS; returns NULL, or what is wrong
 * with the task.
 */
static const char *
task_parse(Task *task, HeapTuple tuple, TupleDesc tupdesc)
{
	char	   *what = field(tuple, tupdesc, "what");
	char	   *value;

	if (field(tuple, tupdesc, "is_object") == NULL)
		return "the arguments of a task must be a JSON object";
	if (what && (strcmp(what, "process_etl") == 0 || strcmp(what, "capture") == 0))
	{
		task->what = strcmp(what, "capture") == 0 ? TASK_CAPTURE : TASK_PROCESS_ETL;
		task->name = field(tuple, tupdesc, "name");
		value = field(tuple, tupdesc, "kind");
		if (task->name == NULL)
			return psprintf("%s needs the name of the ETL (a string), not NULL", what);
		if (value == NULL || (strcmp(value, "dimension") != 0 && strcmp(value, "fact") != 0))
			return psprintf("%s needs kind \"dimension\" or \"fact\"", what);
		task->kind = etl_kind_from_name(value);
		if (task->what == TASK_CAPTURE)
		{
			value = field(tuple, tupdesc, "interval_ms");
			if (value == NULL || atoi(value) < 10)
				return "capture needs interval_ms, a whole number of milliseconds of at least 10";
			task->interval_ms = atoi(value);
			return NULL;
		}
		value = field(tuple, tupdesc, "delete_existing_table");
		if (value == NULL)
			return "process_etl needs delete_existing_table true or false, not NULL";
		task->rebuild = strcmp(value, "true") == 0;
		return NULL;
	}
	if (what && strcmp(what, "refresh_data_warehouse") == 0)
	{
		const char *const flags[3] = {"run_dimensions", "run_facts", "delete_existing_tables"};
		bool	   *targets[3] = {&task->run_dimensions, &task->run_facts, &task->rebuild};

		task->what = TASK_REFRESH;
		for (int i = 0; i < 3; i++)
		{
			value = field(tuple, tupdesc, flags[i]);
			if (value == NULL)
				return psprintf("refresh_data_warehouse needs %s true or false, not NULL", flags[i]);
			*targets[i] = strcmp(value, "true") == 0;
		}
		value = field(tuple, tupdesc, "max_parallel_etls");
		task->max_parallel = value ? Max(1, atoi(value)) : pypeline_max_parallel_etls;
		return NULL;
	}
	return psprintf("a task is process_etl, refresh_data_warehouse or capture, not \"%s\"", what ? what : "NULL");
}

static Datum
role_name_datum(Oid role)
{
	return CStringGetTextDatum(privilege_role_name(role));
}

/*
 * Checks and queues a PENDING task for "role"; returns its id.  A role
 * queues at most pypeline.max_queued_tasks tasks.
 */
int64
task_insert(Datum what, bool what_isnull, Datum arguments, bool arguments_isnull, Oid role)
{
	Oid			argtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		args[3] = {what, arguments, role_name_datum(role)};
	char		nulls[3] = {what_isnull ? 'n' : ' ', arguments_isnull ? 'n' : ' ', ' '};
	Task		task = {0};
	const char *problem;
	bool		isnull;
	int			queued;

	SPI_execute_with_args("SELECT " TASK_FIELDS " FROM (SELECT $1 AS what, $2 AS arguments) t",
						  2, argtypes, args, nulls, true, 0);
	problem = task_parse(&task, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid task: %s", problem)));

	privilege_internal_exec("SELECT count(*)::int FROM pypeline.task "
							"WHERE state = 'PENDING' AND parent_id IS NULL AND submitted_by = $3",
							3, argtypes, args, nulls, SPI_OK_SELECT);
	queued = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (queued >= pypeline_max_queued_tasks)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("role %s already has %d tasks waiting to start", privilege_role_name(role), queued),
				 errdetail("pypeline.max_queued_tasks is %d.", pypeline_max_queued_tasks),
				 errhint("Wait for some to finish, or revoke them with pypeline.revoke.")));

	privilege_internal_exec("INSERT INTO pypeline.task (what, arguments, submitted_by) "
							"VALUES ($1, $2, $3) RETURNING id",
							3, argtypes, args, nulls, SPI_OK_INSERT_RETURNING);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Ends what cannot go on: a STARTED task whose worker is gone (killed, or the
 * server restarted) and a PENDING sub-task of a refresh that ended become
 * FAILURE.  Any role's reaping does this for every role, as the extension's
 * owner.
 */
void
task_reap(void)
{
	privilege_internal_exec("SELECT pg_catalog.pg_stat_clear_snapshot()", 0, NULL, NULL, NULL, SPI_OK_SELECT);
	privilege_internal_exec("UPDATE pypeline.task t "
							"SET state = 'FAILURE', finished_at = clock_timestamp(), "
							"    error = 'the worker process ended before the task finished (killed, or the server restarted)' "
							"WHERE t.state = 'STARTED' "
							"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a "
							"                  WHERE a.pid = t.worker_pid AND a.backend_type = 'pypeline worker')",
							0, NULL, NULL, NULL, SPI_OK_UPDATE);
	privilege_internal_exec("UPDATE pypeline.task c "
							"SET state = 'FAILURE', finished_at = clock_timestamp(), "
							"    error = 'its refresh ended before it started' "
							"FROM pypeline.task p "
							"WHERE c.parent_id = p.id AND c.state = 'PENDING' "
							"  AND p.state IN ('SUCCESS', 'FAILURE', 'REVOKED')",
							0, NULL, NULL, NULL, SPI_OK_UPDATE);
}

/*
 * PENDING tasks whose role runs no worker (none could be started, or its
 * worker ended first): the oldest of each such role, as TaskLaunch items.
 */
List *
task_stranded(void)
{
	List	   *stranded = NIL;

	privilege_internal_exec(psprintf("SELECT DISTINCT ON (t.submitted_by) t.id, r.oid "
									 "FROM pypeline.task t JOIN pg_catalog.pg_roles r ON r.rolname = t.submitted_by "
									 "WHERE t.state = 'PENDING' AND t.parent_id IS NULL "
									 "  AND t.submitted_at < now() - interval '%d milliseconds' "
									 "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a "
									 "                  WHERE a.backend_type = 'pypeline worker' AND a.usesysid = r.oid) "
									 "ORDER BY t.submitted_by, t.id", STRANDED_AFTER_MS),
							0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		TaskLaunch *launch = palloc(sizeof(TaskLaunch));
		bool		isnull;

		launch->task_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		launch->database = MyDatabaseId;
		launch->role = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		stranded = lappend(stranded, launch);
	}
	return stranded;
}

/* A copy in the memory of the caller of SPI_connect, which SPI_finish keeps. */
static char *
upper_copy(const char *value)
{
	char	   *copy;

	if (value == NULL)
		return NULL;
	copy = SPI_palloc(strlen(value) + 1);
	strcpy(copy, value);
	return copy;
}

/*
 * A task of the caller's, after reaping; its strings and result are in the
 * memory of the caller of SPI_connect.
 */
TaskView
task_read(int64 task_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(task_id)};
	TaskView	view;
	HeapTuple	tuple;
	TupleDesc	tupdesc;

	task_reap();
	/* as the caller: row security shows only the tasks of its roles */
	SPI_execute_with_args("SELECT state, result, error, "
						  "  xmin::text = pg_catalog.pg_current_xact_id_if_assigned()::text AS submitted_here "
						  "FROM pypeline.task WHERE id = $1",
						  1, argtypes, args, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist or belongs to another role", task_id)));
	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	view.state = upper_copy(SPI_getvalue(tuple, tupdesc, 1));
	view.result = SPI_getbinval(tuple, tupdesc, 2, &view.result_isnull);
	if (!view.result_isnull)
		view.result = SPI_datumTransfer(view.result, false, -1);
	view.error = upper_copy(SPI_getvalue(tuple, tupdesc, 3));
	view.submitted_here = SPI_getvalue(tuple, tupdesc, 4) &&
		strcmp(SPI_getvalue(tuple, tupdesc, 4), "t") == 0;
	return view;
}

bool
task_is_final(const char *state)
{
	return strcmp(state, "SUCCESS") == 0 || strcmp(state, "FAILURE") == 0 ||
		strcmp(state, "REVOKED") == 0;
}

Datum
pypeline_task_status(PG_FUNCTION_ARGS)
{
	TaskView	view;

	SPI_connect();
	view = task_read(PG_GETARG_INT64(0));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(view.state));
}

Datum
pypeline_task_result(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	TaskView	view;

	SPI_connect();
	view = task_read(task_id);
	SPI_finish();
	if (strcmp(view.state, "FAILURE") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("task " INT64_FORMAT " failed: %s", task_id, view.error ? view.error : "")));
	if (view.result_isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(view.result);
}

/*
 * pypeline.revoke(task_id) -> whether something was revoked: the task and
 * its sub-tasks become REVOKED; a running ETL is cancelled and rolls back.
 */
Datum
pypeline_revoke(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task_id), CStringGetTextDatum(privilege_role_name(GetUserId()))};
	List	   *pids = NIL;
	uint64		revoked;
	ListCell   *lc;

	SPI_connect();
	(void) task_read(task_id);	/* it must be the caller's */
	revoked = privilege_internal_exec("UPDATE pypeline.task "
									  "SET state = 'REVOKED', finished_at = clock_timestamp(), error = 'revoked by ' || $2 "
									  "WHERE (id = $1 OR parent_id = $1) AND state IN ('PENDING', 'STARTED') "
									  "RETURNING worker_pid",
									  2, argtypes, args, NULL, SPI_OK_UPDATE_RETURNING);
	for (uint64 i = 0; i < revoked; i++)
	{
		bool		isnull;
		Datum		pid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			pids = lappend_int(pids, DatumGetInt32(pid));
	}
	/* as the caller, who may signal the workers of its own roles */
	foreach(lc, pids)
	{
		Oid			types[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(lfirst_int(lc))};

		SPI_execute_with_args("SELECT pg_catalog.pg_cancel_backend($1)", 1, types, values, NULL, false, 0);
	}
	SPI_finish();
	PG_RETURN_BOOL(revoked > 0);
}

/* ---- the transitions a worker makes (worker.c) ---- */

/*
 * Marks a PENDING task of "role" STARTED by this process and returns it
 * parsed; NULL if it is not there for this role (taken, revoked, another
 * role's).  A task that does not parse is ended as FAILURE with the reason,
 * and *problem says it.
 */
Task *
task_claim(int64 task_id, Oid role, const char **problem)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task_id), role_name_datum(role)};
	Task	   *task;
	bool		isnull;
	Datum		parent;

	*problem = NULL;
	if (privilege_internal_exec("UPDATE pypeline.task SET state = 'STARTED', started_at = clock_timestamp(), "
								"  worker_pid = pg_catalog.pg_backend_pid() "
								"WHERE id = $1 AND state = 'PENDING' AND submitted_by = $2 "
								"RETURNING parent_id, arguments::text AS description, " TASK_FIELDS,
								2, argtypes, args, NULL, SPI_OK_UPDATE_RETURNING) != 1)
		return NULL;
	task = palloc0(sizeof(Task));
	task->id = task_id;
	parent = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	task->parent_id = isnull ? 0 : DatumGetInt64(parent);
	task->description = psprintf("%s %s", field(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "what"),
								 field(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "description"));
	*problem = task_parse(task, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	if (*problem)
		task_mark_failure(task_id, *problem);
	return task;
}

/* The next PENDING task of a role (of one parent, if given), or 0. */
int64
task_next_pending(Oid role, int64 parent_id)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		args[2] = {role_name_datum(role), Int64GetDatum(parent_id)};
	bool		isnull;

	if (privilege_internal_exec("SELECT id FROM pypeline.task WHERE state = 'PENDING' AND submitted_by = $1 "
								"AND ($2 = 0 OR parent_id = $2) ORDER BY id LIMIT 1",
								2, argtypes, args, NULL, SPI_OK_SELECT) == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Marks a STARTED task SUCCESS with its result; false if it was revoked meanwhile. */
bool
task_mark_success(int64 task_id, const char *result)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task_id), CStringGetTextDatum(result ? result : "[]")};

	return privilege_internal_exec("UPDATE pypeline.task SET state = 'SUCCESS', result = $2::jsonb, "
								   "  finished_at = clock_timestamp() WHERE id = $1 AND state = 'STARTED'",
								   2, argtypes, args, NULL, SPI_OK_UPDATE) == 1;
}

/*
 * Records in a running capture task what its rounds did: how many ran, the
 * changes they applied, the last error (NULL after a round that worked);
 * false if the task was revoked meanwhile.
 */
bool
task_note_capture(int64 task_id, int64 runs, int64 changes, const char *error)
{
	Oid			argtypes[4] = {INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		args[4] = {Int64GetDatum(task_id), Int64GetDatum(runs), Int64GetDatum(changes),
	CStringGetTextDatum(error ? error : "")};

	return privilege_internal_exec("UPDATE pypeline.task SET result = jsonb_build_object("
								   "  'runs', $2, 'changes', $3, 'last_run_at', clock_timestamp(), "
								   "  'last_error', NULLIF($4, ''), "
								   "  'last_error_at', CASE WHEN $4 <> '' THEN clock_timestamp() "
								   "                        ELSE (result ->> 'last_error_at')::timestamptz END) "
								   "WHERE id = $1 AND state = 'STARTED'",
								   4, argtypes, args, NULL, SPI_OK_UPDATE) == 1;
}

void
task_mark_failure(int64 task_id, const char *message)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task_id), CStringGetTextDatum(message)};

	privilege_internal_exec("UPDATE pypeline.task SET state = 'FAILURE', error = $2, "
							"  finished_at = clock_timestamp() WHERE id = $1 AND state IN ('PENDING', 'STARTED')",
							2, argtypes, args, NULL, SPI_OK_UPDATE);
}

/*
 * Adds a PENDING sub-task per active ETL of a kind that "role" may run, in
 * definition order; returns how many.
 */
int
task_add_subtasks(Task *parent, EtlKind kind, Oid role)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, OIDOID};
	Datum		args[4] = {Int64GetDatum(parent->id), CStringGetTextDatum(etl_kind_name(kind)),
	role_name_datum(role), ObjectIdGetDatum(role)};

	return (int) privilege_internal_exec(psprintf("INSERT INTO pypeline.task (parent_id, what, arguments, submitted_by) "
												  "SELECT $1, 'process_etl', jsonb_build_object('name', name, "
												  "  'kind', $2, 'delete_existing_table', false), $3 "
												  "FROM pypeline.%s WHERE active "
												  "  AND pg_catalog.pg_has_role($4, owner, 'USAGE') ORDER BY position",
												  etl_kind_name(kind)),
										 4, argtypes, args, NULL, SPI_OK_INSERT);
}

/* Whether sub-tasks of a kind are still PENDING or STARTED. */
bool
task_subtasks_unfinished(Task *parent, EtlKind kind)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(parent->id), CStringGetTextDatum(etl_kind_name(kind))};

	return privilege_internal_exec("SELECT 1 FROM pypeline.task WHERE parent_id = $1 "
								   "AND arguments ->> 'kind' = $2 AND state IN ('PENDING', 'STARTED') LIMIT 1",
								   2, argtypes, args, NULL, SPI_OK_SELECT) > 0;
}

/* The first sub-task of a kind that did not succeed, in words; NULL if none. */
char *
task_subtask_failure(Task *parent, EtlKind kind)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(parent->id), CStringGetTextDatum(etl_kind_name(kind))};

	if (privilege_internal_exec("SELECT format('%s %s failed: %s', arguments ->> 'kind', arguments ->> 'name', "
								"  coalesce(error, state)) FROM pypeline.task WHERE parent_id = $1 "
								"AND arguments ->> 'kind' = $2 AND state <> 'SUCCESS' ORDER BY id LIMIT 1",
								2, argtypes, args, NULL, SPI_OK_SELECT) == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* The results of a refresh's sub-tasks, dimensions first, as one jsonb array. */
char *
task_subtask_results(Task *parent)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(parent->id)};

	privilege_internal_exec("SELECT coalesce(jsonb_agg(result -> 0 ORDER BY arguments ->> 'kind', id), '[]')::text "
							"FROM pypeline.task WHERE parent_id = $1",
							1, argtypes, args, NULL, SPI_OK_SELECT);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}
