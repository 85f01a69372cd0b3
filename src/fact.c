/*-------------------------------------------------------------------------
 *
 * fact.c
 *		Fact loads: natural keys resolved to surrogate keys, from memory as
 *		the source streams into a new table (load_new_facts), otherwise by
 *		one set-based INSERT ... SELECT of staged rows with a LEFT JOIN per
 *		lookup.
 *
 * A lookup into a type 2 dimension picks the version valid at the fact's
 * event time ([valid_from, valid_to)), so late facts get the version of
 * their time; without an event time it picks the current version.  A key
 * with no member becomes the unknown member (-1), an inferred member, or an
 * error, per definition.  Incremental facts read only source rows past the
 * saved watermark, which is saved in the same transaction as the rows.
 *
 * Calls catalog.c, source.c, stage.c, target.c, partition.c, members.c, lookup.c, execute.c,
 * deparse.c, convert.c, privilege.c, progress.c and pypeline.c (its settings).
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
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
 * "d1.user_id = CAST(s.user_id AS bigint) AND ...": the fact's value (a
 * staged source row, or a stored fact row) is cast to the dimension's key
 * type, so a DATETIME finds its day in a date dimension and integer widths
 * never matter.
 */
static char *
key_match(ResolvedLookup *r, const char *dim_alias, const char *fact_alias)
{
	StringInfoData buf;
	ListCell   *nk;
	ListCell   *col;
	ListCell   *type;

	initStringInfo(&buf);
	forthree(nk, r->dimension->natural_key, col, r->lookup->columns, type, r->natural_key_types)
		appendStringInfo(&buf, "%s%s.%s = CAST(%s.%s AS %s)", buf.len > 0 ? " AND " : "",
						 dim_alias, quote_identifier(lfirst(nk)), fact_alias,
						 quote_identifier(lfirst(col)), (char *) lfirst(type));
	return buf.data;
}

/*
 * " AND d.valid_from <= event AND event < d.valid_to": a lookup into a type
 * 2 dimension picks the version valid at the fact's event time (an instant
 * expression, or NULL for the current version); other lookups need
 * nothing more.
 */
static char *
as_of(ResolvedLookup *r, const char *alias, const char *event)
{
	if (r->dimension->scd_type == 2 && event)
	{
		char	   *at = psprintf("coalesce(%s, now())", event);

		return psprintf(" AND %s.%s <= %s AND %s < %s.%s", alias, COL_VALID_FROM, at, at, alias, COL_VALID_TO);
	}
	if (r->dimension->scd_type == 2)
		return psprintf(" AND %s.%s", alias, COL_IS_CURRENT);
	return "";
}

/* The event time of a staged row (alias s) as an instant, NULL if none. */
static char *
staged_event(EtlDefinition *def, SourceCursor *cursor)
{
	return def->event_time_column ? deparse_utc_instant(cursor, def->event_time_column) : NULL;
}

/*
 * The condition for a source row (alias s) whose key is given (not NULL)
 * but matches no member of the dimension (as of its event time, for a type
 * 2 dimension with an event time).
 */
static char *
unmatched_condition(EtlDefinition *def, SourceCursor *cursor, ResolvedLookup *r)
{
	StringInfoData buf;
	ListCell   *col;

	initStringInfo(&buf);
	foreach(col, r->lookup->columns)
		appendStringInfo(&buf, "s.%s IS NOT NULL AND ", quote_identifier(lfirst(col)));
	appendStringInfo(&buf, "NOT EXISTS (SELECT 1 FROM %s m WHERE %s%s)",
					 r->dimension->target_quoted, key_match(r, "m", "s"), as_of(r, "m", staged_event(def, cursor)));
	return buf.data;
}

static void
refuse_unmatched(EtlDefinition *def, SourceCursor *cursor, ResolvedLookup *r, const char *stage)
{
	uint64		unmatched;

	exec_sql(psprintf("SELECT count(*), min(ROW(%s)::text) FROM pg_temp.%s s WHERE %s",
					  deparse_columns(r->lookup->columns, "s"), stage, unmatched_condition(def, cursor, r)),
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
	StringInfoData missing;

	/* written with the fact owner's rights: the table must be that role's */
	target_check_owner(r->relid, def->owner,
					   psprintf("dimension \"%s\", given inferred members by fact \"%s\"",
								r->dimension->name, def->name));
	initStringInfo(&missing);
	foreach(col, r->lookup->columns)
	{
		exprs = lappend(exprs, psprintf("s.%s", quote_identifier(lfirst(col))));
		appendStringInfo(&missing, "s.%s IS NOT NULL AND ", quote_identifier(lfirst(col)));
	}
	appendStringInfo(&missing, "NOT EXISTS (SELECT 1 FROM %s m WHERE %s)",
					 r->dimension->target_quoted, key_match(r, "m", "s"));
	(void) members_add_inferred(r->dimension, exprs, psprintf("pg_temp.%s s WHERE %s", stage, missing.data));
}

/* Whether a calendar grows with the facts and the fact's owner may make it. */
static bool
calendar_grows(EtlDefinition *def, ResolvedLookup *r)
{
	HeapTuple	tuple;
	bool		owned;

	if (!r->dimension->is_calendar || r->dimension->last_date != NULL)
		return false;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(r->relid));
	owned = HeapTupleIsValid(tuple) && ((Form_pg_class) GETSTRUCT(tuple))->relowner == def->owner;
	if (HeapTupleIsValid(tuple))
		ReleaseSysCache(tuple);
	return owned;
}

/*
 * A calendar without a last date grows with the facts: it gets the days up
 * to a year past "latest", the latest date they look up (a date's text;
 * NULL when they look up none, which adds nothing).  A table of another
 * role's is left as it is: its days stay unknown.
 */
static void
grow_calendar(EtlDefinition *def, ResolvedLookup *r, const char *latest)
{
	if (!r->dimension->is_calendar || r->dimension->last_date != NULL)
		return;
	if (!calendar_grows(def, r))
	{
		ereport(NOTICE,
				(errmsg("calendar \"%s\" does not grow for fact \"%s\": its table belongs to another role",
						r->dimension->name, def->name)));
		return;
	}
	if (latest != NULL)
		calendar_grow(r->dimension, psprintf("%s::date + 365", quote_literal_cstr(latest)));
}

