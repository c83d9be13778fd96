/*-------------------------------------------------------------------------
 * src/catalog.c
 *	  Access to privacy_guard's own tables with the extension's rights.
 *
 * The policy tables and the wrapped keys are readable only by the owner of
 * the extension.  C code that must read them on behalf of an application
 * role switches to that owner (pg_extension.extowner, never whoever owns a
 * schema of that name) for the duration of one SPI call, as ri_triggers.c
 * does for the table owner, under a restricted security context; every
 * query it runs is schema-qualified.  Transaction abort restores the
 * caller's identity if an error escapes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog.h"

/* cached facts about the installed extension; reset on catalog changes */
static Oid	schema_oid = InvalidOid;
static Oid	extension_owner = InvalidOid;
static Oid	encrypted_types[ENV_TYPE_MAX + 1];
static int	extension_installed = -1;	/* -1: not looked up yet */

static const char *const encrypted_type_names[] = {
	NULL, "encrypted_text", "encrypted_jsonb", "encrypted_date",
	"encrypted_numeric", "encrypted_bytea"
};

/* Forget cached facts when the extension, a schema or a type changes. */
static void
catalog_changed_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	schema_oid = InvalidOid;
	extension_owner = InvalidOid;
	memset(encrypted_types, 0, sizeof(encrypted_types));
	extension_installed = -1;
}

/* Is the extension installed in this database?  Cached until pg_extension changes. */
bool
CatalogExtensionInstalled(void)
{
	if (extension_installed < 0)
		extension_installed = OidIsValid(get_extension_oid("privacy_guard", true)) ? 1 : 0;
	return extension_installed == 1;
}

void
CatalogInit(void)
{
	CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_changed_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(EXTENSIONOID, catalog_changed_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, catalog_changed_callback, (Datum) 0);
}

/* Schema of the extension; error if it is not installed. */
Oid
CatalogSchemaOid(void)
{
	if (!OidIsValid(schema_oid))
	{
		Oid			ext = get_extension_oid("privacy_guard", true);
		HeapTuple	tup;
		Form_pg_extension form;

		if (!OidIsValid(ext))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"privacy_guard\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION privacy_guard.")));
		tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(ext));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for extension %u", ext);
		form = (Form_pg_extension) GETSTRUCT(tup);
		extension_owner = form->extowner;
		schema_oid = form->extnamespace;
		ReleaseSysCache(tup);
	}
	return schema_oid;
}

/* The envelope type a column type holds, or 0 if it is not ours. */
EnvelopeType
CatalogEncryptedType(Oid typid)
{
	Oid			nsp = CatalogSchemaOid();

	for (int t = 1; t <= ENV_TYPE_MAX; t++)
	{
		if (!OidIsValid(encrypted_types[t]))
			encrypted_types[t] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
												 CStringGetDatum(encrypted_type_names[t]),
												 ObjectIdGetDatum(nsp));
		if (encrypted_types[t] == typid)
			return (EnvelopeType) t;
	}
	return 0;
}

/*
 * The C internals behind the extension's SECURITY DEFINER functions run
 * as its owner, a superuser: refuse anyone else.
 */
void
CatalogRequireInternal(const char *fname)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s() is internal to privacy_guard", fname)));
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
	SetUserIdAndSecContext(extension_owner,
						   state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
CatalogRestoreUser(CatalogOwnerState *state)
{
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
}

/*
 * Types a subject column may have: built-in types whose text form is fixed
 * (no setting changes it) and whose cast to text nobody but a superuser can
 * redefine.
 */
bool
CatalogSubjectTypeAllowed(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}
