/*-------------------------------------------------------------------------
 *
 * split.c
 *		One source read as key ranges of a column by background workers
 *		(split readers) whose rows the run's backend takes as they come.
 *
 * A fact with split_column is read by pypeline.max_parallel_etls readers.
 * Each is a background worker that connects to the MySQL server with the
 * ETL owner's user mapping, reads the rows of one range of the column,
 * converts them and sends them as tuples through a shared memory queue.
 * The run's backend takes them from whichever queue has one and hands them
 * to the load through an ordinary SourceCursor: staging, lookups and merges
 * are the serial run's, in the run's one transaction.  What the readers
 * add is reading and converting in parallel, and MySQL executing the range
 * queries on as many of its cores.
 *
 * One state of the source: each reader takes a consistent snapshot and
 * publishes the binary log coordinates MariaDB gives it with it
 * (Binlog_snapshot_file/position).  Equal coordinates mean that no
 * transaction committed between the snapshots, so the ranges are read from
 * one state of the source, as a serial read would be.  If they differ the
 * readers take new snapshots, a few times.  A source that never agrees,
 * a server without coordinates (binary log off), or readers that cannot
 * start (max_worker_processes, the role's connection limit) make the run
 * read serially, with a WARNING that says why.
 *
 * The ranges are [b(k), b(k+1)) of the column's values, the first one
 * open below and holding the NULLs, the last one open above, with bounds
 * cut evenly between the column's MIN and MAX (day numbers for dates): any
 * value is in exactly one range whatever the bounds are, so the bounds
 * only decide the balance.
 *
 * A reader's error (a value that does not convert, a lost connection)
 * reaches the run as the same error, with the reader's range added to its
 * context.  When the run ends, however it ends, the readers are stopped.
 *
 * Calls source.c, binlog.c (snapshot coordinates), connection.c,
 * convert.c, options.c, privilege.c, progress.c and pypeline.c (the
 * worker template).
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PGDLLEXPORT void pypeline_split_reader_main(Datum main_arg);

#define SPLIT_MAGIC 0x70797370	/* "pysp" */

/* keys of the segment's table of contents; a reader's own are offset by its number */
#define KEY_SHARED 1
#define KEY_COLUMNS 2
#define KEY_OPTIONS 3
#define KEY_QUERY 1000
#define KEY_ROWS 2000
#define KEY_ERRORS 3000

/* bytes of converted rows a reader may be ahead of the run */
#define ROWS_QUEUE_SIZE (1024 * 1024)
#define ERRORS_QUEUE_SIZE (16 * 1024)

/* snapshots taken before the readers give up agreeing and the run reads serially */
#define SNAPSHOT_ROUNDS 5

#define COORDINATES_SIZE 600

typedef enum SplitCommand
{
	SPLIT_SNAPSHOT,				/* take the snapshot of generation */
	SPLIT_READ,					/* read the range in the snapshot taken */
	SPLIT_STOP					/* end without reading */
} SplitCommand;

typedef struct SplitReaderSlot
{
	Latch	   *latch;			/* set to tell the reader of a command */
	uint32		generation;		/* of the snapshot it took, 0 before one */
	bool		has_coordinates;
	char		coordinates[COORDINATES_SIZE];
	bool		finished;		/* sent the last row of its range */
} SplitReaderSlot;

typedef struct SplitShared
{
	slock_t		mutex;
	Oid			database;
	Oid			session_user;	/* the reader connects as the run's role */
	Oid			owner;			/* and reads with the ETL owner's rights */
	Latch	   *coordinator;
	char		server[NAMEDATALEN];
	char		etl_kind[16];
	char		etl_name[NAMEDATALEN];
	int			nreaders;
	int			ncolumns;
	SplitCommand command;
	uint32		generation;
	SplitReaderSlot readers[FLEXIBLE_ARRAY_MEMBER];
} SplitShared;

/* What a reader must find and what it converts each column to. */
typedef struct SplitColumn
{
	ConvertKind kind;
	Oid			mapped_type;
	int32		mapped_typmod;
	Oid			result_type;
	int32		result_typmod;
} SplitColumn;

