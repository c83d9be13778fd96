/*-------------------------------------------------------------------------
 * src/catalog.h
 *	  Access to privacy_guard's own tables with the extension's rights.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_CATALOG_H
#define PGUARD_CATALOG_H

#include "postgres.h"

#include "envelope.h"

#define PGUARD_SCHEMA "privacy_guard"

/* Saved identity while acting as the extension's owner. */
typedef struct CatalogOwnerState
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;	/* pgaudit's settings saved at this GUC level, or 0 */
} CatalogOwnerState;

/* Saved identity and settings while running as an application table's owner. */
typedef struct TableOwnerState
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} TableOwnerState;

extern Oid	CatalogSchemaOid(void);
extern bool CatalogExtensionInstalled(void);
extern bool CatalogExtensionPredatesGuard(void);
extern bool CatalogExtensionScript(void);
extern Oid	CatalogRelid(const char *relname);
extern bool CatalogRelationSubscribed(Oid relid);
extern EnvelopeType CatalogEncryptedType(Oid typid);
extern bool CatalogSubjectTypeAllowed(Oid typid);
extern void CatalogRequireInternal(const char *fname);
extern int	CatalogQuietBegin(void);
extern void CatalogQuietEnd(int level);
extern void CatalogBecomeOwner(CatalogOwnerState *state);
extern void CatalogRestoreUser(CatalogOwnerState *state);
extern void CatalogBecomeTableOwner(Oid owner, TableOwnerState *state);
extern void CatalogLeaveTableOwner(TableOwnerState *state);
extern bool CatalogActingAsOwner(void);
extern void CatalogCaller(Oid *userid, int *sec_context);
extern struct SnapshotData *CatalogFreshSnapshot(void);
/* A backend's cache of the catalog, dropped when another session changed it. */
typedef void (*CatalogForgetCallback) (void);
extern void CatalogOnChange(CatalogForgetCallback forget);
extern void CatalogChanged(void);
extern void CatalogCheckChanges(void);
extern void CatalogNoteUtility(Node *stmt);
extern bool CatalogApplicationNamespace(Oid nspid);
extern void CatalogInit(void);

#endif
