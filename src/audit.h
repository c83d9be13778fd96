/*-------------------------------------------------------------------------
 * src/audit.h
 *	  The audit trail: a shared queue, and a background worker that writes
 *	  it outside the caller's transaction, as a hash chain.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AUDIT_H
#define PGUARD_AUDIT_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "executor/execdesc.h"

extern uint64 AuditRecord(const char *event, const char *purpose, const char *category,
						  const char *outcome, const char *detail);
extern uint64 AuditRecordSubject(const char *event, const char *purpose, const char *category,
								 const char *outcome, const char *detail, const char *subject);
extern uint64 AuditRecordAs(Oid roleid, const char *event, const char *purpose,
							const char *category, const char *outcome, const char *detail,
							const char *subject);
extern void *AuditPrepareAs(Oid roleid, const char *event, const char *outcome,
							const char *detail);
extern void AuditQueuePrepared(void *prepared);
extern void AuditRecordAtCommit(Oid roleid, const char *event, const char *outcome,
								const char *detail, const char *subject);
extern uint64 AuditRecordColumn(const char *event, const char *category, const char *table,
								const char *column, const char *outcome, const char *detail);
extern void AuditDescribeStatement(char *out, int outsize);
/*
 * What a reveal's call site (one function call in one query) joined last:
 * AuditReveal() compares the site's table and column with a group's once,
 * not at every row, while the statement's groups stay as they were.
 */
typedef struct AuditSiteMemo
{
	uint64		serial;			/* the groups' serial then; 0: nothing joined yet */
	int			group;
} AuditSiteMemo;

extern void AuditReveal(const char *event, const char *table, const char *column,
						const char *purpose, int purposelen,
						const char *category, int catlen,
						const char *outcome, bool returns_data, int64 key_id,
						AuditSiteMemo *memo);
extern void AuditSearchSubject(const char *purpose, const char *category, int64 key_id);
extern List *AuditRunningRangeTable(void);
extern uint64 AuditRunningQuery(int *depth, QueryDesc **query);
extern void AuditFlush(void);
extern bool AuditPlanning(void);
extern void AuditReleaseDatabase(const char *dbname);
extern void AuditForgetDatabase(Oid dboid);
extern void AuditUtilityEnd(bool toplevel);
extern void AuditUtilityDone(bool toplevel);
extern void AuditUtilityStart(PlannedStmt *pstmt, const char *queryString, bool toplevel);
extern void AuditInit(void);

#endif
