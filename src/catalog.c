/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Reading ETL definitions from pypeline.dimension and pypeline.fact,
 *		and the watermarks of incremental facts.
 *
 * All functions run SPI queries and expect the caller to be connected to
 * SPI; results are copied into the caller's memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

const char *
etl_kind_name(EtlKind kind)
{
	return kind == ETL_DIMENSION ? "dimension" : "fact";
}

EtlKind
etl_kind_from_name(const char *name)
{
	if (strcmp(name, "dimension") == 0)
		return ETL_DIMENSION;
	if (strcmp(name, "fact") == 0)
		return ETL_FACT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ETL kind must be \"dimension\" or \"fact\", not \"%s\"", name)));
	pg_unreachable();
}

static char *
text_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	char	   *value = SPI_getvalue(tuple, tupdesc, SPI_fnumber(tupdesc, column));

	return value;
}

static List *
text_array_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, tupdesc, SPI_fnumber(tupdesc, column), &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			result = lappend(result, TextDatumGetCString(elems[i]));
	return result;
}

/*
 * The target as SQL: each part of a possibly qualified, possibly quoted
 * name, re-quoted (so '"Order"' and 'dw.school_dim' both work and nothing
 * else can be pasted into the generated statements).
 */
static char *
quoted_target(const char *target)
{
	List	   *parts = stringToQualifiedNameList(target);

	return NameListToQuotedString(parts);
}

static List *
fact_lookups(const char *fact_name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(fact_name)};
	List	   *result = NIL;

	SPI_execute_with_args("SELECT l.key AS dimension, "
						  "  CASE jsonb_typeof(l.value) WHEN 'array' "
						  "    THEN ARRAY(SELECT jsonb_array_elements_text(l.value)) "
						  "    ELSE ARRAY[l.value #>> '{}'] END AS columns "
						  "FROM pypeline.fact f, jsonb_each(f.lookups) l "
						  "WHERE f.name = $1 ORDER BY l.key",
						  1, argtypes, args, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		FactLookup *lookup = palloc(sizeof(FactLookup));

		lookup->dimension = text_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "dimension");
		lookup->columns = text_array_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "columns");
		result = lappend(result, lookup);
	}
	return result;
}

EtlDefinition *
catalog_get_etl(EtlKind kind, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	EtlDefinition *def;
	HeapTuple	tuple;
	TupleDesc	tupdesc;

	/*
	 * Not read-only: SPI then takes a fresh snapshot, so a run that waited
	 * for another run's lock sees the watermark that run committed.
	 */
	if (kind == ETL_DIMENSION)
		SPI_execute_with_args("SELECT d.*, w.value AS watermark, "
							  "  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'type1') AS rule_type1, "
							  "  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'type1_all') AS rule_type1_all, "
							  "  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'ignore') AS rule_ignore "
							  "FROM pypeline.dimension d LEFT JOIN pypeline.watermark w "
							  "  ON w.etl_type = 'dimension' AND w.etl_name = d.name WHERE d.name = $1",
							  1, argtypes, args, NULL, false, 1);
	else
		SPI_execute_with_args("SELECT f.*, w.value AS watermark FROM pypeline.fact f "
							  "LEFT JOIN pypeline.watermark w ON w.etl_type = 'fact' AND w.etl_name = f.name "
							  "WHERE f.name = $1",
							  1, argtypes, args, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" is not defined", etl_kind_name(kind), name),
				 errhint("SELECT * FROM pypeline.etls lists the defined ETLs.")));

	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	def = palloc0(sizeof(EtlDefinition));
	def->kind = kind;
	def->name = text_column(tuple, tupdesc, "name");
	def->server = text_column(tuple, tupdesc, "server");
	def->source_sql = text_column(tuple, tupdesc, "source_sql");
	def->target = text_column(tuple, tupdesc, "target");
	def->target_quoted = quoted_target(def->target);
	def->target_ddl = text_column(tuple, tupdesc, "target_ddl");
	def->active = strcmp(text_column(tuple, tupdesc, "active"), "t") == 0;
	def->incremental_column = text_column(tuple, tupdesc, "incremental_column");
	def->watermark = text_column(tuple, tupdesc, "watermark");

	if (kind == ETL_DIMENSION)
	{
		def->natural_key = text_array_column(tuple, tupdesc, "natural_key");
		def->surrogate_key = text_column(tuple, tupdesc, "surrogate_key");
		def->scd_type = atoi(text_column(tuple, tupdesc, "scd_type"));
		/* type1_columns is the older spelling of the type1_all rule */
		def->type1_columns = list_concat(text_array_column(tuple, tupdesc, "type1_columns"),
										 text_array_column(tuple, tupdesc, "rule_type1_all"));
		def->current_only_columns = text_array_column(tuple, tupdesc, "rule_type1");
		def->ignored_columns = text_array_column(tuple, tupdesc, "rule_ignore");
		def->deletes = text_column(tuple, tupdesc, "deletes");
		def->max_closed_fraction = text_column(tuple, tupdesc, "max_closed_fraction");
		def->schema_changes = text_column(tuple, tupdesc, "schema_changes");
		def->change_date_column = text_column(tuple, tupdesc, "change_date_column");
		def->generator = text_column(tuple, tupdesc, "generator");
		def->first_date = text_column(tuple, tupdesc, "first_date");
		def->last_date = text_column(tuple, tupdesc, "last_date");
		def->beginning_of_time = text_column(tuple, tupdesc, "beginning_of_time");
		def->end_of_time = text_column(tuple, tupdesc, "end_of_time");
		def->reject_bad_keys = strcmp(text_column(tuple, tupdesc, "on_bad_key"), "reject") == 0;
	}
	else
	{
		def->measures = text_array_column(tuple, tupdesc, "measures");
		def->degenerate_columns = text_array_column(tuple, tupdesc, "degenerate_columns");
		def->event_time_column = text_column(tuple, tupdesc, "event_time_column");
		def->unmatched = text_column(tuple, tupdesc, "unmatched");
		def->lookups = fact_lookups(def->name);
	}
	return def;
}

/* Names of the active ETLs of a kind, in definition order. */
List *
catalog_active_etls(EtlKind kind)
{
	List	   *result = NIL;

	SPI_execute(kind == ETL_DIMENSION ?
				"SELECT name FROM pypeline.dimension WHERE active ORDER BY position" :
				"SELECT name FROM pypeline.fact WHERE active ORDER BY position",
				true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, text_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "name"));
	return result;
}

/* Names of the facts that look up a dimension. */
List *
catalog_facts_using(const char *dimension)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(dimension)};
	List	   *result = NIL;

	SPI_execute_with_args("SELECT name FROM pypeline.fact WHERE lookups ? $1 ORDER BY position",
						  1, argtypes, args, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, text_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "name"));
	return result;
}

void
catalog_save_watermark(EtlDefinition *def, const char *value)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3] = {CStringGetTextDatum(etl_kind_name(def->kind)),
		CStringGetTextDatum(def->name), CStringGetTextDatum(value)};

	SPI_execute_with_args("INSERT INTO pypeline.watermark (etl_type, etl_name, value) VALUES ($1, $2, $3) "
						  "ON CONFLICT (etl_type, etl_name) DO UPDATE "
						  "SET value = excluded.value, updated_at = now()",
						  3, argtypes, args, NULL, false, 0);
}

void
catalog_forget_watermark(EtlDefinition *def)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(etl_kind_name(def->kind)), CStringGetTextDatum(def->name)};

	SPI_execute_with_args("DELETE FROM pypeline.watermark WHERE etl_type = $1 AND etl_name = $2",
						  2, argtypes, args, NULL, false, 0);
}
