/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		ETL definitions (pypeline.dimension, pypeline.fact): read once per run
 *		into a typed EtlDefinition, written for their owner by the define
 *		functions; the watermarks of incremental ETLs.
 *
 * Definitions are read and written as the extension's owner (privilege.c):
 * everyone may read them, only pypeline's code writes them.  A definition
 * belongs to the role that created it; only a role with that role's
 * privileges may change, switch off or drop it, or run it.
 *
 * A run reads its definition with the definition's row locked (FOR UPDATE),
 * which serialises runs of one ETL: no other role can take that lock, since
 * nobody else may update pypeline's tables, and a redefinition waits for the
 * run to end.
 *
 * All functions expect the caller to be connected to SPI; results are in
 * the caller's memory context.  Calls privilege.c and target.c.
 *
 * Calls privilege.c, target.c (to check a target_ddl) and execute.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(pypeline_save_definition);
PG_FUNCTION_INFO_V1(pypeline_set_active);
PG_FUNCTION_INFO_V1(pypeline_drop_etl);

static const char *const delete_policies[] = {"ignore", "invalidate", "new_record", NULL};
static const char *const schema_change_policies[] = {"fail", "add_type1", "add_type2", NULL};
static const char *const unmatched_policies[] = {"unknown", "inferred", "error", NULL};

/* Columns a define function may not set: pypeline sets them itself. */
static const char *const managed_columns[] = {
	"position", "owner", "target_schema", "target_table", "defined_at", NULL
};

EtlKind
etl_kind_from_name(const char *name)
{
	if (name && strcmp(name, "dimension") == 0)
		return ETL_DIMENSION;
	if (name && strcmp(name, "fact") == 0)
		return ETL_FACT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ETL kind must be \"dimension\" or \"fact\", not \"%s\"", name ? name : "NULL")));
	pg_unreachable();
}

static const char *
catalog_table(EtlKind kind)
{
	return kind == ETL_DIMENSION ? "pypeline.dimension" : "pypeline.fact";
}

/* ---- reading a definition ---- */

static char *
text_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	int			attnum = SPI_fnumber(tupdesc, column);

	if (attnum <= 0)
		elog(ERROR, "catalog query has no column \"%s\"", column);
	return SPI_getvalue(tuple, tupdesc, attnum);
}

static Datum
binary_column(HeapTuple tuple, TupleDesc tupdesc, const char *column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, tupdesc, SPI_fnumber(tupdesc, column), &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("column \"%s\" of an ETL definition is NULL", column)));
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

/* The position of value in choices; the table's CHECK constraints hold them to it. */
static int
choice_column(HeapTuple tuple, TupleDesc tupdesc, const char *column, const char *const *choices)
{
	char	   *value = text_column(tuple, tupdesc, column);

	for (int i = 0; value && choices[i]; i++)
		if (strcmp(value, choices[i]) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("column \"%s\" of an ETL definition has the unknown value \"%s\"",
					column, value ? value : "NULL")));
	pg_unreachable();
}

static List *
fact_lookups(const char *fact_name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(fact_name)};
	List	   *result = NIL;

	privilege_internal_exec("SELECT l.key AS dimension, "
							"  CASE jsonb_typeof(l.value) WHEN 'array' "
							"    THEN ARRAY(SELECT jsonb_array_elements_text(l.value)) "
							"    ELSE ARRAY[l.value #>> '{}'] END AS columns "
							"FROM pypeline.fact f, jsonb_each(f.lookups) l "
							"WHERE f.name = $1 ORDER BY l.key",
							1, argtypes, args, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		FactLookup *lookup = palloc(sizeof(FactLookup));

		lookup->dimension = text_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "dimension");
		lookup->columns = text_array_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "columns");
		result = lappend(result, lookup);
	}
	return result;
}

static const char *const definition_query[] = {
	/* ETL_DIMENSION */
	"SELECT d.*, d.owner::oid AS owner_oid, d.max_closed_fraction::float8 AS closed_fraction, "
	"  to_char(d.first_date, 'YYYY-MM-DD') AS first_day, to_char(d.last_date, 'YYYY-MM-DD') AS last_day, "
	"  w.value AS watermark, "
	"  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'type1') AS rule_type1, "
	"  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'type1_all') AS rule_type1_all, "
	"  ARRAY(SELECT key FROM jsonb_each_text(d.column_rules) WHERE value = 'ignore') AS rule_ignore "
	"FROM pypeline.dimension d LEFT JOIN pypeline.watermark w "
	"  ON w.etl_type = 'dimension' AND w.etl_name = d.name WHERE d.name = $1",
	/* ETL_FACT */
	"SELECT f.*, f.owner::oid AS owner_oid, f.max_deleted_fraction::float8 AS deleted_fraction, "
	"  w.value AS watermark FROM pypeline.fact f "
	"LEFT JOIN pypeline.watermark w ON w.etl_type = 'fact' AND w.etl_name = f.name "
	"WHERE f.name = $1"
};

