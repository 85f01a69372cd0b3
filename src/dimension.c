/*-------------------------------------------------------------------------
 *
 * dimension.c
 *		Dimension loads: target creation, the unknown member, and the
 *		set-based merges of slowly changing dimensions of type 0, 1 and 2;
 *		the generated calendar dimension.
 *
 * A load reads the whole source into a staging table (stage.c), checks its
 * natural keys (NULL or repeated keys stop the run or go to pypeline.reject),
 * reconciles the target with the source's columns (schema.c), then merges
 * with a handful of statements:
 *   type 0  new members only;
 *   type 1  changed attributes overwritten in place (but ignored columns);
 *   type 2  versions, per-column rules and hard deletes: versions.c.
 * Surrogate keys come from an identity column and never change for an
 * existing member.  Inferred members (created by facts) are completed in
 * place by the next load.  A new target, which needs no merge, is filled
 * straight from the source when it can be (load_new_target).
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

/* Columns pypeline manages in every type 2 dimension. */
#define VALID_FROM "valid_from"
#define VALID_TO "valid_to"
#define VERSION "version"
#define IS_CURRENT "is_current"
#define INFERRED "inferred"
#define DELETED "deleted"

/* Source columns stored as attributes: all but the natural key and change date. */
static List *
attribute_columns(EtlDefinition *def, SourceCursor *cursor)
{
	List	   *result = NIL;

	for (int i = 0; i < cursor->ncolumns; i++)
	{
		char	   *name = cursor->columns[i].name;

		if (string_list_member(def->natural_key, name))
			continue;
		if (def->change_date_column && strcmp(def->change_date_column, name) == 0)
			continue;
		result = lappend(result, name);
	}
	return result;
}

/*
 * Refuses to rebuild a dimension whose surrogate keys are referenced by
 * fact rows that will not be rebuilt in the same transaction: new keys
 * would leave those rows pointing at the wrong members.  (The before_drop
 * of target_prepare; arg points to facts_rebuilt_too.)  Each fact table is
 * read with its own owner's rights.
 */
static void
refuse_orphaning_facts(EtlDefinition *def, void *arg)
{
	bool		facts_rebuilt_too = *(bool *) arg;
	ListCell   *lc;

	foreach(lc, catalog_facts_using(def->name))
	{
		EtlDefinition *fact = catalog_get_etl(ETL_FACT, lfirst(lc), false);
		RoleSwitch	as_fact_owner;
		bool		has_rows;

		if (facts_rebuilt_too && fact->active)
			continue;
		privilege_become(&as_fact_owner, fact->owner, false);
		has_rows = exec_table_exists(fact->target_quoted) &&
			exec_count(psprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1) x", fact->target_quoted)) > 0;
		privilege_restore(&as_fact_owner);
		if (has_rows)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot rebuild dimension \"%s\": fact \"%s\" (table %s) holds rows that reference its surrogate keys",
							def->name, fact->name, fact->target),
					 errhint("Rebuild the facts in the same call: pypeline.refresh_data_warehouse(run_dimensions => true, run_facts => true, delete_existing_tables => true); or load the dimension incrementally.")));
	}
}

/*
 * Column names and SQL values of a placeholder member of a dimension: the
 * unknown member (natural_key_exprs NIL: key -1) or an inferred member
 * (natural key from the given expressions, surrogate key generated).
 * Every NOT NULL column gets a value: text 'Unknown', numbers -1, false,
 * -infinity, or the column default; anything else is an error that says
 * which column needs a default.
 */
