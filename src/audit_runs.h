/*-------------------------------------------------------------------------
 * src/audit_runs.h
 *	  From a search's subject to its audit record: runs the writer builds.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AUDIT_RUNS_H
#define PGUARD_AUDIT_RUNS_H

#include "postgres.h"
#include "executor/spi.h"

extern void AuditRunsBatch(Oid trail_relid, int64 first_id, int64 last_id,
						   const int64 *ids, const int64 *keys, int n);
extern void AuditRunsInit(void);
/* src/audit.c: the writer's statements, prepared and planned once */
extern SPIPlanPtr AuditWriterPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types);

#endif