/* The run's side, in TopTransactionContext so a subtransaction's abort can stop the readers. */
typedef struct SplitRead
{
	dsm_segment *segment;
	SplitShared *shared;
	SplitColumn *columns;
	SourceCursor *cursor;		/* the run's: its columns and connection */
	int			nreaders;
	char	  **ranges;			/* each reader's condition, for messages */
	BackgroundWorkerHandle **workers;
	shm_mq_handle **rows;
	shm_mq_handle **errors;
	bool	   *done;
	int			ndone;
	int			next;			/* the queue looked at first */
	bool		reading;
	TupleDesc	tupdesc;
} SplitRead;

/* ----------------------------------------------------------------
 * The run's side
 * ----------------------------------------------------------------
 */

/* Whether a column's values can be cut into ranges, and as what. */
typedef enum SplitDomain
{
	SPLIT_NONE,
	SPLIT_INTEGERS,
	SPLIT_DAYS					/* dates and times, by day number */
} SplitDomain;

static SplitDomain
split_domain(ColumnConverter *cc)
{
	switch (cc->mapped_type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return SPLIT_INTEGERS;
		case NUMERICOID:
			/* BIGINT UNSIGNED; DECIMAL has a scale */
			return strncmp(cc->mysql_type, "bigint", 6) == 0 ? SPLIT_INTEGERS : SPLIT_NONE;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return SPLIT_DAYS;
		default:
			return SPLIT_NONE;
	}
}

/* A decimal integer of MIN/MAX, which any 64-bit integer column's fits. */
static int128
parse_int128(const char *text)
{
	bool		negative = *text == '-';
	int128		value = 0;

	for (const char *p = text + (negative ? 1 : 0); *p >= '0' && *p <= '9'; p++)
		value = value * 10 + (*p - '0');
	return negative ? -value : value;
}

static char *
int128_text(int128 value)
{
	char		digits[48];
	int			n = sizeof(digits) - 1;
	bool		negative = value < 0;

	digits[n] = '\0';
	do
	{
		int			digit = (int) (value % 10);

		digits[--n] = '0' + (negative ? -digit : digit);
		value /= 10;
	} while (value != 0);
	if (negative)
		digits[--n] = '-';
	return pstrdup(&digits[n]);
}

/* Each reader's condition on the column: ranges cut evenly between its lowest and highest value. */
static char **
range_conditions(const char *column, SplitDomain domain, const char *low, const char *high, int n)
{
	char	  **conditions = palloc(sizeof(char *) * n);
	char	   *quoted = source_quote_identifier(column);
	int128		lowest = parse_int128(low);
	int128		span = parse_int128(high) - lowest + 1;
	char	   *previous = NULL;

	for (int k = 0; k < n; k++)
	{
		char	   *bound = NULL;

		if (k < n - 1)
		{
			bound = int128_text(lowest + span * (k + 1) / n);
			if (domain == SPLIT_DAYS)
				bound = psprintf("FROM_DAYS(%s)", bound);
		}
		if (k == 0)
			conditions[k] = psprintf("(%s < %s OR %s IS NULL)", quoted, bound, quoted);
		else if (bound == NULL)
			conditions[k] = psprintf("%s >= %s", quoted, previous);
		else
			conditions[k] = psprintf("%s >= %s AND %s < %s", quoted, previous, quoted, bound);
		previous = bound;
	}
	return conditions;
}

/* Stops the readers when the run lets go of the segment: at its end, or an error's. */
static void
stop_readers(dsm_segment *segment pg_attribute_unused(), Datum arg)
{
	SplitRead  *split = (SplitRead *) DatumGetPointer(arg);

	for (int i = 0; i < split->nreaders; i++)
		if (split->workers[i])
			TerminateBackgroundWorker(split->workers[i]);
}

