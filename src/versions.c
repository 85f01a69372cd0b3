/*-------------------------------------------------------------------------
 *
 * versions.c
 *		Type 2 dimensions: versions from the staged source rows, and members
 *		that disappeared from the source (hard deletes).
 *
 * The staged rows of one member may be its history (several change dates
 * in one run, from an incremental source): they are taken in change-date
 * order and each row whose tracked values differ from the row before it
 * (or, for the first, from the member's latest version) starts a version.
 * Per column, a change rule says what else happens:
 *   type2      (the default) part of the tracked values;
 *   type1_all  overwritten on every version of the member;
 *   type1      overwritten on the current version only;
 *   ignore     the value of the member's first version, kept.
 * Versions are half-open [valid_from, valid_to): the first version of a
 * new member starts at beginning_of_time, a later one at its change date
 * (read as UTC) or the load's transaction time, never before the version
 * it follows.  A member's rows older than its current version are history
 * already loaded and are skipped, but for its latest row, which is always
 * compared with the current version (and for members closed or deleted).
 *
 * A member whose latest version is closed (invalidated) or flagged deleted
 * starts a new version when it comes back, whatever its values.
 *
 * Calls catalog.c, target.c, members.c, execute.c, deparse.c and privilege.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#define SCD_COLUMNS COL_VALID_FROM ", " COL_VALID_TO ", " COL_VERSION ", " COL_IS_CURRENT

/* Where a hard delete closes the version of pypeline_gone g it applies to. */
#define CLOSING_INSTANT "greatest(g.pypeline_closed_at, g.valid_from + interval '1 microsecond')"

/*
 * SQL for a staged row's change instant, as "since" of a new version.
 */
static char *
change_instant(EtlDefinition *def, SourceCursor *cursor)
{
	if (def->change_date_column == NULL)
		return "now()";
	return psprintf("coalesce(%s, now())", deparse_utc_instant(cursor, def->change_date_column));
}

/*
 * The latest version of each staged member, whatever its state; returns how
 * many members the source shares with the dimension.  Unless
 * members can be closed (deletes => 'invalidate'), every member has exactly
 * one current version (the unique index says so), which is its latest: a
 * semi-join finds them without sorting the dimension.
 */
static uint64
collect_latest_versions(EtlDefinition *def, const char *stage, List *tracked, bool has_deleted)
{
	char	   *key = deparse_columns(def->natural_key, "t");
	char	   *columns = psprintf("t.%s AS pypeline_key, t.version AS pypeline_version, "
								   "t.valid_from AS pypeline_from, t.valid_to AS pypeline_to, "
								   "t.is_current AS pypeline_current, t.is_current AND NOT %s AS pypeline_open, "
								   "%s%s%s",
								   quote_identifier(def->surrogate_key),
								   has_deleted ? "t.deleted" : "false",
								   key, tracked != NIL || def->ignored_columns != NIL ? ", " : "",
								   deparse_columns(list_concat_copy(tracked, def->ignored_columns), "t"));

	if (def->deletes != DELETES_INVALIDATE)
		return exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_latest ON COMMIT DROP AS "
						  "SELECT %s FROM %s t WHERE t.is_current AND (%s) IN (SELECT %s FROM pg_temp.%s)",
						  columns, def->target_quoted, key,
						  deparse_columns(def->natural_key, NULL), stage),
				 SPI_OK_UTILITY);
	else
		return exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_latest ON COMMIT DROP AS "
						  "SELECT DISTINCT ON (%s) %s "
						  "FROM %s t WHERE EXISTS (SELECT 1 FROM pg_temp.%s s WHERE %s) "
						  "ORDER BY %s, t.version DESC",
						  key, columns, def->target_quoted, stage,
						  deparse_join(def->natural_key, "t", def->natural_key, "s"),
						  key),
				 SPI_OK_UTILITY);
}

/*
 * The staged rows that start a version, with where each version starts.
 */
