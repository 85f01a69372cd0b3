/*-------------------------------------------------------------------------
 *
 * stage.c
 *		Staging tables: a temporary table per load holding the source rows,
 *		from which dimension.c and fact.c merge with set-based SQL; and new
 *		tables that need no merge, filled straight from the source.
 *
 * Rows go in with table_multi_insert in batches, without SPI or a parse per
 * row; the batch memory is reset after each batch, so a load of any size
 * runs in constant memory.  A temporary table writes no WAL and is dropped
 * at commit at the latest, so a failed load leaves nothing behind.
 *
 * Calls source.c, convert.c, execute.c, deparse.c and progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

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
	appendStringInfo(&sql, "CREATE TEMPORARY TABLE pg_temp.%s (", name);
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
 * The row type of a table for its batch slots.  A slot made with the
 * relation's own descriptor pins it in the resource owner, whose array of
 * thousands of pins of one pointer degrades to a linear probe per slot
 * made; an unpinned copy is not tracked.
 */
static TupleDesc
unpinned_desc(Relation rel)
{
	return CreateTupleDescCopy(RelationGetDescr(rel));
}

/*
 * Rows written to a table in batches with table_multi_insert, without SPI
 * or a parse per row.  Slots are made as rows arrive, so a small source
 * costs little, and the batch memory is reset after each batch, so a load
 * of any size runs in constant memory.
 */
typedef struct BatchWriter
{
	Relation	rel;
	TupleDesc	slot_desc;
	TupleTableSlot **slots;
	int			batch_size;
	int			nslots;			/* filled in this batch */
	int			created_slots;
	BulkInsertState bistate;
	CommandId	cid;
	MemoryContext batch_context;	/* the values of this batch's rows */
	uint64		rows;			/* written so far */
} BatchWriter;

static void
batch_begin(BatchWriter *w, Relation rel, int batch_size)
{
	memset(w, 0, sizeof(*w));
	w->rel = rel;
	w->slot_desc = unpinned_desc(rel);
	w->batch_size = batch_size;
	w->slots = palloc(sizeof(TupleTableSlot *) * batch_size);
	w->bistate = GetBulkInsertState();
	w->cid = GetCurrentCommandId(true);
	w->batch_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline load batch",
											 ALLOCSET_DEFAULT_SIZES);
}

/* The slot for the next row, empty; its values go in w->batch_context. */
static TupleTableSlot *
batch_slot(BatchWriter *w)
{
	if (w->nslots == w->created_slots)
		w->slots[w->created_slots++] = MakeSingleTupleTableSlot(w->slot_desc,
																table_slot_callbacks(w->rel));
	ExecClearTuple(w->slots[w->nslots]);
	return w->slots[w->nslots];
}

static void
batch_flush(BatchWriter *w)
{
	if (w->nslots == 0)
		return;
	table_multi_insert(w->rel, w->slots, w->nslots, w->cid, 0, w->bistate);
	progress_rows(w->rows);
	for (int i = 0; i < w->nslots; i++)
		ExecClearTuple(w->slots[i]);
	w->nslots = 0;
	MemoryContextReset(w->batch_context);
}

/* Keeps the row just filled in the slot batch_slot gave. */
static void
batch_store(BatchWriter *w)
{
	ExecStoreVirtualTuple(w->slots[w->nslots]);
	w->nslots++;
	w->rows++;
	if (w->nslots == w->batch_size)
		batch_flush(w);
}

/* Writes the last batch; the rows become visible to what follows. */
static void
batch_end(BatchWriter *w)
{
	batch_flush(w);
	for (int i = 0; i < w->created_slots; i++)
		ExecDropSingleTupleTableSlot(w->slots[i]);
	FreeBulkInsertState(w->bistate);
	MemoryContextDelete(w->batch_context);
	CommandCounterIncrement();
	progress_phase(PROGRESS_PHASE_MERGING);
}

/*
 * Streams every row of the cursor into the staging table; returns the row
 * count.
 */