/* Runs the definition query; true if it found the row. */
static bool
query_definition(EtlKind kind, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};

	return privilege_internal_exec(definition_query[kind], 1, argtypes, args, NULL, SPI_OK_SELECT) > 0;
}

static void
undefined(EtlKind kind, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%s \"%s\" is not defined", etl_kind_name(kind), name),
			 errhint("SELECT * FROM pypeline.etls lists the defined ETLs.")));
}

/*
 * Takes the definition row's lock, waiting (and saying so) for another run
 * of the ETL to end.  The definition is read afterwards, by a statement of
 * its own: its snapshot sees the watermark the previous run committed (a
 * locking read sees only the locked row's newest version, not its join).
 */
static void
lock_definition(EtlKind kind, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	char	   *lock = psprintf("SELECT 1 FROM %s WHERE name = $1 FOR UPDATE", catalog_table(kind));

	if (privilege_internal_exec(psprintf("%s SKIP LOCKED", lock), 1, argtypes, args, NULL, SPI_OK_SELECT) > 0)
		return;
	if (!query_definition(kind, name))
		undefined(kind, name);
	ereport(NOTICE,
			(errmsg("waiting for another run of %s \"%s\" to finish", etl_kind_name(kind), name)));
	if (privilege_internal_exec(lock, 1, argtypes, args, NULL, SPI_OK_SELECT) == 0)
		undefined(kind, name);
	/* a transaction snapshot cannot see what that run committed */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access: another run of %s \"%s\" committed meanwhile",
						etl_kind_name(kind), name),
				 errhint("Retry the transaction.")));
}

/*
 * The definition of an ETL, parsed.  With lock_for_run, the definition row
 * stays locked until the transaction ends, and the definition and watermark
 * are those the previous run committed.
 */
EtlDefinition *
catalog_get_etl(EtlKind kind, const char *name, bool lock_for_run)
{
	EtlDefinition *def;
	HeapTuple	tuple;
	TupleDesc	tupdesc;

	if (lock_for_run)
		lock_definition(kind, name);
	if (!query_definition(kind, name))
		undefined(kind, name);

	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	def = palloc0(sizeof(EtlDefinition));
	def->kind = kind;
	def->name = text_column(tuple, tupdesc, "name");
	def->owner = DatumGetObjectId(binary_column(tuple, tupdesc, "owner_oid"));
	def->server = text_column(tuple, tupdesc, "server");
	def->source_sql = text_column(tuple, tupdesc, "source_sql");
	def->target = text_column(tuple, tupdesc, "target");
	def->target_schema = text_column(tuple, tupdesc, "target_schema");
	def->target_table = text_column(tuple, tupdesc, "target_table");
	def->target_quoted = quote_qualified_identifier(def->target_schema, def->target_table);
	def->target_ddl = text_column(tuple, tupdesc, "target_ddl");
	def->active = DatumGetBool(binary_column(tuple, tupdesc, "active"));
	def->incremental_column = text_column(tuple, tupdesc, "incremental_column");
	def->watermark = text_column(tuple, tupdesc, "watermark");
	def->capture_binlog = text_column(tuple, tupdesc, "capture") != NULL;

	if (kind == ETL_DIMENSION)
	{
		def->natural_key = text_array_column(tuple, tupdesc, "natural_key");
		def->surrogate_key = text_column(tuple, tupdesc, "surrogate_key");
		def->scd_type = DatumGetInt32(binary_column(tuple, tupdesc, "scd_type"));
		/* type1_columns is the older spelling of the type1_all rule */
		def->type1_columns = list_concat(text_array_column(tuple, tupdesc, "type1_columns"),
										 text_array_column(tuple, tupdesc, "rule_type1_all"));
		def->current_only_columns = text_array_column(tuple, tupdesc, "rule_type1");
		def->ignored_columns = text_array_column(tuple, tupdesc, "rule_ignore");
		def->deletes = (DeletePolicy) choice_column(tuple, tupdesc, "deletes", delete_policies);
		def->max_closed_fraction = DatumGetFloat8(binary_column(tuple, tupdesc, "closed_fraction"));
		def->schema_changes = (SchemaChangePolicy) choice_column(tuple, tupdesc, "schema_changes",
																 schema_change_policies);
		def->change_date_column = text_column(tuple, tupdesc, "change_date_column");
		def->is_calendar = text_column(tuple, tupdesc, "generator") != NULL;
		def->first_date = text_column(tuple, tupdesc, "first_day");
		def->last_date = text_column(tuple, tupdesc, "last_day");
		def->beginning_of_time = text_column(tuple, tupdesc, "beginning_of_time");
		def->end_of_time = text_column(tuple, tupdesc, "end_of_time");
		def->reject_bad_keys = strcmp(text_column(tuple, tupdesc, "on_bad_key"), "reject") == 0;
		if (def->natural_key == NIL || def->surrogate_key == NULL ||
			(!def->is_calendar && (def->server == NULL || def->source_sql == NULL)) ||
			(def->is_calendar && def->first_date == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("definition of dimension \"%s\" is incomplete", def->name),
					 errhint("Define it again with pypeline.define_dimension.")));
	}
	else
	{
		def->measures = text_array_column(tuple, tupdesc, "measures");
		def->degenerate_columns = text_array_column(tuple, tupdesc, "degenerate_columns");
		def->event_time_column = text_column(tuple, tupdesc, "event_time_column");
		def->unmatched = (UnmatchedPolicy) choice_column(tuple, tupdesc, "unmatched", unmatched_policies);
		def->key_columns = text_array_column(tuple, tupdesc, "key_columns");
		def->snapshot_column = text_column(tuple, tupdesc, "snapshot_column");
		def->delete_missing = strcmp(text_column(tuple, tupdesc, "deletes"), "delete") == 0;
		def->max_deleted_fraction = DatumGetFloat8(binary_column(tuple, tupdesc, "deleted_fraction"));
		def->partition_by = text_column(tuple, tupdesc, "partition_by");
		def->split_column = text_column(tuple, tupdesc, "split_column");
		def->lookups = fact_lookups(def->name);
	}
	return def;
}