static void
wake_readers(SplitRead *split, SplitCommand command, uint32 generation)
{
	SplitShared *shared = split->shared;

	SpinLockAcquire(&shared->mutex);
	shared->command = command;
	shared->generation = generation;
	SpinLockRelease(&shared->mutex);
	for (int i = 0; i < split->nreaders; i++)
	{
		Latch	   *latch;

		SpinLockAcquire(&shared->mutex);
		latch = shared->readers[i].latch;
		SpinLockRelease(&shared->mutex);
		if (latch)
			SetLatch(latch);
	}
}

/* Adds which reader an error or notice of a reader came from. */
static void
reader_error_context(void *arg)
{
	char	   *where = arg;

	errcontext("%s", where);
}

/*
 * Re-raises what a reader reported in the run: its notices, and its error
 * if it had one.  With "failure", an error that says the reader could not
 * connect or lacked resources (SQLSTATE classes 08 and 53) is returned
 * there instead: the run can read serially without it.
 */
static void
relay_reader_messages(SplitRead *split, int i, char **failure)
{
	ErrorContextCallback callback;
	char	   *where = psprintf("split reader %d of %d of %s \"%s\", rows where %s",
								 i + 1, split->nreaders, split->shared->etl_kind,
								 split->shared->etl_name, split->ranges[i]);

	callback.callback = reader_error_context;
	callback.arg = where;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	for (;;)
	{
		Size		nbytes;
		void	   *data;
		StringInfoData msg;
		ErrorData	edata;
		char		msgtype;

		if (shm_mq_receive(split->errors[i], &nbytes, &data, true) != SHM_MQ_SUCCESS)
			break;
		initStringInfo(&msg);
		appendBinaryStringInfo(&msg, data, nbytes);
		msgtype = pq_getmsgbyte(&msg);
		if (msgtype != 'E' && msgtype != 'N')
			continue;
		pq_parse_errornotice(&msg, &edata);
		edata.elevel = Min(edata.elevel, ERROR);
		if (failure && edata.elevel == ERROR &&
			(ERRCODE_TO_CATEGORY(edata.sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION ||
			 ERRCODE_TO_CATEGORY(edata.sqlerrcode) == ERRCODE_INSUFFICIENT_RESOURCES))
		{
			*failure = psprintf("split reader %d: %s", i + 1, edata.message);
			break;
		}
		ThrowErrorData(&edata);
	}
	error_context_stack = callback.previous;
}

/*
 * Relays every reader's messages, so that none waits with a full queue of
 * them (mq_putmessage blocks); see relay_reader_messages for "failure".
 */
static void
relay_all_messages(SplitRead *split, char **failure)
{
	for (int i = 0; i < split->nreaders && (failure == NULL || *failure == NULL); i++)
		if (split->errors[i])
			relay_reader_messages(split, i, failure);
}

/* What is wrong with a reader that has gone, NULL if it has not. */
static char *
reader_gone(SplitRead *split, int i)
{
	pid_t		pid;

	char	   *failure = NULL;

	if (GetBackgroundWorkerPid(split->workers[i], &pid) != BGWH_STOPPED)
		return NULL;
	relay_reader_messages(split, i, &failure);
	return failure ? failure : psprintf("split reader %d stopped before it read its range", i + 1);
}

/*
 * Has every reader take a snapshot until they took the same one; NULL when
 * they did, else why the run reads serially.
 */
static char *
agree_on_snapshot(SplitRead *split)
{
	SplitShared *shared = split->shared;

	for (uint32 round = 1; round <= SNAPSHOT_ROUNDS; round++)
	{
		bool		agreed = true;

		if (round > 1)
			wake_readers(split, SPLIT_SNAPSHOT, round);
		for (;;)
		{
			int			taken = 0;

			for (int i = 0; i < split->nreaders; i++)
			{
				uint32		generation;
				char	   *problem;

				SpinLockAcquire(&shared->mutex);
				generation = shared->readers[i].generation;
				SpinLockRelease(&shared->mutex);
				if (generation == round)
					taken++;
				else if ((problem = reader_gone(split, i)) != NULL)
					return problem;
			}
			if (taken == split->nreaders)
				break;
			{
				char	   *failure = NULL;

				relay_all_messages(split, &failure);
				if (failure)
					return failure;
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L,
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		for (int i = 0; i < split->nreaders; i++)
		{
			SplitReaderSlot *slot = &shared->readers[i];

			if (!slot->has_coordinates)
				return psprintf("MySQL server \"%s\" gives no binary log coordinates with a snapshot (log_bin is off), so nothing shows that the readers' snapshots are one",
								shared->server);
			if (strcmp(slot->coordinates, shared->readers[0].coordinates) != 0)
				agreed = false;
		}
		if (agreed)
			return NULL;
	}
	return psprintf("transactions committed on MySQL server \"%s\" between the readers' snapshots %d times running",
					shared->server, SNAPSHOT_ROUNDS);
}

/*
 * Creates the segment and starts a reader per range; NULL when they all
 * started, else why not.
 */
static char *
start_readers(SplitRead *split, const char *sql, char **conditions, const char *etl_kind,
			  const char *etl_name, Oid owner)
{
	int			n = split->nreaders;
	int			ncolumns = split->cursor->ncolumns;
	shm_toc_estimator estimator;
	shm_toc    *toc;
	SplitShared *shared;
	char	  **queries = palloc(sizeof(char *) * n);
	Size		shared_size = add_size(offsetof(SplitShared, readers), mul_size(n, sizeof(SplitReaderSlot)));
	Oid			role = GetSessionUserId();
	int			limit = privilege_role_connection_limit(role);
	char	   *options;
	Size		options_size;

	if (!privilege_role_can_login(role))
		return psprintf("role %s cannot log in, so no background worker can read as it", privilege_role_name(role));
	if (limit >= 0 && CountUserBackends(role) + n > limit)
		return psprintf("role %s would exceed its CONNECTION LIMIT %d with %d readers",
						privilege_role_name(role), limit, n);

	shm_toc_initialize_estimator(&estimator);
	shm_toc_estimate_chunk(&estimator, shared_size);
	shm_toc_estimate_chunk(&estimator, mul_size(ncolumns, sizeof(SplitColumn)));
	options = pypeline_options_flatten(split->cursor->conn->options, &options_size);
	shm_toc_estimate_chunk(&estimator, options_size);
	for (int i = 0; i < n; i++)
	{
		queries[i] = psprintf("SELECT * FROM (%s\n) AS pypeline_range WHERE %s", sql, conditions[i]);
		shm_toc_estimate_chunk(&estimator, strlen(queries[i]) + 1);
		shm_toc_estimate_chunk(&estimator, ROWS_QUEUE_SIZE);
		shm_toc_estimate_chunk(&estimator, ERRORS_QUEUE_SIZE);
	}
	shm_toc_estimate_keys(&estimator, 3 + 3 * n);

	split->segment = dsm_create(shm_toc_estimate(&estimator), DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (split->segment == NULL)
		return pstrdup("no dynamic shared memory segment is free (max_connections bounds their number)");
	toc = shm_toc_create(SPLIT_MAGIC, dsm_segment_address(split->segment), shm_toc_estimate(&estimator));
	shared = split->shared = shm_toc_allocate(toc, shared_size);
	memset(shared, 0, shared_size);
	SpinLockInit(&shared->mutex);
	shared->database = MyDatabaseId;
	shared->session_user = role;
	shared->owner = owner;
	shared->coordinator = MyLatch;
	strlcpy(shared->server, split->cursor->conn->options->server_name, NAMEDATALEN);
	strlcpy(shared->etl_kind, etl_kind, sizeof(shared->etl_kind));
	strlcpy(shared->etl_name, etl_name, NAMEDATALEN);
	shared->nreaders = n;
	shared->ncolumns = ncolumns;
	shared->command = SPLIT_SNAPSHOT;
	shared->generation = 1;
	shm_toc_insert(toc, KEY_SHARED, shared);
	split->columns = shm_toc_allocate(toc, mul_size(ncolumns, sizeof(SplitColumn)));
	shm_toc_insert(toc, KEY_COLUMNS, split->columns);
	/* the run's options, as resolved in its transaction: the readers connect with them */
	shm_toc_insert(toc, KEY_OPTIONS, memcpy(shm_toc_allocate(toc, options_size), options, options_size));

	split->workers = palloc0(sizeof(BackgroundWorkerHandle *) * n);
	split->rows = palloc0(sizeof(shm_mq_handle *) * n);
	split->errors = palloc0(sizeof(shm_mq_handle *) * n);
	split->done = palloc0(sizeof(bool) * n);
	on_dsm_detach(split->segment, stop_readers, PointerGetDatum(split));

	for (int i = 0; i < n; i++)
	{
		char	   *query = shm_toc_allocate(toc, strlen(queries[i]) + 1);
		shm_mq	   *rows = shm_mq_create(shm_toc_allocate(toc, ROWS_QUEUE_SIZE), ROWS_QUEUE_SIZE);
		shm_mq	   *errors = shm_mq_create(shm_toc_allocate(toc, ERRORS_QUEUE_SIZE), ERRORS_QUEUE_SIZE);
		BackgroundWorker worker;

		strcpy(query, queries[i]);
		shm_toc_insert(toc, KEY_QUERY + i, query);
		shm_toc_insert(toc, KEY_ROWS + i, rows);
		shm_toc_insert(toc, KEY_ERRORS + i, errors);
		shm_mq_set_receiver(rows, MyProc);
		shm_mq_set_receiver(errors, MyProc);

		worker_init(&worker, "pypeline_split_reader_main", "pypeline split reader",
					UInt32GetDatum(dsm_segment_handle(split->segment)));
		snprintf(worker.bgw_name, BGW_MAXLEN, "pypeline split reader %d of %d for %s %s",
				 i + 1, n, etl_kind, etl_name);
		memcpy(worker.bgw_extra, &i, sizeof(i));
		worker.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&worker, &split->workers[i]))
			return psprintf("not all %d readers could start (max_worker_processes is %d)", n, max_worker_processes);
		split->rows[i] = shm_mq_attach(rows, split->segment, split->workers[i]);
		split->errors[i] = shm_mq_attach(errors, split->segment, split->workers[i]);
	}
	return NULL;
}

/* The first row asked for: the readers get the columns' final types and read. */
static void
start_reading(SplitRead *split)
{
	SourceCursor *cursor = split->cursor;
	MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

	split->tupdesc = CreateTemplateTupleDesc(cursor->ncolumns);
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		ColumnConverter *cc = &cursor->columns[i];
		SplitColumn *column = &split->columns[i];

		column->kind = cc->kind;
		column->mapped_type = cc->mapped_type;
		column->mapped_typmod = cc->mapped_typmod;
		column->result_type = cc->result_type;
		column->result_typmod = cc->result_typmod;
		TupleDescInitEntry(split->tupdesc, i + 1, NULL, cc->result_type, cc->result_typmod, 0);
	}
	MemoryContextSwitchTo(oldcxt);
	wake_readers(split, SPLIT_READ, split->shared->generation);
	split->reading = true;
}

/* A reader's queue ended: it finished its range, or says why not. */
static void
reader_ended(SplitRead *split, int i)
{
	bool		finished;

	relay_reader_messages(split, i, NULL);
	SpinLockAcquire(&split->shared->mutex);
	finished = split->shared->readers[i].finished;
	SpinLockRelease(&split->shared->mutex);
	if (!finished)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("split reader %d of %d of %s \"%s\" stopped before the end of its range",
						i + 1, split->nreaders, split->shared->etl_kind, split->shared->etl_name),
				 errdetail("Its rows were those where %s.", split->ranges[i]),
				 errhint("The server log says why the background worker ended.")));
	split->done[i] = true;
	split->ndone++;
}