/* The latest day staged rows look up in a calendar that grows with them. */
static char *
staged_latest_day(EtlDefinition *def, ResolvedLookup *r, const char *stage)
{
	if (!calendar_grows(def, r))
		return NULL;
	exec_sql(psprintf("SELECT max(CAST(s.%s AS date))::text FROM pg_temp.%s s",
					  quote_identifier(linitial(r->lookup->columns)), stage),
			 SPI_OK_SELECT);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Appends a name to a list of names unless it is there already. */
static List *
add_name(List *names, const char *name)
{
	return string_list_member(names, name) ? names : lappend(names, (char *) name);
}

/*
 * The source columns a fact row keeps, each once: key columns, snapshot
 * column, degenerate columns and measures; and where the table has room for
 * them (derived tables do) the event time, which lets a dimension re-key
 * facts when a version arrives late (versions.c), and the lookups' source
 * columns, which let a later load repair a fact whose member had not
 * arrived (repair_unmatched).  target_columns NIL: a table being derived.
 */
static List *
stored_columns(EtlDefinition *def, List *resolved, List *target_columns)
{
	List	   *stored = NIL;
	List	   *optional = NIL;
	ListCell   *lc;

	foreach(lc, list_concat_copy(def->key_columns, def->degenerate_columns))
		stored = add_name(stored, lfirst(lc));
	if (def->snapshot_column)
		stored = add_name(stored, def->snapshot_column);
	foreach(lc, def->measures)
		stored = add_name(stored, lfirst(lc));
	if (def->event_time_column)
		optional = lappend(optional, def->event_time_column);
	foreach(lc, resolved)
		optional = list_concat(optional, ((ResolvedLookup *) lfirst(lc))->lookup->columns);
	foreach(lc, optional)
	{
		bool		is_key = false;
		ListCell   *r;

		foreach(r, resolved)
			is_key = is_key || strcmp(((ResolvedLookup *) lfirst(r))->dimension->surrogate_key, lfirst(lc)) == 0;
		if (!is_key && (target_columns == NIL || string_list_member(target_columns, lfirst(lc))))
			stored = add_name(stored, lfirst(lc));
	}
	return stored;
}

/*
 * The derived target: a column per dimension key and the stored source
 * columns in their mapped types.  Its primary key and indexes are built
 * after the first load (create_key_indexes), which is faster than keeping
 * them up to date row by row.
 */
static char *
derived_ddl(EtlDefinition *def, SourceCursor *cursor, List *resolved)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", def->target_quoted);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);

		appendStringInfo(&sql, "%s%s %s NOT NULL", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(r->dimension->surrogate_key), r->key_type);
	}
	foreach(lc, stored_columns(def, resolved, NIL))
	{
		int			i = source_column_index(cursor, lfirst(lc));

		appendStringInfo(&sql, "%s%s %s", sql.data[sql.len - 1] == '(' ? "" : ", ",
						 quote_identifier(lfirst(lc)), convert_mapped_type_name(&cursor->columns[i]));
	}
	appendStringInfoChar(&sql, ')');
	if (def->partition_by)
		appendStringInfoString(&sql, partition_clause(def));
	return sql.data;
}

/*
 * A derived fact table's primary key on key_columns (check_fact_keys made
 * sure the first load's keys are unique), and an index per dimension key:
 * BRIN for a calendar key, which follows the order rows arrive in, b-tree
 * for the others (the repairs and re-keying find rows by them).
 */
static void
create_key_indexes(EtlDefinition *def, List *resolved)
{
	ListCell   *lc;

	/*
	 * A rebuild's shadow needs none: the table keeps its own indexes, which
	 * the switch rebuilds or fills (target_finish_rebuild), and building
	 * them on the shadow too cost a quarter of a fact rebuild.
	 */
	if (def->rebuild != NULL)
		return;
	if (def->key_columns != NIL)
		exec_sql(psprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", def->target_quoted,
						  deparse_columns(def->key_columns, NULL)),
				 SPI_OK_UTILITY);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);

		exec_sql(psprintf("CREATE INDEX ON %s USING %s (%s)", def->target_quoted,
						  r->dimension->is_calendar ? "brin" : "btree",
						  quote_identifier(r->dimension->surrogate_key)),
				 SPI_OK_UTILITY);
	}
}

/* The pieces of the statement that resolves staged rows (alias s) into fact rows. */
typedef struct FactRows
{
	List	   *columns;		/* fact table columns, in order */
	StringInfoData select;		/* their values */
	StringInfoData named;		/* the same, each AS its column */
	StringInfoData joins;		/* one LEFT JOIN per lookup, as-of for type 2 */
	List	   *keys;			/* the dimension key columns */
} FactRows;

static void
fact_rows(EtlDefinition *def, SourceCursor *cursor, List *resolved, List *stored, FactRows *rows)
{
	ListCell   *lc;

	memset(rows, 0, sizeof(*rows));
	initStringInfo(&rows->select);
	initStringInfo(&rows->named);
	initStringInfo(&rows->joins);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);
		char	   *sk = pstrdup(quote_identifier(r->dimension->surrogate_key));

		rows->keys = lappend(rows->keys, r->dimension->surrogate_key);
		appendStringInfo(&rows->select, "%scoalesce(%s.%s, -1)", rows->select.len > 0 ? ", " : "", r->alias, sk);
		appendStringInfo(&rows->named, "%scoalesce(%s.%s, -1) AS %s", rows->named.len > 0 ? ", " : "",
						 r->alias, sk, sk);
		appendStringInfo(&rows->joins, " LEFT JOIN %s %s ON %s%s", r->dimension->target_quoted,
						 r->alias, key_match(r, r->alias, "s"), as_of(r, r->alias, staged_event(def, cursor)));
	}
	rows->columns = list_concat_copy(rows->keys, stored);
	foreach(lc, stored)
	{
		appendStringInfo(&rows->select, "%ss.%s", rows->select.len > 0 ? ", " : "", quote_identifier(lfirst(lc)));
		appendStringInfo(&rows->named, "%ss.%s", rows->named.len > 0 ? ", " : "", quote_identifier(lfirst(lc)));
	}
}

