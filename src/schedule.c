/*-------------------------------------------------------------------------
 *
 * schedule.c
 *		Schedules through pg_cron from any database of the cluster.
 *
 * pg_cron lives in one database (cron.database_name) and warehouses in
 * others.  pypeline._cron runs one of three fixed statements there (schedule
 * a job in the caller's database, unschedule one, list the caller's
 * database's jobs) in a background worker connected to that database as
 * the calling role, and hands back its one text result through dynamic
 * shared memory.  The statements are fixed, never the caller's SQL, and the
 * role must have CONNECT on pg_cron's database: a role can do through this
 * exactly what it could do by connecting there itself, and pg_cron's own
 * rules (EXECUTE on cron.schedule_in_database, its row security on
 * cron.job) decide the rest.
 *
 * Calls pypeline.c (the worker template) only.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

/* The statements, by action; $1... are the text arguments. */
typedef struct CronAction
{
	const char *name;
	int			nargs;
	const char *sql;
} CronAction;

static const CronAction cron_actions[] = {
	/* a job name is the role's across the cluster: one of another database is not taken over */
	{"schedule", 4,
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user "
		"                         AND database <> $4) THEN NULL "
		"ELSE cron.schedule_in_database($1, $2, $3, $4)::text END"},
	{"unschedule", 2,
		"SELECT coalesce(bool_and(cron.unschedule(jobid)), false)::text FROM cron.job "
		"WHERE jobname = $1 AND username = current_user AND database = $2"},
	{"list", 1,
		"SELECT coalesce(jsonb_agg(jsonb_build_object('jobid', j.jobid, 'jobname', j.jobname, "
		"  'schedule', j.schedule, 'command', j.command, 'username', j.username, 'active', j.active, "
		"  'last_start', r.start_time, 'last_end', r.end_time, 'last_status', r.status, "
		"  'last_message', r.return_message) ORDER BY j.jobid), '[]')::text "
		"FROM cron.job j LEFT JOIN LATERAL (SELECT d.start_time, d.end_time, d.status, d.return_message "
		"  FROM cron.job_run_details d WHERE d.jobid = j.jobid ORDER BY d.start_time DESC NULLS LAST LIMIT 1) r ON true "
		"WHERE j.database = $1"},
};

#define CRON_MAX_ARGS 4
#define CRON_RESULT_SIZE (256 * 1024)

/* What the caller and the worker share. */
typedef struct CronCall
{
	Oid			database;		/* pg_cron's */
	Oid			role;			/* the caller */
	int			action;			/* index into cron_actions */
	bool		finished;		/* the worker got to the end */
	bool		failed;			/* the statement raised an error: message in result */
	bool		isnull;
	bool		truncated;
	int			sqlerrcode;
	Size		args_offset[CRON_MAX_ARGS];
	char		result[CRON_RESULT_SIZE];
	char		args[FLEXIBLE_ARRAY_MEMBER];	/* NUL-terminated, one after another */
} CronCall;

PG_FUNCTION_INFO_V1(pypeline_cron);
PGDLLEXPORT void pypeline_cron_worker_main(Datum main_arg);

/* Copies text into the result, truncated to fit. */
static void
set_result(CronCall *call, const char *text)
{
	size_t		length = strlen(text);

	call->truncated = length >= CRON_RESULT_SIZE;
	strlcpy(call->result, text, CRON_RESULT_SIZE);
}

/*
 * pypeline._cron(action text, arguments text[]) RETURNS text: one of the
 * fixed statements, in pg_cron's database, as the calling role.
 */