void
dimension_placeholder(EtlDefinition *dim, List *natural_key_exprs,
					  StringInfo names, StringInfo values)
{
	bool		unknown = natural_key_exprs == NIL;
	SPITupleTable *columns;

	exec_sql(psprintf("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
					  "  a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', "
					  "  t.typcategory "
					  "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
					  "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
					  "ORDER BY a.attnum", quote_literal_cstr(dim->target_quoted)),
			 SPI_OK_SELECT);
	columns = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = columns->vals[i];
		char	   *name = SPI_getvalue(tuple, columns->tupdesc, 1);
		char	   *type = SPI_getvalue(tuple, columns->tupdesc, 2);
		bool		notnull = strcmp(SPI_getvalue(tuple, columns->tupdesc, 3), "t") == 0;
		bool		has_default = strcmp(SPI_getvalue(tuple, columns->tupdesc, 4), "t") == 0;
		char		category = SPI_getvalue(tuple, columns->tupdesc, 5)[0];
		int			nk_index = list_length(dim->natural_key);
		char	   *value = NULL;

		for (int k = 0; k < list_length(dim->natural_key); k++)
			if (strcmp(list_nth(dim->natural_key, k), name) == 0)
				nk_index = k;

		if (strcmp(name, dim->surrogate_key) == 0)
			value = unknown ? "-1" : NULL;
		else if (nk_index < list_length(dim->natural_key) && !unknown)
			value = list_nth(natural_key_exprs, nk_index);
		else if (dim->scd_type == 2 && strcmp(name, VALID_FROM) == 0)
			value = quote_literal_cstr(dim->beginning_of_time);
		else if (dim->scd_type == 2 && strcmp(name, VALID_TO) == 0)
			value = quote_literal_cstr(dim->end_of_time);
		else if (dim->scd_type == 2 && strcmp(name, VERSION) == 0)
			value = "1";
		else if (dim->scd_type == 2 && strcmp(name, IS_CURRENT) == 0)
			value = "true";
		else if (strcmp(name, INFERRED) == 0)
			value = unknown ? "false" : "true";
		else if (strcmp(name, DELETED) == 0)
			value = "false";
		else if (nk_index < list_length(dim->natural_key) && !notnull)
			value = NULL;		/* the unknown member has no natural key */
		else if (category == TYPCATEGORY_STRING)
			value = "'Unknown'";
		else if (!notnull || has_default)
			value = NULL;
		else if (category == TYPCATEGORY_NUMERIC)
			value = "-1";
		else if (category == TYPCATEGORY_BOOLEAN)
			value = "false";
		else if (category == TYPCATEGORY_DATETIME && strcmp(type, "time without time zone") != 0 &&
				 strcmp(type, "time with time zone") != 0)
			value = "'-infinity'";
		else if (category == TYPCATEGORY_TIMESPAN)
			value = "'0'";
		else if (category == TYPCATEGORY_ARRAY)
			value = "'{}'";
		else
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cannot make the %s member of dimension \"%s\": column \"%s\" (%s) is NOT NULL and has no default",
							unknown ? "unknown" : "inferred", dim->name, name, type),
					 errhint("Give the column a DEFAULT in the target DDL, or make it nullable.")));

		if (value == NULL)
			continue;
		if (names->len > 0)
		{
			appendStringInfoString(names, ", ");
			appendStringInfoString(values, ", ");
		}
		appendStringInfoString(names, quote_identifier(name));
		/* typed, so the values also serve in SELECT DISTINCT */
		appendStringInfo(values, "CAST(%s AS %s)", value, type);
	}
}

static void
insert_unknown_member(EtlDefinition *def)
{
	StringInfoData names;
	StringInfoData values;

	initStringInfo(&names);
	initStringInfo(&values);
	dimension_placeholder(def, NIL, &names, &values);
	exec_sql(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE VALUES (%s)",
					  def->target_quoted, names.data, values.data),
			 SPI_OK_INSERT);
}

static char *
mapped_type_of(SourceCursor *cursor, const char *column)
{
	return convert_mapped_type_name(&cursor->columns[source_column_index(cursor, column)]);
}

/*
 * The derived target of a source dimension: surrogate key, the source's
 * columns in their mapped types, the SCD columns and the inferred flag.
 */
static char *
derived_ddl(EtlDefinition *def, SourceCursor *cursor, List *attributes)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (%s bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
					 def->target_quoted, quote_identifier(def->surrogate_key));
	foreach(lc, def->natural_key)
		appendStringInfo(&sql, ", %s %s", quote_identifier(lfirst(lc)), mapped_type_of(cursor, lfirst(lc)));
	foreach(lc, attributes)
		appendStringInfo(&sql, ", %s %s", quote_identifier(lfirst(lc)), mapped_type_of(cursor, lfirst(lc)));
	if (def->scd_type == 2)
		appendStringInfoString(&sql, ", " VALID_FROM " timestamptz NOT NULL, " VALID_TO " timestamptz NOT NULL, "
							   VERSION " integer NOT NULL, " IS_CURRENT " boolean NOT NULL, "
							   DELETED " boolean NOT NULL DEFAULT false");
	appendStringInfoString(&sql, ", " INFERRED " boolean NOT NULL DEFAULT false)");
	return sql.data;
}