/*
 * Inserts fact rows resolved from "from" (staged rows, or pg_temp.pypeline_facts
 * already resolved) and counts, per lookup, the rows given the unknown member
 * (into unknown[]); returns the rows inserted.  Into a table that was empty
 * (new, or emptied by this run) the rows inserted are the table's, counted
 * afterwards; otherwise RETURNING hands them to the count, at the cost of
 * keeping them until the statement ends.
 */
static uint64
insert_rows(EtlDefinition *def, FactRows *rows, const char *select, const char *from, bool into_empty,
			uint64 *unknown)
{
	int			nkeys = list_length(rows->keys);
	char	   *insert = psprintf("INSERT INTO %s (%s) SELECT %s FROM %s", def->target_quoted,
								  deparse_columns(rows->columns, NULL), select, from);
	StringInfoData counts;
	bool		isnull;

	ListCell   *lc;

	initStringInfo(&counts);
	appendStringInfoString(&counts, "SELECT count(*)");
	foreach(lc, rows->keys)
		appendStringInfo(&counts, ", count(*) FILTER (WHERE %s = -1)", quote_identifier(lfirst(lc)));
	if (into_empty)
	{
		exec_sql(insert, SPI_OK_INSERT);
		exec_sql(psprintf("%s FROM %s", counts.data, def->target_quoted), SPI_OK_SELECT);
	}
	else
		exec_sql(psprintf("WITH inserted AS (%s RETURNING %s) %s FROM inserted", insert,
						  rows->keys != NIL ? deparse_columns(rows->keys, NULL) : "1", counts.data),
				 SPI_OK_SELECT);
	for (int k = 0; k < nkeys; k++)
		unknown[k] += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, k + 2, &isnull));
	return (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Refuses staged rows without a key, or a key given twice (accumulating facts). */
static void
check_fact_keys(EtlDefinition *def, const char *stage)
{
	char	   *key = deparse_columns(def->key_columns, "s");
	uint64		nulls;

	nulls = exec_count(psprintf("SELECT count(*) FROM pg_temp.%s s WHERE %s", stage,
								deparse_any_null(def->key_columns, "s")));
	if (nulls > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg_plural("source of fact \"%s\" returned %llu row without a key",
							   "source of fact \"%s\" returned %llu rows without a key",
							   nulls, def->name, (unsigned long long) nulls),
				 errhint("key_columns name a fact row: filter the rows without one out in the source query.")));
	exec_sql(psprintf("SELECT ROW(%s)::text, count(*) FROM pg_temp.%s s GROUP BY %s "
					  "HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT 1", key, stage, key),
			 SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("source of fact \"%s\" returned key %s %s times", def->name,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errhint("An accumulating fact has one source row per key: fix the source query, or its key_columns.")));
}

/*
 * An accumulating snapshot: staged rows are resolved once, then upserted by
 * key_columns: a row whose values changed is updated in place (its
 * dimension keys re-resolved as of its event time), an unchanged one is not
 * rewritten, a new key inserted; with deletes => 'delete', keys a full
 * source no longer returns are deleted, unless that would be more than
 * max_deleted_fraction of the fact's rows.
 */
static void
merge_accumulating(EtlDefinition *def, FactRows *rows, const char *stage, bool incremental,
				   LoadCounts *counts, uint64 *unknown)
{
	List	   *values = string_list_difference(rows->columns, def->key_columns);
	char	   *key_join = deparse_join(def->key_columns, "t", def->key_columns, "s");
	ListCell   *lc;

	exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_facts ON COMMIT DROP AS SELECT %s FROM pg_temp.%s s%s",
					  rows->named.data, stage, rows->joins.data),
			 SPI_OK_UTILITY);
	/* this run's rows given the unknown member, updated or inserted */
	foreach(lc, rows->keys)
		unknown[foreach_current_index(lc)] = exec_count(psprintf("SELECT count(*) FROM pg_temp.pypeline_facts WHERE %s = -1",
																 quote_identifier(lfirst(lc))));
	/*
	 * An UPDATE and an anti-join INSERT: measured faster than one MERGE
	 * (doc/performance.md), whose plan joins the whole fact with the rows.
	 */
	counts->updated = exec_sql(psprintf("UPDATE %s t SET (%s) = ROW(%s) FROM pg_temp.pypeline_facts s "
										"WHERE %s AND ROW(%s) IS DISTINCT FROM ROW(%s)",
										def->target_quoted, deparse_columns(values, NULL),
										deparse_columns(values, "s"), key_join,
										deparse_columns(values, "t"), deparse_columns(values, "s")),
							   SPI_OK_UPDATE);
	counts->inserted = exec_sql(psprintf("INSERT INTO %s (%s) SELECT %s FROM pg_temp.pypeline_facts s "
										 "WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)",
										 def->target_quoted, deparse_columns(rows->columns, NULL),
										 deparse_columns(rows->columns, "s"), def->target_quoted, key_join),
								SPI_OK_INSERT);
	counts->unchanged = counts->read - counts->inserted - counts->updated;
	if (def->delete_missing && !incremental)
	{
		char	   *gone = psprintf("NOT EXISTS (SELECT 1 FROM pg_temp.%s s WHERE %s)", stage, key_join);
		uint64		current = exec_count(psprintf("SELECT count(*) FROM %s", def->target_quoted));
		uint64		missing = exec_count(psprintf("SELECT count(*) FROM %s t WHERE %s", def->target_quoted, gone));

		if ((double) missing > def->max_deleted_fraction * (double) current)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("refusing to delete %llu of the %llu rows of fact \"%s\"",
							(unsigned long long) missing, (unsigned long long) current, def->name),
					 errdetail("Their keys are missing from the source, and max_deleted_fraction is %g.",
							   def->max_deleted_fraction),
					 errhint("If the source really lost them, raise max_deleted_fraction with pypeline.define_fact; otherwise check the source query.")));
		counts->deleted = exec_sql(psprintf("DELETE FROM %s t WHERE %s", def->target_quoted, gone), SPI_OK_DELETE);
	}
	exec_sql("DROP TABLE pg_temp.pypeline_facts", SPI_OK_UTILITY);
}

