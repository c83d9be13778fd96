/*-------------------------------------------------------------------------
 * src/audit_runs.h
 *	  From a search's subject to its audit record: runs the writer builds.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AUDIT_RUNS_H
#define PGUARD_AUDIT_RUNS_H

#include "postgres.h"

extern void AuditRunsBatch(Oid trail_relid, int64 first_id, int64 last_id,
						   const int64 *ids, const int64 *keys, int n);
extern void AuditRunsInit(void);

#endif
