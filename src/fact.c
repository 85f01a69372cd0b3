/*-------------------------------------------------------------------------
 *
 * fact.c
 *		Fact loads: source rows staged, natural keys resolved to surrogate
 *		keys by one set-based INSERT ... SELECT with a LEFT JOIN per lookup.
 *
 * A lookup into a type 2 dimension picks the version valid at the fact's
 * event time ([valid_from, valid_to)), so late facts get the version of
 * their time; without an event time it picks the current version.  A key
 * with no member becomes the unknown member (-1), an inferred member, or an
 * error, per definition.  Incremental facts read only source rows past the
 * saved watermark, which is saved in the same transaction as the rows.
 *
 * Calls catalog.c, source.c, stage.c, target.c, members.c, execute.c, deparse.c,
 * convert.c, privilege.c and progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

typedef struct ResolvedLookup
{
	FactLookup *lookup;
	EtlDefinition *dimension;
	char	   *alias;			/* d1, d2, ... in the load statement */
	Oid			relid;			/* the dimension's table */
	char	   *key_type;		/* type of the dimension's surrogate key */
	List	   *natural_key_types;	/* types of its natural key columns */
} ResolvedLookup;

/* Whether a column's type is one of PostgreSQL's own (pg_catalog). */
static bool
has_builtin_type(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);
	HeapTuple	tuple;
	bool		builtin = false;

	if (attnum == InvalidAttrNumber)
		return true;			/* missing: the load statement says so */
	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(get_atttype(relid, attnum)));
	if (HeapTupleIsValid(tuple))
	{
		builtin = ((Form_pg_type) GETSTRUCT(tuple))->typnamespace == PG_CATALOG_NAMESPACE;
		ReleaseSysCache(tuple);
	}
	return builtin;
}

/*
 * A fact reads its dimensions with its owner's rights.  A dimension table
 * of another role must not run that role's code on the way: the columns
 * the fact compares and copies must have built-in types (a domain's check
 * or a type's operators are functions of their owner), and the table must
 * have no row security (its policies would run as the fact's owner).
 */
static void
check_other_roles_dimension(EtlDefinition *def, ResolvedLookup *r)
{
	EtlDefinition *dim = r->dimension;
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(r->relid));
	Oid			relowner;
	bool		row_security;
	List	   *columns = lappend(list_copy(dim->natural_key), dim->surrogate_key);
	ListCell   *lc;

	if (!HeapTupleIsValid(tuple))
		return;
	relowner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	row_security = ((Form_pg_class) GETSTRUCT(tuple))->relrowsecurity;
	ReleaseSysCache(tuple);
	if (relowner == def->owner)
		return;
	if (row_security)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("fact \"%s\" cannot look up dimension \"%s\": its table %s has row security and belongs to role %s",
						def->name, dim->name, dim->target, privilege_role_name(relowner)),
				 errdetail("Its policies would run with the rights of the fact's owner, role %s.",
						   privilege_role_name(def->owner))));
	if (dim->scd_type == 2)
		columns = list_concat(columns, list_make3(COL_VALID_FROM, COL_VALID_TO, COL_IS_CURRENT));
	foreach(lc, columns)
		if (!has_builtin_type(r->relid, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("fact \"%s\" cannot look up dimension \"%s\": column \"%s\" of table %s has a type that is not built in",
							def->name, dim->name, (char *) lfirst(lc), dim->target),
					 errdetail("The table belongs to role %s; the functions of a type or domain of its own would run with the rights of the fact's owner, role %s.",
							   privilege_role_name(relowner), privilege_role_name(def->owner)),
					 errhint("Give the dimension's key columns built-in types, or have one role own the fact and the dimension.")));
}

static ResolvedLookup *
resolve_lookup(EtlDefinition *def, FactLookup *lookup, int n)
{
	ResolvedLookup *r = palloc0(sizeof(ResolvedLookup));
	ListCell   *lc;

	r->lookup = lookup;
	r->dimension = catalog_get_etl(ETL_DIMENSION, lookup->dimension, false);
	r->alias = psprintf("d%d", n);
	if (list_length(lookup->columns) != list_length(r->dimension->natural_key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fact \"%s\" looks up dimension \"%s\" with %d source columns, but its natural key has %d",
						def->name, lookup->dimension, list_length(lookup->columns),
						list_length(r->dimension->natural_key)),
				 errhint("Give the lookup an array of source columns in natural key order.")));
	r->relid = RangeVarGetRelid(makeRangeVar(r->dimension->target_schema, r->dimension->target_table, -1),
								AccessShareLock, true);
	if (!OidIsValid(r->relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fact \"%s\" needs dimension \"%s\", whose table %s does not exist",
						def->name, lookup->dimension, r->dimension->target),
				 errhint("Run the dimension first: SELECT * FROM pypeline.process_etl('%s', 'dimension').",
						 lookup->dimension)));
	check_other_roles_dimension(def, r);
	r->key_type = exec_column_type(r->dimension->target_quoted, r->dimension->surrogate_key);
	foreach(lc, r->dimension->natural_key)
		r->natural_key_types = lappend(r->natural_key_types,
									   exec_column_type(r->dimension->target_quoted, lfirst(lc)));
	return r;
}

