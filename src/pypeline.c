/*-------------------------------------------------------------------------
 *
 * pypeline.c
 *		Module entry point and what the whole library shares: the settings
 *		(GUCs), the MySQL client library's initialisation, and the template
 *		of the library's dynamic background workers.
 *
 * Transaction callbacks are registered by the files that need them, on
 * first use (connection.c, worker.c), as postgres_fdw does.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include <limits.h>

#include "utils/guc.h"

PG_MODULE_MAGIC;

int			pypeline_default_fetch_size = 10000;
int			pypeline_max_parallel_etls = 4;
int			pypeline_max_queued_tasks = 100;
int			pypeline_lookup_memory_kb = 262144;

void		_PG_init(void);

void
_PG_init(void)
{
	/* initialises the client library once, before any thread could */
	if (mysql_library_init(0, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialise the MySQL client library")));

	DefineCustomIntVariable("pypeline.fetch_size",
							"Rows per batch written to a staging table, unless the server sets fetch_size.",
							NULL,
							&pypeline_default_fetch_size,
							10000, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pypeline.max_parallel_etls",
							"Most background workers one role runs at once: parallel ETLs of a refresh, and tasks; also the readers of a split fact.",
							"Fewer for a role whose CONNECTION LIMIT is lower; bounded in practice by max_worker_processes.",
							&pypeline_max_parallel_etls,
							4, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pypeline.max_queued_tasks",
							"Most tasks one role may have waiting to start.",
							NULL,
							&pypeline_max_queued_tasks,
							100, 1, 100000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pypeline.lookup_memory",
							"Memory a fact load may use to hold the keys of the dimensions it looks up.",
							"A new fact table is then filled as the source streams; a dimension too large for it is looked up by a join of the staged rows. 0 always joins.",
							&pypeline_lookup_memory_kb,
							262144, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("pypeline");
}

/* A dynamic worker of this library, started once, never restarted. */
void
worker_init(BackgroundWorker *worker, const char *function, const char *type, Datum main_arg)
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
