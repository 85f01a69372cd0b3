/*-------------------------------------------------------------------------
 *
 * query.c
 *		SQL functions over a MySQL server: pypeline.query streams the rows of
 *		any read-only query, pypeline.describe shows how its columns map.
 *
 * Calls source.c and convert.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(pypeline_query);
PG_FUNCTION_INFO_V1(pypeline_describe);

/*
 * pypeline.query(server name, sql text) RETURNS SETOF record
 *
 * Values are converted straight into the column types of the caller's
 * column definition list.  The executor keeps the rows in a tuplestore,
 * which spills to disk past work_mem, so memory stays bounded.
 */
Datum
pypeline_query(PG_FUNCTION_ARGS)
{
	char	   *server_name = NameStr(*PG_GETARG_NAME(0));
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	SourceCursor *cursor;
	MemoryContext row_context;
	MemoryContext oldcxt;
	Datum	   *values;
	bool	   *nulls;

	InitMaterializedSRF(fcinfo, 0);
	tupdesc = rsinfo->setDesc;

	cursor = source_open(server_name, sql, NULL, NULL);
	if (tupdesc->natts != cursor->ncolumns)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("query on MySQL server \"%s\" returns %d columns, but the column definition list has %d",
						server_name, cursor->ncolumns, tupdesc->natts),
				 errhint("pypeline.describe('%s', ...) lists the columns and their types.", server_name)));
	for (int i = 0; i < tupdesc->natts; i++)
		convert_set_result_type(&cursor->columns[i],
								TupleDescAttr(tupdesc, i)->atttypid,
								TupleDescAttr(tupdesc, i)->atttypmod);

	values = palloc(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	row_context = AllocSetContextCreate(CurrentMemoryContext,
										"pypeline query row",
										ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(row_context);
	while (source_next(cursor, values, nulls))
	{
		tuplestore_putvalues(rsinfo->setResult, tupdesc, values, nulls);
		MemoryContextReset(row_context);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(row_context);
	source_close(cursor);
	return (Datum) 0;
}

/*
 * pypeline.describe(server name, sql text)
 *		RETURNS TABLE (position int, column_name text, mysql_type text, pg_type text)
 */
Datum
pypeline_describe(PG_FUNCTION_ARGS)
{
	char	   *server_name = NameStr(*PG_GETARG_NAME(0));
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SourceCursor *cursor;

	InitMaterializedSRF(fcinfo, 0);
	cursor = source_describe(server_name, sql);
	for (int i = 0; i < cursor->ncolumns; i++)
	{
		ColumnConverter *cc = &cursor->columns[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(cc->name);
		values[2] = CStringGetTextDatum(cc->mysql_type);
		values[3] = CStringGetTextDatum(convert_mapped_type_name(cc));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