uint64
stage_load(SourceCursor *cursor, const char *stage_table)
{
	Relation	rel = table_open(exec_relation(psprintf("pg_temp.%s", stage_table)), RowExclusiveLock);
	BatchWriter w;

	batch_begin(&w, rel, cursor->conn->options->fetch_size);
	for (;;)
	{
		TupleTableSlot *slot = batch_slot(&w);
		MemoryContext oldcxt = MemoryContextSwitchTo(w.batch_context);
		bool		more = source_next(cursor, slot->tts_values, slot->tts_isnull);

		MemoryContextSwitchTo(oldcxt);
		if (!more)
			break;
		batch_store(&w);
	}
	batch_end(&w);
	table_close(rel, NoLock);
	/* without statistics, the merges and lookups become nested loops */
	exec_sql(psprintf("ANALYZE pg_temp.%s", stage_table), SPI_OK_UTILITY);
	return w.rows;
}

/* How stage_load_direct fills one column of its table. */
typedef enum DirectFill
{
	FILL_SOURCE,				/* the cursor's column source_column */
	FILL_NUMBER,				/* the row's number */
	FILL_RESOLVED,				/* the target's resolve, its value source_column */
	FILL_CONSTANT				/* value/isnull */
} DirectFill;

typedef struct DirectColumn
{
	DirectFill	fill;
	int			source_column;
	Datum		value;
	bool		isnull;
	bool		notnull;
} DirectColumn;

/* A key column of a direct load, compared with the previous row's. */
typedef struct DirectKey
{
	int			source_column;
	FmgrInfo   *compare;		/* btree comparison of its type */
	Oid			collation;		/* the target column's, as its index uses */
	int16		typlen;
	bool		typbyval;
	Datum		previous;
} DirectKey;

/*
 * Decides how each column of the table is filled.  Writing rows directly
 * skips what INSERT would do besides storing them and updating indexes, so
 * a table with triggers, CHECK constraints, row security, a generated
 * column, a default that is not a constant or a source column of another
 * type than the cursor's is refused (false).
 */
static bool
plan_direct_columns(Relation rel, SourceCursor *cursor, DirectTarget *target, DirectColumn *columns)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	if (rel->trigdesc != NULL || rel->rd_rel->relrowsecurity ||
		rel->rd_rel->relkind != RELKIND_RELATION ||
		(tupdesc->constr != NULL && tupdesc->constr->num_check > 0))
		return false;
	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		const char *name = NameStr(att->attname);
		DirectColumn *c = &columns[a];
		int			i;

		memset(c, 0, sizeof(*c));
		c->notnull = att->attnotnull;
		c->fill = FILL_CONSTANT;
		if (att->attisdropped)
			c->isnull = true;
		else if (att->attgenerated)
			return false;
		else if (target->numbered_column && strcmp(name, target->numbered_column) == 0)
		{
			if (att->atttypid != INT8OID || att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
				return false;
			c->fill = FILL_NUMBER;
		}
		else if ((i = string_list_position(target->resolved_columns, name)) >= 0)
		{
			c->fill = FILL_RESOLVED;
			c->source_column = i;
		}
		else if ((i = string_list_position(target->constant_columns, name)) >= 0)
		{
			Oid			typinput;
			Oid			typioparam;

			getTypeInputInfo(att->atttypid, &typinput, &typioparam);
			c->value = OidInputFunctionCall(typinput, list_nth(target->constant_values, i),
											typioparam, att->atttypmod);
		}
		else if (string_list_position(target->source_columns, name) >= 0)
		{
			i = source_column_index(cursor, name);
			if (i < 0 || cursor->columns[i].result_type != att->atttypid ||
				cursor->columns[i].result_typmod != att->atttypmod)
				return false;
			c->fill = FILL_SOURCE;
			c->source_column = i;
		}
		else
		{
			Node	   *def = build_column_default(rel, a + 1);

			if (def == NULL)
				c->isnull = true;
			else if (IsA(def, Const))
			{
				c->value = ((Const *) def)->constvalue;
				c->isnull = ((Const *) def)->constisnull;
			}
			else
				return false;
		}
		if (c->fill == FILL_CONSTANT && c->isnull && c->notnull)
			return false;
	}
	return true;
}

