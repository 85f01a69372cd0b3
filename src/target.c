/*-------------------------------------------------------------------------
 *
 * target.c
 *		The tables ETLs write: found and checked, created from the derived
 *		DDL or the definition's target_ddl, dropped on a rebuild.
 *
 * A run writes its target as the ETL's owner, so the target and every table
 * that inherits from it must belong to that owner: another role's trigger,
 * rule or default would otherwise run with the owner's rights (a superuser's
 * refresh would run it as superuser).  The check is made with the table
 * locked, so the table checked is the table written.
 *
 * target_ddl is one CREATE TABLE of the target, checked when the ETL is
 * defined and again when it runs; it is executed as parsed, with the
 * target's schema filled in, so it creates exactly the target.  Other names
 * in it resolve with search_path = pg_catalog, pg_temp: user types and
 * referenced tables must be schema-qualified.
 *
 * Calls execute.c, deparse.c, source.c, convert.c, privilege.c and progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

static const char *
relkind_name(char relkind)
{
	switch (relkind)
	{
		case RELKIND_VIEW:
			return "a view";
		case RELKIND_MATVIEW:
			return "a materialized view";
		case RELKIND_FOREIGN_TABLE:
			return "a foreign table";
		case RELKIND_SEQUENCE:
			return "a sequence";
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return "an index";
		default:
			return "not a table";
	}
}

/*
 * Refuses a table (and its partitions and children) that does not belong
 * to "owner", or a relation that is not a table.  "what" names the table's
 * role in messages, e.g. "target of dimension \"school\"".
 */
void
target_check_owner(Oid relid, Oid owner, const char *what)
{
	List	   *relations = find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, relations)
	{
		Oid			rel = lfirst_oid(lc);
		HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
		Form_pg_class form;

		if (!HeapTupleIsValid(tuple))
			continue;			/* dropped meanwhile: not ours to check */
		form = (Form_pg_class) GETSTRUCT(tuple);
		if (rel == relid && form->relkind != RELKIND_RELATION &&
			form->relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("%s, %s, is %s", what,
							quote_qualified_identifier(get_namespace_name(form->relnamespace),
													   NameStr(form->relname)),
							relkind_name(form->relkind)),
					 errhint("pypeline loads tables: drop or rename that relation, or give the ETL another target.")));
		if (form->relowner != owner)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("table %s (%s) belongs to role %s, not to the ETL's owner %s",
							quote_qualified_identifier(get_namespace_name(form->relnamespace),
													   NameStr(form->relname)),
							what, privilege_role_name(form->relowner), privilege_role_name(owner)),
					 errdetail("An ETL writes only tables of its owner: another role's triggers, rules or defaults would run with the owner's rights."),
					 errhint("Have role %s own the table (ALTER TABLE ... OWNER TO), or drop it and let the ETL create it.",
							 privilege_role_name(owner))));
		ReleaseSysCache(tuple);
	}
}

static char *
target_description(EtlDefinition *def)
{
	return psprintf("target of %s \"%s\"", etl_kind_name(def->kind), def->name);
}

/*
 * The target's OID, InvalidOid if it does not exist.  An existing target is
 * locked against DROP until the transaction ends, then checked.
 */
Oid
target_open(EtlDefinition *def)
{
	RangeVar   *rv = makeRangeVar(def->target_schema, def->target_table, -1);
	Oid			relid = RangeVarGetRelidExtended(rv, AccessShareLock, RVR_MISSING_OK, NULL, NULL);

	if (OidIsValid(relid))
		target_check_owner(relid, def->owner, target_description(def));
	return relid;
}

/*
 * Checks that target_ddl is exactly one CREATE TABLE of schema.table (the
 * schema may be left out) and returns the parsed statement.
 */
RawStmt *
target_check_ddl(const char *ddl, const char *schema, const char *table)
{
	List	   *statements = raw_parser(ddl, RAW_PARSE_DEFAULT);
	RawStmt    *raw;
	CreateStmt *create;

	if (list_length(statements) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_ddl must be one CREATE TABLE statement, not %d statements",
						list_length(statements)),
				 errhint("Give only the CREATE TABLE of the target; indexes and grants can be added once it exists.")));
	raw = linitial_node(RawStmt, statements);
	if (!IsA(raw->stmt, CreateStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_ddl must be a CREATE TABLE statement (without AS)"),
				 errhint("pypeline fills the table itself: give its columns, e.g. CREATE TABLE %s (...).",
						 quote_identifier(table))));
	create = (CreateStmt *) raw->stmt;
	if (create->relation->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_ddl cannot create a temporary table"),
				 errhint("Temporary tables end with the session that loads them.")));
	if (strcmp(create->relation->relname, table) != 0 ||
		(create->relation->schemaname && strcmp(create->relation->schemaname, schema) != 0) ||
		create->relation->catalogname)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_ddl creates table %s, not the target %s",
						create->relation->schemaname ?
						quote_qualified_identifier(create->relation->schemaname, create->relation->relname) :
						quote_identifier(create->relation->relname),
						quote_qualified_identifier(schema, table)),
				 errhint("Name the target in the CREATE TABLE, or change the target.")));
	return raw;
}