static void
collect_changes(EtlDefinition *def, SourceCursor *cursor, const char *stage,
				List *attributes, List *tracked)
{
	char	   *skey = deparse_columns(def->natural_key, "s");
	StringInfoData columns;
	ListCell   *lc;

	/* attributes, with ignored columns from the member's first version */
	initStringInfo(&columns);
	foreach(lc, attributes)
	{
		const char *col = quote_identifier(lfirst(lc));

		if (string_list_member(def->ignored_columns, lfirst(lc)))
			appendStringInfo(&columns, ", CASE WHEN l.pypeline_key IS NULL "
							 "THEN first_value(s.%s) OVER w ELSE l.%s END AS %s", col, col, col);
		else
			appendStringInfo(&columns, ", s.%s", col);
	}

	/*
	 * pypeline_start is where a row's version would start: a new member's
	 * first version at beginning_of_time, a later one at its change
	 * instant; a member's next version at its change instant if that is
	 * after the current version's start, else at the load's time (but never
	 * at or before that start); a member that comes back after its latest
	 * version was closed at its change instant if that is after the close,
	 * else at the load's time, so the period it was absent stays a gap.
	 * The versions of a member in one run then start where the rows say,
	 * each pushed to a microsecond after the one before if it would not be
	 * later: no interval is ever empty, reversed or overlapping.
	 */
	exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_changes ON COMMIT DROP AS "
					  "SELECT %s%s, pypeline_key, pypeline_version, pypeline_moved, "
					  "  max(pypeline_start - pypeline_m * interval '1 microsecond') OVER v "
					  "    + pypeline_m * interval '1 microsecond' AS pypeline_since "
					  "FROM (SELECT *, row_number() OVER (PARTITION BY %s ORDER BY pypeline_n) AS pypeline_m FROM ("
					  "  SELECT %s%s, l.pypeline_key, l.pypeline_version, l.pypeline_open, "
					  "    CASE WHEN l.pypeline_key IS NULL AND row_number() OVER w = 1 THEN %s::timestamptz "
					  "         WHEN l.pypeline_key IS NULL THEN s.pypeline_instant "
					  "         WHEN l.pypeline_current AND s.pypeline_instant <= l.pypeline_from "
					  "           THEN greatest(now(), l.pypeline_from + interval '1 microsecond') "
					  "         WHEN l.pypeline_current THEN s.pypeline_instant "
					  "         WHEN s.pypeline_instant > l.pypeline_to THEN s.pypeline_instant "
					  "         ELSE greatest(now(), l.pypeline_to) END AS pypeline_start, "
					  "    %s AND l.pypeline_current AND s.pypeline_instant <= l.pypeline_from "
					  "      AND l.pypeline_from >= now() AS pypeline_moved, "
					  "    row_number() OVER w AS pypeline_n, "
					  "    ROW(%s) IS DISTINCT FROM lag(ROW(%s)) OVER w AS pypeline_differs_from_previous, "
					  "    ROW(%s) IS DISTINCT FROM ROW(%s) AS pypeline_differs_from_latest "
					  "  FROM (SELECT s.*, row_number() OVER (PARTITION BY %s ORDER BY s.pypeline_instant DESC) = 1 "
					  "          AS pypeline_last "
					  "        FROM (SELECT *, %s AS pypeline_instant FROM pg_temp.%s s) s) s "
					  "  LEFT JOIN pg_temp.pypeline_latest l ON %s "
					  "  WHERE l.pypeline_key IS NULL OR NOT l.pypeline_open OR s.pypeline_last "
					  "     OR s.pypeline_instant >= l.pypeline_from "
					  "  WINDOW w AS (PARTITION BY %s ORDER BY s.pypeline_instant)"
					  ") x "
					  "WHERE CASE WHEN pypeline_n > 1 THEN pypeline_differs_from_previous "
					  "           ELSE pypeline_key IS NULL OR NOT pypeline_open OR pypeline_differs_from_latest END"
					  ") y WINDOW v AS (PARTITION BY %s ORDER BY pypeline_m ROWS UNBOUNDED PRECEDING)",
					  deparse_columns(def->natural_key, NULL),
					  attributes != NIL ? psprintf(", %s", deparse_columns(attributes, NULL)) : "",
					  deparse_columns(def->natural_key, NULL),
					  skey, columns.data,
					  quote_literal_cstr(def->beginning_of_time),
					  def->change_date_column ? "true" : "false",
					  deparse_row(tracked, "s"), deparse_row(tracked, "s"),
					  deparse_row(tracked, "s"), deparse_row(tracked, "l"),
					  skey, change_instant(def, cursor), stage,
					  deparse_join(def->natural_key, "l", def->natural_key, "s"),
					  skey, deparse_columns(def->natural_key, NULL)),
			 SPI_OK_UTILITY);
}

