/*-------------------------------------------------------------------------
 *
 * partition.c
 *		Partitioned targets: the range partitions a fact's rows need
 *		(partition_by), created in the transaction that writes the rows, and
 *		the partitions a rebuild's shadow table shares with its target.
 *
 * A fact defined with partition_by => 'day' | 'month' | 'year' gets a
 * target partitioned by range of its event time column, one partition per
 * period named <table>_p<YYYY[_MM[_DD]]> (the table's part cut to keep the
 * name within NAMEDATALEN), and a DEFAULT partition <table>_undated for rows
 * without a finite event time, which a CHECK keeps to those (so adding a
 * period need not scan it, and a row that should have had its period is an
 * error, never silently undated).  Before rows are written, the periods they
 * fall in get their partitions: made as tables, then attached, which takes
 * a lock readers do not wait for.  A relation of a partition's name that is
 * not that partition stops the load.  Bounds are written with DateStyle ISO
 * and TimeZone UTC, whatever the session has.
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
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/*
 * <table><suffix> within NAMEDATALEN: the table's part is cut (on a
 * character boundary), the suffix kept, so the names of two periods differ.
 */
static char *
partition_name(const char *table, const char *suffix)
{
	int			room = NAMEDATALEN - 1 - (int) strlen(suffix);
	int			keep;

	if (room < 1)
		return pnstrdup(psprintf("%s%s", table, suffix),
						pg_mbcliplen(psprintf("%s%s", table, suffix), strlen(table) + strlen(suffix), NAMEDATALEN - 1));
	keep = pg_mbcliplen(table, strlen(table), room);
	return psprintf("%.*s%s", keep, table, suffix);
}

/*
 * Whether "name" in the table's schema is one of its partitions; a
 * relation of that name that is not stops the load, which would otherwise
 * send the period's rows elsewhere.
 */
static bool
has_partition(Oid relid, const char *name)
{
	Oid			child = get_relname_relid(name, get_rel_namespace(relid));

	if (!OidIsValid(child))
		return false;
	if (exec_count(psprintf("SELECT count(*) FROM pg_catalog.pg_inherits WHERE inhrelid = %u AND inhparent = %u",
							child, relid)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s exists but is not a partition of table %s", name, get_rel_name(relid)),
				 errdetail("pypeline would put the rows of its period there."),
				 errhint("Attach it back (ALTER TABLE ... ATTACH PARTITION), or rename it to keep it apart.")));
	return true;
}

/* DateStyle ISO and TimeZone UTC until restore_settings: bounds read back as written. */
static int
pin_settings(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

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
 * lacks, named after "to" with what the partition's name adds to the part
 * it shares with the name of "from".
 */
void
partition_copy_bounds(Oid from, Oid to)
{
	int			level = pin_settings();
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
		size_t		prefix = 0;
		char	   *child;

		if (string_list_member(to_bounds, lfirst(bound)))
			continue;
		/* what the partition's name adds to (the cut part of) its table's */
		while (partition[prefix] && partition[prefix] == from_name[prefix])
			prefix++;
		child = partition_name(to_name, partition[prefix] ? partition + prefix : "_1");
		exec_sql(psprintf("CREATE TABLE %s PARTITION OF %s %s", quote_qualified_identifier(schema, child),
						  quote_qualified_identifier(schema, to_name), (char *) lfirst(bound)),
				 SPI_OK_UTILITY);
	}
	AtEOXact_GUC(true, level);
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
						"date_trunc(%s, s.%s) AS w, isfinite(s.%s) AS f", u, c, u, c, step, u, c, c);
	if (type == TIMESTAMPTZOID)
		return psprintf("date_trunc(%s, s.%s, 'UTC') AS p, "
						"(date_trunc(%s, s.%s AT TIME ZONE 'UTC') + %s) AT TIME ZONE 'UTC' AS e, "
						"date_trunc(%s, s.%s AT TIME ZONE 'UTC') AS w, isfinite(s.%s) AS f", u, c, u, c, step, u, c, c);
	return psprintf("date_trunc(%s, s.%s) AS p, date_trunc(%s, s.%s) + %s AS e, date_trunc(%s, s.%s) AS w, "
					"isfinite(s.%s) AS f", u, c, u, c, step, u, c, c);
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
	char	   *column = pstrdup(quote_identifier(def->event_time_column));
	char	   *undated = partition_name(table, "_undated");
	List	   *periods = NIL;
	ListCell   *lc;
	int			created = 0;
	int			level;

	if (type != DATEOID && type != TIMESTAMPOID && type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("fact \"%s\" is partitioned by day, month or year of column \"%s\", which is of type %s",
						def->name, def->event_time_column, format_type_be(type)),
				 errhint("partition_by needs an event time of type date, timestamp or timestamptz.")));
	level = pin_settings();
	if (!has_partition(relid, undated))
	{
		exec_sql(psprintf("CREATE TABLE %s PARTITION OF %s (CHECK (%s IS NULL OR NOT isfinite(%s))) DEFAULT",
						  quote_qualified_identifier(schema, undated), def->target_quoted, column, column),
				 SPI_OK_UTILITY);
		created++;
	}
	exec_sql(psprintf("SELECT DISTINCT p::text, e::text, to_char(w, %s) || CASE WHEN w < '0001-01-01' THEN '_bc' ELSE '' END "
					  "FROM (SELECT %s FROM pg_temp.%s s) x WHERE p IS NOT NULL AND f ORDER BY 1",
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
		char	   *child = partition_name(table, psprintf("_p%s", (char *) lthird(period)));
		char	   *quoted = quote_qualified_identifier(schema, child);
		char	   *from = quote_literal_cstr(linitial(period));
		char	   *to = quote_literal_cstr(lsecond(period));

		if (has_partition(relid, child))
			continue;

		/*
		 * Made beside the table and attached: CREATE ... PARTITION OF would
		 * lock the table against its readers until the load commits.  The
		 * CHECK, the bound itself, spares the attach a scan.
		 */
		exec_sql(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS, CHECK (%s >= %s AND %s < %s))",
						  quoted, def->target_quoted, column, from, column, to),
				 SPI_OK_UTILITY);
		exec_sql(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%s) TO (%s)",
						  def->target_quoted, quoted, from, to),
				 SPI_OK_UTILITY);
		created++;
	}
	AtEOXact_GUC(true, level);
	return created;
}
