/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		The pieces of PostgreSQL SQL text the loaders put together: column
 *		lists, join conditions, SET lists, change tests, instants; and the
 *		lists of column names they are made from.
 *
 * Every name is quoted with quote_identifier; the loaders put the pieces
 * into whole statements with psprintf, naming tables by schema-qualified
 * quoted names (targets) or pg_temp.<name> (work tables), so no statement
 * depends on a search_path.  MySQL text is source.c's.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

/* "a, b" or, with an alias, "p.a, p.b" */
char *
deparse_columns(List *columns, const char *alias)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		if (alias)
			appendStringInfo(&buf, "%s.", alias);
		appendStringInfoString(&buf, quote_identifier(lfirst(lc)));
	}
	return buf.data;
}

/* deparse_columns, or "NULL" for no columns: for ROW(...) comparisons */
char *
deparse_row(List *columns, const char *alias)
{
	return columns == NIL ? "NULL" : deparse_columns(columns, alias);
}

/* "s.a IS NULL OR s.b IS NULL": a row missing one of the columns */
char *
deparse_any_null(List *columns, const char *alias)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s.%s IS NULL", buf.len > 0 ? " OR " : "", alias, quote_identifier(lfirst(lc)));
	return buf.data;
}

/* "l.a = r.x AND l.b = r.y" */
char *
deparse_join(List *left, const char *left_alias, List *right, const char *right_alias)
{
	StringInfoData buf;
	ListCell   *l;
	ListCell   *r;

	initStringInfo(&buf);
	forboth(l, left, r, right)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, " AND ");
		appendStringInfo(&buf, "%s.%s = %s.%s",
						 left_alias, quote_identifier(lfirst(l)),
						 right_alias, quote_identifier(lfirst(r)));
	}
	return buf.data;
}

/* "a = s.a, b = s.b" for UPDATE ... SET */
char *
deparse_set_list(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s = s.%s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc)), quote_identifier(lfirst(lc)));
	return buf.data;
}

/* "ROW(t.a, t.b) IS DISTINCT FROM ROW(s.a, s.b)"; false for no columns */
char *
deparse_differs(List *columns)
{
	if (columns == NIL)
		return "false";
	return psprintf("ROW(%s) IS DISTINCT FROM ROW(%s)",
					deparse_columns(columns, "t"), deparse_columns(columns, "s"));
}

/*
 * The instant held by staged column "s.<column>": timestamptz as it is;
 * DATETIME and DATE values, which carry no zone, read as UTC like the MySQL
 * connection.
 */
char *
deparse_utc_instant(SourceCursor *cursor, const char *column)
{
	for (int i = 0; i < cursor->ncolumns; i++)
		if (strcmp(cursor->columns[i].name, column) == 0 &&
			cursor->columns[i].mapped_type == TIMESTAMPTZOID)
			return psprintf("s.%s", quote_identifier(column));
	return psprintf("(CAST(s.%s AS timestamp) AT TIME ZONE 'UTC')", quote_identifier(column));
}

/* ---- lists of column names ---- */

/* The position of a name in a list of names, -1 if it is not there. */
int
string_list_position(List *list, const char *value)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), value) == 0)
			return foreach_current_index(lc);
	return -1;
}

bool
string_list_member(List *list, const char *value)
{
	return string_list_position(list, value) >= 0;
}

/* The names of "all" that are not in "remove", in order. */
List *
string_list_difference(List *all, List *remove)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, all)
		if (!string_list_member(remove, lfirst(lc)))
			result = lappend(result, lfirst(lc));
	return result;
}