/*
 * "d1.user_id = CAST(s.user_id AS bigint) AND ...": the source value is
 * cast to the dimension's key type, so a DATETIME finds its day in a date
 * dimension and integer widths never matter.
 */
static char *
key_match(ResolvedLookup *r, const char *dim_alias)
{
	StringInfoData buf;
	ListCell   *nk;
	ListCell   *col;
	ListCell   *type;

	initStringInfo(&buf);
	forthree(nk, r->dimension->natural_key, col, r->lookup->columns, type, r->natural_key_types)
		appendStringInfo(&buf, "%s%s.%s = CAST(s.%s AS %s)", buf.len > 0 ? " AND " : "",
						 dim_alias, quote_identifier(lfirst(nk)),
						 quote_identifier(lfirst(col)), (char *) lfirst(type));
	return buf.data;
}

/* Source rows whose key is given (not NULL) but has no member. */
static char *
unmatched_condition(ResolvedLookup *r)
{
	StringInfoData buf;
	ListCell   *col;

	initStringInfo(&buf);
	foreach(col, r->lookup->columns)
		appendStringInfo(&buf, "s.%s IS NOT NULL AND ", quote_identifier(lfirst(col)));
	appendStringInfo(&buf, "NOT EXISTS (SELECT 1 FROM %s m WHERE %s)",
					 r->dimension->target_quoted, key_match(r, "m"));
	return buf.data;
}

static void
refuse_unmatched(EtlDefinition *def, ResolvedLookup *r, const char *stage)
{
	uint64		unmatched;

	exec_sql(psprintf("SELECT count(*), min(ROW(%s)::text) FROM pg_temp.%s s WHERE %s",
					  deparse_columns(r->lookup->columns, "s"), stage, unmatched_condition(r)),
			 SPI_OK_SELECT);
	unmatched = strtoull(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10);
	if (unmatched > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg_plural("%llu row of fact \"%s\" has no member in dimension \"%s\": key %s",
							   "%llu rows of fact \"%s\" have no member in dimension \"%s\", for example key %s",
							   unmatched, (unsigned long long) unmatched, def->name, r->dimension->name,
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errhint("Load the dimension first, or define the fact with unmatched => 'unknown' or 'inferred'.")));
}

/*
 * Adds an inferred member for every distinct key the dimension lacks; the
 * dimension's next load completes it in place.
 */
static void
add_inferred_members(EtlDefinition *def, ResolvedLookup *r, const char *stage)
{
	List	   *exprs = NIL;
	ListCell   *col;

	/* written with the fact owner's rights: the table must be that role's */
	target_check_owner(r->relid, def->owner,
					   psprintf("dimension \"%s\", given inferred members by fact \"%s\"",
								r->dimension->name, def->name));
	foreach(col, r->lookup->columns)
		exprs = lappend(exprs, psprintf("s.%s", quote_identifier(lfirst(col))));
	(void) members_add_inferred(r->dimension, exprs,
								psprintf("pg_temp.%s s WHERE %s", stage, unmatched_condition(r)));
}

/*
 * The source columns a fact row keeps: degenerate columns, measures, and
 * the event time when the table has room for it (derived tables do), which
 * lets a dimension re-key facts when a version arrives late (versions.c).
 */
static List *
stored_columns(EtlDefinition *def, List *target_columns)
{
	List	   *stored = list_concat_copy(def->degenerate_columns, def->measures);

	if (def->event_time_column && !string_list_member(stored, def->event_time_column) &&
		(target_columns == NIL || string_list_member(target_columns, def->event_time_column)))
		stored = lappend(stored, def->event_time_column);
	return stored;
}

static char *
derived_ddl(EtlDefinition *def, SourceCursor *cursor, List *resolved)
{
	StringInfoData sql;
	ListCell   *lc;
	List	   *stored = stored_columns(def, NIL);

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", def->target_quoted);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);

		appendStringInfo(&sql, "%s%s %s NOT NULL", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(r->dimension->surrogate_key), r->key_type);
	}
	foreach(lc, stored)
	{
		int			i = source_column_index(cursor, lfirst(lc));

		appendStringInfo(&sql, "%s%s %s", sql.data[sql.len - 1] == '(' ? "" : ", ",
						 quote_identifier(lfirst(lc)), convert_mapped_type_name(&cursor->columns[i]));
	}
	appendStringInfoChar(&sql, ')');
	return sql.data;
}

