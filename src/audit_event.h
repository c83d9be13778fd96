/*-------------------------------------------------------------------------
 * src/audit_event.h
 *	  One queued audit event, as the queue (audit.c) holds it and as a
 *	  standby forwards it to its primary (forward.c).
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AUDIT_EVENT_H
#define PGUARD_AUDIT_EVENT_H

#include "postgres.h"
#include "datatype/timestamp.h"

#define AUDIT_NAME_LEN 64
#define AUDIT_DETAIL_LEN 512
#define AUDIT_KEYS_PER_EVENT 240	/* at most this many key ids in one event (a row of them stays below TOAST) */
#define AUDIT_PACKED_LEN 512		/* ... packed in this many bytes */
#define AUDIT_KEY_SPAN 1024		/* ... within this many of the first: a row's range of keys stays narrow */

typedef enum AuditKind
{
	AUDIT_RECORD = 0,			/* a record of the chain */
	AUDIT_SUBJECTS				/* data keys a reveal group touched */
} AuditKind;

/* One queued event: fixed size, copied whole into the ring. */
typedef struct AuditEvent
{
	uint64		seq;
	AuditKind	kind;
	uint64		group_seq;		/* AUDIT_SUBJECTS: seq of the group's record */
	/*
	 * A standby's event forwarded here: the standby queue's epoch and the
	 * event's seq there (0: an event of this server).  Its record keeps
	 * them as its queue position, so that its subjects (which name the
	 * group by the standby's seq) find it.
	 */
	uint64		origin_epoch;
	uint64		origin_seq;
	/*
	 * AUDIT_SUBJECTS: ascending key ids, the first as is, then each as its
	 * difference from the one before, 7 bits a byte (a subject of a dense
	 * run costs one byte).  AuditPackKey() appends, AuditUnpackKeys() reads.
	 */
	int			nkeys;
	/*
	 * AUDIT_SUBJECTS, or a search's record carrying its subjects: these are
	 * all its group's subjects (the group ended, and no other event of it
	 * holds any).  Only such a record takes its one subject into
	 * audit_records.subject_key, and has no other way to its subjects.
	 */
	bool		complete;
	int			packedlen;
	int64		first_key;
	int64		last_key;
	uint8		packed[AUDIT_PACKED_LEN];
	TimestampTz at;
	char		database[AUDIT_NAME_LEN];
	char		session_user_name[AUDIT_NAME_LEN];
	char		current_role_name[AUDIT_NAME_LEN];
	char		event[AUDIT_NAME_LEN];
	char		purpose[AUDIT_NAME_LEN];
	char		category[AUDIT_NAME_LEN];
	char		table_name[AUDIT_NAME_LEN * 2];
	char		column_name[AUDIT_NAME_LEN];
	char		subject[AUDIT_NAME_LEN * 2];
	char		outcome[AUDIT_NAME_LEN];
	char		detail[AUDIT_DETAIL_LEN];
} AuditEvent;

/* audit.c */
extern bool AuditPackKey(AuditEvent *e, int64 key_id);
extern int	AuditUnpackKeys(const AuditEvent *e, int64 *keys);
extern uint64 AuditEnqueueForwarded(AuditEvent *e);
extern void AuditWaitWritten(uint64 seq);

/* forward.c */
extern bool ForwardBatch(const AuditEvent *batch, int n, uint64 epoch, char *problem, int problemlen);
extern void ForwardDisconnect(void);
extern void ForwardInit(void);

#endif
