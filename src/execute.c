/*-------------------------------------------------------------------------
 *
 * execute.c
 *		Running the statements pypeline generates, through SPI, and what the
 *		loaders ask of tables: whether one exists, its columns, a column's
 *		type (from the relcache).
 *
 * Every statement's SPI result is checked: an unexpected one is an internal
 * error that shows the statement.  A statement can start a progress report
 * of its own (CREATE INDEX, ANALYZE), so the ETL's is put back after each.
 *
 * Calls progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/resowner.h"

/* Runs a statement; returns the rows it processed (a SELECT's are in SPI_tuptable). */
uint64
exec_sql(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	progress_restore();
	if (rc != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("unexpected result %s of a statement pypeline generated", SPI_result_code_string(rc)),
				 errdetail("The statement was: %s", sql)));
	return SPI_processed;
}

/* Runs a query returning one bigint (NULL counts as 0). */
uint64
exec_count(const char *sql)
{
	bool		isnull;
	Datum		value;

	if (exec_sql(sql, SPI_OK_SELECT) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("a count pypeline generated returned " UINT64_FORMAT " rows", SPI_processed),
				 errdetail("The statement was: %s", sql)));
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : (uint64) DatumGetInt64(value);
}

/* A table named by its quoted (schema-qualified, or pg_temp.) name; InvalidOid if absent. */
Oid
exec_relation(const char *quoted_name)
{
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(quoted_name)),
							NoLock, true);
}

bool
exec_table_exists(const char *quoted_name)
{
	return OidIsValid(exec_relation(quoted_name));
}

static Oid
existing_relation(const char *quoted_name)
{
	Oid			relid = exec_relation(quoted_name);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s does not exist", quoted_name)));
	return relid;
}

/* Column names of an existing table, in order. */
List *
exec_table_columns(const char *quoted_table)
{
	return exec_relation_columns(existing_relation(quoted_table));
}

/* The columns of a relation, in order. */
List *
exec_relation_columns(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *result = NIL;

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped)
			result = lappend(result, pstrdup(NameStr(TupleDescAttr(tupdesc, i)->attname)));
	relation_close(rel, AccessShareLock);
	return result;
}

/* The type and typmod of a column of an existing table. */
Oid
exec_column_type_oid(const char *quoted_table, const char *column, int32 *typmod)
{
	Oid			relid = existing_relation(quoted_table);
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			typid;
	Oid			collation;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table %s has no column \"%s\"", quoted_table, column)));
	get_atttypetypmodcoll(relid, attnum, &typid, typmod, &collation);
	return typid;
}

/* The type of a column, as format_type writes it (e.g. "numeric(10,2)"), for SQL text. */
char *
exec_column_type(const char *quoted_table, const char *column)
{
	int32		typmod;
	Oid			typid = exec_column_type_oid(quoted_table, column, &typmod);

	return format_type_with_typemod(typid, typmod);
}

/*
 * Refreshes a table's statistics when the current role may (it owns the
 * table); a role that only has INSERT and UPDATE leaves it to autovacuum.
 */
void
exec_analyze(const char *quoted_name)
{
	if (pg_class_ownercheck(existing_relation(quoted_name), GetUserId()))
		exec_sql(psprintf("ANALYZE %s", quoted_name), SPI_OK_UTILITY);
}

/*
 * Runs work(arg) in a subtransaction.  If it returns true, the
 * subtransaction is kept; if false, rolled back.  An error rolls it back
 * too and is returned (copied, its state flushed), for the caller to report
 * or throw again; otherwise NULL.
 */
ErrorData *
exec_in_subtransaction(bool (*work) (void *arg), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		if (work(arg))
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return edata;
}