/*
 * Overwrites, in place, the type1_all columns on every version and the
 * type1 columns on the current one, from each member's latest source row.
 * Returns the members changed.
 */
static void
overwrite_in_place(EtlDefinition *def, const char *latest_source)
{
	char	   *key_match = deparse_join(def->natural_key, "t", def->natural_key, "s");

	if (def->type1_columns != NIL)
		exec_sql(psprintf("UPDATE %s t SET %s FROM pg_temp.%s s WHERE %s AND %s",
						  def->target_quoted, deparse_set_list(def->type1_columns), latest_source,
						  key_match, deparse_differs(def->type1_columns)),
				 SPI_OK_UPDATE);
	if (def->current_only_columns != NIL)
		exec_sql(psprintf("UPDATE %s t SET %s FROM pg_temp.%s s WHERE %s AND t.is_current AND %s",
						  def->target_quoted, deparse_set_list(def->current_only_columns), latest_source,
						  key_match, deparse_differs(def->current_only_columns)),
				 SPI_OK_UPDATE);
}

/*
 * A version that starts in the past (a late change, history loaded now)
 * takes over facts whose event time falls in it, and a version whose
 * interval shrank (a change, a hard delete) gives them up: the facts of the
 * members in the work table "members" whose version no longer covers their
 * event time are re-keyed to the version that does, or to the unknown
 * member if none does (the member was absent then).  Facts that do not keep
 * their event time cannot be re-keyed.
 */
static void
rekey_facts(EtlDefinition *def, const char *members)
{
	const char *sk = quote_identifier(def->surrogate_key);
	ListCell   *lc;

	foreach(lc, catalog_facts_using(def->name))
	{
		EtlDefinition *fact = catalog_get_etl(ETL_FACT, lfirst(lc), false);
		RoleSwitch	as_fact_owner;
		int32		typmod;
		char	   *event;
		char	   *in_version;

		/* the fact table is written with its own owner's rights */
		if (fact->owner != def->owner)
			exec_sql(psprintf("GRANT SELECT ON pg_temp.%s TO %s", members,
							  quote_identifier(privilege_role_name(fact->owner))), SPI_OK_UTILITY);
		privilege_become(&as_fact_owner, fact->owner, false);
		if (fact->event_time_column == NULL || !OidIsValid(target_open(fact)) ||
			!string_list_member(exec_table_columns(fact->target_quoted), fact->event_time_column) ||
			!string_list_member(exec_table_columns(fact->target_quoted), def->surrogate_key))
		{
			privilege_restore(&as_fact_owner);
			continue;
		}
		event = exec_column_type_oid(fact->target_quoted, fact->event_time_column, &typmod) == TIMESTAMPTZOID ?
			psprintf("f.%s", quote_identifier(fact->event_time_column)) :
			psprintf("(CAST(f.%s AS timestamp) AT TIME ZONE 'UTC')", quote_identifier(fact->event_time_column));
		in_version = "%s >= %s.valid_from AND %s < %s.valid_to";
		exec_sql(psprintf("UPDATE %s f SET %s = coalesce((SELECT v.%s FROM %s v WHERE %s AND %s LIMIT 1), -1) "
						  "FROM %s o WHERE f.%s = o.%s AND NOT (%s) "
						  "AND (%s) IN (SELECT %s FROM pg_temp.%s)",
						  fact->target_quoted, sk, sk, def->target_quoted,
						  deparse_join(def->natural_key, "o", def->natural_key, "v"),
						  psprintf(in_version, event, "v", event, "v"),
						  def->target_quoted, sk, sk,
						  psprintf(in_version, event, "o", event, "o"),
						  deparse_columns(def->natural_key, "o"),
						  deparse_columns(def->natural_key, NULL), members),
				 SPI_OK_UPDATE);
		privilege_restore(&as_fact_owner);
	}
}

/*
 * Says (NOTICE, and in the run log's message) that instants were moved to
 * keep a member's versions in order.
 */
