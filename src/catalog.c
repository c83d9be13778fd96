/*-------------------------------------------------------------------------
 * src/catalog.c
 *	  Access to privacy_guard's own tables with the extension's rights.
 *
 * The policy tables and the wrapped keys are readable only by the owner of
 * schema privacy_guard.  C code that must read them on behalf of an
 * application role switches to that owner for the duration of one SPI call,
 * as ri_triggers.c does for the table owner, under a restricted security
 * context; every query it runs is schema-qualified.  Transaction abort
 * restores the caller's identity if an error escapes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog.h"

/* cached schema OID and its owner; reset when pg_namespace changes */
static Oid	schema_oid = InvalidOid;
static Oid	schema_owner = InvalidOid;

/* Forget cached schema facts when pg_namespace changes. */
static void
catalog_namespace_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	schema_oid = InvalidOid;
	schema_owner = InvalidOid;
}

void
CatalogInit(void)
{
	CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_namespace_changed, (Datum) 0);
}

/* OID of schema privacy_guard; error if the extension is not installed. */
Oid
CatalogSchemaOid(void)
{
	if (!OidIsValid(schema_oid))
	{
		Oid			nsp = get_namespace_oid(PGUARD_SCHEMA, true);
		HeapTuple	tup;

		if (!OidIsValid(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"privacy_guard\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION privacy_guard.")));
		tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for namespace %u", nsp);
		schema_owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
		ReleaseSysCache(tup);
		schema_oid = nsp;
	}
	return schema_oid;
}

/* OID of one of our tables. */
Oid
CatalogRelid(const char *relname)
{
	Oid			relid = get_relname_relid(relname, CatalogSchemaOid());

	if (!OidIsValid(relid))
		elog(ERROR, "privacy_guard catalog table \"%s\" is missing", relname);
	return relid;
}

/* Act as the owner of schema privacy_guard until CatalogRestoreUser. */
void
CatalogBecomeOwner(CatalogOwnerState *state)
{
	(void) CatalogSchemaOid();
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	SetUserIdAndSecContext(schema_owner,
						   state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
CatalogRestoreUser(CatalogOwnerState *state)
{
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
}

PG_FUNCTION_INFO_V1(pguard_calling_role);

/*
 * calling_role(): the role that called into privacy_guard, as seen outside
 * SECURITY DEFINER functions (SET ROLE counts).  protect() uses it to
 * require ownership of the table.
 */
Datum
pguard_calling_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