/*
 * Facts that got the unknown member because theirs had not arrived are
 * given it once it has, if the fact table keeps the lookup's source columns
 * (derived tables do) and, for a type 2 dimension, the event time.  Returns
 * the facts repaired.
 */
static uint64
repair_unmatched(EtlDefinition *def, List *resolved, List *target_columns)
{
	uint64		repaired = 0;
	ListCell   *lc;

	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);
		char	   *event = NULL;
		int32		typmod;
		ListCell   *col;
		bool		kept = true;

		foreach(col, r->lookup->columns)
			kept = kept && string_list_member(target_columns, lfirst(col));
		if (!kept)
			continue;
		if (r->dimension->scd_type == 2)
		{
			if (!def->event_time_column || !string_list_member(target_columns, def->event_time_column))
				continue;
			event = exec_column_type_oid(def->target_quoted, def->event_time_column, &typmod) == TIMESTAMPTZOID ?
				psprintf("f.%s", quote_identifier(def->event_time_column)) :
				psprintf("(CAST(f.%s AS timestamp) AT TIME ZONE 'UTC')", quote_identifier(def->event_time_column));
		}
		repaired += exec_sql(psprintf("UPDATE %s f SET %s = d.%s FROM %s d WHERE f.%s = -1 AND %s%s",
									  def->target_quoted, quote_identifier(r->dimension->surrogate_key),
									  quote_identifier(r->dimension->surrogate_key), r->dimension->target_quoted,
									  quote_identifier(r->dimension->surrogate_key), key_match(r, "d", "f"),
									  as_of(r, "d", event)),
							 SPI_OK_UPDATE);
	}
	return repaired;
}

/*
 * Reports rows of a lookup given the unknown member with a key that matched
 * nothing (a NOTICE with an example key, which may be NULL), and adds their
 * count to the run log's per-dimension counts in json.
 */
static void
note_unmatched(EtlDefinition *def, ResolvedLookup *r, uint64 unmatched, const char *example,
			   StringInfo json)
{
	if (unmatched == 0)
		return;
	ereport(NOTICE,
			(errmsg_plural("fact \"%s\": %llu row got the unknown member of dimension \"%s\"",
						   "fact \"%s\": %llu rows got the unknown member of dimension \"%s\"",
						   unmatched, def->name, (unsigned long long) unmatched, r->dimension->name),
			 example ? errdetail("No member matches key %s, for example.", example) : 0,
			 errhint("Load the dimension first; with unmatched => 'unknown' a later load gives these facts their member once it exists.")));
	if (json->len > 0)
		appendStringInfoString(json, ", ");
	escape_json(json, r->dimension->name);
	appendStringInfo(json, ": " UINT64_FORMAT, unmatched);
}

/* The run log's unmatched counts, from note_unmatched's json. */
static char *
unmatched_counts(StringInfo json)
{
	return json->len > 0 ? psprintf("{%s}", json->data) : NULL;
}

/* note_unmatched for staged rows, unknown[] given the unknown member per lookup. */
static void
report_unmatched(EtlDefinition *def, SourceCursor *cursor, List *resolved, const char *stage,
				 uint64 *unknown, LoadCounts *counts)
{
	StringInfoData json;
	ListCell   *lc;

	initStringInfo(&json);
	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);
		int			k = foreach_current_index(lc);
		uint64		unmatched;

		if (unknown[k] == 0)
			continue;
		/* rows without a key get the unknown member too, without a search */
		unmatched = unknown[k] - Min(unknown[k], exec_count(psprintf("SELECT count(*) FROM pg_temp.%s s WHERE %s", stage,
																	  deparse_any_null(r->lookup->columns, "s"))));
		if (unmatched == 0)
			continue;
		exec_sql(psprintf("SELECT ROW(%s)::text FROM pg_temp.%s s WHERE %s LIMIT 1",
						  deparse_columns(r->lookup->columns, "s"), stage, unmatched_condition(def, cursor, r)),
				 SPI_OK_SELECT);
		note_unmatched(def, r, unmatched,
					   SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL,
					   &json);
	}
	counts->unmatched = unmatched_counts(&json);
}

/*
 * A periodic snapshot: the rows of the periods the source returns are
 * deleted (and loaded again); other periods stay.  Returns the rows deleted.
 */
static uint64
replace_periods(EtlDefinition *def, const char *stage)
{
	const char *period = quote_identifier(def->snapshot_column);

	if (exec_count(psprintf("SELECT count(*) FROM pg_temp.%s s WHERE s.%s IS NULL", stage, period)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("source of fact \"%s\" returned rows without a snapshot period (%s is NULL)",
						def->name, def->snapshot_column),
				 errhint("Every row of a periodic snapshot belongs to a period: filter or fill them in the source query.")));
	return exec_sql(psprintf("DELETE FROM %s t WHERE t.%s IN (SELECT s.%s FROM pg_temp.%s s)",
							 def->target_quoted, period, period, stage),
					SPI_OK_DELETE);
}

/* Which kind of fact table a definition makes. */
typedef enum FactKind
{
	FACT_FULL_SOURCE,			/* no key, no watermark: a load replaces the rows */
	FACT_TRANSACTION,			/* incremental_column: rows past the watermark appended */
	FACT_ACCUMULATING,			/* key_columns: rows upserted by key */
	FACT_PERIODIC				/* snapshot_column: the periods in the source replaced */
} FactKind;

static FactKind
fact_kind(EtlDefinition *def)
{
	if (def->key_columns != NIL)
		return FACT_ACCUMULATING;
	if (def->snapshot_column)
		return FACT_PERIODIC;
	/* a captured fact without a key is appended to from the log */
	if (def->incremental_column || def->capture_binlog)
		return FACT_TRANSACTION;
	return FACT_FULL_SOURCE;
}

/* Refuses a source whose columns the definition names but it lacks. */
void
fact_require_source_columns(EtlDefinition *def, SourceCursor *cursor)
{
	ListCell   *lc;

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
	foreach(lc, def->key_columns)
		source_require_column(cursor, lfirst(lc), "key column");
	if (def->snapshot_column)
		source_require_column(cursor, def->snapshot_column, "snapshot column");
	if (def->event_time_column)
		source_require_column(cursor, def->event_time_column, "event time column");
	if (def->incremental_column)
		source_require_column(cursor, def->incremental_column, "incremental column");
}

