/*-------------------------------------------------------------------------
 *
 * members.c
 *		The members of a dimension that no source row made: the unknown
 *		member (key -1) of every dimension, and inferred members, which a
 *		fact adds for keys its dimension lacks and the dimension's next load
 *		completes in place.
 *
 * Both are placeholders: every NOT NULL column gets a value ('Unknown' for
 * text, -1 for numbers, false, -infinity, an empty array) or its default;
 * a column that takes none of these is an error saying it needs a default.
 *
 * Calls execute.c and deparse.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* A value of a type category that every NOT NULL column of it accepts, or NULL. */
static const char *
placeholder_of(Oid typid)
{
	char		category;
	bool		preferred;

	get_type_category_preferred(getBaseType(typid), &category, &preferred);
	switch (category)
	{
		case TYPCATEGORY_STRING:
			return "'Unknown'";
		case TYPCATEGORY_NUMERIC:
			return "-1";
		case TYPCATEGORY_BOOLEAN:
			return "false";
		case TYPCATEGORY_DATETIME:
			/* time has no infinity */
			return getBaseType(typid) == TIMEOID || getBaseType(typid) == TIMETZOID ? NULL : "'-infinity'";
		case TYPCATEGORY_TIMESPAN:
			return "'0'";
		case TYPCATEGORY_ARRAY:
			return "'{}'";
		default:
			return NULL;
	}
}

/*
 * Column names and SQL values of a placeholder member of a dimension: the
 * unknown member (key_exprs NIL: key -1) or an inferred member (natural key
 * from the given expressions, surrogate key generated).  Each value is cast
 * to its column's type, so the values also serve in SELECT DISTINCT.
 */
static void
placeholder(EtlDefinition *dim, List *key_exprs, StringInfo names, StringInfo values)
{
	bool		unknown = key_exprs == NIL;
	Relation	rel = relation_open(exec_relation(dim->target_quoted), AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const char *name = NameStr(att->attname);
		int			key = string_list_position(dim->natural_key, name);
		bool		has_default = att->atthasdef || att->attidentity || att->attgenerated;
		const char *value = NULL;

		if (att->attisdropped)
			continue;
		if (strcmp(name, dim->surrogate_key) == 0)
			value = unknown ? "-1" : NULL;
		else if (key >= 0 && !unknown)
			value = list_nth(key_exprs, key);
		else if (dim->scd_type == 2 && strcmp(name, COL_VALID_FROM) == 0)
			value = quote_literal_cstr(dim->beginning_of_time);
		else if (dim->scd_type == 2 && strcmp(name, COL_VALID_TO) == 0)
			value = quote_literal_cstr(dim->end_of_time);
		else if (dim->scd_type == 2 && strcmp(name, COL_VERSION) == 0)
			value = "1";
		else if (dim->scd_type == 2 && strcmp(name, COL_IS_CURRENT) == 0)
			value = "true";
		else if (strcmp(name, COL_INFERRED) == 0)
			value = unknown ? "false" : "true";
		else if (strcmp(name, COL_DELETED) == 0)
			value = "false";
		else if (key >= 0 && !att->attnotnull)
			value = NULL;		/* the unknown member has no natural key */
		else if (TypeCategory(getBaseType(att->atttypid)) == TYPCATEGORY_STRING)
			value = "'Unknown'";	/* nullable text too: the member's name says it */
		else if (!att->attnotnull || has_default)
			value = NULL;
		else if ((value = placeholder_of(att->atttypid)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cannot make the %s member of dimension \"%s\": column \"%s\" (%s) is NOT NULL and has no default",
							unknown ? "unknown" : "inferred", dim->name, name,
							format_type_with_typemod(att->atttypid, att->atttypmod)),
					 errhint("Give the column a DEFAULT in the target DDL, or make it nullable.")));
		if (value == NULL)
			continue;
		if (names->len > 0)
		{
			appendStringInfoString(names, ", ");
			appendStringInfoString(values, ", ");
		}
		appendStringInfoString(names, quote_identifier(name));
		appendStringInfo(values, "CAST(%s AS %s)", value,
						 format_type_with_typemod(att->atttypid, att->atttypmod));
	}
	relation_close(rel, AccessShareLock);
}

/* The unknown member, key -1, in a table just created. */
void
members_insert_unknown(EtlDefinition *dim)
{
	StringInfoData names;
	StringInfoData values;

	initStringInfo(&names);
	initStringInfo(&values);
	placeholder(dim, NIL, &names, &values);
	exec_sql(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE VALUES (%s)",
					  dim->target_quoted, names.data, values.data),
			 SPI_OK_INSERT);
}

/*
 * An inferred member for each distinct natural key that key_exprs compute
 * over "rows" (a FROM clause with its WHERE, alias s); returns how many.
 */
uint64
members_add_inferred(EtlDefinition *dim, List *key_exprs, const char *rows)
{
	StringInfoData names;
	StringInfoData values;

	initStringInfo(&names);
	initStringInfo(&values);
	placeholder(dim, key_exprs, &names, &values);
	return exec_sql(psprintf("INSERT INTO %s (%s) SELECT DISTINCT %s FROM %s",
							 dim->target_quoted, names.data, values.data, rows),
					SPI_OK_INSERT);
}

/* Completes inferred members in place with their real attributes from "rows". */
void
members_complete_inferred(EtlDefinition *dim, const char *rows, List *attributes)
{
	exec_sql(psprintf("UPDATE %s t SET %s%s" COL_INFERRED " = false FROM %s s WHERE %s AND t." COL_INFERRED,
					  dim->target_quoted, deparse_set_list(attributes), attributes != NIL ? ", " : "",
					  rows, deparse_join(dim->natural_key, "t", dim->natural_key, "s")),
			 SPI_OK_UPDATE);
}
