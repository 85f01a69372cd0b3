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
 * Calls source.c, execute.c, deparse.c and progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* A column type: its OID and typmod, as the relcache and the converters hold them. */
typedef struct ColumnType
{
	Oid			typid;
	int32		typmod;
} ColumnType;

/* 1, 2, 3 for smallint, integer, bigint; 0 for other types */
static int
integer_rank(ColumnType t)
{
	switch (t.typid)
	{
		case INT2OID:
			return 1;
		case INT4OID:
			return 2;
		case INT8OID:
			return 3;
		default:
			return 0;
	}
}

/* Precision and scale of a numeric(p,s); false for unconstrained numeric. */
static bool
numeric_digits(ColumnType t, int *precision, int *scale)
{
	if (t.typid != NUMERICOID || t.typmod < (int32) VARHDRSZ)
		return false;
	*precision = ((t.typmod - VARHDRSZ) >> 16) & 0xFFFF;
	*scale = (t.typmod - VARHDRSZ) & 0xFFFF;
	return true;
}

/* Does every value of type "from" fit type "to" exactly? */
static bool
widens(ColumnType from, ColumnType to)
{
	static const int integer_digits[] = {0, 5, 10, 19};
	int			p1,
				s1,
				p2,
				s2;

	if (from.typid == to.typid && from.typmod == to.typmod)
		return true;
	if (to.typid == TEXTOID)
		return from.typid == BPCHAROID || from.typid == VARCHAROID;
	if (to.typid == FLOAT8OID)
		return from.typid == FLOAT4OID || integer_rank(from) == 1 || integer_rank(from) == 2;
	if (integer_rank(from) && integer_rank(to))
		return integer_rank(from) <= integer_rank(to);
	/* MySQL expressions are often DECIMAL(p,0): small ones fit integers */
	if (integer_rank(to) && numeric_digits(from, &p1, &s1))
		return s1 == 0 && p1 < integer_digits[integer_rank(to)];
	if (to.typid == NUMERICOID && !numeric_digits(to, &p2, &s2))
		return integer_rank(from) || from.typid == NUMERICOID;
	if (to.typid != NUMERICOID)
		return false;
	if (integer_rank(from))
		return p2 - s2 >= integer_digits[integer_rank(from)];
	if (!numeric_digits(from, &p1, &s1))
		return false;
	return s2 >= s1 && p2 - s2 >= p1 - s1;
}

static char *
type_name(ColumnType t)
{
	return format_type_with_typemod(t.typid, t.typmod);
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
	Oid			relid = exec_relation(def->target_quoted);
	StringInfoData log;
	List	   *target_names = exec_table_columns(def->target_quoted);
	ListCell   *lc;

	initStringInfo(&log);
	foreach(lc, columns)
	{
		char	   *column = lfirst(lc);
		ColumnConverter *cc = &cursor->columns[source_column_index(cursor, column)];
		ColumnType	source = {cc->mapped_type, cc->mapped_typmod};
		ColumnType	target;
		Oid			collation;
		AttrNumber	attnum = get_attnum(relid, column);

		if (attnum == InvalidAttrNumber)
		{
			if (fail)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("source query of dimension \"%s\" returns a new column \"%s\" (%s) that table %s lacks",
								def->name, column, type_name(source), def->target),
						 errhint("Add it with ALTER TABLE, rebuild the table, or define the dimension with schema_changes => 'add_type1' or 'add_type2'.")));
			exec_sql(psprintf("ALTER TABLE %s ADD COLUMN %s %s", def->target_quoted,
							  quote_identifier(column), type_name(source)), SPI_OK_UTILITY);
			if (def->schema_changes == SCHEMA_CHANGES_ADD_TYPE1 && def->scd_type == 2)
				def->type1_columns = lappend(def->type1_columns, column);
			applied(&log, "added column %s (%s) as %s", column, type_name(source),
					def->schema_changes == SCHEMA_CHANGES_ADD_TYPE1 ? "type 1" : "type 2");
			continue;
		}
		get_atttypetypmodcoll(relid, attnum, &target.typid, &target.typmod, &collation);
		if (derived && !widens(source, target))
		{
			if (!widens(target, source))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of dimension \"%s\" changed type from %s to %s, which cannot be converted without loss",
								column, def->name, type_name(target), type_name(source)),
						 errhint("Cast the column in the source query to its old type, or rebuild the table.")));
			if (fail)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of dimension \"%s\" widened from %s to %s in the source",
								column, def->name, type_name(target), type_name(source)),
						 errhint("ALTER the column's type, rebuild the table, or define the dimension with schema_changes => 'add_type1' or 'add_type2'.")));
			exec_sql(psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", def->target_quoted,
							  quote_identifier(column), type_name(source)), SPI_OK_UTILITY);
			applied(&log, "widened column %s from %s to %s", column, type_name(target), type_name(source));
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