/*
 * Opens a fact's source, incremental: only rows past the watermark.  A
 * captured fact's read gives the binary log coordinates of its snapshot
 * (*position); with "pulling", it reads the changes in the log since the
 * stored ones instead.
 */
static SourceCursor *
open_fact_source(EtlDefinition *def, bool incremental, bool pulling, char **position)
{
	SourceCursor *cursor;
	char	   *sql = source_query_text(def->source_sql, incremental ? def->incremental_column : NULL,
										def->watermark);

	if (pulling)
	{
		progress_log("Reading the binary log of fact %s from %s", def->target, def->watermark);
		cursor = source_open_changes(def->server, def->source_sql, "fact", def->name, def->watermark,
									 def->key_columns);
	}
	else
	{
		progress_log("Executing source query for fact %s", def->target);
		if (def->capture_binlog)
			cursor = source_open_snapshot(def->server, sql, "fact", def->name, position);
		else if (def->split_column)
			cursor = split_open(def->server, def->source_sql, sql, def->split_column, pypeline_max_parallel_etls,
								"fact", def->name, def->owner);
		else
			cursor = source_open(def->server, sql, "fact", def->name);
	}
	fact_require_source_columns(def, cursor);
	return cursor;
}

/*
 * A captured fact's changes, staged: an accumulating fact keeps each key's
 * last row and deletes (deletes => 'delete') the keys whose last change is
 * a delete; a fact without a key keeps the inserted rows only.  What is not
 * applied is counted in the run log's message.
 */
static void
split_captured_changes(EtlDefinition *def, const char *stage, LoadCounts *counts)
{
	bool		keyed = def->key_columns != NIL;
	char	   *gone = psprintf("%s_gone", stage);
	ChangeSplit split = stage_split_changes(stage, def->key_columns, gone, keyed, keyed);
	StringInfoData message;

	initStringInfo(&message);
	if (keyed && def->delete_missing && split.deleted > 0)
		counts->deleted = exec_sql(psprintf("DELETE FROM %s t USING pg_temp.%s g WHERE %s", def->target_quoted, gone,
											deparse_join(def->key_columns, "t", def->key_columns, "g")),
								   SPI_OK_DELETE);
	else if (keyed && split.deleted > 0)
		appendStringInfo(&message, "%llu row%s deleted in the source kept (deletes => 'ignore')",
						 (unsigned long long) split.deleted, split.deleted == 1 ? "" : "s");
	if (!keyed && (split.deleted > 0 || split.updates_dropped > 0))
		appendStringInfo(&message, "%llu update%s and %llu delete%s in the source not applied: a fact without key_columns only appends",
						 (unsigned long long) split.updates_dropped, split.updates_dropped == 1 ? "" : "s",
						 (unsigned long long) split.deleted, split.deleted == 1 ? "" : "s");
	if (keyed)
		stage_drop(gone);
	counts->message = message.len > 0 ? message.data : NULL;
}

/*
 * The columns a fact table must have: a key per dimension, the degenerate
 * columns, measures, key columns and snapshot column.
 */
static List *
needed_columns(EtlDefinition *def, List *resolved)
{
	List	   *needed = NIL;
	ListCell   *lc;

	foreach(lc, resolved)
		needed = lappend(needed, ((ResolvedLookup *) lfirst(lc))->dimension->surrogate_key);
	needed = list_concat(needed, list_concat_copy(def->degenerate_columns, def->measures));
	needed = list_concat(needed, list_copy(def->key_columns));
	if (def->snapshot_column)
		needed = lappend(needed, def->snapshot_column);
	return needed;
}

/* ---- a new fact table filled as the source streams ---- */

/*
 * A fact's key value becomes the dimension key's type as key_match's CAST
 * makes it; only the casts that cannot fail or round are done here.
 */
typedef enum KeyCast
{
	KEY_AS_IS,
	KEY_INT2_TO_INT4,
	KEY_INT2_TO_INT8,
	KEY_INT4_TO_INT8,
	KEY_TIMESTAMP_TO_DATE
} KeyCast;

static bool
plan_key_cast(Oid from, int32 from_typmod, Oid to, int32 to_typmod, KeyCast *cast)
{
	if (from == to && (to_typmod < 0 || to_typmod == from_typmod))
		*cast = KEY_AS_IS;
	else if (from == INT2OID && to == INT4OID)
		*cast = KEY_INT2_TO_INT4;
	else if (from == INT2OID && to == INT8OID)
		*cast = KEY_INT2_TO_INT8;
	else if (from == INT4OID && to == INT8OID)
		*cast = KEY_INT4_TO_INT8;
	else if (from == TIMESTAMPOID && to == DATEOID)
		*cast = KEY_TIMESTAMP_TO_DATE;
	else
		return false;
	return true;
}

static Datum
cast_key(KeyCast cast, Datum value)
{
	switch (cast)
	{
		case KEY_AS_IS:
			break;
		case KEY_INT2_TO_INT4:
			return Int32GetDatum((int32) DatumGetInt16(value));
		case KEY_INT2_TO_INT8:
			return Int64GetDatum((int64) DatumGetInt16(value));
		case KEY_INT4_TO_INT8:
			return Int64GetDatum((int64) DatumGetInt32(value));
		case KEY_TIMESTAMP_TO_DATE:
			return DirectFunctionCall1(timestamp_date, value);
	}
	return value;
}

/* One lookup of a streamed fact load. */
typedef struct StreamLookup
{
	ResolvedLookup *r;
	LookupCache *cache;
	int			nkeys;
	int		   *columns;		/* its source columns in the cursor */
	KeyCast    *casts;
	Datum	   *keys;			/* the row's key, cast */
	Oid			surrogate_type;
	bool		as_of;			/* the version valid at the event time */
	bool		miss_stops;		/* the staged load does more with a miss */
	bool		grows;			/* a calendar that grows with the facts */
	bool		any_day;
	DateADT		latest;			/* with grows: the latest day looked up */
	uint64		unmatched;
	char	   *example;		/* the first unmatched key, as ROW(...)::text shows it */
} StreamLookup;

