/*-------------------------------------------------------------------------
 *
 * pypeline.c
 *		Module entry point: settings and process-wide initialisation.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "utils/guc.h"

PG_MODULE_MAGIC;

int			pypeline_default_fetch_size = 10000;

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
							"Most background workers one role runs at once: parallel ETLs of a refresh, and tasks.",
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

	MarkGUCPrefixReserved("pypeline");
	pypeline_register_xact_callbacks();
	worker_register_callbacks();
}