/* SourceCursor.next_row: a row from whichever reader has one. */
static bool
split_next(void *arg, Datum *values, bool *nulls)
{
	SplitRead  *split = arg;

	/* full queues never wait, so this is where a cancel is seen */
	CHECK_FOR_INTERRUPTS();
	if (!split->reading)
		start_reading(split);
	while (split->ndone < split->nreaders)
	{
		for (int k = 0; k < split->nreaders; k++)
		{
			int			i = (split->next + k) % split->nreaders;
			Size		nbytes;
			void	   *data;
			shm_mq_result result;

			if (split->done[i])
				continue;
			result = shm_mq_receive(split->rows[i], &nbytes, &data, true);
			if (result == SHM_MQ_SUCCESS)
			{
				HeapTupleData tuple;

				tuple.t_len = nbytes;
				tuple.t_data = palloc(nbytes);
				memcpy(tuple.t_data, data, nbytes);
				heap_deform_tuple(&tuple, split->tupdesc, values, nulls);
				split->next = (i + 1) % split->nreaders;
				return true;
			}
			if (result == SHM_MQ_DETACHED)
				reader_ended(split, i);
		}
		if (split->ndone == split->nreaders)
			break;
		relay_all_messages(split, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* SourceCursor.on_close */
static void
split_close(void *arg)
{
	SplitRead  *split = arg;

	if (split->segment)
	{
		wake_readers(split, SPLIT_STOP, split->shared->generation);
		dsm_detach(split->segment);		/* stops the readers (stop_readers) */
		split->segment = NULL;
		/* their worker slots are free for what runs next */
		for (int i = 0; i < split->nreaders; i++)
			if (split->workers[i])
				(void) WaitForBackgroundWorkerShutdown(split->workers[i]);
	}
}

/*
 * Opens the query "sql" of an ETL's source "source_sql" (sql may restrict
 * it to rows past a watermark) to be read as key ranges of "column" by
 * nreaders readers with the rights of "owner"; with fewer than two, or
 * when they cannot read one snapshot (see the top of the file), the
 * cursor reads the source serially.
 */
SourceCursor *
split_open(const char *server_name, const char *source_sql, const char *sql, const char *column,
		   int nreaders, const char *etl_kind, const char *etl_name, Oid owner)
{
	SourceCursor *cursor;
	SourceCursor *described;
	int			described_index;
	SplitRead  *split;
	SplitDomain domain;
	char	  **bounds;
	char	   *problem;
	int			index;

	if (nreaders < 2)
		return source_open(server_name, sql, etl_kind, etl_name);

	/* the columns, without a row: what the readers' queries will return */
	cursor = source_open(server_name, psprintf("SELECT * FROM (%s\n) AS pypeline_range WHERE 1 = 0", sql),
						 etl_kind, etl_name);
	source_require_column(cursor, column, "split column");
	index = source_column_index(cursor, column);
	domain = split_domain(&cursor->columns[index]);
	if (domain == SPLIT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("split column \"%s\" of %s \"%s\" is MySQL %s", column, etl_kind, etl_name,
						cursor->columns[index].mysql_type),
				 errhint("A split read cuts an integer, date or datetime column into ranges; name one, ideally indexed.")));
	/*
	 * Each reader runs the query again: an expression could give a row
	 * another value there.  The cursor's query wraps the source in a
	 * derived table, whose columns all look like columns: the source's own
	 * metadata tells.
	 */
	described = source_describe(server_name, source_sql);
	described_index = source_column_index(described, column);
	if (described_index < 0 || described->columns[described_index].table_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("split column \"%s\" of %s \"%s\" is an expression, not a column of a table",
						column, etl_kind, etl_name),
				 errdetail("Each split reader runs the source query again, and a computed value (a row number, a user variable) could put a row in two ranges or none."),
				 errhint("Split on a column the source query reads from a table unchanged.")));
	{
		Datum	   *values = palloc(sizeof(Datum) * cursor->ncolumns);
		bool	   *nulls = palloc(sizeof(bool) * cursor->ncolumns);

		while (source_next(cursor, values, nulls))
			;
	}
	bounds = pypeline_query_row(cursor->conn,
								psprintf(domain == SPLIT_DAYS ?
										 "SELECT TO_DAYS(MIN(%s)), TO_DAYS(MAX(%s)) FROM (%s\n) AS pypeline_range" :
										 "SELECT MIN(%s), MAX(%s) FROM (%s\n) AS pypeline_range",
										 source_quote_identifier(column), source_quote_identifier(column), sql),
								2, "read the range of the split column from");
	if (bounds == NULL || bounds[0] == NULL || bounds[1] == NULL)
	{
		/* no value to cut: one read */
		source_close(cursor);
		cursor = source_open(server_name, sql, etl_kind, etl_name);
		cursor->read_note = psprintf("read serially: split column \"%s\" has no lowest or highest value to cut (no row, NULLs only, or a zero date)", column);
		return cursor;
	}

	split = MemoryContextAllocZero(TopTransactionContext, sizeof(SplitRead));
	split->cursor = cursor;
	split->nreaders = nreaders;
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		split->ranges = range_conditions(column, domain, bounds[0], bounds[1], nreaders);
		problem = start_readers(split, sql, split->ranges, etl_kind, etl_name, owner);
		MemoryContextSwitchTo(oldcxt);
	}
	if (problem == NULL)
		problem = agree_on_snapshot(split);
	if (problem)
	{
		split_close(split);
		source_close(cursor);
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("%s \"%s\" is read serially: %s", etl_kind, etl_name, problem),
				 errhint("A split read needs pypeline.max_parallel_etls background workers and the binary log on the MySQL server.")));
		cursor = source_open(server_name, sql, etl_kind, etl_name);
		cursor->read_note = psprintf("read serially: %s", problem);
		return cursor;
	}
	progress_log("Reading the source of %s %s in %d ranges of %s", etl_kind, etl_name, nreaders, column);
	cursor->read_note = psprintf("read in %d ranges of %s by split readers", nreaders, column);
	cursor->next_row = split_next;
	cursor->on_close = split_close;
	cursor->reader_arg = split;
	return cursor;
}

