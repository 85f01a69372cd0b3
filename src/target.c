/*-------------------------------------------------------------------------
 *
 * target.c
 *		The tables ETLs write: found and checked, created from the derived
 *		DDL or the definition's target_ddl, and rebuilt in place.
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
 * Calls execute.c, deparse.c, source.c, convert.c, partition.c, privilege.c and progress.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_publication.h"
#include "commands/cluster.h"
#include "commands/tablecmds.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
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
 * Refuses a table with a trigger whose function belongs to another role
 * than "owner" (or a superuser): TRIGGER privilege lets other roles add
 * triggers, and a load would run their code with the owner's rights.
 */
static void
check_trigger_functions(Oid relid, Oid owner, const char *table, const char *what)
{
	Relation	triggers = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(triggers, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger trigger = (Form_pg_trigger) GETSTRUCT(tuple);
		Oid			function_owner;
		HeapTuple	proc;

		if (trigger->tgisinternal)
			continue;			/* foreign keys: PostgreSQL's own functions */
		proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(trigger->tgfoid));
		if (!HeapTupleIsValid(proc))
			continue;
		function_owner = ((Form_pg_proc) GETSTRUCT(proc))->proowner;
		ReleaseSysCache(proc);
		if (function_owner != owner && !superuser_arg(function_owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("trigger \"%s\" on table %s (%s) runs a function of role %s, not of the ETL's owner %s",
							NameStr(trigger->tgname), table, what, privilege_role_name(function_owner),
							privilege_role_name(owner)),
					 errdetail("A load would run that function with the owner's rights."),
					 errhint("Drop the trigger, or have role %s own its function.", privilege_role_name(owner))));
	}
	systable_endscan(scan);
	table_close(triggers, AccessShareLock);
}

/*
 * Refuses a table (and its partitions and children) that does not belong
 * to "owner", or a relation that is not a table, or one with another
 * role's trigger functions.  "what" names the table's
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
		if (form->relhastriggers)
			check_trigger_functions(rel, owner,
									quote_qualified_identifier(get_namespace_name(form->relnamespace),
															   NameStr(form->relname)), what);
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
 * Runs a CREATE TABLE of the target (target_ddl or the derived DDL) as
 * parsed, naming the table schema.table.  A shadow table of a rebuild
 * lives beside the target, so its constraints and identity sequence are
 * left for PostgreSQL to name: target_ddl's names are the target's.
 */
static void
create_table(EtlDefinition *def, const char *ddl, char *schema, char *table, bool anonymous)
{
	RawStmt    *raw = target_check_ddl(ddl, def->target_schema, def->target_table);
	CreateStmt *create = (CreateStmt *) raw->stmt;
	PlannedStmt *planned = makeNode(PlannedStmt);
	ListCell   *lc;

	create->relation->schemaname = schema;
	create->relation->relname = table;
	if (anonymous)
		foreach(lc, create->tableElts)
		{
			List	   *constraints = IsA(lfirst(lc), ColumnDef) ?
				((ColumnDef *) lfirst(lc))->constraints : list_make1(lfirst(lc));
			ListCell   *c;

			foreach(c, constraints)
			{
				Constraint *constraint = lfirst_node(Constraint, c);
				ListCell   *o;

				constraint->conname = NULL;
				foreach(o, constraint->options)
					if (strcmp(lfirst_node(DefElem, o)->defname, "sequence_name") == 0)
						constraint->options = foreach_delete_current(constraint->options, o);
			}
		}
	planned->commandType = CMD_UTILITY;
	planned->canSetTag = false;
	planned->utilityStmt = raw->stmt;
	planned->stmt_location = raw->stmt_location;
	planned->stmt_len = raw->stmt_len;
	ProcessUtility(planned, ddl, false, PROCESS_UTILITY_QUERY, NULL, NULL, None_Receiver, NULL);
	CommandCounterIncrement();
}

/* The DDL a run creates its target with: target_ddl, else the derived one. */
static const char *
target_definition(EtlDefinition *def, const char *derived_ddl)
{
	return def->target_ddl ? def->target_ddl : derived_ddl;
}

/*
 * How the columns of the new definition differ from the table's, NULL if
 * they do not: each column of one is a column of the other with the same
 * type.  Generated columns of the table are computed, not written, so they
 * may stay.  New nullable columns without a default (a column the source
 * gained) are no change: they go to *added, as "name type", for the
 * table to get before the switch.
 */