typedef struct StreamFacts
{
	EtlDefinition *def;
	SourceCursor *cursor;
	List	   *resolved;
	bool		rebuild;
	int			nlookups;
	StreamLookup *lookups;
	int			event_column;	/* -1 when no lookup needs the event time */
	Oid			event_type;
	MemoryContext context;		/* the caches and what outlives a row */
	const char *stopped;		/* why the load cannot stream */
	int64		resolved_rows;
	int64		rows;
} StreamFacts;

/* A key as ROW(...)::text shows it (record_out's quoting). */
static char *
key_text(StreamFacts *s, StreamLookup *l, Datum *values)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (int k = 0; k < l->nkeys; k++)
	{
		ColumnConverter *cc = &s->cursor->columns[l->columns[k]];
		Oid			output;
		bool		varlena;
		char	   *value;
		bool		quote;

		getTypeOutputInfo(cc->result_type, &output, &varlena);
		value = OidOutputFunctionCall(output, values[l->columns[k]]);
		quote = value[0] == '\0';
		for (char *c = value; *c && !quote; c++)
			quote = *c == '"' || *c == '\\' || *c == '(' || *c == ')' || *c == ',' || isspace((unsigned char) *c);
		if (k > 0)
			appendStringInfoChar(&buf, ',');
		if (quote)
			appendStringInfoChar(&buf, '"');
		for (char *c = value; *c; c++)
		{
			if (quote && (*c == '"' || *c == '\\'))
				appendStringInfoChar(&buf, *c);
			appendStringInfoChar(&buf, *c);
		}
		if (quote)
			appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* A row's event time as the instant deparse_utc_instant makes of it; now() if NULL. */
static TimestampTz
event_instant(StreamFacts *s, Datum *values, bool *nulls)
{
	Datum		value = values[s->event_column];

	if (nulls[s->event_column])
		return GetCurrentTransactionStartTimestamp();
	/* a DATETIME read as UTC has the timestamptz's microseconds */
	if (s->event_type == DATEOID)
		return DatumGetTimestamp(DirectFunctionCall1(date_timestamp, value));
	return DatumGetTimestampTz(value);
}

/*
 * stage_load_direct's resolve: a dimension key per lookup, the unknown
 * member (-1) for a key that is NULL or matches nothing; false, to load
 * through a staging table instead, for a miss the staged load does more
 * with (an error that counts every row, an inferred member, a day a
 * calendar grows to).
 */
static bool
resolve_facts(void *arg, Datum *values, bool *nulls, Datum *resolved)
{
	StreamFacts *s = arg;
	TimestampTz at = s->event_column >= 0 ? event_instant(s, values, nulls) : 0;

	for (int n = 0; n < s->nlookups; n++)
	{
		StreamLookup *l = &s->lookups[n];
		int64		surrogate = -1;
		bool		keyed = true;

		for (int k = 0; k < l->nkeys && keyed; k++)
			if ((keyed = !nulls[l->columns[k]]))
				l->keys[k] = cast_key(l->casts[k], values[l->columns[k]]);
		if (keyed && !lookup_cache_find(l->cache, l->keys, at, &surrogate))
		{
			if (l->miss_stops)
			{
				s->stopped = psprintf("a key matched no member of dimension \"%s\"", l->r->dimension->name);
				return false;
			}
			if (l->unmatched++ == 0)
				l->example = MemoryContextStrdup(s->context, key_text(s, l, values));
		}
		if (keyed && l->grows && (!l->any_day || DatumGetDateADT(l->keys[0]) > l->latest))
		{
			l->latest = DatumGetDateADT(l->keys[0]);
			l->any_day = true;
		}
		switch (l->surrogate_type)
		{
			case INT2OID:
				resolved[n] = Int16GetDatum((int16) surrogate);
				break;
			case INT4OID:
				resolved[n] = Int32GetDatum((int32) surrogate);
				break;
			default:
				resolved[n] = Int64GetDatum(surrogate);
				break;
		}
	}
	s->resolved_rows++;
	return true;
}

/*
 * Reads a lookup's dimension into a cache of at most *budget bytes (taking
 * what it uses from it); false when the lookup cannot be answered from
 * memory exactly as the join would.
 */
static bool
plan_stream_lookup(StreamFacts *s, ResolvedLookup *r, StreamLookup *l, Size *budget)
{
	EtlDefinition *def = s->def;
	EtlDefinition *dim = r->dimension;
	Oid		   *types;
	Oid		   *collations;
	StringInfoData select;
	StringInfoData where;
	int32		typmod;
	ListCell   *nk;
	ListCell   *col;

	l->r = r;
	l->nkeys = list_length(dim->natural_key);
	l->columns = palloc(sizeof(int) * l->nkeys);
	l->casts = palloc(sizeof(KeyCast) * l->nkeys);
	l->keys = palloc(sizeof(Datum) * l->nkeys);
	l->surrogate_type = exec_column_type_oid(dim->target_quoted, dim->surrogate_key, &typmod);
	if (l->surrogate_type != INT2OID && l->surrogate_type != INT4OID && l->surrogate_type != INT8OID)
		return false;
	l->as_of = dim->scd_type == 2 && s->event_column >= 0;
	if (l->as_of &&
		(exec_column_type_oid(dim->target_quoted, COL_VALID_FROM, &typmod) != TIMESTAMPTZOID ||
		 exec_column_type_oid(dim->target_quoted, COL_VALID_TO, &typmod) != TIMESTAMPTZOID))
		return false;
	l->grows = calendar_grows(def, r);
	l->miss_stops = l->grows || def->unmatched == UNMATCHED_ERROR ||
		(def->unmatched == UNMATCHED_INFERRED && !dim->is_calendar);

	types = palloc(sizeof(Oid) * l->nkeys);
	collations = palloc(sizeof(Oid) * l->nkeys);
	initStringInfo(&select);
	initStringInfo(&where);
	forboth(nk, dim->natural_key, col, r->lookup->columns)
	{
		int			k = foreach_current_index(nk);
		int			i = source_column_index(s->cursor, lfirst(col));
		AttrNumber	attnum = get_attnum(r->relid, lfirst(nk));
		ColumnConverter *cc = &s->cursor->columns[i];

		if (attnum == InvalidAttrNumber || cc->result_type != cc->mapped_type)
			return false;
		get_atttypetypmodcoll(r->relid, attnum, &types[k], &typmod, &collations[k]);
		if (!plan_key_cast(cc->result_type, cc->result_typmod, types[k], typmod, &l->casts[k]))
			return false;
		l->columns[k] = i;
		appendStringInfo(&select, "d.%s, ", quote_identifier(lfirst(nk)));
		appendStringInfo(&where, "%sd.%s IS NOT NULL", k > 0 ? " AND " : "", quote_identifier(lfirst(nk)));
	}
	appendStringInfo(&select, "CAST(d.%s AS bigint)", quote_identifier(dim->surrogate_key));
	/* the rows the join's ON could match: as_of() */
	if (l->as_of)
	{
		appendStringInfo(&select, ", d.%s, d.%s", COL_VALID_FROM, COL_VALID_TO);
		appendStringInfo(&where, " AND d.%s IS NOT NULL AND d.%s IS NOT NULL", COL_VALID_FROM, COL_VALID_TO);
	}
	else if (dim->scd_type == 2)
		appendStringInfo(&where, " AND d.%s", COL_IS_CURRENT);

	l->cache = lookup_cache_build(psprintf("SELECT %s FROM %s d WHERE %s", select.data, dim->target_quoted, where.data),
								  exec_count(psprintf("SELECT count(*) FROM %s d WHERE %s",
													  dim->target_quoted, where.data)),
								  l->nkeys, types, collations, l->as_of, *budget);
	if (l->cache == NULL)
		return false;
	*budget -= Min(*budget, lookup_cache_memory(l->cache));
	return true;
}

/*
 * Whether a load can resolve its facts as they stream; if so, s gets the
 * lookups with their caches (in s->context).
 */
static bool
plan_stream(StreamFacts *s)
{
	EtlDefinition *def = s->def;
	Size		budget = (Size) pypeline_lookup_memory_kb * 1024;
	bool		as_of = false;
	ListCell   *lc;

	foreach(lc, s->resolved)
		as_of = as_of || ((ResolvedLookup *) lfirst(lc))->dimension->scd_type == 2;
	s->event_column = -1;
	if (as_of && def->event_time_column)
	{
		ColumnConverter *cc;

		s->event_column = source_column_index(s->cursor, def->event_time_column);
		cc = &s->cursor->columns[s->event_column];
		s->event_type = cc->result_type;
		if (cc->result_type != cc->mapped_type ||
			(s->event_type != TIMESTAMPTZOID && s->event_type != TIMESTAMPOID && s->event_type != DATEOID))
			return false;
	}
	s->nlookups = list_length(s->resolved);
	s->lookups = palloc0(sizeof(StreamLookup) * Max(s->nlookups, 1));
	foreach(lc, s->resolved)
		if (!plan_stream_lookup(s, lfirst(lc), &s->lookups[foreach_current_index(lc)], &budget))
		{
			s->stopped = psprintf("dimension \"%s\" cannot be looked up in memory (pypeline.lookup_memory is %dkB)",
								  ((ResolvedLookup *) lfirst(lc))->dimension->name, pypeline_lookup_memory_kb);
			return false;
		}
	return true;
}

/* Creates the fact table and streams the source into it (see load_new_facts). */
static bool
fill_new_facts(void *arg)
{
	StreamFacts *s = arg;
	EtlDefinition *def = s->def;
	DirectTarget target = {0};
	ListCell   *lc;

	if (!target_prepare(def, s->rebuild, derived_ddl(def, s->cursor, s->resolved), NULL, NULL))
		return false;
	catalog_forget_watermark(def);
	target_require_columns(def, needed_columns(def, s->resolved));
	target.relid = target_open(def);
	target.source_columns = stored_columns(def, s->resolved, exec_table_columns(def->target_quoted));
	foreach(lc, s->resolved)
		target.resolved_columns = lappend(target.resolved_columns,
										  ((ResolvedLookup *) lfirst(lc))->dimension->surrogate_key);
	target.resolve = resolve_facts;
	target.resolve_arg = s;

	progress_log("Loading data");
	s->rows = stage_load_direct(s->cursor, &target);
	if (s->rows < 0)
	{
		if (s->stopped == NULL)
			s->stopped = "the table refused a row";
		return false;
	}
	for (int n = 0; n < s->nlookups; n++)
	{
		StreamLookup *l = &s->lookups[n];

		grow_calendar(def, l->r, l->any_day ?
					  DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(l->latest))) : NULL);
	}
	create_key_indexes(def, s->resolved);
	return true;
}