/*
 * Indexes the merges and lookups rely on: the natural key is unique (among
 * current versions, for type 2), and type 2 lookups search by key and time.
 */
static void
create_key_indexes(EtlDefinition *def)
{
	char	   *key = deparse_columns(def->natural_key, NULL);

	if (def->scd_type == 2)
	{
		exec_sql(psprintf("CREATE UNIQUE INDEX ON %s (%s) WHERE " IS_CURRENT, def->target_quoted, key),
				 SPI_OK_UTILITY);
		exec_sql(psprintf("CREATE INDEX ON %s (%s, " VALID_FROM ")", def->target_quoted, key),
				 SPI_OK_UTILITY);
	}
	else
		exec_sql(psprintf("CREATE UNIQUE INDEX ON %s (%s)", def->target_quoted, key),
				 SPI_OK_UTILITY);
}

/*
 * Drops the target on a rebuild and creates it, with its unknown member,
 * when absent.  Returns true when the target is new (empty but for the
 * unknown member, no key indexes: building them after the first load is
 * faster).
 */
static bool
prepare_target(EtlDefinition *def, bool rebuild, bool facts_rebuilt_too, const char *derived)
{
	bool		created = target_prepare(def, rebuild, derived, refuse_orphaning_facts, &facts_rebuilt_too);

	if (created)
		insert_unknown_member(def);
	return created;
}

/*
 * Moves the staged rows matching a condition into pypeline.reject with a
 * reason; returns how many.
 */
static uint64
reject_rows(EtlDefinition *def, const char *stage, const char *condition, const char *reason)
{
	uint64		rejected;

	Oid			argtypes[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		args[3] = {CStringGetTextDatum(def->name), CStringGetTextDatum(reason),
	ObjectIdGetDatum(def->owner)};

	/* the staging table holds only built-in types: nothing of a role runs here */
	rejected = privilege_internal_exec(psprintf("INSERT INTO pypeline.reject (etl_type, etl_name, run_started_at, "
												"  natural_key, reason, source_row, owner) "
												"SELECT 'dimension', $1, now(), ROW(%s)::text, $2, to_jsonb(s), $3::regrole "
												"FROM pg_temp.%s s WHERE %s",
												deparse_columns(def->natural_key, "s"), stage, condition),
									   3, argtypes, args, NULL, SPI_OK_INSERT);
	exec_sql(psprintf("DELETE FROM pg_temp.%s s WHERE %s", stage, condition), SPI_OK_DELETE);
	return rejected;
}

/*
 * NULL or repeated natural keys would make members ambiguous: the run
 * stops and names the problem, or, with on_bad_key => 'reject', those rows
 * (every row of a repeated key: none of them can be told right) go to
 * pypeline.reject and the rest loads.  Returns the rows rejected.
 */
static uint64
check_natural_keys(EtlDefinition *def, const char *stage)
{
	/* a member's history (several change dates) is not a repeated key */
	List	   *unique_key = def->scd_type == 2 && def->change_date_column ?
		lappend(list_copy(def->natural_key), def->change_date_column) : def->natural_key;
	char	   *key = deparse_columns(unique_key, "s");
	char	   *repeated;
	uint64		nulls;
	uint64		rejected = 0;
	StringInfoData null_test;
	ListCell   *lc;

	initStringInfo(&null_test);
	foreach(lc, def->natural_key)
		appendStringInfo(&null_test, "%s s.%s IS NULL", null_test.len > 0 ? " OR" : "",
						 quote_identifier(lfirst(lc)));
	if (def->reject_bad_keys)
		rejected += reject_rows(def, stage, null_test.data, "NULL natural key");
	nulls = exec_count(psprintf("SELECT count(*) FROM pg_temp.%s s WHERE %s", stage, null_test.data));
	if (nulls > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg_plural("source of dimension \"%s\" returned %llu row with a NULL natural key",
							   "source of dimension \"%s\" returned %llu rows with a NULL natural key",
							   nulls, def->name, (unsigned long long) nulls),
				 errhint("Filter them out in the source query (WHERE ... IS NOT NULL), give them a key, or define the dimension with on_bad_key => 'reject'.")));

	repeated = psprintf("(%s) IN (SELECT %s FROM pg_temp.%s s GROUP BY %s HAVING count(*) > 1)",
						key, key, stage, key);
	if (def->reject_bad_keys)
		rejected += reject_rows(def, stage, repeated, "natural key repeated in the source");
	exec_sql(psprintf("SELECT ROW(%s)::text, count(*) FROM pg_temp.%s s GROUP BY %s "
					  "HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT 1", key, stage, key),
			 SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("source of dimension \"%s\" returned natural key %s %s times",
						def->name,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errhint("A dimension needs one source row per member: fix the source query (GROUP BY, DISTINCT), or define the dimension with on_bad_key => 'reject'.")));
	return rejected;
}