Datum
pypeline_cron(PG_FUNCTION_ARGS)
{
	char	   *action_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arguments = PG_GETARG_ARRAYTYPE_P(1);
	const char *cron_database = GetConfigOption("cron.database_name", true, false);
	Datum	   *values;
	bool	   *nulls;
	int			nargs;
	int			action = -1;
	Oid			database;
	Size		size;
	dsm_segment *segment;
	CronCall   *call;
	char	   *p;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	text	   *result;

	for (int i = 0; i < (int) lengthof(cron_actions); i++)
		if (strcmp(cron_actions[i].name, action_name) == 0)
			action = i;
	deconstruct_array(arguments, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &nargs);
	if (action < 0 || nargs != cron_actions[action].nargs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pypeline._cron does not know action \"%s\" with %d arguments", action_name, nargs)));
	for (int i = 0; i < nargs; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("pypeline._cron: argument %d of action \"%s\" is NULL", i + 1, action_name)));
	if (cron_database == NULL || cron_database[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron is not loaded in this cluster"),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name and run CREATE EXTENSION pg_cron in that database; everything else in pypeline works without it.")));
	database = get_database_oid(cron_database, true);
	if (!OidIsValid(database))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("pg_cron's database \"%s\" (cron.database_name) does not exist", cron_database)));
	if (pg_database_aclcheck(database, GetUserId(), ACL_CONNECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role %s may not connect to pg_cron's database \"%s\"",
						GetUserNameFromId(GetUserId(), false), cron_database),
				 errhint("A schedule is made there as the role: GRANT CONNECT ON DATABASE %s TO %s, and EXECUTE on cron.schedule_in_database.",
						 quote_identifier(cron_database), quote_identifier(GetUserNameFromId(GetUserId(), false)))));

	size = offsetof(CronCall, args);
	for (int i = 0; i < nargs; i++)
		size += VARSIZE_ANY_EXHDR(DatumGetTextPP(values[i])) + 1;
	segment = dsm_create(size, 0);
	call = dsm_segment_address(segment);
	memset(call, 0, offsetof(CronCall, args));
	call->database = database;
	call->role = GetUserId();
	call->action = action;
	p = call->args;
	for (int i = 0; i < nargs; i++)
	{
		char	   *arg = TextDatumGetCString(values[i]);

		call->args_offset[i] = p - call->args;
		strcpy(p, arg);
		p += strlen(arg) + 1;
	}

	worker_init(&worker, "pypeline_cron_worker_main", "pypeline cron call",
				UInt32GetDatum(dsm_segment_handle(segment)));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no background worker slot is free to reach pg_cron's database"),
				 errhint("Raise max_worker_processes, or try again when fewer ETLs run.")));
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
		WaitForBackgroundWorkerShutdown(handle);
	if (!call->finished)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not run \"%s\" in pg_cron's database \"%s\" as role %s", action_name, cron_database,
						GetUserNameFromId(GetUserId(), false)),
				 errhint("The role needs LOGIN and CONNECT on that database; the server log has the reason.")));
	if (call->failed && (call->sqlerrcode == ERRCODE_UNDEFINED_TABLE || call->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION ||
						 call->sqlerrcode == ERRCODE_INVALID_SCHEMA_NAME))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron is not installed in its database \"%s\"", cron_database),
				 errdetail("There: %s.", call->result),
				 errhint("Run CREATE EXTENSION pg_cron in database %s; everything else in pypeline works without it.",
						 quote_identifier(cron_database))));
	if (call->failed)
		ereport(ERROR,
				(errcode(call->sqlerrcode),
				 errmsg("pg_cron's database \"%s\": %s", cron_database, call->result)));
	if (call->truncated)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the answer of pg_cron's database to \"%s\" is longer than %d bytes", action_name,
						CRON_RESULT_SIZE)));
	result = call->isnull ? NULL : cstring_to_text(call->result);
	dsm_detach(segment);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

void
pypeline_cron_worker_main(Datum main_arg)
{
	dsm_segment *segment;
	CronCall   *call;
	const CronAction *action;
	Oid			argtypes[CRON_MAX_ARGS];
	Datum		args[CRON_MAX_ARGS];
	MemoryContext context;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pypeline cron call");
	segment = dsm_attach(DatumGetUInt32(main_arg));
	if (segment == NULL)
		proc_exit(0);
	call = dsm_segment_address(segment);
	BackgroundWorkerInitializeConnectionByOid(call->database, call->role, 0);
	action = &cron_actions[call->action];
	for (int i = 0; i < action->nargs; i++)
	{
		argtypes[i] = TEXTOID;
		args[i] = CStringGetTextDatum(call->args + call->args_offset[i]);
	}

	StartTransactionCommand();
	context = CurrentMemoryContext;
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_execute_with_args(action->sql, action->nargs, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "pypeline cron call \"%s\" returned no row", action->name);
		{
			char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			call->isnull = value == NULL;
			set_result(call, value ? value : "");
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		call->failed = true;
		call->sqlerrcode = error->sqlerrcode;
		set_result(call, error->message);
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	call->finished = true;
	dsm_detach(segment);
	proc_exit(0);
}
