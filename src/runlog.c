/*-------------------------------------------------------------------------
 *
 * runlog.c
 *		pypeline.run_log: one row per run, written by pypeline's code as the
 *		extension's owner, with the ETL's owner for row security.
 *
 * A successful run's row is written in the run's transaction, so it commits
 * with the rows it counts.  A failed run rolls back, run-log row and all: its
 * row is written by a short-lived background worker in a transaction of its
 * own, from a pinned DSM segment that the worker unpins once it has read it;
 * the row appears a moment after the error.  A backend killed outright
 * (SIGKILL) writes no row.
 *
 * Calls privilege.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#define RUN_LOG_COLUMNS "etl_type, etl_name, target, started_at, finished_at, run_by, owner, status, message"

/* The row of a successful run, in the caller's transaction (connected to SPI). */
void
runlog_record_success(EtlDefinition *def, Oid runner, TimestampTz started, TimestampTz finished,
					  LoadCounts *counts)
{
	Oid			argtypes[16] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TEXTOID, OIDOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		args[16];
	char		nulls[16];

	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(etl_kind_name(def->kind));
	args[1] = CStringGetTextDatum(def->name);
	args[2] = CStringGetTextDatum(def->target);
	args[3] = TimestampTzGetDatum(started);
	args[4] = TimestampTzGetDatum(finished);
	args[5] = CStringGetTextDatum(privilege_role_name(runner));
	args[6] = ObjectIdGetDatum(def->owner);
	args[7] = counts->message ? CStringGetTextDatum(counts->message) : (Datum) 0;
	if (counts->message == NULL)
		nulls[7] = 'n';
	args[8] = Int64GetDatum((int64) counts->read);
	args[9] = Int64GetDatum((int64) counts->inserted);
	args[10] = Int64GetDatum((int64) counts->updated);
	args[11] = Int64GetDatum((int64) counts->unchanged);
	args[12] = Int64GetDatum((int64) counts->rejected);
	args[13] = Int64GetDatum((int64) counts->deleted);
	args[14] = Int64GetDatum((int64) counts->repaired);
	args[15] = counts->unmatched ? CStringGetTextDatum(counts->unmatched) : (Datum) 0;
	if (counts->unmatched == NULL)
		nulls[15] = 'n';
	privilege_internal_exec("INSERT INTO pypeline.run_log (" RUN_LOG_COLUMNS ", rows_read, "
							"  rows_inserted, rows_updated, rows_unchanged, rows_rejected, rows_deleted, "
							"  rows_repaired, unmatched) "
							"VALUES ($1, $2, $3, $4, $5, $6, $7::regrole, 'success', $8, $9, $10, $11, $12, $13, $14, "
							"  $15, $16::jsonb)",
							16, argtypes, args, nulls, SPI_OK_INSERT);
}

/* What the run-log writer needs, in its DSM segment. */
typedef struct FailedRun
{
	Oid			database;
	Oid			owner;
	TimestampTz started;
	TimestampTz finished;
	char		text[FLEXIBLE_ARRAY_MEMBER];	/* type, name, target, run_by, message; NUL-separated */
} FailedRun;

#define FAILED_RUN_PARTS 5

PGDLLEXPORT void pypeline_run_log_writer_main(Datum main_arg);

/*
 * Has a worker write the row of a failed run.  Called while the error is
 * being handled, before the transaction aborts: nothing here reads the
 * catalog (the names were resolved before the run).
 */
void
runlog_record_failure(EtlKind kind, const char *name, const char *target, Oid owner,
					  const char *runner_name, TimestampTz started, const char *message)
{
	const char *parts[FAILED_RUN_PARTS] = {etl_kind_name(kind), name, target ? target : "",
	runner_name, message};
	Size		size = offsetof(FailedRun, text);
	dsm_segment *segment;
	FailedRun  *run;
	char	   *p;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	for (int i = 0; i < FAILED_RUN_PARTS; i++)
		size += strlen(parts[i]) + 1;
	segment = dsm_create(size, 0);
	run = dsm_segment_address(segment);
	run->database = MyDatabaseId;
	run->owner = owner;
	run->started = started;
	run->finished = GetCurrentTimestamp();
	p = run->text;
	for (int i = 0; i < FAILED_RUN_PARTS; i++)
	{
		strcpy(p, parts[i]);
		p += strlen(parts[i]) + 1;
	}

	worker_init(&worker, "pypeline_run_log_writer_main", "pypeline run log writer",
				UInt32GetDatum(dsm_segment_handle(segment)));
	dsm_pin_segment(segment);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		dsm_unpin_segment(dsm_segment_handle(segment));
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no background worker slot is free to record the failed run of %s \"%s\" in pypeline.run_log",
						etl_kind_name(kind), name),
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
	const char *parts[FAILED_RUN_PARTS];
	const char *p;
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	OIDOID, TEXTOID};
	Datum		args[8];

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pypeline run log writer");
	segment = dsm_attach(handle);
	if (segment == NULL)
		proc_exit(0);
	run = dsm_segment_address(segment);
	/* the bootstrap superuser can always connect; the row is written as the extension's owner */
	BackgroundWorkerInitializeConnectionByOid(run->database, BOOTSTRAP_SUPERUSERID, 0);

	p = run->text;
	for (int i = 0; i < FAILED_RUN_PARTS; i++)
	{
		parts[i] = p;
		p += strlen(p) + 1;
	}
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	for (int i = 0; i < 3; i++)
		args[i] = CStringGetTextDatum(parts[i]);
	args[3] = TimestampTzGetDatum(run->started);
	args[4] = TimestampTzGetDatum(run->finished);
	args[5] = CStringGetTextDatum(parts[3]);
	args[6] = ObjectIdGetDatum(run->owner);
	args[7] = CStringGetTextDatum(parts[4]);
	privilege_internal_exec("INSERT INTO pypeline.run_log (" RUN_LOG_COLUMNS ") "
							"VALUES ($1, $2, $3, $4, $5, $6, $7::regrole, 'failure', $8)",
							8, argtypes, args, NULL, SPI_OK_INSERT);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	dsm_unpin_segment(handle);
	dsm_detach(segment);
	proc_exit(0);
}