/*
 * Counts new members and changed members before anything is written, so
 * the counts describe source rows whatever statements apply them.
 */
static void
classify(EtlDefinition *def, const char *stage, List *attributes, bool has_inferred, LoadCounts *counts)
{
	char	   *key_match = deparse_join(def->natural_key, "t", def->natural_key, "s");

	exec_sql(psprintf("SELECT count(*) FILTER (WHERE t.%s IS NULL), "
					  "  count(*) FILTER (WHERE t.%s IS NOT NULL AND (%s%s)) "
					  "FROM pg_temp.%s s LEFT JOIN %s t ON %s%s",
					  quote_identifier(def->surrogate_key), quote_identifier(def->surrogate_key),
					  def->scd_type == 0 ? "false" :
					  deparse_differs(string_list_difference(attributes, def->ignored_columns)),
					  has_inferred ? " OR t." INFERRED : "",
					  stage, def->target_quoted, key_match,
					  def->scd_type == 2 ? " AND t." IS_CURRENT : ""),
			 SPI_OK_SELECT);
	counts->inserted = strtoull(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10);
	counts->updated = strtoull(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), NULL, 10);
	counts->unchanged = counts->read - counts->rejected - counts->inserted - counts->updated;
}

/* Completes inferred members in place with their real attributes. */
void
dimension_complete_inferred(EtlDefinition *def, const char *stage, List *attributes)
{
	if (attributes == NIL)
		exec_sql(psprintf("UPDATE %s t SET " INFERRED " = false FROM pg_temp.%s s WHERE %s AND t." INFERRED,
						  def->target_quoted, stage,
						  deparse_join(def->natural_key, "t", def->natural_key, "s")),
				 SPI_OK_UPDATE);
	else
		exec_sql(psprintf("UPDATE %s t SET %s, " INFERRED " = false FROM pg_temp.%s s WHERE %s AND t." INFERRED,
						  def->target_quoted, deparse_set_list(attributes), stage,
						  deparse_join(def->natural_key, "t", def->natural_key, "s")),
				 SPI_OK_UPDATE);
}

/*
 * Inserts the staged members the target lacks (all of them, without
 * looking, when only_missing is false: a new target).
 */
static void
insert_new_members(EtlDefinition *def, const char *stage, List *attributes, bool only_missing)
{
	List	   *columns = list_concat_copy(def->natural_key, attributes);
	char	   *scd_columns = def->scd_type == 2 ?
		", " VALID_FROM ", " VALID_TO ", " VERSION ", " IS_CURRENT : "";
	char	   *scd_values = def->scd_type == 2 ?
		psprintf(", %s, %s, 1, true", quote_literal_cstr(def->beginning_of_time),
				 quote_literal_cstr(def->end_of_time)) : "";

	exec_sql(psprintf("INSERT INTO %s (%s%s) SELECT %s%s FROM pg_temp.%s s%s",
					  def->target_quoted, deparse_columns(columns, NULL), scd_columns,
					  deparse_columns(columns, "s"), scd_values, stage,
					  only_missing ?
					  psprintf(" WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)", def->target_quoted,
							   deparse_join(def->natural_key, "t", def->natural_key, "s")) : ""),
			 SPI_OK_INSERT);
}

