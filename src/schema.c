/*-------------------------------------------------------------------------
 *
 * schema.c
 *		Source schema changes: a dimension's source query returns columns
 *		its target does not have, wider types, or fewer columns.
 *
 * Per dimension, schema_changes says what happens:
 *   fail       (default) the run stops and says what changed;
 *   add_type1  a new column is added and filled on every version;
 *   add_type2  a new column is added and tracked: members get a version.
 * With either add policy a type is widened when no value can be lost
 * (integer to bigint, varchar to text, numeric to a wider numeric), and a
 * column the source no longer returns is kept (new rows get NULL).
 * Nothing is ever dropped.  Each change applied is logged and written to
 * the run's row in pypeline.run_log.  A target made from target_ddl has
 * the types and extra columns its author chose: only new source columns
 * are considered there.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "executor/spi.h"
#include "utils/builtins.h"

static int
integer_rank(const char *type)
{
	if (strcmp(type, "smallint") == 0)
		return 1;
	if (strcmp(type, "integer") == 0)
		return 2;
	if (strcmp(type, "bigint") == 0)
		return 3;
	return 0;
}

/* Does every value of type "from" fit type "to" exactly? */
static bool
widens(const char *from, const char *to)
{
	int			p1,
				s1,
				p2,
				s2;
	static const int integer_digits[] = {0, 5, 10, 19};

	if (strcmp(from, to) == 0)
		return true;
	if (strcmp(to, "text") == 0)
		return strncmp(from, "character", 9) == 0;
	if (strcmp(to, "double precision") == 0)
		return strcmp(from, "real") == 0 || integer_rank(from) == 1 || integer_rank(from) == 2;
	if (integer_rank(from) && integer_rank(to))
		return integer_rank(from) <= integer_rank(to);
	/* MySQL expressions are often DECIMAL(p,0): small ones fit integers */
	if (integer_rank(to) && sscanf(from, "numeric(%d,%d)", &p1, &s1) == 2)
		return s1 == 0 && p1 < integer_digits[integer_rank(to)];
	if (strcmp(to, "numeric") == 0)
		return integer_rank(from) || strncmp(from, "numeric", 7) == 0;
	if (sscanf(to, "numeric(%d,%d)", &p2, &s2) != 2)
		return false;
	if (integer_rank(from))
		return p2 - s2 >= integer_digits[integer_rank(from)];
	if (sscanf(from, "numeric(%d,%d)", &p1, &s1) != 2)
		return false;
	return s2 >= s1 && p2 - s2 >= p1 - s1;
}

/* Columns pypeline adds to a derived dimension, not from the source. */
static bool
is_managed_column(EtlDefinition *def, const char *column)
{
	static const char *const managed[] = {
		COL_VALID_FROM, COL_VALID_TO, COL_VERSION, COL_IS_CURRENT, COL_INFERRED, COL_DELETED, NULL
	};

	if (strcmp(column, def->surrogate_key) == 0)
		return true;
	for (int i = 0; managed[i]; i++)
		if (strcmp(column, managed[i]) == 0)
			return true;
	return false;
}

static void
applied(StringInfo log, const char *fmt, const char *a, const char *b, const char *c)
{
	char	   *line = psprintf(fmt, a, b, c);

	progress_log("%s", line);
	appendStringInfo(log, "%s%s", log->len > 0 ? "; " : "", line);
}

/*
 * Brings an existing target in line with the source's columns, per policy;
 * returns what was done (NULL for nothing).  Added type-1 columns join
 * def->type1_columns for this run.
 */
char *
schema_reconcile(EtlDefinition *def, SourceCursor *cursor, List *columns)
{
	bool		fail = def->schema_changes == SCHEMA_CHANGES_FAIL;
	bool		derived = def->target_ddl == NULL;
	StringInfoData log;
	List	   *target_names = NIL;
	List	   *target_types = NIL;
	ListCell   *lc;

	exec_sql(psprintf("SELECT attname, pg_catalog.format_type(atttypid, atttypmod) "
					  "FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass "
					  "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
					  quote_literal_cstr(def->target_quoted)),
			 SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		target_names = lappend(target_names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		target_types = lappend(target_types, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}

	initStringInfo(&log);
	foreach(lc, columns)
	{
		char	   *column = lfirst(lc);
		char	   *source_type = convert_mapped_type_name(&cursor->columns[source_column_index(cursor, column)]);
		int			i = -1;

		for (int k = 0; k < list_length(target_names); k++)
			if (strcmp(list_nth(target_names, k), column) == 0)
				i = k;

		if (i < 0)
		{
			if (fail)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("source query of dimension \"%s\" returns a new column \"%s\" (%s) that table %s lacks",
								def->name, column, source_type, def->target),
						 errhint("Add it with ALTER TABLE, rebuild the table, or define the dimension with schema_changes => 'add_type1' or 'add_type2'.")));
			exec_sql(psprintf("ALTER TABLE %s ADD COLUMN %s %s", def->target_quoted,
							  quote_identifier(column), source_type), SPI_OK_UTILITY);
			if (def->schema_changes == SCHEMA_CHANGES_ADD_TYPE1 && def->scd_type == 2)
				def->type1_columns = lappend(def->type1_columns, column);
			applied(&log, "added column %s (%s) as %s", column, source_type,
					def->schema_changes == SCHEMA_CHANGES_ADD_TYPE1 ? "type 1" : "type 2");
		}
		else if (derived && !widens(source_type, list_nth(target_types, i)))
		{
			char	   *target_type = list_nth(target_types, i);

			if (!widens(target_type, source_type))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of dimension \"%s\" changed type from %s to %s, which cannot be converted without loss",
								column, def->name, target_type, source_type),
						 errhint("Cast the column in the source query to its old type, or rebuild the table.")));
			if (fail)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of dimension \"%s\" widened from %s to %s in the source",
								column, def->name, target_type, source_type),
						 errhint("ALTER the column's type, rebuild the table, or define the dimension with schema_changes => 'add_type1' or 'add_type2'.")));
			exec_sql(psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", def->target_quoted,
							  quote_identifier(column), source_type), SPI_OK_UTILITY);
			applied(&log, "widened column %s from %s to %s", column, target_type, source_type);
		}
	}

	foreach(lc, derived ? target_names : NIL)
	{
		char	   *column = lfirst(lc);

		if (is_managed_column(def, column) || string_list_member(columns, column))
			continue;
		if (fail)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source query of dimension \"%s\" no longer returns column \"%s\" of table %s",
							def->name, column, def->target),
					 errhint("Restore it in the source query, or define the dimension with schema_changes => 'add_type1' or 'add_type2' to keep the column (new rows get NULL).")));
		applied(&log, "kept column %s, which the source no longer returns%s%s", column, "", "");
	}
	return log.len > 0 ? log.data : NULL;
}