static char *
column_change(Oid table, Oid shadow, List **added)
{
	List	   *shadow_columns = exec_relation_columns(shadow);
	List	   *table_columns = exec_relation_columns(table);
	ListCell   *lc;

	foreach(lc, shadow_columns)
	{
		char	   *column = lfirst(lc);
		AttrNumber	attnum = get_attnum(table, column);
		Oid			typid,
					new_typid,
					collation;
		int32		typmod,
					new_typmod;

		if (attnum == InvalidAttrNumber)
		{
			AttrNumber	shadow_attnum = get_attnum(shadow, column);
			HeapTuple	att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(shadow), Int16GetDatum(shadow_attnum));
			Form_pg_attribute form = (Form_pg_attribute) GETSTRUCT(att);
			bool		addable = !form->attnotnull && !form->atthasdef && !form->attidentity &&
				!form->attgenerated;
			char	   *definition = psprintf("%s %s", quote_identifier(column),
											  format_type_with_typemod(form->atttypid, form->atttypmod));

			ReleaseSysCache(att);
			if (!addable)
				return psprintf("column \"%s\" is new", column);
			*added = lappend(*added, definition);
			continue;
		}
		if (get_attgenerated(table, attnum))
			return psprintf("column \"%s\" is generated in the table", column);
		get_atttypetypmodcoll(table, attnum, &typid, &typmod, &collation);
		get_atttypetypmodcoll(shadow, get_attnum(shadow, column), &new_typid, &new_typmod, &collation);
		if (typid != new_typid || typmod != new_typmod)
			return psprintf("column \"%s\" changes from %s to %s", column,
							format_type_with_typemod(typid, typmod),
							format_type_with_typemod(new_typid, new_typmod));
	}
	/* the shadow's rows route by its own partitioning: it must be the table's */
	exec_sql(psprintf("SELECT coalesce(pg_catalog.pg_get_partkeydef(%u), '') = coalesce(pg_catalog.pg_get_partkeydef(%u), '')",
					  table, shadow),
			 SPI_OK_SELECT);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") != 0)
		return "its partitioning changes";
	foreach(lc, table_columns)
	{
		char	   *column = lfirst(lc);

		if (!string_list_member(shadow_columns, column) &&
			!get_attgenerated(table, get_attnum(table, column)))
			return psprintf("column \"%s\" is gone", column);
	}
	return NULL;
}

/*
 * A rebuild in progress: the run writes a shadow table while readers keep
 * the old one, and target_finish_rebuild moves the rows into it.
 */
struct TargetRebuild
{
	Oid			relid;			/* the target's table, kept */
	char	   *schema;			/* its names, while def's point at the shadow */
	char	   *table;
	char	   *quoted;
	List	   *added;			/* "name type" of columns the table gets */
};

static void
point_at(EtlDefinition *def, char *schema, char *table)
{
	def->target_schema = schema;
	def->target_table = table;
	def->target_quoted = quote_qualified_identifier(schema, table);
}

/*
 * Starts a rebuild of an existing target into a shadow table; returns the
 * column change instead (NULL on success) when the new definition's
 * columns are not the table's, leaving the target untouched.  Writers of
 * the target wait from here (ExclusiveLock, as REFRESH MATERIALIZED VIEW
 * CONCURRENTLY takes); readers wait only for the switch.
 */
static char *
begin_rebuild(EtlDefinition *def, Oid relid, const char *ddl)
{
	char	   *shadow = psprintf("pypeline_rebuild_%u", relid);
	Oid			shadow_relid;
	char	   *change;
	List	   *added = NIL;
	TargetRebuild *rebuild;

	LockRelationOid(relid, ExclusiveLock);
	create_table(def, ddl, def->target_schema, shadow, true);
	shadow_relid = get_relname_relid(shadow, get_rel_namespace(relid));
	change = column_change(relid, shadow_relid, &added);
	/* rows route in the shadow as they would in the table */
	if (change == NULL && get_rel_relkind(shadow_relid) == RELKIND_PARTITIONED_TABLE)
		partition_copy_bounds(relid, shadow_relid);
	if (change)
	{
		exec_sql(psprintf("DROP TABLE %s", quote_qualified_identifier(def->target_schema, shadow)),
				 SPI_OK_UTILITY);
		return change;
	}
	rebuild = palloc(sizeof(TargetRebuild));
	rebuild->relid = relid;
	rebuild->schema = def->target_schema;
	rebuild->table = def->target_table;
	rebuild->quoted = def->target_quoted;
	rebuild->added = added;
	def->rebuild = rebuild;
	point_at(def, def->target_schema, shadow);
	return NULL;
}

/*
 * Forgets a rebuild whose shadow table a rolled-back subtransaction took
 * with it; the definition names the target again.
 */