/*
 * Names of the active ETLs of a kind that the current role may run, in
 * definition order; *skipped counts the others.
 */
List *
catalog_active_etls(EtlKind kind, int *skipped)
{
	List	   *result = NIL;

	*skipped = 0;
	privilege_internal_exec(psprintf("SELECT name, owner::oid FROM %s WHERE active ORDER BY position",
									 catalog_table(kind)),
							0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];

		if (privilege_may_act_for(DatumGetObjectId(binary_column(tuple, SPI_tuptable->tupdesc, "owner"))))
			result = lappend(result, text_column(tuple, SPI_tuptable->tupdesc, "name"));
		else
			(*skipped)++;
	}
	return result;
}

/* Names of the facts that look up a dimension. */
List *
catalog_facts_using(const char *dimension)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(dimension)};
	List	   *result = NIL;

	privilege_internal_exec("SELECT name FROM pypeline.fact WHERE lookups ? $1 ORDER BY position",
							1, argtypes, args, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, text_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "name"));
	return result;
}

/* ---- watermarks ---- */

void
catalog_save_watermark(EtlDefinition *def, const char *value)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		args[4] = {CStringGetTextDatum(etl_kind_name(def->kind)),
		CStringGetTextDatum(def->name), CStringGetTextDatum(value), ObjectIdGetDatum(def->owner)};

	privilege_internal_exec("INSERT INTO pypeline.watermark (etl_type, etl_name, value, owner) "
							"VALUES ($1, $2, $3, $4::regrole) "
							"ON CONFLICT (etl_type, etl_name) DO UPDATE "
							"SET value = excluded.value, owner = excluded.owner, updated_at = now()",
							4, argtypes, args, NULL, SPI_OK_INSERT);
}

void
catalog_forget_watermark(EtlDefinition *def)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(etl_kind_name(def->kind)), CStringGetTextDatum(def->name)};

	privilege_internal_exec("DELETE FROM pypeline.watermark WHERE etl_type = $1 AND etl_name = $2",
							2, argtypes, args, NULL, SPI_OK_DELETE);
}

/*
 * Saves the highest incremental_column value of the staged rows, in the
 * transaction that loads them; an empty increment keeps the watermark.
 */