static void
note_moved(EtlDefinition *def, LoadCounts *counts, uint64 moved, const char *one, const char *many)
{
	char	   *line = psprintf("%llu %s", (unsigned long long) moved, moved == 1 ? one : many);

	ereport(NOTICE,
			(errmsg("dimension \"%s\": %s", def->name, line),
			 errhint("A version never starts before the one it follows; check the source's dates.")));
	counts->message = counts->message ? psprintf("%s; %s", counts->message, line) : line;
}

void
versions_merge(EtlDefinition *def, SourceCursor *cursor, const char *stage, List *attributes,
			   bool has_inferred, bool has_deleted, LoadCounts *counts)
{
	List	   *in_place = list_concat_copy(def->type1_columns, def->current_only_columns);
	bool		in_place_work = in_place != NIL || has_inferred;
	uint64		existing;		/* staged members the dimension has */
	uint64		moved;
	List	   *tracked = NIL;
	char	   *key = deparse_columns(def->natural_key, NULL);
	char	   *skey = deparse_columns(def->natural_key, "s");
	ListCell   *lc;

	foreach(lc, attributes)
		if (!string_list_member(in_place, lfirst(lc)) &&
			!string_list_member(def->ignored_columns, lfirst(lc)))
			tracked = lappend(tracked, lfirst(lc));

	/*
	 * In-place columns and inferred members take each member's latest
	 * source row; without a change date the natural key check left one row
	 * per member already.  The members changed in place are counted before
	 * anything is written.
	 */
	if (in_place_work)
	{
		if (def->change_date_column)
			exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_latest_source ON COMMIT DROP AS "
							  "SELECT DISTINCT ON (%s) * FROM pg_temp.%s s ORDER BY %s, %s DESC",
							  skey, stage, skey, change_instant(def, cursor)),
					 SPI_OK_UTILITY);
		else
			exec_sql(psprintf("CREATE TEMPORARY VIEW pg_temp.pypeline_latest_source AS SELECT * FROM pg_temp.%s", stage),
					 SPI_OK_UTILITY);
		exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_touched ON COMMIT DROP AS "
						  "SELECT %s FROM pg_temp.pypeline_latest_source s JOIN %s t ON %s "
						  "WHERE t.is_current AND (%s%s)",
						  skey, def->target_quoted,
						  deparse_join(def->natural_key, "t", def->natural_key, "s"),
						  deparse_differs(in_place), has_inferred ? " OR t.inferred" : ""),
				 SPI_OK_UTILITY);
		if (has_inferred)
			members_complete_inferred(def, "pg_temp.pypeline_latest_source", attributes);
	}

	existing = collect_latest_versions(def, stage, tracked, has_deleted);
	exec_sql("ANALYZE pg_temp.pypeline_latest", SPI_OK_UTILITY);

	/*
	 * Only rows that may start a version go through the versioning query:
	 * a member's single row equal to its open current version cannot.  A
	 * member with several rows (history) keeps them all.
	 */
	exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_candidates ON COMMIT DROP AS "
					  "SELECT s.* FROM pg_temp.%s s LEFT JOIN pg_temp.pypeline_latest l ON %s "
					  "WHERE l.pypeline_key IS NULL OR NOT l.pypeline_open "
					  "   OR ROW(%s) IS DISTINCT FROM ROW(%s)%s",
					  stage, deparse_join(def->natural_key, "l", def->natural_key, "s"),
					  deparse_row(tracked, "s"), deparse_row(tracked, "l"),
					  def->change_date_column ?
					  psprintf(" OR (%s) IN (SELECT %s FROM pg_temp.%s GROUP BY %s HAVING count(*) > 1)",
							   skey, key, stage, key) : ""),
			 SPI_OK_UTILITY);
	exec_sql("ANALYZE pg_temp.pypeline_candidates", SPI_OK_UTILITY);
	collect_changes(def, cursor, "pypeline_candidates", attributes, tracked);

	/* close each changed member's current version where its next one starts */
	exec_sql(psprintf("UPDATE %s t SET valid_to = c.first_since, is_current = false "
					  "FROM (SELECT pypeline_key, min(pypeline_since) AS first_since "
					  "      FROM pg_temp.pypeline_changes WHERE pypeline_key IS NOT NULL GROUP BY pypeline_key) c "
					  "WHERE t.%s = c.pypeline_key AND t.is_current",
					  def->target_quoted, quote_identifier(def->surrogate_key)),
			 SPI_OK_UPDATE);
	exec_sql(psprintf("INSERT INTO %s (%s%s%s, " SCD_COLUMNS ") "
					  "SELECT %s%s%s, c.pypeline_since, "
					  "  coalesce(lead(c.pypeline_since) OVER w, %s::timestamptz), "
					  "  coalesce(c.pypeline_version, 0) + row_number() OVER w, "
					  "  lead(c.pypeline_since) OVER w IS NULL "
					  "FROM pg_temp.pypeline_changes c WINDOW w AS (PARTITION BY %s ORDER BY c.pypeline_since)",
					  def->target_quoted, key, attributes != NIL ? ", " : "",
					  deparse_columns(attributes, NULL),
					  deparse_columns(def->natural_key, "c"), attributes != NIL ? ", " : "",
					  deparse_columns(attributes, "c"),
					  quote_literal_cstr(def->end_of_time),
					  deparse_columns(def->natural_key, "c")),
			 SPI_OK_INSERT);


	/*
	 * Only now that the versions this run closes keep what they held, and
	 * the new ones exist: type1 columns on the current version, type1_all
	 * on every version, the new ones included.
	 */
	if (in_place_work)
		overwrite_in_place(def, "pypeline_latest_source");

	moved = exec_count("SELECT count(*) FROM pg_temp.pypeline_changes WHERE pypeline_moved");
	if (moved > 0)
		note_moved(def, counts, moved,
				   "change was dated before the start of its member's current version, in the future: it takes effect just after that start",
				   "changes were dated before the start of their member's current version, in the future: they take effect just after that start");

	rekey_facts(def, "pypeline_changes");

	counts->inserted = exec_count(psprintf("SELECT count(*) FROM (SELECT DISTINCT %s FROM pg_temp.pypeline_changes "
										  "WHERE pypeline_key IS NULL) x", key));
	counts->updated = exec_count(psprintf("SELECT count(*) FROM (SELECT DISTINCT %s FROM pg_temp.pypeline_changes "
										 "WHERE pypeline_key IS NOT NULL%s) x",
										 key, in_place_work ?
										 psprintf(" UNION SELECT %s FROM pg_temp.pypeline_touched", key) : ""));
	counts->unchanged = existing - counts->updated;

	if (in_place_work)
	{
		exec_sql(psprintf("DROP %s pg_temp.pypeline_latest_source", def->change_date_column ? "TABLE" : "VIEW"),
				 SPI_OK_UTILITY);
		exec_sql("DROP TABLE pg_temp.pypeline_touched", SPI_OK_UTILITY);
	}
	exec_sql("DROP TABLE pg_temp.pypeline_latest, pg_temp.pypeline_candidates, pg_temp.pypeline_changes", SPI_OK_UTILITY);
}