void
target_abandon_rebuild(EtlDefinition *def)
{
	if (def->rebuild == NULL)
		return;
	def->target_schema = def->rebuild->schema;
	def->target_table = def->rebuild->table;
	def->target_quoted = def->rebuild->quoted;
	def->rebuild = NULL;
}

static bool
drop_target(void *def)
{
	exec_sql(psprintf("DROP TABLE %s", ((EtlDefinition *) def)->target_quoted), SPI_OK_UTILITY);
	return true;
}

/*
 * Drops a target whose columns change on a rebuild.  What depends on the
 * table (a view) stops it with a message that says why the table cannot
 * simply be refilled.
 */
static void
drop_changed_target(EtlDefinition *def, const char *change)
{
	ErrorData  *edata;

	progress_log("Dropping table %s", def->target);
	edata = exec_in_subtransaction(drop_target, def);
	if (edata)
	{
		if (edata->sqlerrcode != ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST)
			ReThrowError(edata);
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot rebuild table %s of %s \"%s\": its columns change (%s) and other objects depend on it",
						def->target, etl_kind_name(def->kind), def->name, change),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("A rebuild keeps the table, and what depends on it, when its columns stay. "
						 "ALTER TABLE the target to the new columns first, or drop the dependent objects and create them again after the run.")));
	}
	progress_log("Dropped table %s", def->target);
	ereport(NOTICE,
			(errmsg("the rebuild of %s \"%s\" creates table %s again: %s",
					etl_kind_name(def->kind), def->name, def->target, change),
			 errdetail("Grants, indexes and comments added to the old table are not carried over.")));
}

/*
 * Prepares the target of a run; returns true when the run writes a new,
 * empty table.  A rebuild of an existing target writes a shadow table
 * (begin_rebuild) unless the definition's columns change, in which case
 * the table is dropped and created again.  "before_drop" (may be NULL)
 * runs first on a rebuild, to refuse it.
 */
bool
target_prepare(EtlDefinition *def, bool rebuild, const char *derived_ddl,
			   void (*before_drop) (EtlDefinition *def, void *arg), void *arg)
{
	Oid			relid = target_open(def);
	const char *ddl = target_definition(def, derived_ddl);

	if (OidIsValid(relid) && !rebuild)
		return false;
	if (OidIsValid(relid))
	{
		char	   *change;

		if (before_drop)
			before_drop(def, arg);
		change = begin_rebuild(def, relid, ddl);
		if (change == NULL)
			return true;
		drop_changed_target(def, change);
	}
	progress_log("Creating table %s.", def->target);
	create_table(def, ddl, def->target_schema, def->target_table, false);
	progress_log("Table %s created.", def->target);
	return true;
}

/*
 * Whether the shadow's storage can become the table's: the same physical
 * rows, and nothing on the table that checks or reacts to rows, since
 * none of it runs when files are swapped.  Published tables are refilled
 * by SQL so that subscribers see the change.
 */
static bool
storage_swappable(Relation table, Relation shadow)
{
	TupleDesc	td = RelationGetDescr(table);
	TupleDesc	sd = RelationGetDescr(shadow);
	Form_pg_class form = table->rd_rel;

	if (form->relkind != RELKIND_RELATION || form->relhastriggers || form->relhasrules ||
		form->relchecks > 0 || form->relhassubclass || form->relispartition ||
		form->relam != shadow->rd_rel->relam ||
		form->relpersistence != shadow->rd_rel->relpersistence ||
		td->natts != sd->natts ||
		GetRelationPublications(RelationGetRelid(table)) != NIL ||
		GetAllTablesPublications() != NIL)
		return false;
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute t = TupleDescAttr(td, i);
		Form_pg_attribute s = TupleDescAttr(sd, i);

		if (t->attisdropped || s->attisdropped ||
			strcmp(NameStr(t->attname), NameStr(s->attname)) != 0 ||
			t->atttypid != s->atttypid || t->atttypmod != s->atttypmod ||
			t->attlen != s->attlen || t->attalign != s->attalign ||
			t->attgenerated != s->attgenerated ||
			(t->attnotnull && !s->attnotnull))
			return false;
	}
	return true;
}

/* The table's identity and serial sequences continue from the shadow's. */
static void
continue_sequences(const char *table, const char *shadow)
{
	ListCell   *lc;

	foreach(lc, exec_table_columns(shadow))
	{
		char	   *column = quote_literal_cstr(lfirst(lc));
		char	   *sequence,
				   *shadow_sequence;

		exec_sql(psprintf("SELECT pg_catalog.pg_get_serial_sequence(%s, %s), pg_catalog.pg_get_serial_sequence(%s, %s)",
						  quote_literal_cstr(table), column, quote_literal_cstr(shadow), column),
				 SPI_OK_SELECT);
		sequence = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		shadow_sequence = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		if (sequence && shadow_sequence)
			exec_sql(psprintf("SELECT pg_catalog.setval(%s, last_value, is_called) FROM %s",
							  quote_literal_cstr(sequence), shadow_sequence),
					 SPI_OK_SELECT);
	}
}