void
catalog_advance_watermark(EtlDefinition *def, const char *stage)
{
	char	   *column = pstrdup(quote_identifier(def->incremental_column));
	int32		typmod;
	Oid			type = exec_column_type_oid(psprintf("pg_temp.%s", stage), def->incremental_column, &typmod);
	char	   *value;

	/* as MySQL reads literals: ISO dates, and instants in the connection's UTC */
	if (type == TIMESTAMPTZOID)
		column = psprintf("to_char(max(%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", column);
	else if (type == TIMESTAMPOID)
		column = psprintf("to_char(max(%s), 'YYYY-MM-DD HH24:MI:SS.US')", column);
	else if (type == DATEOID)
		column = psprintf("to_char(max(%s), 'YYYY-MM-DD')", column);
	else
		column = psprintf("max(%s)::text", column);
	exec_sql(psprintf("SELECT %s FROM pg_temp.%s", column, stage), SPI_OK_SELECT);
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (value != NULL)
		catalog_save_watermark(def, value);
}

/* ---- writing definitions (the define functions, set_active, drop_etl) ---- */

/* The owner of an existing definition, InvalidOid if there is none. */
static Oid
existing_owner(EtlKind kind, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		isnull;

	if (privilege_internal_exec(psprintf("SELECT owner::oid FROM %s WHERE name = $1 FOR UPDATE",
										 catalog_table(kind)),
								1, argtypes, args, NULL, SPI_OK_SELECT) == 0)
		return InvalidOid;
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
require_may_change(EtlKind kind, const char *name, Oid owner)
{
	if (!privilege_may_act_for(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s \"%s\" belongs to role %s", etl_kind_name(kind), name,
						privilege_role_name(owner)),
				 errdetail("Only its owner, or a role with the owner's privileges, may change it."),
				 errhint("Choose another name, or ask role %s.", privilege_role_name(owner))));
}

/* An ETL that exists and that the current role may change; returns its owner. */
static Oid
changeable_etl(EtlKind kind, const char *name)
{
	Oid			owner = existing_owner(kind, name);

	if (!OidIsValid(owner))
		undefined(kind, name);
	require_may_change(kind, name, owner);
	return owner;
}

static void
require_argument(bool isnull, const char *argument)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argument)));
}

/*
 * The schema the target is (or will be) in, resolved now with the
 * definer's search_path: an existing table found on it, or the schema a
 * CREATE TABLE would use.
 */
static void
resolve_target(const char *target, char **schema, char **table)
{
	RangeVar   *rv;
	Oid			namespace;

	rv = makeRangeVarFromNameList(stringToQualifiedNameList(target));
	if (rv->catalogname && strcmp(rv->catalogname, get_database_name(MyDatabaseId)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("target \"%s\" is in another database", target)));
	*table = rv->relname;
	if (rv->schemaname)
	{
		*schema = rv->schemaname;
		namespace = get_namespace_oid(rv->schemaname, true);
	}
	else
	{
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		namespace = OidIsValid(relid) ? get_rel_namespace(relid) : RangeVarGetCreationNamespace(rv);
		*schema = get_namespace_name(namespace);
	}
	if (OidIsValid(namespace) && isAnyTempNamespace(namespace))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target \"%s\" is a temporary table", target),
				 errhint("Temporary tables end with the session that loads them: give a permanent table.")));
}

/* The keys of a definition, checked against the catalog table's columns. */
static List *
definition_columns(EtlKind kind, Datum definition)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1] = {definition};
	Relation	rel = table_openrv(makeRangeVar("pypeline", (char *) (kind == ETL_DIMENSION ? "dimension" : "fact"), -1),
								   AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *columns = NIL;

	SPI_execute_with_args("SELECT k FROM pg_catalog.jsonb_object_keys($1) k ORDER BY k",
						  1, argtypes, args, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *key = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		known = false;

		for (int a = 0; a < tupdesc->natts && !known; a++)
			known = !TupleDescAttr(tupdesc, a)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(tupdesc, a)->attname), key) == 0;
		for (int m = 0; managed_columns[m] && known; m++)
			known = strcmp(managed_columns[m], key) != 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s definition has no field \"%s\" that can be set", etl_kind_name(kind), key)));
		columns = lappend(columns, key);
	}
	table_close(rel, AccessShareLock);
	return columns;
}

static char *
column_list(List *columns, const char *prefix)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s%s", prefix, quote_identifier(lfirst(lc)),
						 lnext(columns, lc) ? ", " : "");
	return buf.data;
}