/* ----------------------------------------------------------------
 * A reader
 * ----------------------------------------------------------------
 */

/* Waits for a command other than a snapshot already taken. */
static SplitCommand
wait_for_command(SplitShared *shared, uint32 taken, uint32 *generation)
{
	for (;;)
	{
		SplitCommand command;

		SpinLockAcquire(&shared->mutex);
		command = shared->command;
		*generation = shared->generation;
		SpinLockRelease(&shared->mutex);
		if (command != SPLIT_SNAPSHOT || *generation != taken)
			return command;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Takes snapshots until told to read (true) or to stop. */
static bool
take_agreed_snapshot(SplitShared *shared, SplitReaderSlot *slot, SourceConnection *conn)
{
	uint32		taken = 0;

	for (;;)
	{
		uint32		generation;
		SplitCommand command = wait_for_command(shared, taken, &generation);
		char	   *coordinates;

		if (command != SPLIT_SNAPSHOT)
			return command == SPLIT_READ;
		if (taken > 0)
			pypeline_execute(conn, "ROLLBACK");
		pypeline_execute(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
		coordinates = binlog_snapshot_coordinates(conn, true);
		SpinLockAcquire(&shared->mutex);
		slot->has_coordinates = coordinates != NULL;
		if (coordinates)
			strlcpy(slot->coordinates, coordinates, COORDINATES_SIZE);
		slot->generation = generation;
		SpinLockRelease(&shared->mutex);
		SetLatch(shared->coordinator);
		taken = generation;
	}
}

/* Reads the range and sends its rows, converted as the run's cursor converts them. */
static void
send_range(SplitShared *shared, SplitColumn *columns, SourceCursor *cursor, shm_mq_handle *rows)
{
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext row_context;

	if (cursor->ncolumns != shared->ncolumns)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION),
				 errmsg("the source of %s \"%s\" returned %d columns to a split reader, %d to the run",
						shared->etl_kind, shared->etl_name, cursor->ncolumns, shared->ncolumns)));
	tupdesc = CreateTemplateTupleDesc(cursor->ncolumns);
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		ColumnConverter *cc = &cursor->columns[i];

		if (cc->kind != columns[i].kind || cc->mapped_type != columns[i].mapped_type ||
			cc->mapped_typmod != columns[i].mapped_typmod)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION),
					 errmsg("column \"%s\" of the source of %s \"%s\" has another type in a split reader's range",
							cc->name, shared->etl_kind, shared->etl_name),
					 errdetail("It is MySQL %s there.", cc->mysql_type)));
		convert_set_result_type(cc, columns[i].result_type, columns[i].result_typmod);
		TupleDescInitEntry(tupdesc, i + 1, NULL, columns[i].result_type, columns[i].result_typmod, 0);
	}

	values = palloc(sizeof(Datum) * cursor->ncolumns);
	nulls = palloc(sizeof(bool) * cursor->ncolumns);
	row_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline split reader row",
										ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(row_context);
		HeapTuple	tuple;
		bool		more = source_next(cursor, values, nulls);

		if (more)
		{
			tuple = heap_form_tuple(tupdesc, values, nulls);
			/* the run has gone: its end stops this reader too */
			if (shm_mq_send(rows, tuple->t_len, tuple->t_data, false, false) != SHM_MQ_SUCCESS)
				proc_exit(0);
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(row_context);
		if (!more)
			break;
	}
}