static void
merge_type1(EtlDefinition *def, const char *stage, List *attributes, bool has_inferred)
{
	List	   *overwritten = string_list_difference(attributes, def->ignored_columns);

	if (has_inferred)
		dimension_complete_inferred(def, stage, attributes);
	if (def->scd_type == 1 && overwritten != NIL)
		exec_sql(psprintf("UPDATE %s t SET %s FROM pg_temp.%s s WHERE %s AND %s",
						  def->target_quoted, deparse_set_list(overwritten), stage,
						  deparse_join(def->natural_key, "t", def->natural_key, "s"),
						  deparse_differs(overwritten)),
				 SPI_OK_UPDATE);
	insert_new_members(def, stage, attributes, true);
}

/* The calendar dimension: one row per day, key YYYYMMDD. */
static LoadCounts
date_dimension_load(EtlDefinition *def, bool rebuild, bool facts_rebuilt_too)
{
	LoadCounts	counts = {0};
	char	   *ddl = psprintf("CREATE TABLE %s (%s integer PRIMARY KEY, date date UNIQUE, "
							   "year smallint, quarter smallint, month smallint, month_name text, "
							   "day_of_month smallint, day_of_week smallint, day_name text, "
							   "week_of_year smallint, day_of_year smallint, is_weekend boolean, "
							   INFERRED " boolean NOT NULL DEFAULT false)",
							   def->target_quoted, quote_identifier(def->surrogate_key));

	/* the merges of source dimensions do not apply; the key is the date */
	def->target_ddl = NULL;
	prepare_target(def, rebuild, facts_rebuilt_too, ddl);
	progress_log("Loading data");
	counts.read = exec_count(psprintf("SELECT %s::date - %s::date + 1",
									 quote_literal_cstr(def->last_date), quote_literal_cstr(def->first_date)));
	counts.inserted = exec_sql(psprintf("INSERT INTO %s (%s, date, year, quarter, month, month_name, "
										"day_of_month, day_of_week, day_name, week_of_year, day_of_year, is_weekend) "
										"SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(year FROM d), "
										"  extract(quarter FROM d), extract(month FROM d), to_char(d, 'FMMonth'), "
										"  extract(day FROM d), extract(isodow FROM d), to_char(d, 'FMDay'), "
										"  extract(week FROM d), extract(doy FROM d), extract(isodow FROM d) >= 6 "
										"FROM generate_series(%s::date, %s::date, interval '1 day') g(t), "
										"  LATERAL (SELECT t::date AS d) x "
										"ON CONFLICT DO NOTHING",
										def->target_quoted, quote_identifier(def->surrogate_key),
										quote_literal_cstr(def->first_date), quote_literal_cstr(def->last_date)),
							   SPI_OK_INSERT);
	counts.unchanged = counts.read - counts.inserted;
	return counts;
}

/* What load_new_target was doing, to tell its errors apart. */
typedef enum DirectStep
{
	DIRECT_PREPARE,				/* dropping, creating the target */
	DIRECT_FILL,				/* streaming the source into it */
	DIRECT_INDEX,				/* building its key indexes */
	DIRECT_DONE
} DirectStep;

typedef enum DirectOutcome
{
	DIRECT_UNSUITED,			/* not tried: the load needs staging */
	DIRECT_LOADED,
	DIRECT_UNDONE				/* tried and rolled back: load again, staged */
} DirectOutcome;

/* makes the next dimension_load use the staging table */
static bool next_load_staged = false;

/*
 * Creates the target and streams the source into it (see
 * load_new_target); returns the rows, or -1 if they cannot go in this way.
 */