/*
 * The load statement: one LEFT JOIN per lookup, as-of for type 2.
 */
static uint64
insert_facts(EtlDefinition *def, SourceCursor *cursor, List *resolved, const char *stage)
{
	StringInfoData columns;
	StringInfoData select;
	StringInfoData joins;
	List	   *stored = stored_columns(def, exec_table_columns(def->target_quoted));
	ListCell   *lc;

	initStringInfo(&columns);
	initStringInfo(&select);
	initStringInfo(&joins);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);
		char	   *as_of = "";

		if (r->dimension->scd_type == 2 && def->event_time_column)
		{
			char	   *event = psprintf("coalesce(%s, now())", deparse_utc_instant(cursor, def->event_time_column));

			as_of = psprintf(" AND %s.valid_from <= %s AND %s < %s.valid_to",
							 r->alias, event, event, r->alias);
		}
		else if (r->dimension->scd_type == 2)
			as_of = psprintf(" AND %s.is_current", r->alias);

		appendStringInfo(&columns, "%s%s", columns.len > 0 ? ", " : "",
						 quote_identifier(r->dimension->surrogate_key));
		appendStringInfo(&select, "%scoalesce(%s.%s, -1)", select.len > 0 ? ", " : "",
						 r->alias, quote_identifier(r->dimension->surrogate_key));
		appendStringInfo(&joins, " LEFT JOIN %s %s ON %s%s", r->dimension->target_quoted,
						 r->alias, key_match(r, r->alias), as_of);
	}
	foreach(lc, stored)
	{
		appendStringInfo(&columns, "%s%s", columns.len > 0 ? ", " : "", quote_identifier(lfirst(lc)));
		appendStringInfo(&select, "%ss.%s", select.len > 0 ? ", " : "", quote_identifier(lfirst(lc)));
	}
	return exec_sql(psprintf("INSERT INTO %s (%s) SELECT %s FROM pg_temp.%s s%s",
							 def->target_quoted, columns.data, select.data, stage, joins.data),
					SPI_OK_INSERT);
}

LoadCounts
fact_load(EtlDefinition *def, bool rebuild)
{
	LoadCounts	counts = {0};
	bool		incremental = def->incremental_column && def->watermark && !rebuild &&
		OidIsValid(target_open(def));
	SourceCursor *cursor;
	char	   *stage;
	List	   *resolved = NIL;
	List	   *needed = NIL;
	ListCell   *lc;

	progress_log("Executing source query for fact %s", def->target);
	cursor = source_open(def->server, source_query_text(def->source_sql, incremental ? def->incremental_column : NULL,
												   def->watermark),
						 "fact", def->name);
	source_require_column_names(cursor);
	foreach(lc, def->lookups)
	{
		ListCell   *col;

		foreach(col, ((FactLookup *) lfirst(lc))->columns)
			source_require_column(cursor, lfirst(col), "lookup column");
	}
	foreach(lc, def->measures)
		source_require_column(cursor, lfirst(lc), "measure");
	foreach(lc, def->degenerate_columns)
		source_require_column(cursor, lfirst(lc), "degenerate column");
	if (def->event_time_column)
		source_require_column(cursor, def->event_time_column, "event time column");
	if (def->incremental_column)
		source_require_column(cursor, def->incremental_column, "incremental column");

	stage = stage_create(cursor, def->name);
	progress_log("Loading data");
	counts.read = stage_load(cursor, stage);
	source_close(cursor);

	foreach(lc, def->lookups)
	{
		ResolvedLookup *r = resolve_lookup(def, lfirst(lc), foreach_current_index(lc) + 1);

		resolved = lappend(resolved, r);
		needed = lappend(needed, r->dimension->surrogate_key);
	}

	if (target_prepare(def, rebuild, derived_ddl(def, cursor, resolved), NULL, NULL))
		catalog_forget_watermark(def);
	needed = list_concat(needed, list_concat_copy(def->degenerate_columns, def->measures));
	target_require_columns(def, needed);
	target_require_lossless(def, cursor, stage, stored_columns(def, exec_table_columns(def->target_quoted)),
							def->degenerate_columns);

	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);

		/* a calendar has no source to complete an inferred day from */
		if (def->unmatched == UNMATCHED_ERROR)
			refuse_unmatched(def, r, stage);
		else if (def->unmatched == UNMATCHED_INFERRED && !r->dimension->is_calendar)
			add_inferred_members(def, r, stage);
	}

	counts.inserted = insert_facts(def, cursor, resolved, stage);
	if (def->incremental_column)
		catalog_advance_watermark(def, stage);
	stage_drop(stage);
	return counts;
}
