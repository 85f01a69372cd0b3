/*-------------------------------------------------------------------------
 *
 * stage.c
 *		Staging tables: a temporary table per load holding the source rows,
 *		from which dimension.c and fact.c merge with set-based SQL.
 *
 * Rows go in with table_multi_insert in batches, without SPI or a parse per
 * row; the batch memory is reset after each batch, so a load of any size
 * runs in constant memory.  A temporary table writes no WAL and is dropped
 * at commit at the latest, so a failed load leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Creates an empty staging table whose columns are the cursor's columns in
 * their mapped types, and returns its (unqualified, temp schema) name.
 */
char *
stage_create(SourceCursor *cursor, const char *etl_name)
{
	static int	stage_counter = 0;
	char	   *name = psprintf("pypeline_stage_%d", ++stage_counter);
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TEMPORARY TABLE %s (", name);
	for (int i = 0; i < cursor->ncolumns; i++)
		appendStringInfo(&sql, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(cursor->columns[i].name),
						 convert_mapped_type_name(&cursor->columns[i]));
	appendStringInfoString(&sql, ") ON COMMIT DROP");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not create the staging table of ETL \"%s\"", etl_name)));
	return name;
}

/*
 * Streams every row of the cursor into the staging table; returns the row
 * count.
 */
uint64
stage_load(SourceCursor *cursor, const char *stage_table)
{
	Oid			relid = RelnameGetRelid(stage_table);
	Relation	rel = table_open(relid, RowExclusiveLock);
	int			batch_size = cursor->conn->options->fetch_size;
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * batch_size);
	BulkInsertState bistate = GetBulkInsertState();
	CommandId	cid = GetCurrentCommandId(true);
	MemoryContext batch_context = AllocSetContextCreate(CurrentMemoryContext,
														"pypeline stage batch",
														ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt;
	uint64		rows = 0;
	int			nslots = 0;
	int			created_slots = 0;
	bool		more = true;

	while (more)
	{
		TupleTableSlot *slot;

		/* slots are made as rows arrive, so a small source costs little */
		if (nslots == created_slots)
			slots[created_slots++] = table_slot_create(rel, NULL);
		slot = slots[nslots];

		oldcxt = MemoryContextSwitchTo(batch_context);
		ExecClearTuple(slot);
		more = source_next(cursor, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(oldcxt);
		if (more)
		{
			ExecStoreVirtualTuple(slot);
			nslots++;
			rows++;
		}
		if (nslots == batch_size || (!more && nslots > 0))
		{
			table_multi_insert(rel, slots, nslots, cid, 0, bistate);
			progress_rows(rows);
			for (int i = 0; i < nslots; i++)
				ExecClearTuple(slots[i]);
			nslots = 0;
			MemoryContextReset(batch_context);
		}
	}

	for (int i = 0; i < created_slots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	FreeBulkInsertState(bistate);
	table_close(rel, NoLock);
	MemoryContextDelete(batch_context);
	/* make the rows visible to the merge statements that follow */
	CommandCounterIncrement();
	progress_phase(PROGRESS_PHASE_MERGING);
	return rows;
}

void
stage_drop(const char *stage_table)
{
	SPI_execute(psprintf("DROP TABLE IF EXISTS pg_temp.%s", stage_table), false, 0);
}
