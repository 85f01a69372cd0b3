/*-------------------------------------------------------------------------
 *
 * progress.c
 *		What a running ETL is doing, for the pypeline.progress view.
 *
 * An extension loaded on demand has no shared memory of its own, so a
 * running ETL reports through PostgreSQL's own channels: the backend's
 * activity text names the ETL ("pypeline ETL dimension "school" into
 * school_dim") and COPY-style progress carries the numbers (tuples
 * processed = source rows read so far; bytes processed = phase; bytes total
 * = the start time).  Statements the ETL runs itself (CREATE INDEX,
 * ANALYZE) replace the progress report with their own, so it is put back
 * after each of them.  The old tool's log lines ("Loaded 850 rows into table
 * product_dim ...") are written here too.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "commands/progress.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/backend_progress.h"
#include "utils/backend_status.h"

static bool running = false;
static TimestampTz started;
static int64 rows_read;
static int64 phase;

static void
report(void)
{
	const int	params[5] = {PROGRESS_COPY_BYTES_PROCESSED, PROGRESS_COPY_BYTES_TOTAL,
		PROGRESS_COPY_TUPLES_PROCESSED, PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE};
	const int64 values[5] = {phase, started, rows_read, PROGRESS_COPY_COMMAND_FROM,
	PROGRESS_COPY_TYPE_CALLBACK};

	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, InvalidOid);
	pgstat_progress_update_multi_param(5, params, values);
}

void
progress_begin(const char *kind, const char *name, const char *target)
{
	running = true;
	started = GetCurrentTimestamp();
	rows_read = 0;
	phase = PROGRESS_PHASE_READING;
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("pypeline ETL %s \"%s\" into %s", kind, name, target));
	report();
}

void
progress_rows(uint64 rows)
{
	rows_read = (int64) rows;
	if (running)
		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, rows_read);
}

void
progress_phase(int new_phase)
{
	phase = new_phase;
	if (running)
		pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, phase);
}

/* Puts the report back after a statement that made its own. */
void
progress_restore(void)
{
	if (running && MyBEEntry && MyBEEntry->st_progress_command != PROGRESS_COMMAND_COPY)
		report();
}

void
progress_end(void)
{
	if (!running)
		return;
	running = false;
	pgstat_progress_end_command();
	if (debug_query_string)
		pgstat_report_activity(STATE_RUNNING, debug_query_string);
}

/*
 * The old tool's log lines go to the server log at LOG; a client sees them
 * with SET client_min_messages = log.
 */
void
progress_log(const char *fmt,...)
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