void
pypeline_split_reader_main(Datum main_arg)
{
	dsm_segment *segment;
	shm_toc    *toc;
	SplitShared *shared;
	SplitReaderSlot *slot;
	shm_mq	   *rows_queue;
	shm_mq	   *errors_queue;
	shm_mq_handle *rows;
	int			i;
	RoleSwitch	as_owner;
	SourceConnection *conn;

	memcpy(&i, MyBgworkerEntry->bgw_extra, sizeof(i));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pypeline split reader");
	segment = dsm_attach(DatumGetUInt32(main_arg));
	if (segment == NULL)
		proc_exit(0);			/* the run has ended */
	toc = shm_toc_attach(SPLIT_MAGIC, dsm_segment_address(segment));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pypeline split reader found a segment that is not a split read's")));
	shared = shm_toc_lookup(toc, KEY_SHARED, false);
	slot = &shared->readers[i];

	/* errors and notices from here on go to the run */
	errors_queue = shm_toc_lookup(toc, KEY_ERRORS + i, false);
	shm_mq_set_sender(errors_queue, MyProc);
	pq_redirect_to_shm_mq(segment, shm_mq_attach(errors_queue, segment, NULL));
	rows_queue = shm_toc_lookup(toc, KEY_ROWS + i, false);
	shm_mq_set_sender(rows_queue, MyProc);
	rows = shm_mq_attach(rows_queue, segment, NULL);

	SpinLockAcquire(&shared->mutex);
	slot->latch = MyLatch;
	SpinLockRelease(&shared->mutex);

	BackgroundWorkerInitializeConnectionByOid(shared->database, shared->session_user, 0);
	StartTransactionCommand();
	privilege_become(&as_owner, shared->owner, false);
	pgstat_report_activity(STATE_RUNNING, MyBgworkerEntry->bgw_name);

	conn = pypeline_connect(pypeline_options_unflatten(shm_toc_lookup(toc, KEY_OPTIONS, false)));
	if (take_agreed_snapshot(shared, slot, conn))
	{
		SourceCursor *cursor = source_open_on(conn, shm_toc_lookup(toc, KEY_QUERY + i, false),
											  shared->etl_kind, shared->etl_name);

		send_range(shared, shm_toc_lookup(toc, KEY_COLUMNS, false), cursor, rows);
		SpinLockAcquire(&shared->mutex);
		slot->finished = true;
		SpinLockRelease(&shared->mutex);
		source_close(cursor);
	}
	else
		pypeline_disconnect(conn);
	privilege_restore(&as_owner);
	CommitTransactionCommand();
	shm_mq_detach(rows);
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
