/*-------------------------------------------------------------------------
 * src/privacy_guard.c
 *	  Module entry point: refuse to load unless preloaded, then start each
 *	  concept.
 *
 * privacy_guard needs shared_preload_libraries so that the keyring is read
 * at postmaster start and every backend has the same hooks; loading it any
 * other way (including CREATE EXTENSION without the preload) fails with a
 * hint naming the exact setting.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "audit.h"
#include "budget.h"
#include "catalog.h"
#include "collection.h"
#include "consent.h"
#include "envelope.h"
#include "guard.h"
#include "incident.h"
#include "keycache.h"
#include "keyring.h"
#include "policy.h"
#include "progress.h"
#include "redact.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard must be loaded via shared_preload_libraries"),
				 errhint("Add privacy_guard to shared_preload_libraries in postgresql.conf "
						 "(shared_preload_libraries = 'privacy_guard'), set "
						 "privacy_guard.keyring_file, and restart the server.")));

	KeyringInit();
	AuditInit();
	IncidentInit();
	BudgetInit();
	KeycacheInit();
	EnvelopeInit();
	CatalogInit();
	CollectionInit();
	PolicyInit();
	ConsentInit();
	RedactInit();
	ProgressInit();
	GuardInit();				/* its hook runs before CatalogInit's */
	MarkGUCPrefixReserved("privacy_guard");
}