/*
 * pypeline._save_definition(kind, definition jsonb) -> name
 *
 * Inserts or replaces a definition whose fields are the keys of
 * "definition".  A new ETL belongs to the current role; an existing one
 * keeps its owner, and only a role with that owner's privileges may replace
 * it.
 */
Datum
pypeline_save_definition(PG_FUNCTION_ARGS)
{
	EtlKind		kind;
	Datum		definition;
	char	   *name;
	char	   *target;
	char	   *target_ddl;
	char	   *schema;
	char	   *table;
	Oid			owner;
	List	   *columns;
	Oid			argtypes[4] = {JSONBOID, OIDOID, TEXTOID, TEXTOID};
	Datum		args[4];
	Oid			typeargs[1] = {JSONBOID};

	require_argument(PG_ARGISNULL(0), "kind");
	require_argument(PG_ARGISNULL(1), "definition");
	kind = etl_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	definition = PG_GETARG_DATUM(1);

	SPI_connect();
	SPI_execute_with_args("SELECT jsonb_typeof($1) = 'object', $1 ->> 'name', $1 ->> 'target', $1 ->> 'target_ddl'",
						  1, typeargs, &definition, NULL, true, 0);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a definition must be a JSON object")));
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	target_ddl = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	require_argument(name == NULL, "name");
	require_argument(target == NULL, "target");
	columns = definition_columns(kind, definition);

	resolve_target(target, &schema, &table);
	if (target_ddl)
		(void) target_check_ddl(target_ddl, schema, table);

	owner = existing_owner(kind, name);
	if (OidIsValid(owner))
		require_may_change(kind, name, owner);
	else
		owner = GetUserId();

	args[0] = definition;
	args[1] = ObjectIdGetDatum(owner);
	args[2] = CStringGetTextDatum(schema);
	args[3] = CStringGetTextDatum(table);
	/* the WHERE keeps a row another role defined meanwhile */
	if (privilege_internal_exec(psprintf("INSERT INTO %s AS e (%s, owner, target_schema, target_table) "
										 "SELECT %s, $2::regrole, $3, $4 "
										 "FROM pg_catalog.jsonb_populate_record(NULL::%s, $1) r "
										 "ON CONFLICT (name) DO UPDATE SET (%s, owner, target_schema, target_table, defined_at) "
										 "= ROW(%s, excluded.owner, excluded.target_schema, excluded.target_table, now()) "
										 "WHERE e.owner = excluded.owner",
										 catalog_table(kind), column_list(columns, ""),
										 column_list(columns, "r."), catalog_table(kind),
										 column_list(columns, ""), column_list(columns, "excluded.")),
								4, argtypes, args, NULL, SPI_OK_INSERT) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("%s \"%s\" was defined by another role meanwhile", etl_kind_name(kind), name)));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/* pypeline.set_active(name, kind, active) */
Datum
pypeline_set_active(PG_FUNCTION_ARGS)
{
	char	   *name;
	EtlKind		kind;
	Oid			argtypes[2] = {TEXTOID, BOOLOID};
	Datum		args[2];

	require_argument(PG_ARGISNULL(0), "name");
	require_argument(PG_ARGISNULL(1), "kind");
	require_argument(PG_ARGISNULL(2), "active");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kind = etl_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));

	SPI_connect();
	changeable_etl(kind, name);
	args[0] = CStringGetTextDatum(name);
	args[1] = PG_GETARG_DATUM(2);
	privilege_internal_exec(psprintf("UPDATE %s SET active = $2 WHERE name = $1", catalog_table(kind)),
							2, argtypes, args, NULL, SPI_OK_UPDATE);
	SPI_finish();
	PG_RETURN_VOID();
}

/* pypeline.drop_etl(name, kind): the definition and its watermark */
Datum
pypeline_drop_etl(PG_FUNCTION_ARGS)
{
	char	   *name;
	EtlKind		kind;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	require_argument(PG_ARGISNULL(0), "name");
	require_argument(PG_ARGISNULL(1), "kind");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kind = etl_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));

	SPI_connect();
	changeable_etl(kind, name);
	if (kind == ETL_DIMENSION)
	{
		List	   *facts = catalog_facts_using(name);

		if (facts != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("dimension \"%s\" is looked up by fact \"%s\"", name, (char *) linitial(facts)),
					 errhint("Drop or redefine the facts that look it up first.")));
	}
	args[0] = CStringGetTextDatum(name);
	privilege_internal_exec(psprintf("DELETE FROM %s WHERE name = $1", catalog_table(kind)),
							1, argtypes, args, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_VOID();
}