/*
 * Creates the target: target_ddl if the definition has one, derived_ddl
 * otherwise.  Logs the old tool's lines.
 */
void
target_create(EtlDefinition *def, const char *derived_ddl)
{
	progress_log("Creating table %s.", def->target);
	if (def->target_ddl)
	{
		RawStmt    *raw = target_check_ddl(def->target_ddl, def->target_schema, def->target_table);
		PlannedStmt *planned = makeNode(PlannedStmt);

		((CreateStmt *) raw->stmt)->relation->schemaname = def->target_schema;
		planned->commandType = CMD_UTILITY;
		planned->canSetTag = false;
		planned->utilityStmt = raw->stmt;
		planned->stmt_location = raw->stmt_location;
		planned->stmt_len = raw->stmt_len;
		ProcessUtility(planned, def->target_ddl, false, PROCESS_UTILITY_QUERY, NULL, NULL,
					   None_Receiver, NULL);
		CommandCounterIncrement();
	}
	else
		exec_sql(derived_ddl, SPI_OK_UTILITY);
	progress_log("Table %s created.", def->target);
}

void
target_drop(EtlDefinition *def)
{
	progress_log("Dropping table %s", def->target);
	exec_sql(psprintf("DROP TABLE %s", def->target_quoted), SPI_OK_UTILITY);
	progress_log("Dropped table %s", def->target);
}

/*
 * Drops the target on a rebuild and creates it when absent; returns true
 * when the target is new.  "before_drop" (may be NULL) runs first on a
 * rebuild, to refuse it.
 */
bool
target_prepare(EtlDefinition *def, bool rebuild, const char *derived_ddl,
			   void (*before_drop) (EtlDefinition *def, void *arg), void *arg)
{
	bool		exists = OidIsValid(target_open(def));

	if (exists && rebuild)
	{
		if (before_drop)
			before_drop(def, arg);
		target_drop(def);
		exists = false;
	}
	if (!exists)
		target_create(def, derived_ddl);
	return !exists;
}

/*
 * Refuses a load whose values would change on their way into the target:
 * a staged column whose type differs from the target column's (a
 * target_ddl's numeric(4,1), date or varchar(10) for a source DECIMAL(10,2),
 * DATETIME or TEXT) must survive the cast there and back.  "label" lists
 * the columns that name a row in the message (natural key, degenerate
 * columns).
 */
void
target_require_lossless(EtlDefinition *def, SourceCursor *cursor, const char *stage,
						List *columns, List *label)
{
	Oid			relid = target_open(def);
	ListCell   *lc;

	foreach(lc, columns)
	{
		const char *column = lfirst(lc);
		int			i = source_column_index(cursor, column);
		AttrNumber	attnum = get_attnum(relid, column);
		Oid			typid;
		int32		typmod;
		Oid			collation;
		char	   *target_type;
		char	   *staged_type;
		const char *col;

		if (i < 0 || attnum == InvalidAttrNumber)
			continue;
		get_atttypetypmodcoll(relid, attnum, &typid, &typmod, &collation);
		if (typid == cursor->columns[i].mapped_type && typmod == cursor->columns[i].mapped_typmod)
			continue;
		target_type = format_type_with_typemod(typid, typmod);
		staged_type = convert_mapped_type_name(&cursor->columns[i]);
		col = quote_identifier(column);
		exec_sql(psprintf("SELECT s.%s::text, CAST(s.%s AS %s)::text, %s FROM pg_temp.%s s "
						  "WHERE s.%s IS NOT NULL AND CAST(CAST(s.%s AS %s) AS %s) IS DISTINCT FROM s.%s LIMIT 1",
						  col, col, target_type,
						  label != NIL ? psprintf("ROW(%s)::text", deparse_columns(label, "s")) : "NULL",
						  stage, col, col, target_type, staged_type, col),
				 SPI_OK_SELECT);
		if (SPI_processed > 0)
		{
			char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			char	   *stored = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			char	   *row = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("value \"%s\" of source column \"%s\" would be stored as \"%s\" in column %s %s of table %s",
							value, column, stored, col, target_type, def->target),
					 row ? errdetail("The source row has %s = %s.", deparse_columns(label, NULL), row) : 0,
					 errhint("Widen the column of the target, or convert in the source query to change the value on purpose.")));
		}
	}
}

/*
 * Refuses a run that would write columns the target does not have.  A
 * target made by hand (target_ddl) or by an older source must be altered
 * on purpose: a silent drop of a source column's values is never right.
 */
void
target_require_columns(EtlDefinition *def, List *needed)
{
	List	   *existing = exec_table_columns(def->target_quoted);
	ListCell   *lc;

	foreach(lc, needed)
		if (!string_list_member(existing, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table %s of %s \"%s\" has no column \"%s\"",
							def->target, etl_kind_name(def->kind), def->name, (char *) lfirst(lc)),
					 errdetail("The source query returns that column, or the ETL needs it."),
					 errhint("Add the column with ALTER TABLE, or rebuild the table with delete_existing_table => true.")));
}