static int64
fill_new_target(EtlDefinition *def, SourceCursor *cursor, List *attributes,
				bool rebuild, bool facts_rebuilt_too, volatile DirectStep *step)
{
	DirectTarget target = {0};
	List	   *needed = list_concat_copy(def->natural_key, attributes);
	char	   *sequence;
	int64		first_key;
	int64		rows;

	*step = DIRECT_PREPARE;
	prepare_target(def, rebuild, facts_rebuilt_too, derived_ddl(def, cursor, attributes));
	*step = DIRECT_FILL;
	catalog_forget_watermark(def);
	target.source_columns = list_copy(needed);
	needed = lappend(needed, def->surrogate_key);
	if (def->scd_type == 2)
		needed = list_concat(needed, list_make4(VALID_FROM, VALID_TO, VERSION, IS_CURRENT));
	target_require_columns(def, needed);

	/* the keys nextval would give, one per row in source order */
	exec_sql(psprintf("SELECT s.seqrelid::regclass::text, pg_catalog.nextval(s.seqrelid), s.seqincrement "
					  "FROM pg_catalog.pg_sequence s "
					  "WHERE s.seqrelid = pg_catalog.pg_get_serial_sequence(%s, %s)::regclass",
					  quote_literal_cstr(def->target_quoted), quote_literal_cstr(def->surrogate_key)),
			 SPI_OK_SELECT);
	if (SPI_processed != 1 ||
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), "1") != 0)
		return -1;
	sequence = quote_literal_cstr(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	first_key = strtoll(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), NULL, 10);

	target.relid = (Oid) exec_count(psprintf("SELECT %s::regclass::oid::bigint",
											quote_literal_cstr(def->target_quoted)));
	target.numbered_column = def->surrogate_key;
	target.first_number = first_key;
	if (def->scd_type == 2)
	{
		target.constant_columns = list_make4(VALID_FROM, VALID_TO, VERSION, IS_CURRENT);
		target.constant_values = list_make4(def->beginning_of_time, def->end_of_time, "1", "true");
	}
	target.key_columns = def->natural_key;
	/* several rows of a key may be its history: only ascending keys have none */
	target.keys_ascending = def->scd_type == 2 && def->change_date_column != NULL;

	progress_log("Loading data");
	rows = stage_load_direct(cursor, &target);
	if (rows < 0)
		return -1;
	if (rows > 0)
		exec_sql(psprintf("SELECT pg_catalog.setval(%s, " INT64_FORMAT ")",
						  sequence, first_key + rows - 1), SPI_OK_SELECT);
	else
		exec_sql(psprintf("SELECT pg_catalog.setval(%s, " INT64_FORMAT ", false)",
						  sequence, first_key), SPI_OK_SELECT);

	/* a repeated key fails the unique index */
	*step = DIRECT_INDEX;
	create_key_indexes(def);
	*step = DIRECT_DONE;
	return rows;
}

/*
 * A new target whose source rows need no merge goes without a staging
 * table: the rows are streamed into it with their surrogate keys and SCD
 * columns, and its key indexes are built after them.  That writes the rows
 * once instead of twice and skips four scans of the staging table.
 *
 * It is tried in a subtransaction.  What the staged load would refuse or
 * merge (a NULL key, a repeated key, history of a type 2 member, the
 * rebuild guard) rolls the attempt back, and the staged load then reads
 * the source again and does what it always did, messages included.
 */
static DirectOutcome
load_new_target(EtlDefinition *def, SourceCursor *cursor, List *attributes,
				bool rebuild, bool facts_rebuilt_too, LoadCounts *counts)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile DirectStep step = DIRECT_PREPARE;
	volatile int64 rows = -1;

	/* rejected rows, hand-made targets and watermarks need the staging table */
	if (def->reject_bad_keys || def->target_ddl || def->incremental_column ||
		(!rebuild && OidIsValid(target_open(def))))
		return DIRECT_UNSUITED;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int64		filled = fill_new_target(def, cursor, attributes, rebuild,
											 facts_rebuilt_too, &step);

		if (filled >= 0)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		rows = filled;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		/* the staged load raises these after reading the source, as before */
		if (!(step == DIRECT_PREPARE &&
			  (edata->sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
			   edata->sqlerrcode == ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST)) &&
			!(step == DIRECT_INDEX && edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION))
			ReThrowError(edata);
		FreeErrorData(edata);
		rows = -1;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;

	if (rows < 0)
	{
		source_close(cursor);
		return DIRECT_UNDONE;
	}
	counts->read = counts->inserted = (uint64) rows;
	/* facts join this table next: give the planner fresh statistics */
	exec_analyze(def->target_quoted);
	return DIRECT_LOADED;
}

/*
 * Loads a dimension: source into staging, checks, target creation or
 * reconciliation with the source's columns, merge, deleted members; or,
 * for a new target, the source straight into it.
 */