/*
 * A new fact table (a first load or a rebuild) whose dimensions fit in
 * pypeline.lookup_memory is filled as the source streams: each row finds
 * its dimension keys in memory (lookup.c) and goes straight into the
 * table, whose indexes are built after it.  That skips the staging table,
 * its scans and the join, and writes each row once.
 *
 * It is tried in a subtransaction.  A row the staged load does more with
 * (see resolve_facts) rolls the attempt back, and the source is read
 * again and staged, with the messages and counts that load gives; the run
 * log's message says why.  Kinds
 * that need the staged rows (accumulating facts, watermarks) and
 * hand-made targets are always staged.  Returns whether the facts are
 * loaded; *cursor is a fresh one of the same query if not.
 */
static bool
load_new_facts(EtlDefinition *def, SourceCursor **cursor, List *resolved, bool rebuild, LoadCounts *counts)
{
	StreamFacts s = {0};
	MemoryContext oldcxt;
	ErrorData  *edata;
	bool		planned;
	StringInfoData json;

	/* a captured fact's snapshot is staged, so that its position is kept with it */
	if (def->target_ddl || fact_kind(def) == FACT_ACCUMULATING || def->incremental_column ||
		def->capture_binlog || def->partition_by || pypeline_lookup_memory_kb == 0 ||
		(!rebuild && OidIsValid(target_open(def))))
		return false;
	s.def = def;
	s.cursor = *cursor;
	s.resolved = resolved;
	s.rebuild = rebuild;
	s.context = AllocSetContextCreate(CurrentMemoryContext, "pypeline fact lookups", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(s.context);
	planned = plan_stream(&s);
	MemoryContextSwitchTo(oldcxt);
	s.rows = -1;
	if (planned)
	{
		edata = exec_in_subtransaction(fill_new_facts, &s);
		if (edata)
			ReThrowError(edata);
	}
	if (s.rows < 0)
	{
		/* the run log says why a load that could stream did not */
		counts->message = psprintf("loaded through a staging table: %s", s.stopped ? s.stopped : "the table was not new");
		if (planned)
			counts->message = psprintf("%s (after " INT64_FORMAT " rows streamed)", counts->message, s.resolved_rows);
		MemoryContextDelete(s.context);
		if (!planned)
			return false;
		target_abandon_rebuild(def);	/* its shadow table is gone */
		/* the staged load reads the source from its first row */
		source_close(*cursor);
		*cursor = open_fact_source(def, false, false, NULL);
		return false;
	}
	source_close(*cursor);
	counts->read = counts->inserted = (uint64) s.rows;
	initStringInfo(&json);
	for (int n = 0; n < s.nlookups; n++)
		note_unmatched(def, s.lookups[n].r, s.lookups[n].unmatched, s.lookups[n].example, &json);
	counts->unmatched = unmatched_counts(&json);
	MemoryContextDelete(s.context);
	/* dimensions and re-keying find fact rows by their keys: fresh statistics */
	target_analyze(def, counts->inserted);
	return true;
}

/* A split read (split.c) says in the run log how it went. */
static void
note_how_read(SourceCursor *cursor, LoadCounts *counts)
{
	if (cursor->read_note == NULL)
		return;
	counts->message = counts->message ? psprintf("%s; %s", counts->message, cursor->read_note) : cursor->read_note;
}

LoadCounts
fact_load(EtlDefinition *def, bool rebuild)
{
	LoadCounts	counts = {0};
	FactKind	kind = fact_kind(def);
	bool		incremental = def->incremental_column && def->watermark && !rebuild &&
		OidIsValid(target_open(def));
	bool		pulling = def->capture_binlog && def->watermark && !rebuild && OidIsValid(target_open(def));
	char	   *position = NULL;
	SourceCursor *cursor = open_fact_source(def, incremental, pulling, &position);
	bool		replace_all;
	char	   *stage;
	List	   *resolved = NIL;
	List	   *stored;
	List	   *target_columns;
	FactRows	rows;
	uint64	   *unknown;
	bool		created;
	ListCell   *lc;

	foreach(lc, def->lookups)
		resolved = lappend(resolved, resolve_lookup(def, lfirst(lc), foreach_current_index(lc) + 1));
	if (load_new_facts(def, &cursor, resolved, rebuild, &counts))
	{
		note_how_read(cursor, &counts);
		return counts;
	}

	stage = stage_create(cursor, def->name);
	progress_log("Loading data");
	counts.read = stage_load(cursor, stage);
	source_close(cursor);
	if (pulling)
	{
		position = source_changes_position(cursor);
		split_captured_changes(def, stage, &counts);
	}
	unknown = palloc0(sizeof(uint64) * Max(list_length(resolved), 1));

	created = target_prepare(def, rebuild, derived_ddl(def, cursor, resolved), NULL, NULL);
	if (created)
		catalog_forget_watermark(def);
	target_columns = exec_table_columns(def->target_quoted);
	stored = stored_columns(def, resolved, target_columns);
	target_require_columns(def, needed_columns(def, resolved));
	target_require_lossless(def, cursor, stage, stored, def->degenerate_columns);

	foreach(lc, resolved)
	{
		ResolvedLookup *r = lfirst(lc);

		/* before the facts are resolved, so that they find their days */
		grow_calendar(def, r, staged_latest_day(def, r, stage));
		/* a calendar has no source to complete an inferred day from */
		if (def->unmatched == UNMATCHED_ERROR)
			refuse_unmatched(def, cursor, r, stage);
		else if (def->unmatched == UNMATCHED_INFERRED && !r->dimension->is_calendar)
			add_inferred_members(def, r, stage);
	}
	/* older facts first: the rows written now are resolved as they go in */
	if (!created && kind != FACT_FULL_SOURCE && def->unmatched == UNMATCHED_UNKNOWN)
		counts.repaired = repair_unmatched(def, resolved, target_columns);

	fact_rows(def, cursor, resolved, stored, &rows);
	/* the periods of these rows get their partitions first, in this transaction */
	if (def->partition_by)
		partition_for_rows(def, stage);
	if (kind == FACT_ACCUMULATING)
		check_fact_keys(def, stage);
	if (kind == FACT_ACCUMULATING && !created)
		merge_accumulating(def, &rows, stage, incremental || pulling, &counts, unknown);
	else
	{
		/* a captured fact's snapshot (not a pull) replaces what the table has */
		replace_all = kind == FACT_FULL_SOURCE || (def->capture_binlog && !pulling);
		/* readers see the rows replaced until the new ones commit */
		if (replace_all && !created)
			counts.deleted = exec_sql(psprintf("DELETE FROM %s", def->target_quoted), SPI_OK_DELETE);
		else if (kind == FACT_PERIODIC && !created)
			counts.deleted = replace_periods(def, stage);
		counts.inserted = insert_rows(def, &rows, rows.select.data,
									  psprintf("pg_temp.%s s%s", stage, rows.joins.data),
									  created || replace_all, unknown);
	}
	report_unmatched(def, cursor, resolved, stage, unknown, &counts);
	/* a table from target_ddl has the indexes its author chose */
	if (created && def->target_ddl == NULL)
		create_key_indexes(def, resolved);
	if (def->incremental_column)
		catalog_advance_watermark(def, stage);
	/* the next run reads the log from here */
	if (def->capture_binlog)
		catalog_save_watermark(def, position);
	stage_drop(stage);
	/* dimensions and re-keying find fact rows by their keys: fresh statistics */
	target_analyze(def, created ? UINT64_MAX : counts.inserted + counts.updated + counts.deleted + counts.repaired);
	counts.nothing_new = pulling && counts.read == 0;
	note_how_read(cursor, &counts);
	return counts;
}