/* The key columns, with what comparing them needs; NULL if one cannot be. */
static DirectKey *
plan_direct_keys(Relation rel, DirectTarget *target, DirectColumn *columns)
{
	DirectKey  *keys = palloc0(sizeof(DirectKey) * Max(list_length(target->key_columns), 1));
	ListCell   *lc;

	foreach(lc, target->key_columns)
	{
		DirectKey  *key = &keys[foreach_current_index(lc)];
		AttrNumber	attnum = attnameAttNum(rel, lfirst(lc), false);
		Form_pg_attribute att;

		if (attnum <= 0 || columns[attnum - 1].fill != FILL_SOURCE)
			return NULL;
		att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		key->source_column = columns[attnum - 1].source_column;
		if (target->keys_ascending)
		{
			TypeCacheEntry *type = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);

			if (!OidIsValid(type->cmp_proc))
				return NULL;
			key->compare = &type->cmp_proc_finfo;
			key->collation = att->attcollation;
			key->typlen = att->attlen;
			key->typbyval = att->attbyval;
		}
	}
	return keys;
}

/*
 * Whether the row's key is above the previous row's (always, for the first
 * row); remembers it for the next row in key_context.
 */
static bool
key_ascends(DirectKey *keys, int nkeys, Datum *values, bool first, MemoryContext key_context)
{
	bool		above = first;
	MemoryContext oldcxt;

	for (int k = 0; k < nkeys && !above; k++)
	{
		int32		order = DatumGetInt32(FunctionCall2Coll(keys[k].compare, keys[k].collation,
															keys[k].previous,
															values[keys[k].source_column]));

		if (order > 0)
			return false;
		above = order < 0;
	}
	if (!above)
		return false;
	MemoryContextReset(key_context);
	oldcxt = MemoryContextSwitchTo(key_context);
	for (int k = 0; k < nkeys; k++)
		keys[k].previous = datumCopy(values[keys[k].source_column], keys[k].typbyval,
									 keys[k].typlen);
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Streams the cursor's rows into a table created in this transaction that
 * needs no merge (see DirectTarget), then rebuilds its indexes; returns the
 * row count.  Returns -1, having written what it had read so far, when it
 * stops at a NULL or non-ascending key, a row resolve refuses or a NULL for
 * a NOT NULL column, or refuses the table: the caller rolls back and loads
 * another way.
 */
int64
stage_load_direct(SourceCursor *cursor, DirectTarget *target)
{
	Relation	rel = table_open(target->relid, RowExclusiveLock);
	int			natts = RelationGetDescr(rel)->natts;
	DirectColumn *columns = palloc(sizeof(DirectColumn) * natts);
	int			nkeys = list_length(target->key_columns);
	DirectKey  *keys = NULL;
	Datum	   *values = palloc(sizeof(Datum) * cursor->ncolumns);
	bool	   *nulls = palloc(sizeof(bool) * cursor->ncolumns);
	Datum	   *resolved = palloc(sizeof(Datum) * Max(list_length(target->resolved_columns), 1));
	List	   *indexes = RelationGetIndexList(rel);
	char		persistence = rel->rd_rel->relpersistence;
	MemoryContext key_context = AllocSetContextCreate(CurrentMemoryContext,
													  "pypeline direct load key",
													  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt;
	BatchWriter w;
	bool		more = true;
	bool		stopped = false;
	ListCell   *lc;

	if (!plan_direct_columns(rel, cursor, target, columns) ||
		(keys = plan_direct_keys(rel, target, columns)) == NULL)
	{
		more = false;
		stopped = true;
	}

	batch_begin(&w, rel, cursor->conn->options->fetch_size);
	while (more)
	{
		TupleTableSlot *slot = batch_slot(&w);

		oldcxt = MemoryContextSwitchTo(w.batch_context);
		more = source_next(cursor, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		if (more)
		{
			for (int k = 0; k < nkeys && !stopped; k++)
				stopped = nulls[keys[k].source_column];
			if (!stopped && target->keys_ascending)
				stopped = !key_ascends(keys, nkeys, values, w.rows == 0, key_context);
			if (!stopped && target->resolve)
				stopped = !target->resolve(target->resolve_arg, values, nulls, resolved);
			for (int a = 0; a < natts && !stopped; a++)
			{
				DirectColumn *c = &columns[a];

				switch (c->fill)
				{
					case FILL_SOURCE:
						slot->tts_values[a] = values[c->source_column];
						slot->tts_isnull[a] = nulls[c->source_column];
						/* INSERT would fail: the caller's other way says so */
						stopped = c->notnull && slot->tts_isnull[a];
						break;
					case FILL_NUMBER:
						slot->tts_values[a] = Int64GetDatum(target->first_number + (int64) w.rows);
						slot->tts_isnull[a] = false;
						break;
					case FILL_RESOLVED:
						slot->tts_values[a] = resolved[c->source_column];
						slot->tts_isnull[a] = false;
						break;
					case FILL_CONSTANT:
						slot->tts_values[a] = c->value;
						slot->tts_isnull[a] = c->isnull;
						break;
				}
			}
			if (stopped)
				more = false;
			else
				batch_store(&w);
		}
	}
	batch_end(&w);
	table_close(rel, NoLock);
	MemoryContextDelete(key_context);
	if (stopped)
		return -1;

	/*
	 * The rows went in without index entries: one sorted build per index
	 * (so far the primary key) costs much less than a b-tree descent per
	 * row.  Until then the indexes lack those rows; nothing reads them
	 * meanwhile, and other sessions cannot see a table created in this
	 * transaction.
	 */
	foreach(lc, indexes)
	{
		ReindexParams params = {0};

		reindex_index(lfirst_oid(lc), false, persistence, &params);
	}
	CommandCounterIncrement();
	return (int64) w.rows;
}

/*
 * A rerun's merge of the source with the table's current rows, both in key
 * order (see ChangeFilter).  Rows equal to their current row are counted
 * and dropped; the others go to the staging table; the keys of current
 * rows the source lacks go to the missing table.  Only the source row in
 * hand and one batch of current rows are in memory.  The key columns
 * are compared as the direct load's (DirectKey); the others by equality.
 */
typedef struct ChangeColumn
{
	int			source_column;
	FmgrInfo   *equal;			/* the type's = */
	Oid			collation;
} ChangeColumn;

typedef struct CurrentRows
{
	Portal		portal;
	SPITupleTable *batch;
	uint64		next;			/* in batch */
	HeapTuple	row;			/* NULL past the last row */
} CurrentRows;

static void
current_advance(CurrentRows *current)
{
	if (current->batch == NULL || current->next >= current->batch->numvals)
	{
		if (current->batch)
			SPI_freetuptable(current->batch);
		SPI_cursor_fetch(current->portal, true, 10000);
		current->batch = SPI_tuptable;
		current->next = 0;
		if (SPI_processed == 0)
		{
			current->row = NULL;
			return;
		}
	}
	current->row = current->batch->vals[current->next++];
}

/*
 * The key columns' order (keys, as the direct load's) and the other
 * columns' equality (columns); false if a type has none, or the current
 * rows' types are not the cursor's.
 */
static bool
plan_change_columns(SourceCursor *cursor, ChangeFilter *filter, TupleDesc current,
					DirectKey *keys, ChangeColumn *columns)
{
	if (current->natts != filter->ncolumns + 1)
		return false;
	for (int c = 0; c < filter->ncolumns; c++)
	{
		Form_pg_attribute att = TupleDescAttr(current, c);
		int			source_column = filter->source_columns[c];
		bool		is_key = c < filter->nkeys;
		TypeCacheEntry *type = lookup_type_cache(att->atttypid,
												 is_key ? TYPECACHE_CMP_PROC_FINFO : TYPECACHE_EQ_OPR_FINFO);

		if (cursor->columns[source_column].result_type != att->atttypid ||
			!OidIsValid(is_key ? type->cmp_proc : type->eq_opr))
			return false;
		if (is_key)
		{
			keys[c].source_column = source_column;
			keys[c].compare = &type->cmp_proc_finfo;
			keys[c].collation = att->attcollation;
			keys[c].typlen = att->attlen;
			keys[c].typbyval = att->attbyval;
		}
		else
		{
			ChangeColumn *col = &columns[c - filter->nkeys];

			col->source_column = source_column;
			col->equal = &type->eq_opr_finfo;
			col->collation = att->attcollation;
		}
	}
	return true;
}

/* The order of the current row's key against the source row's. */
static int
compare_keys(DirectKey *keys, int nkeys, HeapTuple row, TupleDesc desc, Datum *values)
{
	for (int k = 0; k < nkeys; k++)
	{
		bool		isnull;
		Datum		key = heap_getattr(row, k + 1, desc, &isnull);
		int32		order;

		if (isnull)
			return 1;			/* NULL keys sort last, and match nothing */
		order = DatumGetInt32(FunctionCall2Coll(keys[k].compare, keys[k].collation, key,
												values[keys[k].source_column]));
		if (order != 0)
			return order;
	}
	return 0;
}

/* Whether the source row holds what the current row does (NULLs equal). */
static bool
row_unchanged(ChangeFilter *filter, ChangeColumn *columns, HeapTuple row, TupleDesc desc,
			  Datum *values, bool *nulls)
{
	bool		isnull;

	if (DatumGetBool(heap_getattr(row, filter->ncolumns + 1, desc, &isnull)) && !isnull)
		return false;			/* staged anyway */
	for (int c = filter->nkeys; c < filter->ncolumns; c++)
	{
		ChangeColumn *col = &columns[c - filter->nkeys];
		Datum		stored = heap_getattr(row, c + 1, desc, &isnull);

		if (isnull != nulls[col->source_column])
			return false;
		if (!isnull && !DatumGetBool(FunctionCall2Coll(col->equal, col->collation,
													   stored, values[col->source_column])))
			return false;
	}
	return true;
}

static void
note_missing(BatchWriter *missing, HeapTuple row, TupleDesc desc, int nkeys)
{
	TupleTableSlot *slot = batch_slot(missing);
	MemoryContext oldcxt = MemoryContextSwitchTo(missing->batch_context);

	for (int k = 0; k < nkeys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k);
		Datum		value = heap_getattr(row, k + 1, desc, &slot->tts_isnull[k]);

		slot->tts_values[k] = slot->tts_isnull[k] ? (Datum) 0 :
			datumCopy(value, att->attbyval, att->attlen);
	}
	MemoryContextSwitchTo(oldcxt);
	batch_store(missing);
}

/*
 * Streams the cursor through the filter (see ChangeFilter); returns the
 * rows staged and sets *read.  Returns -1, having staged
 * part of the rows, at a source row whose key is NULL or not above the
 * previous one: the caller drops both tables and stages the whole source.
 */
int64
stage_load_changes(SourceCursor *cursor, const char *stage_table, ChangeFilter *filter, uint64 *read)
{
	Relation	stage = table_open(exec_relation(psprintf("pg_temp.%s", stage_table)), RowExclusiveLock);
	Relation	missing_rel = table_open(exec_relation(psprintf("pg_temp.%s", filter->missing_table)),
										 RowExclusiveLock);
	MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline rerun source row",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext key_context = AllocSetContextCreate(CurrentMemoryContext, "pypeline rerun previous key",
													  ALLOCSET_SMALL_SIZES);
	DirectKey  *keys = palloc0(sizeof(DirectKey) * filter->nkeys);
	ChangeColumn *columns = palloc0(sizeof(ChangeColumn) * Max(filter->ncolumns - filter->nkeys, 1));
	Datum	   *values = palloc(sizeof(Datum) * cursor->ncolumns);
	bool	   *nulls = palloc(sizeof(bool) * cursor->ncolumns);
	CurrentRows current = {0};
	TupleDesc	desc;
	BatchWriter w;
	BatchWriter missing;
	bool		stopped = false;

	*read = 0;
	current.portal = SPI_cursor_open_with_args(NULL, filter->current_sql, 0, NULL, NULL, NULL, true, 0);
	current_advance(&current);
	desc = current.batch ? current.batch->tupdesc : NULL;
	if (desc == NULL || !plan_change_columns(cursor, filter, desc, keys, columns))
		stopped = true;

	batch_begin(&w, stage, cursor->conn->options->fetch_size);
	batch_begin(&missing, missing_rel, cursor->conn->options->fetch_size);
	while (!stopped)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(row_context);
		bool		more = source_next(cursor, values, nulls);
		int			order = 1;

		MemoryContextSwitchTo(oldcxt);
		if (!more)
			break;
		for (int k = 0; k < filter->nkeys && !stopped; k++)
			stopped = nulls[keys[k].source_column];
		if (stopped || !key_ascends(keys, filter->nkeys, values, *read == 0, key_context))
		{
			stopped = true;
			break;
		}
		(*read)++;
		if (*read % 10000 == 0)
			progress_rows(*read);

		while (current.row && (order = compare_keys(keys, filter->nkeys, current.row, desc, values)) < 0)
		{
			note_missing(&missing, current.row, desc, filter->nkeys);
			current_advance(&current);
		}
		if (current.row == NULL)
			order = 1;
		if (order != 0 || !row_unchanged(filter, columns, current.row, desc, values, nulls))
		{
			TupleTableSlot *slot = batch_slot(&w);
			TupleDesc	stage_desc = w.slot_desc;

			oldcxt = MemoryContextSwitchTo(w.batch_context);
			for (int i = 0; i < cursor->ncolumns; i++)
			{
				Form_pg_attribute att = TupleDescAttr(stage_desc, i);

				slot->tts_isnull[i] = nulls[i];
				slot->tts_values[i] = nulls[i] ? (Datum) 0 : datumCopy(values[i], att->attbyval, att->attlen);
			}
			MemoryContextSwitchTo(oldcxt);
			batch_store(&w);
		}
		if (order == 0)
			current_advance(&current);
		MemoryContextReset(row_context);
	}
	/* what the source did not reach is missing from it */
	while (!stopped && current.row)
	{
		bool		isnull;

		(void) heap_getattr(current.row, 1, desc, &isnull);
		if (!isnull)
			note_missing(&missing, current.row, desc, filter->nkeys);
		current_advance(&current);
	}
	if (current.batch)
		SPI_freetuptable(current.batch);
	SPI_cursor_close(current.portal);
	batch_end(&missing);
	batch_end(&w);
	table_close(missing_rel, NoLock);
	table_close(stage, NoLock);
	MemoryContextDelete(row_context);
	MemoryContextDelete(key_context);
	if (stopped)
		return -1;
	progress_rows(*read);
	exec_sql(psprintf("ANALYZE pg_temp.%s", stage_table), SPI_OK_UTILITY);
	return (int64) w.rows;
}