/*
 * Members whose natural key the (full) source no longer returns: their
 * current version is closed (invalidate) or followed by a version flagged
 * deleted (new_record).  Members already closed or deleted are left alone,
 * so reruns add nothing.  "missing_keys", when not NULL, names a table of the
 * keys missing from the source (the stage then holds only changed rows);
 * its column pypeline_closed_at, if it has one, says when each key left
 * (a captured delete), else they left at the load's time.
 * A run that would do this to more than
 * max_closed_fraction of the current members is refused: an empty or
 * truncated source must not wipe the dimension.  Returns the members closed.
 */
uint64
versions_close_deleted(EtlDefinition *def, const char *stage, const char *missing_keys, bool has_deleted,
					   LoadCounts *counts)
{
	char	   *live = psprintf("t.is_current AND t.%s <> -1 AND NOT %s%s",
								quote_identifier(def->surrogate_key),
								has_deleted ? "t.deleted" : "false",
								string_list_member(exec_table_columns(def->target_quoted), COL_INFERRED) ?
								" AND NOT t.inferred" : "");
	char	   *gone = missing_keys ?
		psprintf("%s AND EXISTS (SELECT 1 FROM pg_temp.%s s WHERE %s)", live, missing_keys,
				 deparse_join(def->natural_key, "t", def->natural_key, "s")) :
		psprintf("%s AND NOT EXISTS (SELECT 1 FROM pg_temp.%s s WHERE %s)", live, stage,
				 deparse_join(def->natural_key, "t", def->natural_key, "s"));
	uint64		missing = exec_count(psprintf("SELECT count(*) FROM %s t WHERE %s", def->target_quoted, gone));
	uint64		current;
	uint64		moved;

	if (missing == 0)
		return 0;
	current = exec_count(psprintf("SELECT count(*) FROM %s t WHERE %s", def->target_quoted, live));
	if ((double) missing > def->max_closed_fraction * (double) current)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("refusing to close %llu of the %llu current members of dimension \"%s\"",
						(unsigned long long) missing, (unsigned long long) current, def->name),
				 errdetail("Their natural keys are missing from the source, and max_closed_fraction is %g.",
						   def->max_closed_fraction),
				 errhint("If the source really lost them, raise max_closed_fraction for this dimension with pypeline.define_dimension; otherwise check the source query.")));
	if (def->deletes == DELETES_NEW_RECORD && !has_deleted)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s of dimension \"%s\" has no column \"deleted\" for deletes => 'new_record'",
						def->target, def->name),
				 errhint("ALTER TABLE %s ADD COLUMN deleted boolean NOT NULL DEFAULT false.", def->target_quoted)));

	exec_sql(psprintf("CREATE TEMPORARY TABLE pg_temp.pypeline_gone ON COMMIT DROP AS "
					  "SELECT t.*, %s AS pypeline_closed_at FROM %s t WHERE %s",
					  missing_keys && string_list_member(exec_table_columns(psprintf("pg_temp.%s", missing_keys)),
														 "pypeline_closed_at") ?
					  psprintf("(SELECT s.pypeline_closed_at FROM pg_temp.%s s WHERE %s)", missing_keys,
							   deparse_join(def->natural_key, "t", def->natural_key, "s")) :
					  "now()",
					  def->target_quoted, gone),
			 SPI_OK_UTILITY);
	/* never at or before the start of the version closed (one in the future) */
	moved = exec_count("SELECT count(*) FROM pg_temp.pypeline_gone WHERE valid_from >= pypeline_closed_at");
	if (moved > 0)
		note_moved(def, counts, moved,
				   "member left the source before its current version starts, in the future: it is closed just after that start",
				   "members left the source before their current version starts, in the future: they are closed just after that start");
	exec_sql(psprintf("UPDATE %s t SET valid_to = " CLOSING_INSTANT ", is_current = false "
					  "FROM pg_temp.pypeline_gone g WHERE t.%s = g.%s",
					  def->target_quoted, quote_identifier(def->surrogate_key),
					  quote_identifier(def->surrogate_key)),
			 SPI_OK_UPDATE);
	if (def->deletes == DELETES_NEW_RECORD)
	{
		List	   *copied = NIL;
		ListCell   *lc;

		foreach(lc, exec_table_columns(def->target_quoted))
		{
			char	   *column = lfirst(lc);

			if (strcmp(column, def->surrogate_key) != 0 && strcmp(column, COL_VALID_FROM) != 0 &&
				strcmp(column, COL_VALID_TO) != 0 && strcmp(column, COL_VERSION) != 0 &&
				strcmp(column, COL_IS_CURRENT) != 0 && strcmp(column, COL_DELETED) != 0)
				copied = lappend(copied, column);
		}
		exec_sql(psprintf("INSERT INTO %s (%s, " SCD_COLUMNS ", deleted) "
						  "SELECT %s, " CLOSING_INSTANT ", %s::timestamptz, g.version + 1, true, true FROM pg_temp.pypeline_gone g",
						  def->target_quoted, deparse_columns(copied, NULL),
						  deparse_columns(copied, "g"), quote_literal_cstr(def->end_of_time)),
				 SPI_OK_INSERT);
	}
	rekey_facts(def, "pypeline_gone");
	exec_sql("DROP TABLE pg_temp.pypeline_gone", SPI_OK_UTILITY);
	return missing;
}