/*
 * Fresh statistics for the target after a load (facts join dimensions
 * next).  A rebuild's shadow goes at the switch, and its statistics with
 * it: the switch analyzes the target instead.  A run that wrote fewer rows
 * than a twentieth of a table already analyzed leaves its statistics as
 * they are: they still describe it, autovacuum analyzes it once a tenth has
 * changed, and sampling a large table on every small rerun (or a capture's
 * every pull) cost more than the writes.
 */
void
target_analyze(EtlDefinition *def, uint64 written)
{
	int64		estimated;

	if (def->rebuild != NULL)
		return;
	estimated = (int64) exec_count(psprintf("SELECT greatest(c.reltuples, 0)::bigint FROM pg_catalog.pg_class c "
											"WHERE c.oid = %s::regclass",
											quote_literal_cstr(def->target_quoted)));
	if (estimated > 0 && (double) written * 20 < (double) estimated)
		return;
	exec_analyze(def->target_quoted);
}

/*
 * Moves a rebuild's rows from the shadow into the target, which keeps its
 * OID and with it its views, grants, comments, indexes, triggers and
 * policies; the shadow is dropped.  Readers of the target wait from here
 * to the commit.  When nothing on the table needs to see the rows (see
 * storage_swappable), the files are swapped as CLUSTER does and the
 * table's indexes rebuilt; otherwise the table is truncated and the rows
 * inserted, firing its triggers and checking its constraints.
 */
void
target_finish_rebuild(EtlDefinition *def)
{
	TargetRebuild *rebuild = def->rebuild;
	char	   *shadow;
	Oid			shadow_relid;
	Relation	table;
	Relation	shadow_rel;
	ListCell   *lc;

	if (rebuild == NULL)
		return;
	shadow = def->target_quoted;
	shadow_relid = get_relname_relid(def->target_table, get_rel_namespace(rebuild->relid));
	target_abandon_rebuild(def);

	LockRelationOid(rebuild->relid, AccessExclusiveLock);
	foreach(lc, rebuild->added)
	{
		ereport(NOTICE,
				(errmsg("the rebuild of %s \"%s\" adds column %s to table %s",
						etl_kind_name(def->kind), def->name, (char *) lfirst(lc), def->target)));
		exec_sql(psprintf("ALTER TABLE %s ADD COLUMN %s", def->target_quoted, (char *) lfirst(lc)),
				 SPI_OK_UTILITY);
	}
	continue_sequences(def->target_quoted, shadow);
	table = table_open(rebuild->relid, NoLock);
	shadow_rel = table_open(shadow_relid, NoLock);
	if (storage_swappable(table, shadow_rel))
	{
		TransactionId frozen_xid = shadow_rel->rd_rel->relfrozenxid;
		MultiXactId min_mxid = shadow_rel->rd_rel->relminmxid;
		char		persistence = table->rd_rel->relpersistence;

		CheckTableNotInUse(table, "rebuild");
		table_close(shadow_rel, NoLock);
		table_close(table, NoLock);
		finish_heap_swap(rebuild->relid, shadow_relid, false, false, true, true,
						 frozen_xid, min_mxid, persistence);
		progress_log("Table %s has the rebuilt rows (storage swapped, indexes rebuilt)", def->target);
	}
	else
	{
		List	   *columns = exec_table_columns(shadow);
		char	   *list = deparse_columns(columns, NULL);
		bool		partitioned = table->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;

		table_close(shadow_rel, NoLock);
		table_close(table, NoLock);
		exec_sql(psprintf("TRUNCATE %s%s", partitioned ? "" : "ONLY ", def->target_quoted),
				 SPI_OK_UTILITY);
		/* the partitions the rebuild made for its rows, added to the emptied table */
		if (partitioned && get_rel_relkind(shadow_relid) == RELKIND_PARTITIONED_TABLE)
			partition_copy_bounds(shadow_relid, rebuild->relid);
		exec_sql(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s",
						  def->target_quoted, list, list, shadow), SPI_OK_INSERT);
		exec_sql(psprintf("DROP TABLE %s", shadow), SPI_OK_UTILITY);
		progress_log("Table %s has the rebuilt rows (truncated and filled again)", def->target);
	}
	CommandCounterIncrement();
	exec_analyze(def->target_quoted);
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