LoadCounts
dimension_load(EtlDefinition *def, bool rebuild, bool facts_rebuilt_too)
{
	bool		staged = next_load_staged;
	LoadCounts	counts = {0};
	bool		incremental = def->incremental_column && def->watermark && !rebuild &&
		OidIsValid(target_open(def));
	SourceCursor *cursor;
	char	   *stage;
	List	   *attributes;
	List	   *needed;
	List	   *target_columns;
	bool		created;
	ListCell   *lc;

	next_load_staged = false;
	if (def->is_calendar)
		return date_dimension_load(def, rebuild, facts_rebuilt_too);

	progress_log("Executing source query for dimension %s", def->target);
	cursor = source_open(def->server, source_query_text(def->source_sql, incremental ? def->incremental_column : NULL,
												   def->watermark),
						 "dimension", def->name);
	source_require_column_names(cursor);
	foreach(lc, def->natural_key)
		source_require_column(cursor, lfirst(lc), "natural key");
	foreach(lc, list_concat_copy(def->type1_columns, def->current_only_columns))
		source_require_column(cursor, lfirst(lc), "type-1 column");
	foreach(lc, def->ignored_columns)
		source_require_column(cursor, lfirst(lc), "ignored column");
	if (def->change_date_column)
		source_require_column(cursor, def->change_date_column, "change date column");
	if (def->incremental_column)
		source_require_column(cursor, def->incremental_column, "incremental column");
	attributes = attribute_columns(def, cursor);

	switch (staged ? DIRECT_UNSUITED :
			load_new_target(def, cursor, attributes, rebuild, facts_rebuilt_too, &counts))
	{
		case DIRECT_LOADED:
			return counts;
		case DIRECT_UNDONE:
			next_load_staged = true;
			return dimension_load(def, rebuild, facts_rebuilt_too);
		case DIRECT_UNSUITED:
			break;
	}

	stage = stage_create(cursor, def->name);
	progress_log("Loading data");
	counts.read = stage_load(cursor, stage);
	source_close(cursor);
	counts.rejected = check_natural_keys(def, stage);

	created = prepare_target(def, rebuild, facts_rebuilt_too, derived_ddl(def, cursor, attributes));
	if (created)
		catalog_forget_watermark(def);
	else
		counts.message = schema_reconcile(def, cursor, list_concat_copy(def->natural_key, attributes));
	needed = list_concat_copy(def->natural_key, attributes);
	needed = lappend(needed, def->surrogate_key);
	if (def->scd_type == 2)
		needed = list_concat(needed, list_make4(VALID_FROM, VALID_TO, VERSION, IS_CURRENT));
	target_require_columns(def, needed);
	target_require_lossless(def, cursor, stage, list_concat_copy(def->natural_key, attributes), def->natural_key);
	target_columns = exec_table_columns(def->target_quoted);

	if (created && exec_count(psprintf("SELECT count(*) - count(DISTINCT (%s)) FROM pg_temp.%s",
									  deparse_columns(def->natural_key, NULL), stage)) == 0)
	{
		/* one row per member into a new table: no comparisons, one insert */
		counts.inserted = counts.read - counts.rejected;
		insert_new_members(def, stage, attributes, false);
	}
	else
	{
		/* inferred members to complete: only if a fact has made some */
		bool		has_inferred = string_list_member(target_columns, INFERRED) &&
			exec_count(psprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE " INFERRED " LIMIT 1) x",
							   def->target_quoted)) > 0;

		if (def->scd_type == 2)
			versions_merge(def, cursor, stage, attributes, has_inferred,
						   string_list_member(target_columns, DELETED), &counts);
		else
		{
			classify(def, stage, attributes, has_inferred, &counts);
			merge_type1(def, stage, attributes, has_inferred);
		}
	}
	if (created)
		create_key_indexes(def);

	/* only a full source tells which members are gone */
	if (def->deletes != DELETES_IGNORE && !incremental)
		counts.deleted = versions_close_deleted(def, stage, string_list_member(target_columns, DELETED),
												&counts);
	if (def->incremental_column)
		catalog_advance_watermark(def, stage);
	stage_drop(stage);
	/* facts join this table next: give the planner fresh statistics */
	exec_analyze(def->target_quoted);
	return counts;
}
