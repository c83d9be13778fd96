/*-------------------------------------------------------------------------
 * src/audit.h
 *	  The audit trail: a shared queue, and a background worker that writes
 *	  it outside the caller's transaction, as a hash chain.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AUDIT_H
#define PGUARD_AUDIT_H

extern void AuditRecord(const char *event, const char *purpose, const char *category,
						const char *outcome, const char *detail);
extern void AuditFlush(void);
extern void AuditInit(void);

#endif
