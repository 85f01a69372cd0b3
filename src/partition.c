/*-------------------------------------------------------------------------
 *
 * partition.c
 *		Partitioned targets: the range partitions a fact's rows need
 *		(partition_by), created in the transaction that writes the rows, and
 *		the partitions a rebuild's shadow table shares with its target.
 *
 * A fact defined with partition_by => 'day' | 'month' | 'year' gets a
 * target partitioned by range of its event time column, one partition per
 * period named <table>_p<YYYY[_MM[_DD]]>, and a DEFAULT partition
 * <table>_undated for rows without an event time.  Before rows are written,
 * the periods they fall in get their partitions; a partition of that name
 * that exists is used as it is.
 *
 * A rebuild writes a shadow table created from the same definition: it
 * gets the target's partitions first (so rows route as they would in the
 * target, including the partitions of a target_ddl that was partitioned by
 * hand), and the target gets the shadow's new ones before the rows move.
 *
 * Calls execute.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* The partitions of a table: name and bound ("FOR VALUES ...", "DEFAULT"). */
static List *
partitions_of(Oid relid, List **bounds)
{
	List	   *names = NIL;

	*bounds = NIL;
	exec_sql(psprintf("SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) "
					  "FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
					  "WHERE i.inhparent = %u AND c.relispartition ORDER BY c.relname", relid),
			 SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		*bounds = lappend(*bounds, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}
	return names;
}

/*
 * Gives table "to" a partition for every bound of table "from" that it
 * lacks, named after "to" with the suffix the partition of "from" has after
 * the name of "from" (or, if it has none, "to"_<partition>).
 */
void
partition_copy_bounds(Oid from, Oid to)
{
	List	   *from_bounds;
	List	   *to_bounds;
	List	   *from_names = partitions_of(from, &from_bounds);
	char	   *from_name = get_rel_name(from);
	char	   *to_name = get_rel_name(to);
	char	   *schema = get_namespace_name(get_rel_namespace(to));
	ListCell   *name;
	ListCell   *bound;

	(void) partitions_of(to, &to_bounds);
	forboth(name, from_names, bound, from_bounds)
	{
		const char *partition = lfirst(name);
		size_t		prefix = strlen(from_name);
		char	   *child;

		if (string_list_member(to_bounds, lfirst(bound)))
			continue;
		child = strncmp(partition, from_name, prefix) == 0 ?
			psprintf("%s%s", to_name, partition + prefix) : psprintf("%s_%s", to_name, partition);
		exec_sql(psprintf("CREATE TABLE %s PARTITION OF %s %s", quote_qualified_identifier(schema, child),
						  quote_qualified_identifier(schema, to_name), (char *) lfirst(bound)),
				 SPI_OK_UTILITY);
	}
}

/*
 * SQL of the periods of alias s's event time "column": its start, its end
 * (the next start) and its wall-clock start, in which the name's suffix is
 * written.  A timestamptz's periods are UTC days, months, years.
 */
static char *
period_columns(const char *unit, Oid type, const char *column)
{
	char	   *u = quote_literal_cstr(unit);
	const char *c = quote_identifier(column);
	char	   *step = psprintf("interval '1 %s'", unit);

	if (type == DATEOID)
		return psprintf("date_trunc(%s, s.%s)::date AS p, (date_trunc(%s, s.%s) + %s)::date AS e, "
						"date_trunc(%s, s.%s) AS w", u, c, u, c, step, u, c);
	if (type == TIMESTAMPTZOID)
		return psprintf("date_trunc(%s, s.%s, 'UTC') AS p, "
						"(date_trunc(%s, s.%s AT TIME ZONE 'UTC') + %s) AT TIME ZONE 'UTC' AS e, "
						"date_trunc(%s, s.%s AT TIME ZONE 'UTC') AS w", u, c, u, c, step, u, c);
	return psprintf("date_trunc(%s, s.%s) AS p, date_trunc(%s, s.%s) + %s AS e, date_trunc(%s, s.%s) AS w",
					u, c, u, c, step, u, c);
}

/* The clause a partitioned target is created with. */
char *
partition_clause(EtlDefinition *def)
{
	return psprintf(" PARTITION BY RANGE (%s)", quote_identifier(def->event_time_column));
}

/*
 * Creates the partitions of a fact's target (def->target_quoted, the
 * shadow during a rebuild) that the rows of pg_temp.<stage> need: one per
 * period of their event time, and the DEFAULT one.  Returns how many.
 */
int
partition_for_rows(EtlDefinition *def, const char *stage)
{
	Oid			relid = exec_relation(def->target_quoted);
	char	   *schema = get_namespace_name(get_rel_namespace(relid));
	char	   *table = get_rel_name(relid);
	int32		typmod;
	Oid			type = exec_column_type_oid(def->target_quoted, def->event_time_column, &typmod);
	const char *format = strcmp(def->partition_by, "year") == 0 ? "YYYY" :
		strcmp(def->partition_by, "month") == 0 ? "YYYY_MM" : "YYYY_MM_DD";
	char	   *undated = psprintf("%s_undated", table);
	List	   *periods = NIL;
	ListCell   *lc;
	int			created = 0;

	if (get_relname_relid(undated, get_rel_namespace(relid)) == InvalidOid)
	{
		exec_sql(psprintf("CREATE TABLE %s PARTITION OF %s DEFAULT", quote_qualified_identifier(schema, undated),
						  def->target_quoted),
				 SPI_OK_UTILITY);
		created++;
	}
	exec_sql(psprintf("SELECT DISTINCT p::text, e::text, to_char(w, %s) FROM (SELECT %s FROM pg_temp.%s s) x "
					  "WHERE p IS NOT NULL ORDER BY 1",
					  quote_literal_cstr(format), period_columns(def->partition_by, type, def->event_time_column),
					  stage),
			 SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
		periods = lappend(periods, list_make3(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
											  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2),
											  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3)));
	foreach(lc, periods)
	{
		List	   *period = lfirst(lc);
		char	   *child = psprintf("%s_p%s", table, (char *) lthird(period));

		if (get_relname_relid(child, get_rel_namespace(relid)) != InvalidOid)
			continue;
		exec_sql(psprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)",
						  quote_qualified_identifier(schema, child), def->target_quoted,
						  quote_literal_cstr(linitial(period)), quote_literal_cstr(lsecond(period))),
				 SPI_OK_UTILITY);
		created++;
	}
	return created;
}
