/*-------------------------------------------------------------------------
 *
 * privilege.c
 *		Whose rights pypeline's work runs with.
 *
 * An ETL runs as the role that owns its definition, whoever starts it (a
 * superuser's refresh, a worker, pg_cron), the way pg_cron runs a job as its
 * user: its user mapping, its target_ddl and its writes are that role's.
 * pypeline's own tables (definitions, run log, rejects, watermarks, tasks)
 * are written only here, as the extension's owner, in a security-restricted
 * operation, by statements that touch nothing else.  Both switches pin
 * search_path to pg_catalog, pg_temp, so no statement pypeline generates
 * depends on the search_path of whoever called it.
 *
 * Calls nothing else in pypeline.
 *
 *-------------------------------------------------------------------------
 */
#include "pypeline.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* The owner of the pypeline extension in this database. */
Oid
privilege_extension_owner(void)
{
	Oid			extension = get_extension_oid("pypeline", false);
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extension));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"pypeline\" has no owner")));
	return owner;
}

/*
 * Acts as "role" until privilege_restore: SET ROLE and SET SESSION
 * AUTHORIZATION are refused meanwhile (as in a SECURITY DEFINER function),
 * and search_path is pg_catalog, pg_temp.  An error needs no restore: the
 * (sub)transaction abort puts back the user and the settings.
 */
void
privilege_become(RoleSwitch *saved, Oid role, bool restricted)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(role, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
	saved->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
privilege_restore(RoleSwitch *saved)
{
	AtEOXact_GUC(true, saved->guc_level);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * Runs one statement on pypeline's own tables as the extension's owner; the
 * caller is connected to SPI and gives the SPI result it expects.  Returns
 * the rows processed; a SELECT's rows are in SPI_tuptable.
 */
uint64
privilege_internal_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
						const char *nulls, int expected)
{
	RoleSwitch	saved;
	int			rc;

	privilege_become(&saved, privilege_extension_owner(), true);
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);
	privilege_restore(&saved);
	if (rc != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("unexpected result %s from a statement on pypeline's tables",
						SPI_result_code_string(rc)),
				 errdetail("The statement was: %s", sql)));
	return SPI_processed;
}

/* Whether the current role may run (and see) what "owner" owns. */
bool
privilege_may_act_for(Oid owner)
{
	return has_privs_of_role(GetUserId(), owner);
}

/* The name of a role, or its OID in words if it was dropped. */
char *
privilege_role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("(dropped role %u)", role);
}

/* Whether a role may log in (a background worker can run as it). */
bool
privilege_role_can_login(Oid role)
{
	HeapTuple	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	bool		result = false;

	if (HeapTupleIsValid(tuple))
	{
		result = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
		ReleaseSysCache(tuple);
	}
	return result;
}

/* A role's CONNECTION LIMIT, or -1 for none (superusers have none). */
int
privilege_role_connection_limit(Oid role)
{
	HeapTuple	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	int			result = -1;

	if (HeapTupleIsValid(tuple))
	{
		Form_pg_authid form = (Form_pg_authid) GETSTRUCT(tuple);

		if (!form->rolsuper)
			result = form->rolconnlimit;
		ReleaseSysCache(tuple);
	}
	return result;
}