/*
 * Readies a staged cursor of changes (source_open_changes) for a merge.  The
 * keys whose last change is a delete go into a new table gone_table (the key
 * columns and pypeline_closed_at, the delete's time); delete rows leave the
 * stage, then its change column does.  Without keep_updates, update rows
 * leave it too (a fact without a key cannot apply them); with last_per_key,
 * only each key's last row stays.  Without a key there is no gone_table:
 * deletes are only counted.
 */
ChangeSplit
stage_split_changes(const char *stage_table, List *key, const char *gone_table, bool keep_updates,
					bool last_per_key)
{
	ChangeSplit split = {0};
	char	   *columns = deparse_columns(key, NULL);
	uint64		removed;

	if (key != NIL)
	{
		exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.%s ON COMMIT DROP AS "
						  "SELECT %s, " COL_EVENT_TIME " AS pypeline_closed_at FROM ("
						  "  SELECT DISTINCT ON (%s) * FROM pg_temp.%s ORDER BY %s, " COL_EVENT_TIME " DESC) s "
						  "WHERE " COL_CHANGE " = " CHANGE_DELETE,
						  gone_table, columns, columns, stage_table, columns),
				 SPI_OK_UTILITY);
		split.deleted = exec_count(psprintf("SELECT count(*) FROM pg_temp.%s", gone_table));
		split.returned = exec_count(psprintf("SELECT count(DISTINCT (%s)) FROM pg_temp.%s "
											 "WHERE " COL_CHANGE " = " CHANGE_DELETE
											 " AND (%s) NOT IN (SELECT %s FROM pg_temp.%s)",
											 columns, stage_table, columns, columns, gone_table));
	}
	removed = exec_sql(psprintf("DELETE FROM pg_temp.%s WHERE " COL_CHANGE " = " CHANGE_DELETE, stage_table),
					   SPI_OK_DELETE);
	if (key == NIL)
		split.deleted = removed;
	if (!keep_updates)
		split.updates_dropped = exec_sql(psprintf("DELETE FROM pg_temp.%s WHERE " COL_CHANGE " = " CHANGE_UPDATE,
												  stage_table),
										 SPI_OK_DELETE);
	exec_sql(psprintf("ALTER TABLE pg_temp.%s DROP COLUMN " COL_CHANGE, stage_table), SPI_OK_UTILITY);
	if (last_per_key && key != NIL)
		exec_sql(psprintf("DELETE FROM pg_temp.%s s USING pg_temp.%s n WHERE %s AND n." COL_EVENT_TIME
						  " > s." COL_EVENT_TIME,
						  stage_table, stage_table, deparse_join(key, "s", key, "n")),
				 SPI_OK_DELETE);
	exec_sql(psprintf("ANALYZE pg_temp.%s", stage_table), SPI_OK_UTILITY);
	return split;
}

void
stage_drop(const char *stage_table)
{
	SPI_execute(psprintf("DROP TABLE IF EXISTS pg_temp.%s", stage_table), false, 0);
}
