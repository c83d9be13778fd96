/*-------------------------------------------------------------------------
 * src/audit.c
 *	  The audit trail: a shared queue, and a background worker that writes
 *	  it outside the caller's transaction, as a hash chain.
 *
 * Backends never write the trail themselves: a record made in the caller's
 * transaction would vanish with its ROLLBACK, though the client may already
 * have seen the data.  They copy each event into their database's queue in
 * shared memory and wake its writer, a background worker connected to that
 * database, which a launcher starts for every database whose sessions
 * queue events.  The writer inserts events in order, a batch a statement,
 * in transactions of its own, each record carrying SHA-256 over the
 * previous record's hash and its own content (computed here as
 * privacy_guard.audit_link() computes it, which verify_audit() uses), and
 * then advances the queue and wakes waiters.
 *
 * A full queue makes callers wait for the writer, up to
 * privacy_guard.audit_wait_timeout, and then fail: an event is never
 * silently dropped.  audit_flush() waits until everything queued before it
 * is committed.
 *
 * Locking: AuditShared.lock guards every field of AuditShared and of every
 * queue.  Each queue's epoch is random when its slot is claimed; the writer
 * stores (epoch, seq) with every record, so after a restart of the writer
 * alone it skips events it had already committed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/heapam.h"
#include "access/hio.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/fd.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/json.h"
#include "common/hashfn.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/rel.h"
#include "utils/typcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/queryjumble.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/scanner.h"
#include "parser/scansup.h"
#include "parser/gram.h"
#include "utils/wait_event.h"

#include "audit.h"
#include "audit_runs.h"
#include "catalog.h"
#include "redact.h"
#include "searchscan.h"
#include "unsealed.h"
#include "audit_event.h"
#include "envelope.h"
#include "keycache.h"

#define AUDIT_QUEUE_LEN 512		/* the ring holds this many events of the largest size, many more as they come */
#define AUDIT_QUEUE_RESERVE 64	/* room for this many only events of finished transactions may take */
#define AUDIT_PROBLEM_LEN 256
#define AUDIT_RETRY_MS 1000		/* a standby's writer tries its primary again after this */
#define AUDIT_BATCH 2048
#define AUDIT_MAX_GROUPS 32
#define AUDIT_SUBJECT_FLUSH 2048	/* keys a reveal group keeps before it queues them */
#define AUDIT_STANDBY_UNCONFIRMED 64	/* subjects a standby's session may reveal before its primary confirms them */
#define AUDIT_ANCHOR_MS 200		/* the longest the anchor lags behind a steady stream */
#define AUDIT_IDLE_MINUTES 5		/* a writer without events this long gives its queue back */
#define AUDIT_GATHER_MS 20		/* how long a batch of events nobody waits for is gathered (after the commit of the one before) */
#define AUDIT_GATHER_EVENTS (AUDIT_BATCH / 2)	/* ... or until this many are queued */
#define AUDIT_GATHER_KEYS 8192	/* ... or this many subjects in chunks of them (a reveal's) */
/* ... or until they fill half the ring (large events: statements, chunks of keys) */
#define AUDIT_GATHERED(q) ((q)->head - (q)->tail >= AUDIT_GATHER_EVENTS || \
						   (q)->keys_head - (q)->keys_tail >= AUDIT_GATHER_KEYS || \
						   (q)->head_byte - (q)->tail_byte >= AUDIT_RING_BYTES / 2)

/*
 * An event as the ring holds it: this head, then the packed key ids, then
 * the text fields without their terminators (a search's record takes ~250
 * bytes, not the ~1.9 kB of an AuditEvent).  len, first, is the whole
 * encoding's size, MAXALIGNed; a len of 0 where a head would start says
 * the next event starts at the ring's beginning.
 */
typedef struct PackedEvent
{
	uint32		len;
	int32		kind;
	int32		nkeys;
	int32		packedlen;
	uint64		seq;
	uint64		group_seq;
	uint64		origin_epoch;
	uint64		origin_seq;
	int64		first_key;
	int64		last_key;
	TimestampTz at;
	uint16		field_len[11];
	bool		complete;
} PackedEvent;

#define AUDIT_PACKED_MAX MAXALIGN(sizeof(PackedEvent) + sizeof(AuditEvent))	/* the largest event's encoding, at most */
#define AUDIT_RING_BYTES ((Size) AUDIT_QUEUE_LEN * AUDIT_PACKED_MAX)
#define AUDIT_RESERVE_BYTES ((Size) AUDIT_QUEUE_RESERVE * AUDIT_PACKED_MAX)

/*
 * One database's queue.  Every field is guarded by AuditShared.lock; dboid
 * InvalidOid marks a free slot.  A backend claims its database's slot at
 * its first event; the launcher starts a writer for every claimed slot and
 * frees the slots of databases that no longer exist.
 */
typedef struct AuditQueue
{
	Oid			dboid;
	bool		stop;			/* the writer must exit: its database is dropped, renamed or copied */
	uint64		epoch;			/* random per claim of the slot */
	uint64		next_seq;		/* seq of the next event queued */
	uint64		written_seq;	/* every seq below it is committed */
	uint64		anchored_seq;	/* ... and in the anchor file (not after a writer's crash) */
	uint64		head;			/* events queued since the slot was claimed */
	uint64		tail;			/* ... of which written (the oldest unwritten, counted) */
	uint64		head_byte;		/* where in the ring (modulo its size) the next event goes */
	uint64		tail_byte;		/* ... the oldest unwritten one starts */
	uint64		keys_head;		/* subjects queued in chunks of them (events of more than one) */
	uint64		keys_tail;		/* ... of which written */
	Latch	   *writer_latch;	/* NULL while no writer runs */
	int			writer_pid;		/* 0 while no writer runs */
	bool		gathering;		/* the writer gathers events nobody waits for: wake it only for a batch */
	int			waiters;		/* sessions waiting for a commit of the writer */
	int			holders;		/* sessions keeping events they could not queue (hold_event()) */
	int			anchor_waiters; /* ... of which wait for the anchor too (audit_flush()) */
	char		problem[AUDIT_PROBLEM_LEN];	/* a standby's writer: why its primary is not reached */
	pg_atomic_uint32 unreachable;	/* ... while non-zero: nothing may be revealed there */
	ConditionVariable written_cv;	/* written_seq or anchored_seq advanced, or the writer exited */
	uint64		ring[AUDIT_RING_BYTES / sizeof(uint64)];	/* PackedEvents */
} AuditQueue;

typedef struct AuditShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch; /* NULL while the launcher does not run */
	int			nqueues;
	AuditQueue	queues[FLEXIBLE_ARRAY_MEMBER];
} AuditShared;

static AuditShared *audit = NULL;
static void describe_statement(char *out, int outsize, uint64 query_id);
static void queue_deferred(void);
static void wait_written(AuditQueue *q, uint64 target, bool anchored);
static AuditQueue *backend_queue = NULL;	/* this backend's database's, once claimed */
static AuditQueue *writer_queue = NULL;	/* the writer's own */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* settings */
static char *audit_database = NULL;	/* obsolete: every database has its trail */
static int	audit_wait_timeout = 5000;
static int	audit_max_databases = 8;


static Size
audit_shmem_size(void)
{
	return add_size(offsetof(AuditShared, queues),
					mul_size(audit_max_databases, sizeof(AuditQueue)));
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(audit_shmem_size()));
	RequestNamedLWLockTranche("privacy_guard_audit", 1);
}

static void
audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	audit = ShmemInitStruct("privacy_guard audit queues", audit_shmem_size(), &found);
	if (!found)
	{
		memset(audit, 0, audit_shmem_size());
		audit->lock = &(GetNamedLWLockTranche("privacy_guard_audit"))->lock;
		audit->nqueues = audit_max_databases;
		for (int i = 0; i < audit->nqueues; i++)
		{
			ConditionVariableInit(&audit->queues[i].written_cv);
			pg_atomic_init_u32(&audit->queues[i].unreachable, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Wake whoever moves a queue on: its writer, or the launcher to start one. */
static void
wake_writer(AuditQueue *q)
{
	Latch	   *latch;

	LWLockAcquire(audit->lock, LW_SHARED);
	latch = q->writer_latch ? q->writer_latch : audit->launcher_latch;
	LWLockRelease(audit->lock);
	if (latch)
		SetLatch(latch);
}

static void
audit_unavailable(const char *why)
{
	if (RecoveryInProgress())
	{
		char		problem[AUDIT_PROBLEM_LEN] = "";

		if (backend_queue != NULL)
		{
			LWLockAcquire(audit->lock, LW_SHARED);
			strlcpy(problem, backend_queue->problem, sizeof(problem));
			LWLockRelease(audit->lock);
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard cannot record this access: this standby cannot reach its primary"),
				 problem[0] && superuser() ? errdetail("%s", problem) :
				 problem[0] ? errdetail("The server log says why (\"privacy_guard audit writer cannot reach the primary\").") :
				 errdetail("The standby's audit writer did not confirm in time: %s.", why),
				 errhint("A standby's accesses are recorded in its primary's audit trail before any value leaves. Check primary_conninfo (or privacy_guard.primary_conninfo), and that its role may connect to database \"%s\" on the primary.",
						 get_database_name(MyDatabaseId))));
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("privacy_guard audit trail is not keeping up: %s", why),
			 errdetail("An access that cannot be recorded is refused."),
			 errhint("Check that the audit writer of database \"%s\" is running (the server log says why not; it needs a free background worker, max_worker_processes).",
					 get_database_name(MyDatabaseId))));
}

/*
 * This backend's database's queue, claimed at its first event.  NULL (with
 * a WARNING) when no slot is free and may_fail is false: at transaction
 * abort nothing may raise.
 */
static AuditQueue *
my_queue(bool may_fail)
{
	AuditQueue *q = backend_queue;
	AuditQueue *free_slot = NULL;
	bool		claimed = false;

	if (audit == NULL)
		elog(ERROR, "privacy_guard audit queue is not initialised");

	/*
	 * The queue this backend used last, while it is still this database's
	 * and running: read without the lock, as a queue can be given back
	 * just after any look-up; enqueue_ex() checks it again under the lock.
	 */
	if (q != NULL && q->dboid == MyDatabaseId && !q->stop)
		return q;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	if (q == NULL || q->dboid != MyDatabaseId)
	{
		q = NULL;
		for (int i = 0; i < audit->nqueues && q == NULL; i++)
		{
			if (audit->queues[i].dboid == MyDatabaseId)
				q = &audit->queues[i];
			else if (audit->queues[i].dboid == InvalidOid && free_slot == NULL)
				free_slot = &audit->queues[i];
		}
		if (q == NULL && free_slot != NULL)
		{
			q = free_slot;
			q->dboid = MyDatabaseId;
			EnvelopeRandom((uint8 *) &q->epoch, sizeof(q->epoch));
			q->epoch &= INT64CONST(0x7FFFFFFFFFFFFFFF);
			q->next_seq = q->written_seq = q->anchored_seq = 1;
			q->head = q->tail = 0;
			q->head_byte = q->tail_byte = 0;
			q->keys_head = q->keys_tail = 0;
			q->holders = 0;
			q->stop = false;
			q->gathering = false;
			q->problem[0] = '\0';
			pg_atomic_write_u32(&q->unreachable, 0);
			claimed = true;
		}
	}
	/* a database whose writer was stopped for a DROP that failed is in use again */
	if (q != NULL && q->stop && q->writer_pid == 0)
	{
		q->stop = false;
		claimed = true;
	}
	LWLockRelease(audit->lock);
	if (q == NULL)
	{
		ereport(may_fail ? ERROR : WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("privacy_guard audit trail: no queue is free for database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("%d databases already have an audit writer (privacy_guard.max_databases).",
						   audit->nqueues),
				 errhint("Raise privacy_guard.max_databases (restart); a database's writer gives its queue back after %d minutes without events.", AUDIT_IDLE_MINUTES)));
		return NULL;
	}
	backend_queue = q;
	if (claimed && audit->launcher_latch != NULL)
		SetLatch(audit->launcher_latch);
	return q;
}

/* Copy a string into a fixed field, truncating on a character boundary. */
static void
set_field(char *dst, int size, const char *src)
{
	int			len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Role names, kept for the last few roles an event named, until a role
 * changes in pg_authid (a rename).
 */
#define ROLE_NAMES 4

static struct
{
	Oid			roleid;			/* InvalidOid: empty */
	char		name[AUDIT_NAME_LEN];
}			role_names[ROLE_NAMES];
static int	role_names_next = 0;

static void
role_names_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < ROLE_NAMES; i++)
		role_names[i].roleid = InvalidOid;
}

static void
role_name(char *out, Oid roleid)
{
	static bool registered = false;
	int			i;

	for (i = 0; i < ROLE_NAMES; i++)
		if (role_names[i].roleid == roleid && OidIsValid(roleid))
		{
			memcpy(out, role_names[i].name, AUDIT_NAME_LEN);
			return;
		}
	if (!registered)
	{
		CacheRegisterSyscacheCallback(AUTHOID, role_names_changed, (Datum) 0);
		registered = true;
	}
	i = role_names_next;
	role_names_next = (role_names_next + 1) % ROLE_NAMES;
	role_names[i].roleid = InvalidOid;	/* (should the look-up fail) */
	memset(role_names[i].name, 0, AUDIT_NAME_LEN);
	set_field(role_names[i].name, AUDIT_NAME_LEN, GetUserNameFromId(roleid, true));
	role_names[i].roleid = roleid;
	memcpy(out, role_names[i].name, AUDIT_NAME_LEN);
}

/* Identity fields of an event: looked up now, while catalog access is allowed. */
static void
fill_identity_as(AuditEvent *e, Oid roleid)
{
	/*
	 * The database's name, looked up once: no database is renamed while
	 * another session is connected to it.
	 */
	static Oid	named_db = InvalidOid;
	static char db_name[AUDIT_NAME_LEN];

	if (named_db != MyDatabaseId)
	{
		memset(db_name, 0, AUDIT_NAME_LEN);
		set_field(db_name, AUDIT_NAME_LEN, get_database_name(MyDatabaseId));
		named_db = MyDatabaseId;
	}
	memcpy(e->database, db_name, AUDIT_NAME_LEN);
	role_name(e->session_user_name, GetSessionUserId());
	role_name(e->current_role_name, roleid);
}

static void
fill_identity(AuditEvent *e)
{
	fill_identity_as(e, GetUserId());
}

/* The text fields of an event, in the order a PackedEvent holds them. */
#define EVENT_FIELDS(e) \
	{(e)->database, (e)->session_user_name, (e)->current_role_name, (e)->event, (e)->purpose, \
	 (e)->category, (e)->table_name, (e)->column_name, (e)->subject, (e)->outcome, (e)->detail}
#define EVENT_FIELD_SIZES(e) \
	{sizeof((e)->database), sizeof((e)->session_user_name), sizeof((e)->current_role_name), \
	 sizeof((e)->event), sizeof((e)->purpose), sizeof((e)->category), sizeof((e)->table_name), \
	 sizeof((e)->column_name), sizeof((e)->subject), sizeof((e)->outcome), sizeof((e)->detail)}

/* Encode an event into out (AUDIT_PACKED_MAX bytes); returns its len. */
static Size
event_pack(const AuditEvent *e, char *out)
{
	PackedEvent *p = (PackedEvent *) out;
	const char *fields[11] = EVENT_FIELDS(e);
	const Size	sizes[11] = EVENT_FIELD_SIZES(e);
	char	   *at = out + sizeof(PackedEvent);
	int			packedlen = Min(Max(e->packedlen, 0), AUDIT_PACKED_LEN);

	memset(p, 0, sizeof(PackedEvent));	/* no stack bytes in the ring, padding included */
	p->kind = (int32) e->kind;
	p->nkeys = e->nkeys;
	p->complete = e->complete;
	p->packedlen = packedlen;
	p->seq = e->seq;
	p->group_seq = e->group_seq;
	p->origin_epoch = e->origin_epoch;
	p->origin_seq = e->origin_seq;
	p->first_key = e->first_key;
	p->last_key = e->last_key;
	p->at = e->at;
	memcpy(at, e->packed, packedlen);
	at += packedlen;
	for (int f = 0; f < 11; f++)
	{
		Size		len = strnlen(fields[f], sizes[f] - 1);

		p->field_len[f] = (uint16) len;
		memcpy(at, fields[f], len);
		at += len;
	}
	p->len = (uint32) MAXALIGN(at - out);
	memset(at, 0, out + p->len - at);
	return p->len;
}

/* Decode the event at in into *e; returns its len. */
static Size
event_unpack(const char *in, AuditEvent *e)
{
	const PackedEvent *p = (const PackedEvent *) in;
	char	   *fields[11] = EVENT_FIELDS(e);
	const char *at = in + sizeof(PackedEvent);

	/* every field zero past its text, as a filled event has it: nothing of an earlier event's */
	memset(e, 0, sizeof(AuditEvent));
	e->kind = (AuditKind) p->kind;
	e->nkeys = p->nkeys;
	e->complete = p->complete;
	e->packedlen = p->packedlen;
	e->seq = p->seq;
	e->group_seq = p->group_seq;
	e->origin_epoch = p->origin_epoch;
	e->origin_seq = p->origin_seq;
	e->first_key = p->first_key;
	e->last_key = p->last_key;
	e->at = p->at;
	memcpy(e->packed, at, p->packedlen);
	at += p->packedlen;
	for (int f = 0; f < 11; f++)
	{
		memcpy(fields[f], at, p->field_len[f]);
		fields[f][p->field_len[f]] = '\0';
		at += p->field_len[f];
	}
	return p->len;
}

/*
 * Events a transaction's abort found no room for (it cannot wait): kept by
 * the session, in order, and queued before anything it queues next, at
 * the start of its next statement, or as it exits (waiting then, up to
 * privacy_guard.audit_wait_timeout).  The values they account for may
 * have left already (rows sent before an error, a ROLLBACK the client
 * chose): a full queue delays their record, it does not drop it.
 */
#define AUDIT_HELD_MAX 8192		/* beyond this many (~16 MB) an abort's events are dropped, loudly */
#define AUDIT_SEQ_HELD (UINT64CONST(1) << 63)	/* a "seq" naming a kept event: AUDIT_SEQ_HELD | its id */

typedef struct HeldEvent
{
	AuditEvent	ev;
	uint64		id;				/* held_serial when kept */
} HeldEvent;

static List *held_events = NIL;	/* HeldEvents, in TopMemoryContext */
static AuditQueue *held_queue = NULL;	/* ... for this queue, whose writer keeps it meanwhile */
static uint64 held_serial = 0;
static uint64 held_base = 0;	/* the id of the first kept since none was */
static uint64 *held_seqs = NULL;	/* the seq each kept event got, by id - held_base */
static bool draining_held = false;
static bool held_exit_hook = false;

static uint64 enqueue_ex(AuditEvent *local, bool may_wait);
static void held_at_exit(int code, Datum arg);

/*
 * Keep an event of an abort for later; returns what stands for its seq
 * until it is queued (a search's opening record kept names the subjects
 * kept after it by that), or 0 when, past AUDIT_HELD_MAX, it is lost.
 */
static uint64
hold_event(AuditQueue *q, const AuditEvent *local)
{
	MemoryContext old;
	HeldEvent  *copy;

	if (list_length(held_events) >= AUDIT_HELD_MAX || (held_queue != NULL && held_queue != q))
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard audit queue is full: an event of a finished transaction was not recorded"),
				 errdetail("This session keeps %d such events already.", list_length(held_events))));
		return 0;
	}
	if (!held_exit_hook)
	{
		before_shmem_exit(held_at_exit, (Datum) 0);
		held_exit_hook = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (held_seqs == NULL)
		held_seqs = palloc0(sizeof(uint64) * 2 * AUDIT_HELD_MAX);
	if (held_events == NIL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard audit queue is full: this session keeps the events of its finished transaction"),
				 errdetail("They are queued before its next statement, or as it ends.")));
		/* the writer keeps the queue (its epoch, its seqs) while a session keeps events */
		LWLockAcquire(audit->lock, LW_EXCLUSIVE);
		q->holders++;
		LWLockRelease(audit->lock);
		held_queue = q;
		held_base = held_serial + 1;
	}
	copy = palloc(sizeof(HeldEvent));
	memcpy(&copy->ev, local, sizeof(AuditEvent));
	copy->id = ++held_serial;
	held_events = lappend(held_events, copy);
	MemoryContextSwitchTo(old);
	return AUDIT_SEQ_HELD | copy->id;
}

/* The session keeps no event any more (queued, or lost at exit): the writer may let go of its queue. */
static void
held_released(void)
{
	if (held_queue == NULL)
		return;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	held_queue->holders--;
	LWLockRelease(audit->lock);
	held_queue = NULL;
}

/*
 * Queue the events kept by hold_event(), in order: waiting for room (and
 * failing as any event would) with may_wait, else as many as fit now.
 */
static void
queue_held(bool may_wait)
{
	if (held_events == NIL || draining_held)
		return;
	draining_held = true;
	PG_TRY();
	{
		while (held_events != NIL)
		{
			HeldEvent  *h = linitial(held_events);
			uint64		seq;

			/* subjects of a search whose opening record was kept too: its seq now */
			if (h->ev.group_seq & AUDIT_SEQ_HELD)
			{
				uint64		ref = h->ev.group_seq & ~AUDIT_SEQ_HELD;

				h->ev.group_seq = ref >= held_base && ref - held_base < 2 * AUDIT_HELD_MAX ?
					held_seqs[ref - held_base] : 0;
			}
			seq = enqueue_ex(&h->ev, may_wait);
			if (seq == 0 && !may_wait)
				break;			/* still no room */
			if (h->id - held_base < 2 * AUDIT_HELD_MAX)
				held_seqs[h->id - held_base] = seq;
			held_events = list_delete_first(held_events);
			pfree(h);
		}
	}
	PG_FINALLY();
	{
		draining_held = false;
	}
	PG_END_TRY();
	if (held_events == NIL)
		held_released();
}

/*
 * A session ending with events kept: they are queued, waiting, or reported
 * lost.  Exit callbacks run newest first, so this one runs before the
 * transaction a session exits in is aborted (ShutdownPostgres()): aborted
 * here first, so that what its abort cannot queue is kept, then queued.
 */
static void
held_at_exit(int code, Datum arg)
{
	TimestampTz deadline;

	/* a drain cut short (a FATAL while it waited for room) ended here: it drains no more */
	draining_held = false;
	AbortOutOfAnyTransaction();
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_wait_timeout);

	while (held_events != NIL && GetCurrentTimestamp() < deadline)
	{
		queue_held(false);
		if (held_events != NIL)
			pg_usleep(50000L);
	}
	if (held_events != NIL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard audit queue stayed full: %d events of this session were not recorded",
						list_length(held_events))));
		held_released();
	}
}

/*
 * Put one filled event in the queue and return its seq.  Waits (bounded)
 * for room when the queue is full and fails rather than drop it.  Touches
 * no catalog, so it also serves at transaction abort, where it cannot
 * wait: an event that finds no room then is kept by the session, and what
 * is returned stands for its seq (hold_event()).
 */
static uint64
enqueue_ex(AuditEvent *local, bool may_wait)
{
	TimestampTz deadline = 0;
	bool		sleeping = false;	/* prepared to sleep on the queue's written_cv */
	uint64		seq;
	bool		wake;
	AuditQueue *q = my_queue(may_wait);
	union
	{
		PackedEvent head;
		char		bytes[AUDIT_PACKED_MAX];
	}			packed;
	Size		len;
	Size		pos = 0;
	Size		waste = 0;

	if (q == NULL)
		return 0;
	/* what the session keeps goes first */
	if (held_events != NIL && !draining_held)
	{
		if (!may_wait)
			return hold_event(q, local);
		queue_held(true);
	}
	len = event_pack(local, packed.bytes);
	for (;;)
	{
		LWLockAcquire(audit->lock, LW_EXCLUSIVE);
		/* an idle writer may have given the queue back meanwhile */
		if (q->dboid != MyDatabaseId)
		{
			LWLockRelease(audit->lock);
			if (sleeping)
				ConditionVariableCancelSleep();
			sleeping = false;
			q = my_queue(may_wait);
			if (q == NULL)
				return 0;
			continue;
		}
		/*
		 * Sessions that can wait leave the ring's last room to those that
		 * cannot (a transaction's abort queues its open groups' last
		 * subjects and closing records), so that these find room even
		 * under a backlog.  An event that would not fit before the ring's
		 * end starts at its beginning, the bytes skipped counted as used.
		 */
		pos = q->head_byte % AUDIT_RING_BYTES;
		waste = AUDIT_RING_BYTES - pos < len ? AUDIT_RING_BYTES - pos : 0;
		if (q->head_byte - q->tail_byte + waste + len +
			(may_wait ? AUDIT_RESERVE_BYTES : 0) <= AUDIT_RING_BYTES)
			break;
		LWLockRelease(audit->lock);
		wake_writer(q);
		if (!may_wait)
		{
			/* at transaction abort nothing may fail or wait: kept for later */
			return draining_held ? 0 : hold_event(q, local);
		}

		/*
		 * Only a full queue makes a session wait: it prepares to sleep,
		 * then looks again before it sleeps (room made meanwhile is
		 * announced before the preparation, and would be missed).
		 */
		if (!sleeping)
		{
			if (deadline == 0)
				deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_wait_timeout);
			ConditionVariablePrepareToSleep(&q->written_cv);
			sleeping = true;
			continue;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			ConditionVariableCancelSleep();
			audit_unavailable("its queue is full");
		}
		ConditionVariableTimedSleep(&q->written_cv, 100, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	seq = local->seq = q->next_seq++;
	packed.head.seq = seq;
	if (waste > 0)
	{
		*(uint32 *) ((char *) q->ring + pos) = 0;	/* the next event is at the beginning */
		q->head_byte += waste;
		pos = 0;
	}
	memcpy((char *) q->ring + pos, packed.bytes, len);
	q->head_byte += len;
	q->head++;
	if (local->nkeys > 1)
		q->keys_head += local->nkeys;

	/*
	 * A writer gathering a batch is woken only once the batch is full (a
	 * session that waits for a commit wakes it itself): one signal per
	 * event would cost each statement a system call and the writer a
	 * wake-up, for nothing.
	 */
	wake = !q->gathering || AUDIT_GATHERED(q);
	LWLockRelease(audit->lock);
	if (sleeping)
		ConditionVariableCancelSleep();
	if (wake)
		wake_writer(q);
	return seq;
}

static uint64
enqueue(AuditEvent *local)
{
	uint64		seq = enqueue_ex(local, true);

	/*
	 * On a hot standby every record waits until its primary has it: a
	 * search, a declared purpose or a refusal there is refused rather than
	 * held in memory, where a restart of the standby would lose it.
	 */
	if (local->kind == AUDIT_RECORD && local->origin_epoch == 0 && RecoveryInProgress())
		wait_written(my_queue(true), seq, false);
	return seq;
}

/* Queue one record of the chain.  Events carry names, never values. */
uint64
AuditRecord(const char *event, const char *purpose, const char *category,
			const char *outcome, const char *detail)
{
	return AuditRecordSubject(event, purpose, category, outcome, detail, NULL);
}

/* The same, about one data subject (consent, erasure): access_history() finds it. */
uint64
AuditRecordSubject(const char *event, const char *purpose, const char *category,
				   const char *outcome, const char *detail, const char *subject)
{
	return AuditRecordAs(GetUserId(), event, purpose, category, outcome, detail, subject);
}

/* Fill a record with every field an event of this kind can carry. */
static void
fill_event(AuditEvent *e, Oid roleid, const char *event, const char *purpose,
		   const char *category, const char *table, const char *column,
		   const char *outcome, const char *detail, const char *subject)
{
	memset(e, 0, sizeof(AuditEvent));
	e->kind = AUDIT_RECORD;
	e->at = GetCurrentTimestamp();
	fill_identity_as(e, roleid);
	set_field(e->event, AUDIT_NAME_LEN, event);
	set_field(e->purpose, AUDIT_NAME_LEN, purpose);
	set_field(e->category, AUDIT_NAME_LEN, category);
	set_field(e->table_name, sizeof(e->table_name), table);
	set_field(e->column_name, sizeof(e->column_name), column);
	set_field(e->outcome, AUDIT_NAME_LEN, outcome);
	set_field(e->detail, AUDIT_DETAIL_LEN, detail);
	set_field(e->subject, sizeof(e->subject), subject);
}

/* Fill one record and queue it. */
static uint64
record_event(Oid roleid, const char *event, const char *purpose, const char *category,
			 const char *table, const char *column, const char *outcome,
			 const char *detail, const char *subject)
{
	AuditEvent	local;

	fill_event(&local, roleid, event, purpose, category, table, column, outcome, detail, subject);
	return enqueue(&local);
}

/*
 * The same, naming another role as the current one: a SECURITY DEFINER
 * function of the extension records the role that called it, not itself.
 */
uint64
AuditRecordAs(Oid roleid, const char *event, const char *purpose, const char *category,
			  const char *outcome, const char *detail, const char *subject)
{
	return record_event(roleid, event, purpose, category, NULL, NULL, outcome, detail, subject);
}

/*
 * An event filled now and queued later, at commit or abort, when the
 * catalog is out of reach: in TopMemoryContext until queued or discarded.
 */
void *
AuditPrepareAs(Oid roleid, const char *event, const char *outcome, const char *detail)
{
	AuditEvent *e = MemoryContextAlloc(TopMemoryContext, sizeof(AuditEvent));

	fill_event(e, roleid, event, NULL, NULL, NULL, NULL, outcome, detail, NULL);
	return e;
}

/* Queue a prepared event, timed now, and free it; never raises. */
void
AuditQueuePrepared(void *prepared)
{
	AuditEvent *e = prepared;

	e->at = GetCurrentTimestamp();
	enqueue_ex(e, false);
	pfree(e);
}

/* One record about one column of one table (discovery): no purpose, no subject. */
uint64
AuditRecordColumn(const char *event, const char *category, const char *table,
				  const char *column, const char *outcome, const char *detail)
{
	return record_event(GetUserId(), event, NULL, category, table, column, outcome, detail, NULL);
}

/*
 * Wait until the event with this seq is committed (and, if anchored, in the
 * anchor file too); fail after the timeout.
 */
static void
wait_written(AuditQueue *q, uint64 target, bool anchored)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), audit_wait_timeout);
	bool		counted = false;

	ConditionVariablePrepareToSleep(&q->written_cv);
	PG_TRY();
	{
		for (;;)
		{
			uint64		written;

			/* a waiter makes the writer commit at once, not gather a batch */
			LWLockAcquire(audit->lock, LW_EXCLUSIVE);
			written = anchored ? q->anchored_seq : q->written_seq;
			if (written <= target && !counted)
			{
				q->waiters++;
				if (anchored)
					q->anchor_waiters++;
				counted = true;
			}
			LWLockRelease(audit->lock);
			if (written > target)
				break;
			wake_writer(q);
			if (GetCurrentTimestamp() >= deadline)
				audit_unavailable("its writer did not confirm in time");
			ConditionVariableTimedSleep(&q->written_cv, 100, PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		ConditionVariableCancelSleep();
		if (counted)
		{
			LWLockAcquire(audit->lock, LW_EXCLUSIVE);
			q->waiters--;
			if (anchored)
				q->anchor_waiters--;
			LWLockRelease(audit->lock);
		}
	}
	PG_END_TRY();
}

/*
 * Wait until every event queued before this call, by any session of this
 * database, is committed and anchored.
 */
void
AuditFlush(void)
{
	uint64		target;
	AuditQueue *q = NULL;

	if (audit == NULL)
		elog(ERROR, "privacy_guard audit queue is not initialised");
	queue_deferred();			/* this statement's searches so far */
	/* a database that queued nothing has nothing to flush, and takes no queue */
	LWLockAcquire(audit->lock, LW_SHARED);
	for (int i = 0; i < audit->nqueues && q == NULL; i++)
		if (audit->queues[i].dboid == MyDatabaseId)
			q = &audit->queues[i];
	LWLockRelease(audit->lock);
	if (q == NULL)
		return;

	LWLockAcquire(audit->lock, LW_SHARED);
	target = q->next_seq;
	LWLockRelease(audit->lock);
	if (target > 1)
		wait_written(q, target - 1, true);
}

/*
 * Append a key id, greater than the event's last, to a subjects event;
 * false (the event unchanged) when it is full.
 */
bool
AuditPackKey(AuditEvent *e, int64 key_id)
{
	uint8		buf[10];
	int			n = 0;
	uint64		delta;

	if (e->nkeys == 0)
	{
		e->first_key = e->last_key = key_id;
		e->packedlen = 0;
		e->nkeys = 1;
		return true;
	}
	if (key_id <= e->last_key)
		elog(ERROR, "audit subject keys out of order");
	if (e->nkeys >= AUDIT_KEYS_PER_EVENT)
		return false;

	/*
	 * A subjects row is found by the range of keys it spans (a GiST index):
	 * a few subjects far apart in one row would make it a candidate for
	 * every key between them, which access_history() would then read.
	 */
	if ((uint64) key_id - (uint64) e->first_key > AUDIT_KEY_SPAN)
		return false;
	delta = (uint64) (key_id - e->last_key);
	do
	{
		buf[n] = delta & 0x7F;
		delta >>= 7;
		if (delta != 0)
			buf[n] |= 0x80;
		n++;
	} while (delta != 0);
	if (e->packedlen + n > AUDIT_PACKED_LEN)
		return false;
	memcpy(e->packed + e->packedlen, buf, n);
	e->packedlen += n;
	e->last_key = key_id;
	e->nkeys++;
	return true;
}

/* The key ids of a subjects event, into keys (room for AUDIT_KEYS_PER_EVENT); how many. */
int
AuditUnpackKeys(const AuditEvent *e, int64 *keys)
{
	int			n = 0;
	int			pos = 0;

	int			nkeys = Min(e->nkeys, AUDIT_KEYS_PER_EVENT);
	int			packedlen = Min(e->packedlen, AUDIT_PACKED_LEN);

	if (nkeys <= 0)
		return 0;
	keys[n++] = e->first_key;
	while (n < nkeys && pos < packedlen)
	{
		uint64		delta = 0;
		int			shift = 0;

		while (pos < packedlen && shift < 64)
		{
			uint8		b = e->packed[pos++];

			delta |= (uint64) (b & 0x7F) << shift;
			shift += 7;
			if (!(b & 0x80))
				break;
		}
		if (delta == 0 || delta > (uint64) (PG_INT64_MAX - keys[n - 1]))
			break;				/* not what AuditPackKey() wrote */
		keys[n] = keys[n - 1] + (int64) delta;
		n++;
	}
	return n;
}

/*
 * A standby's event, forwarded by its writer (forward.c): queued here like
 * this server's own, under this database's name.
 */
uint64
AuditEnqueueForwarded(AuditEvent *e)
{
	Assert(e->origin_epoch != 0);
	set_field(e->database, AUDIT_NAME_LEN, get_database_name(MyDatabaseId));
	return enqueue(e);
}

/* Wait until the event queued as seq is committed. */
void
AuditWaitWritten(uint64 seq)
{
	wait_written(my_queue(true), seq, false);
}

PG_FUNCTION_INFO_V1(pguard_audit_flush);

/* audit_flush(): return once every event queued so far is in the trail. */
Datum
pguard_audit_flush(PG_FUNCTION_ARGS)
{
	AuditFlush();
	PG_RETURN_VOID();
}

/*----------------------------------------------------------------------
 * Reveals, aggregated per statement
 *
 * Every reveal of one statement under one purpose, category and outcome
 * is a group: one record opens it (for outcomes that return data, reveal
 * waits until that record is committed, so a value that left the server
 * is in the trail even if the backend is killed the next moment), the
 * data keys it touched are kept in memory, and at the end of the
 * statement (or of the transaction, if it fails) they are queued in
 * chunks, followed by a record closing the group with its counts.
 *----------------------------------------------------------------------
 */


typedef struct RevealGroup
{
	const char *event;			/* "reveal" or "search", a static string */
	const char *table;			/* per call site, or NULL */
	const char *column;
	Oid			userid;
	char		purpose[AUDIT_NAME_LEN];
	char		category[AUDIT_NAME_LEN];
	const char *outcome;		/* a static string */
	uint64		open_seq;		/* its opening record's (0: not queued yet) */
	AuditEvent *deferred;		/* ... a search's, queued with its first subjects (flush_group_keys()) */
	uint64		query_id;		/* the statement's */
	int64		count;
	int64		nsubjects;		/* keys queued so far */
	keyslot_hash *keys;			/* the set of key ids (NULL: none are recorded) */
	int64	   *arrival;		/* ... in the order they came */
	int			narrival;
	int			arrival_cap;	/* grows to AUDIT_SUBJECT_FLUSH: most groups hold a subject or two */
	bool		ascending;		/* ... which is ascending */
	bool		standby;		/* opened on a hot standby: each chunk of subjects waits for its primary */
	AuditEvent	identity;		/* database and role names, captured at open */
} RevealGroup;

static bool audit_subjects = true;
static bool audit_log_lines = false;
static MemoryContext group_cxt = NULL;
static RevealGroup groups[AUDIT_MAX_GROUPS];
static int	ngroups = 0;
static RevealGroup *last_group = NULL;
static uint64 groups_serial = 1;	/* advances whenever a group opens, ends or moves in groups[] */
static int	standby_unconfirmed = 0;	/* subjects a standby's primary has not confirmed */
static uint64 standby_last_seq = 0;	/* the last seq queued with subjects */
static uint64 statement_query_id = 0;
static int	exec_nesting = 0;
static QueryDesc *running[64];	/* the queries whose ExecutorRun is under way */
static uint64 running_serial[64];	/* ... each run's own number (run_serial when it began) */
static uint64 run_serial = 0;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

/*
 * Queue the data keys a group has touched so far, in chunks, and empty its
 * set: at the end of the statement, and whenever the set reaches
 * AUDIT_SUBJECT_FLUSH keys, so that a long reveal (a cursor fetched for
 * hours) keeps little in memory and leaves little to queue if it aborts,
 * when queueing cannot wait.  A subject met again after a flush is queued
 * again: access_history() is exact, the closing record's count of
 * subjects is one per chunk entry.
 */
static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static uint64
flush_group_keys(RevealGroup *grp, bool may_wait, bool ending)
{
	AuditEvent	ev;
	int64	   *sorted = grp->arrival;
	int			n = grp->keys == NULL ? 0 : grp->narrival;
	int			i = 0;
	uint64		last = 0;
	bool		queued_before = grp->nsubjects > 0;	/* some of the group's subjects */

	if (n == 0 && grp->deferred == NULL)
		return 0;

	/*
	 * Sorted, so that each chunk spans a narrow range of ids: the keys in
	 * the order they came, which a scan in key order already sorted.
	 */
	if (n > 1 && !grp->ascending)
		qsort(sorted, n, sizeof(int64), int64_cmp);

	/*
	 * A search's opening record, held back until now, carries the first
	 * of its subjects itself: one event for the search of one subject.
	 * Once queued (its seq known), the group is as any other.
	 */
	if (grp->deferred != NULL)
	{
		AuditEvent *open = grp->deferred;

		open->nkeys = 0;
		for (; i < n && AuditPackKey(open, sorted[i]); i++)
			;
		open->complete = ending && i == n;
		queued_before = i > 0;
		grp->open_seq = last = enqueue_ex(open, may_wait);
		grp->nsubjects += i;	/* (counted once queued: a failed queueing is retried whole) */
		grp->deferred = NULL;
		pfree(open);
	}
	if (i < n)
	{
		ev = grp->identity;
		ev.kind = AUDIT_SUBJECTS;
		ev.group_seq = grp->open_seq;
		ev.nkeys = 0;
		ev.complete = false;
		for (; i < n; i++)
		{
			if (!AuditPackKey(&ev, sorted[i]))
			{
				last = enqueue_ex(&ev, may_wait);
				grp->nsubjects += ev.nkeys;
				queued_before = true;
				ev.nkeys = 0;
				(void) AuditPackKey(&ev, sorted[i]);
			}
		}
		if (ev.nkeys > 0)
		{
			ev.complete = ending && !queued_before;
			last = enqueue_ex(&ev, may_wait);
			grp->nsubjects += ev.nkeys;
		}
	}
	if (grp->keys == NULL)
		return last;
	keyslot_reset(grp->keys);
	grp->narrival = 0;
	grp->ascending = true;
	if (last > 0 && !(last & AUDIT_SEQ_HELD))
		standby_last_seq = last;
	return last;
}

/* Queue the opening records held back (searches') with their subjects so far. */
static void
queue_deferred(void)
{
	for (int g = 0; g < ngroups; g++)
		if (groups[g].deferred != NULL)
			(void) flush_group_keys(&groups[g], true, false);
}

/*
 * On a hot standby, whose primary may be away for long, what a session
 * revealed is not left unrecorded for long: once AUDIT_STANDBY_UNCONFIRMED
 * subjects (of all its groups, this statement's and earlier ones') are not
 * known to be in the primary's trail, the session queues them all and
 * waits for the primary before it goes on.  And while the standby's writer
 * cannot reach the primary, no value leaves at all.
 */
static void
standby_subject_added(void)
{
	if (backend_queue != NULL && pg_atomic_read_u32(&backend_queue->unreachable) != 0)
		audit_unavailable("it cannot reach the primary");
	if (++standby_unconfirmed < AUDIT_STANDBY_UNCONFIRMED)
		return;
	for (int g = 0; g < ngroups; g++)
		(void) flush_group_keys(&groups[g], true, false);
	if (standby_last_seq > 0)
		wait_written(my_queue(true), standby_last_seq, false);
	standby_unconfirmed = 0;
}

/* A group's closing record, with this outcome; its detail is the caller's. */
static void
group_end(AuditEvent *ev, const RevealGroup *grp, const char *outcome)
{
	*ev = grp->identity;
	ev->kind = AUDIT_RECORD;
	ev->at = GetCurrentTimestamp();
	snprintf(ev->event, AUDIT_NAME_LEN, "%s_end", grp->event);
	set_field(ev->purpose, AUDIT_NAME_LEN, grp->purpose);
	set_field(ev->category, AUDIT_NAME_LEN, grp->category);
	set_field(ev->outcome, AUDIT_NAME_LEN, outcome);
}

/* Queue a group's subjects and its closing record. */
static void
end_group(RevealGroup *grp, bool may_wait)
{
	AuditEvent	ev;
	int64		nsubjects;

	flush_group_keys(grp, may_wait, true);
	nsubjects = grp->nsubjects;
	/*
	 * A statement's one search returns no data: its opening record and
	 * the subjects it matched say it whole, without a closing record.
	 */
	if (strcmp(grp->event, "search") == 0 && grp->count == 1)
		return;
	group_end(&ev, grp, grp->outcome);
	snprintf(ev.detail, AUDIT_DETAIL_LEN, "query %lld: %lld value%s, %lld subject%s",
			 (long long) grp->query_id, (long long) grp->count, grp->count == 1 ? "" : "s",
			 (long long) nsubjects, nsubjects == 1 ? "" : "s");
	enqueue_ex(&ev, may_wait);
}

/* End every open group; forget them. */
static void
flush_groups(bool may_wait)
{
	for (int g = 0; g < ngroups; g++)
		end_group(&groups[g], may_wait);
	ngroups = 0;
	last_group = NULL;
	groups_serial++;
	if (group_cxt != NULL)
		MemoryContextReset(group_cxt);
}

/*
 * End the search groups when a top-level run of the executor ends: the
 * rows a search found are the client's by then, so its record (held back
 * until now, flush_group_keys()) is queued at once, whether or not the
 * statement goes on (a cursor fetched later, a portal left suspended, a
 * transaction left idle).  A search the statement's later runs make (the
 * next FETCH) opens a group of its own.  Each group leaves the open ones
 * as it is ended: one that fails to end is ended again at the abort.
 */
static void
end_search_groups(void)
{
	for (int g = 0; g < ngroups;)
	{
		RevealGroup *grp = &groups[g];

		if (strcmp(grp->event, "search") != 0)
		{
			g++;
			continue;
		}
		end_group(grp, true);
		if (grp->keys != NULL)
			keyslot_destroy(grp->keys);
		if (grp->arrival != NULL)
			pfree(grp->arrival);
		memmove(grp, grp + 1, sizeof(RevealGroup) * (ngroups - g - 1));
		ngroups--;
		last_group = NULL;
		groups_serial++;
	}
}

/*
 * A run that may be followed by others (a cursor's FETCH, a portal's
 * Execute with a row limit) returned its rows: the subjects of the values
 * it revealed are queued now, waiting for room like the statement's end
 * would.  Not at the transaction's end, which the client chooses: a
 * ROLLBACK queues without waiting, and a full queue would drop them.
 */
static void
queue_reveal_subjects(void)
{
	for (int g = 0; g < ngroups; g++)
		if (strcmp(groups[g].event, "reveal") == 0)
			(void) flush_group_keys(&groups[g], true, false);
}

/*
 * Add a subject to a group's set, in the order it came, queueing the set
 * once it holds AUDIT_SUBJECT_FLUSH keys.  A flush that failed (and was
 * caught) left it full: it is flushed first, before the set changes, so
 * that the set and its arrival order always hold the same keys.
 */
static void
group_add_key(RevealGroup *grp, int64 key_id)
{
	bool		found;
	KeySlot    *k;

	if (grp->narrival >= AUDIT_SUBJECT_FLUSH)
		(void) flush_group_keys(grp, true, false);
	if (grp->narrival == grp->arrival_cap)
	{
		int			cap = Min(grp->arrival_cap * 2, AUDIT_SUBJECT_FLUSH);

		/* before the set takes the key: the two must not differ if this fails */
		grp->arrival = repalloc(grp->arrival, sizeof(int64) * cap);
		grp->arrival_cap = cap;
	}
	k = keyslot_insert(grp->keys, key_id, &found);
	if (found)
		return;
	k->entry = NULL;			/* a set: ids only */
	if (grp->narrival > 0 && key_id < grp->arrival[grp->narrival - 1])
		grp->ascending = false;
	grp->arrival[grp->narrival++] = key_id;
	if (grp->narrival >= AUDIT_SUBJECT_FLUSH)
		(void) flush_group_keys(grp, true, false);
	if (grp->standby)
		standby_subject_added();
}

/* Does a NUL-terminated field hold exactly name[0, len)?  Names are short: no call. */
static inline bool
field_is(const char *field, const char *name, int len)
{
	if (len >= AUDIT_NAME_LEN)
		return false;			/* a field keeps a name that long cut short */
	for (int i = 0; i < len; i++)
		if (field[i] != name[i])
			return false;
	return field[len] == '\0';
}

/* Is the group of this event, outcome, role, purpose and category? */
static inline bool
group_is(const RevealGroup *g, const char *event, const char *outcome, Oid userid,
		 const char *purpose, int purposelen, const char *category, int catlen)
{
	return g->outcome == outcome && g->event == event && g->userid == userid &&
		field_is(g->category, category, catlen) && field_is(g->purpose, purpose, purposelen);
}

/*
 * Is the group's site this table and column?  By name, not by pointer: a
 * site's names live in its query's memory, freed when that query ends, and
 * another query's names may take their addresses (a PL/pgSQL function's
 * queries one after another).
 */
static bool
group_site_is(const RevealGroup *g, const char *table, const char *column)
{
	if ((table == NULL) != (g->table == NULL) || (column == NULL) != (g->column == NULL))
		return false;
	return (table == NULL ||
			strncmp(g->identity.table_name, table, sizeof(g->identity.table_name)) == 0) &&
		(column == NULL ||
		 strncmp(g->identity.column_name, column, sizeof(g->identity.column_name)) == 0);
}

/*
 * Account for one reveal.  returns_data: the outcome hands plaintext (or a
 * mask of it) to the caller, so the group's record must be durable first.
 */
void
AuditReveal(const char *event, const char *table, const char *column,
			const char *purpose, int purposelen,
			const char *category, int catlen,
			const char *outcome, bool returns_data, int64 key_id,
			AuditSiteMemo *memo)
{
	RevealGroup *grp = NULL;

	Oid			userid = GetUserId();

	/* the group this site joined last, while no group has opened, ended or moved since */
	if (memo != NULL && memo->serial == groups_serial)
	{
		grp = &groups[memo->group];
		if (!group_is(grp, event, outcome, userid, purpose, purposelen, category, catlen))
			grp = NULL;
	}
	else if (last_group != NULL &&
			 group_is(last_group, event, outcome, userid, purpose, purposelen, category, catlen) &&
			 group_site_is(last_group, table, column))
		grp = last_group;
	if (grp == NULL)
	{
		for (int g = 0; g < ngroups; g++)
		{
			RevealGroup *c = &groups[g];

			if (group_is(c, event, outcome, userid, purpose, purposelen, category, catlen) &&
				group_site_is(c, table, column))
			{
				grp = c;
				break;
			}
		}
	}
	if (grp == NULL)
	{
		char	   *p = pnstrdup(purpose, purposelen);
		char	   *c = pnstrdup(category, catlen);
		char		statement[AUDIT_DETAIL_LEN];

		RevealGroup fresh;

		if (ngroups == AUDIT_MAX_GROUPS)
			flush_groups(true);
		if (group_cxt == NULL)
			group_cxt = AllocSetContextCreate(TopMemoryContext, "privacy_guard reveal groups",
											  ALLOCSET_DEFAULT_SIZES);

		/*
		 * Build the group aside; it joins the open groups only once its
		 * record is queued and, when data is returned, committed.  A failure
		 * here (queue full, timeout, cancel) leaves nothing half-made for a
		 * retry to slip through.
		 */
		/* a standby cut off from its primary lets nothing out, at once */
		if (RecoveryInProgress() && backend_queue != NULL &&
			pg_atomic_read_u32(&backend_queue->unreachable) != 0)
			audit_unavailable("it cannot reach the primary");
		memset(&fresh, 0, sizeof(RevealGroup));
		set_field(fresh.purpose, AUDIT_NAME_LEN, p);
		set_field(fresh.category, AUDIT_NAME_LEN, c);
		fresh.outcome = outcome;
		fresh.event = event;
		fresh.table = table;
		fresh.column = column;
		fresh.userid = userid;
		fill_identity(&fresh.identity);
		fresh.query_id = statement_query_id;
		describe_statement(statement, sizeof(statement), statement_query_id);
		set_field(fresh.identity.detail, AUDIT_DETAIL_LEN, statement);
		set_field(fresh.identity.table_name, sizeof(fresh.identity.table_name), table);
		set_field(fresh.identity.column_name, sizeof(fresh.identity.column_name), column);
		{
			AuditEvent	now;
			AuditEvent *open = &now;

			/*
			 * A search returns no data of its own: its opening record is
			 * queued when the group's subjects are (at the latest when
			 * the executor's run that found them ends, end_search_groups(),
			 * or an error ends it), carrying the first of them, so that a
			 * search costs one event, not two.  Not on a hot standby,
			 * whose primary takes subjects as events apart.
			 */
			if (!returns_data && strcmp(event, "search") == 0 && !RecoveryInProgress())
				open = fresh.deferred = MemoryContextAlloc(group_cxt, sizeof(AuditEvent));
			*open = fresh.identity;
			open->kind = AUDIT_RECORD;
			open->at = GetCurrentTimestamp();
			set_field(open->event, AUDIT_NAME_LEN, event);
			set_field(open->purpose, AUDIT_NAME_LEN, p);
			set_field(open->category, AUDIT_NAME_LEN, c);
			set_field(open->outcome, AUDIT_NAME_LEN, outcome);
			if (open == &now)
				fresh.open_seq = enqueue(open);
		}
		if (returns_data)
		{
			PG_TRY();
			{
				wait_written(my_queue(true), fresh.open_seq, false);
			}
			PG_CATCH();
			{
				/*
				 * Nothing was returned under this opening record (its
				 * writer did not confirm it in time, or the wait was
				 * cancelled), yet it may be written later: its group ends
				 * here, saying so, not as "revealed" with nothing after it.
				 */
				AuditEvent	end;

				group_end(&end, &fresh, "not delivered");
				snprintf(end.detail, AUDIT_DETAIL_LEN,
						 "query %lld: nothing returned, the record above not confirmed in time",
						 (long long) fresh.query_id);
				(void) enqueue_ex(&end, false);
				PG_RE_THROW();
			}
			PG_END_TRY();
		}
		if (audit_subjects)
		{
			fresh.keys = keyslot_create(group_cxt, 8, NULL);
			fresh.arrival_cap = 16;
			fresh.arrival = MemoryContextAlloc(group_cxt, sizeof(int64) * fresh.arrival_cap);
			fresh.ascending = true;
		}
		fresh.standby = RecoveryInProgress();
		grp = &groups[ngroups++];
		*grp = fresh;
		groups_serial++;
	}
	last_group = grp;
	if (memo != NULL)
	{
		memo->serial = groups_serial;
		memo->group = grp - groups;
	}
	grp->count++;
	if (grp->keys != NULL && key_id > 0)
		group_add_key(grp, key_id);
	else if (grp->standby && backend_queue != NULL &&
			 pg_atomic_read_u32(&backend_queue->unreachable) != 0)
		audit_unavailable("it cannot reach the primary");
}

/*
 * Add a subject a search found to the role's open search group of this
 * category in the statement, the one under this purpose (NULL: none now)
 * if there is one, else its last: a purpose changed within the statement
 * since the search's check (set_purpose()) does not lose it.  When the
 * role has no such group (the search's check ran in an earlier statement:
 * a cursor fetched after others, a saved blind_index() term; or the
 * statement's groups were ended to make room), the match opens one, a
 * search record of its own under the purpose now: a match is never left
 * unrecorded, nor recorded as another role's.
 */
void
AuditSearchSubject(const char *purpose, const char *category, int64 key_id)
{
	Oid			userid = GetUserId();
	RevealGroup *best = NULL;
	int			best_rank = 0;

	if (!audit_subjects || key_id <= 0 || AuditPlanning())
		return;
	for (int g = 0; g < ngroups; g++)
	{
		RevealGroup *c = &groups[g];
		int			rank;

		if (strcmp(c->event, "search") != 0 || strcmp(c->category, category) != 0 ||
			c->keys == NULL || c->userid != userid)
			continue;
		rank = 1 + (purpose != NULL && strcmp(c->purpose, purpose) == 0);
		if (rank >= best_rank)
		{
			best = c;
			best_rank = rank;
		}
	}
	if (best == NULL)
	{
		AuditReveal("search", NULL, NULL, purpose ? purpose : "", purpose ? strlen(purpose) : 0,
					category, strlen(category), "searched", false, 0, NULL);
		best = last_group;
		if (best == NULL || best->keys == NULL)
			return;
	}
	group_add_key(best, key_id);
}

/*----------------------------------------------------------------------
 * What ran, for an auditor: the statement's text normalised as
 * pg_stat_statements shows it, every constant replaced by $n, and without
 * its comments (which may quote anything).  Made from the scanner's tokens
 * at parse analysis, kept per statement in a cache of this backend, and
 * put in the records that name the statement.
 *
 * The cache holds the texts of the NORMALIZED_MAX statements used last: a
 * prepared statement is analysed once and executed for as long as the
 * session lasts, and its records must keep their text however many other
 * statements (an ORM's hundreds, a trigger function's queries compiled
 * while it runs) the session analyses meanwhile.  Full, it forgets the
 * half it used least recently.
 *----------------------------------------------------------------------
 */
#define NORMALIZED_MAX 1024
#define NORMALIZED_LEN 400

typedef struct NormalizedText
{
	uint64		key;			/* hash of the statement's source text (never 0) */
	uint64		used;			/* normalized_tick when last made or read */
	char	   *text;			/* in normalized_cxt */
} NormalizedText;

static HTAB *normalized = NULL;
static MemoryContext normalized_cxt = NULL;
static uint64 normalized_tick = 0;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static uint64 statement_text_key = 0;	/* the running top-level statement's */
static uint64 utility_text_key;	/* ... a running utility statement's (below) */
static uint64 statement_seed = 0;	/* random per backend: no one can choose texts whose keys collide */

/* the query string a raw parse read, and its standard_conforming_strings then */
static const char *raw_source = NULL;
static bool raw_scs = true;

/*
 * The key of a statement: a 64-bit hash of its source text (never 0), so
 * that no two statements a session keeps the texts of share one.
 */
static uint64
statement_key(const char *src, int location, int len)
{
	uint64		h;

	if (src == NULL)
		return 0;
	if (location < 0)
		location = 0;
	if (len <= 0)
		len = strlen(src + location);
	while (statement_seed == 0)
		if (!pg_strong_random(&statement_seed, sizeof(statement_seed)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes")));
	h = hash_bytes_extended((const unsigned char *) src + location, len, statement_seed);
	return h == 0 ? 1 : h;
}

/*
 * The statement src[location, location + len) with constants as $n and
 * comments dropped, into out; false (nothing kept) when the scan does not
 * agree with the parser: a constant the parser found (jstate) must begin
 * where the scan finds a token, and the scan must not fail.  The scan uses
 * the standard_conforming_strings the raw parse used (a SET earlier in the
 * same query string changes it only for later strings).
 */
static bool
normalize_statement(const char *src, int location, int len, JumbleState *jstate, bool scs,
					char *out, int outsize)
{
	core_yy_extra_type yyextra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	StringInfoData buf;
	char	   *str;
	int			nparams = 0;
	int			prev = 0;
	int			ntok = 0;
	int			maxtok = 64;
	int		   *toks = palloc(sizeof(int) * maxtok);
	int		   *locs = palloc(sizeof(int) * maxtok);
	char	  **texts = palloc(sizeof(char *) * maxtok);
	bool		ok = true;
	MemoryContext cxt = CurrentMemoryContext;

	if (location < 0)
		location = 0;
	str = len > 0 ? pnstrdup(src + location, len) : pstrdup(src + location);
	PG_TRY();
	{
		scanner = scanner_init(str, &yyextra, &ScanKeywords, ScanKeywordTokens);
		yyextra.standard_conforming_strings = scs;
		yyextra.escape_string_warning = false;	/* the parser has warned, if it should */
		for (;;)
		{
			int			tok = core_yylex(&yylval, &yylloc, scanner);

			if (tok == 0)
				break;
			if (ntok == maxtok)
			{
				maxtok *= 2;
				toks = repalloc(toks, sizeof(int) * maxtok);
				locs = repalloc(locs, sizeof(int) * maxtok);
				texts = repalloc(texts, sizeof(char *) * maxtok);
			}
			if (tok == PARAM)
				nparams = Max(nparams, yylval.ival);
			toks[ntok] = tok;
			locs[ntok] = yylloc;
			/* constants are never copied; everything else is NUL-terminated by the scanner */
			texts[ntok] = (tok == SCONST || tok == USCONST || tok == BCONST || tok == XCONST ||
						   tok == ICONST || tok == FCONST) ? NULL : pstrdup(yyextra.scanbuf + yylloc);
			ntok++;
		}
		scanner_finish(scanner);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();

	/* every constant the parser saw begins where the scan has a token */
	for (int c = 0; ok && jstate != NULL && c < jstate->clocations_count; c++)
	{
		int			at = jstate->clocations[c].location - location;
		bool		found = false;

		if (jstate->clocations[c].location < 0)
			continue;
		for (int t = 0; t < ntok && !found; t++)
			found = locs[t] == at;
		ok = found;
	}

	if (ok)
	{
		initStringInfo(&buf);
		for (int i = 0; i < ntok; i++)
		{
			int			tok = toks[i];
			bool		glue_before = tok == ',' || tok == ')' || tok == ']' || tok == '.' ||
				tok == ';' || tok == TYPECAST || tok == '[' ||
				(tok == '(' && (prev == IDENT || prev >= ABORT_P));	/* a call */
			bool		glue_after = prev == '(' || prev == '[' || prev == '.' || prev == TYPECAST;

			if (buf.len > 0 && !glue_before && !glue_after)
				appendStringInfoChar(&buf, ' ');
			if (texts[i] == NULL)
				appendStringInfo(&buf, "$%d", ++nparams);
			else
				appendStringInfoString(&buf, texts[i]);
			prev = tok;
		}
		set_field(out, outsize, buf.data);
		if (buf.len >= outsize)
			strcpy(out + outsize - 4, "...");
		pfree(buf.data);
	}
	for (int i = 0; i < ntok; i++)
		if (texts[i] != NULL)
			pfree(texts[i]);
	pfree(toks);
	pfree(locs);
	pfree(texts);
	pfree(str);
	return ok;
}

/* The kept text of a statement, or NULL; a text found counts as used. */
static NormalizedText *
normalized_find(uint64 key)
{
	NormalizedText *t;

	if (normalized == NULL || key == 0)
		return NULL;
	t = hash_search(normalized, &key, HASH_FIND, NULL);
	if (t != NULL)
		t->used = ++normalized_tick;
	return t;
}

/*
 * Forget the texts not used in the last NORMALIZED_MAX / 2 makes and reads,
 * but the running statement's: a statement that has queries analysed by the
 * hundred before its first record (dynamic SQL in a function) keeps its
 * own text.
 */
static void
normalized_trim(void)
{
	HASH_SEQ_STATUS status;
	NormalizedText *t;

	hash_seq_init(&status, normalized);
	while ((t = hash_seq_search(&status)) != NULL)
		if (t->used + NORMALIZED_MAX / 2 <= normalized_tick &&
			t->key != statement_text_key && t->key != utility_text_key)
		{
			pfree(t->text);
			(void) hash_search(normalized, &t->key, HASH_REMOVE, NULL);
		}
}

/*
 * Is the statement at location the first of its query string: nothing but
 * blanks, semicolons and comments before it?
 */
static bool
first_statement(const char *src, int location)
{
	int			i = 0;

	while (i < location && src[i] != '\0')
	{
		if (src[i] == ';' || scanner_isspace(src[i]))
			i++;
		else if (src[i] == '-' && src[i + 1] == '-')
		{
			while (i < location && src[i] != '\0' && src[i] != '\n')
				i++;
		}
		else if (src[i] == '/' && src[i + 1] == '*')
		{
			int			depth = 1;

			for (i += 2; i < location && src[i] != '\0' && depth > 0; i++)
			{
				if (src[i] == '/' && src[i + 1] == '*')
					depth++, i++;
				else if (src[i] == '*' && src[i + 1] == '/')
					depth--, i++;
			}
		}
		else
			return false;
	}
	return true;
}

static void
audit_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	NormalizedText *t;
	uint64		key;
	char		text[NORMALIZED_LEN + 1];
	bool		found;

	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	if (pstate->p_sourcetext == NULL)
		return;
	/*
	 * The first statement of a query string is analysed before any of it
	 * runs, with the setting its raw parse read; the others, after the
	 * statements before them ran (a SET among them).  A first statement is
	 * known by its location, not only by a new string's address: the next
	 * query string is often read into the same memory.
	 */
	if (pstate->p_sourcetext != raw_source || first_statement(pstate->p_sourcetext, query->stmt_location))
	{
		raw_source = pstate->p_sourcetext;
		raw_scs = standard_conforming_strings;
	}
	key = statement_key(pstate->p_sourcetext, query->stmt_location, query->stmt_len);
	if (normalized_find(key) != NULL)
		return;
	if (!normalize_statement(pstate->p_sourcetext, query->stmt_location, query->stmt_len, jstate,
							 raw_scs, text, sizeof(text)))
		return;
	if (normalized == NULL)
	{
		HASHCTL		ctl;

		normalized_cxt = AllocSetContextCreate(TopMemoryContext, "privacy_guard statement texts",
											   ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(NormalizedText);
		ctl.hcxt = normalized_cxt;
		normalized = hash_create("privacy_guard statement texts", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_get_num_entries(normalized) >= NORMALIZED_MAX)
		normalized_trim();
	/* the text is copied first: a failure leaves no entry without one */
	{
		char	   *copy = MemoryContextStrdup(normalized_cxt, text);

		t = hash_search(normalized, &key, HASH_ENTER, &found);
		t->text = copy;
		t->used = ++normalized_tick;
	}
}

/* "query <id>: <normalised text>", or "query <id>" when the text is not known here. */
static void
describe_statement(char *out, int outsize, uint64 query_id)
{
	/* the last one made: a session runs the same statement again and again */
	static uint64 last_query_id = 0;
	static uint64 last_key = 0;
	static char last[AUDIT_DETAIL_LEN];
	NormalizedText *t;

	if (statement_text_key != 0 && outsize == sizeof(last) && query_id == last_query_id &&
		last_key == statement_text_key)
	{
		(void) normalized_find(statement_text_key);	/* in use */
		memcpy(out, last, outsize);
		return;
	}
	t = normalized_find(statement_text_key);
	if (t != NULL)
		snprintf(out, outsize, "query %lld: %s", (long long) query_id, t->text);
	else
		snprintf(out, outsize, "query %lld", (long long) query_id);
	if (t != NULL && outsize == sizeof(last))
	{
		memcpy(last, out, outsize);
		last_query_id = query_id;
		last_key = statement_text_key;
	}
}

/* The running statement as records name it ("query <id>: <text>"). */
void
AuditDescribeStatement(char *out, int outsize)
{
	describe_statement(out, outsize, statement_query_id);
}

/*
 * Planning: the planner evaluates STABLE functions only to estimate
 * selectivity (estimate_expression_value), never for a result.  A search
 * (blind_index(), plaintext against a searchable column) is not one then:
 * no check, no audit record, nothing kept for the execution.  But a query
 * an IMMUTABLE function runs while the planner folds it into a constant
 * is executed, its result handed on: it is estimating only while no
 * executor has started since the planner did.
 */
static int	planning_depth = 0;
static bool planning_statement = false;	/* a top-level statement is being planned */
static bool utility_running = false;	/* a top-level utility statement runs (AuditUtilityStart()) */
static bool utility_block = false;	/* ... one that runs code of its own: DO, CALL, EXECUTE */
static bool utility_copy = false;	/* ... COPY FROM: what its rows' triggers run is its own */
static int	planning_exec_nesting = 0;	/* exec_nesting when the innermost planning began */
static planner_hook_type prev_planner = NULL;

static PlannedStmt *
audit_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	PlannedStmt *result;
	bool		top = planning_depth == 0;
	int			save_exec_nesting = planning_exec_nesting;

	/*
	 * A top-level statement being planned is the running statement: what
	 * the planner runs for it (an IMMUTABLE function it folds, which may
	 * reveal or search, and its queries) is recorded under it, not under
	 * the statement before; and those queries are not statements of their
	 * own (audit_ExecutorStart()).
	 */
	if (top && exec_nesting == 0 && !utility_running)
	{
		if (ngroups > 0)
			flush_groups(true);
		statement_query_id = parse->queryId;
		statement_text_key = statement_key(query_string, parse->stmt_location, parse->stmt_len);
		planning_statement = true;
	}
	planning_depth++;
	planning_exec_nesting = exec_nesting;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		planning_depth--;
		planning_exec_nesting = save_exec_nesting;
		if (top)
			planning_statement = false;
	}
	PG_END_TRY();
	/* an unsealed value goes into no column that does not seal it */
	UnsealedGuardPlan(result, top);
	/* a search records the subjects of the rows it returns */
	SearchScanPlan(result);
	return result;
}

/* Is the planner estimating (rather than an executor running, even one it started)? */
bool
AuditPlanning(void)
{
	return planning_depth > 0 && exec_nesting <= planning_exec_nesting;
}

/*
 * The running top-level utility statement: its id, and its text's key and
 * place in its query string.
 */
static uint64 utility_query_id = 0;
static uint64 utility_text_key = 0;
static int	utility_location = 0;
static int	utility_len = 0;

/*
 * The queries utility statements ran (cursors', until they end), each
 * recorded under its statement: found by the query's address, and only if
 * its source text still holds that statement where it did (a query made
 * later at a freed one's address is another's).  As many as the session
 * keeps cursors open: the list grows, and is emptied when the transaction
 * ends (a cursor held past it has run to its end).
 */
#define UTILITY_QUERIES 8		/* the list's first size, and what it shrinks back to */
typedef struct UtilityQuery
{
	QueryDesc  *query;			/* NULL: free */
	int			location;
	int			len;
	uint64		query_id;
	uint64		text_key;
} UtilityQuery;

static UtilityQuery *utility_queries = NULL;	/* in TopMemoryContext */
static int	utility_queries_max = 0;

/* A free entry of the list, grown if none is. */
static UtilityQuery *
utility_query_new(void)
{
	int			old = utility_queries_max;

	for (int i = 0; i < utility_queries_max; i++)
		if (utility_queries[i].query == NULL)
			return &utility_queries[i];
	utility_queries_max = Max(UTILITY_QUERIES, old * 2);
	utility_queries = utility_queries == NULL ?
		MemoryContextAlloc(TopMemoryContext, sizeof(UtilityQuery) * utility_queries_max) :
		repalloc(utility_queries, sizeof(UtilityQuery) * utility_queries_max);
	memset(&utility_queries[old], 0, sizeof(UtilityQuery) * (utility_queries_max - old));
	return &utility_queries[old];
}

/* The transaction ended: its cursors' queries are gone. */
static void
utility_queries_forget(void)
{
	if (utility_queries_max > UTILITY_QUERIES)
	{
		pfree(utility_queries);
		utility_queries = NULL;
		utility_queries_max = 0;
	}
	else if (utility_queries != NULL)
		memset(utility_queries, 0, sizeof(UtilityQuery) * utility_queries_max);
}

/*
 * Does src hold, at location (len bytes; 0: to its end), the statement
 * whose key is key?  Reads no further than that.
 */
static bool
statement_at(const char *src, int location, int len, uint64 key)
{
	if (src == NULL || key == 0)
		return false;
	if (location < 0)
		location = 0;
	if (strnlen(src, location + Max(len, 0)) < location + Max(len, 0))
		return false;
	return statement_key(src, location, len) == key;
}

static UtilityQuery *
utility_query_of(QueryDesc *queryDesc)
{
	for (int i = 0; i < utility_queries_max; i++)
		if (utility_queries[i].query == queryDesc)
		{
			UtilityQuery *u = &utility_queries[i];

			if (statement_at(queryDesc->sourceText, u->location, u->len, u->text_key))
				return u;
			u->query = NULL;
		}
	return NULL;
}

/*
 * A top-level utility statement begins: noted, for a query it runs without
 * an id of its own (statement_begins()).  A top-level DO or CALL is the
 * running statement too: what its code searches or reveals without an
 * executor of its own (a PL/pgSQL expression) is recorded under it, not the
 * statement before.  (Not FETCH: a cursor's reveals stay its DECLARE's, in
 * one group across its fetches.)
 */
void
AuditUtilityStart(PlannedStmt *pstmt, const char *queryString, bool toplevel)
{
	if (!toplevel || exec_nesting != 0)
		return;
	queue_held(false);
	utility_query_id = pstmt->queryId;
	utility_text_key = statement_key(queryString, pstmt->stmt_location, pstmt->stmt_len);
	utility_location = pstmt->stmt_location;
	utility_len = pstmt->stmt_len;
	utility_running = true;
	/*
	 * A DO block's or procedure's PL/pgSQL, or an EXECUTE's arguments, may
	 * reveal with no run of the executor of their own: under this
	 * statement (and again after each query they run, audit_ExecutorEnd()).
	 */
	utility_block = IsA(pstmt->utilityStmt, DoStmt) || IsA(pstmt->utilityStmt, CallStmt) ||
		IsA(pstmt->utilityStmt, ExecuteStmt);

	/*
	 * A COPY FROM runs no executor of its own: the queries its rows'
	 * triggers run are its, as an INSERT's triggers' queries are the
	 * INSERT's (their text is the trigger author's, not the statement
	 * the session sent), in one statement's groups.
	 */
	utility_copy = IsA(pstmt->utilityStmt, CopyStmt) && ((CopyStmt *) pstmt->utilityStmt)->is_from;
	if (!utility_block && !utility_copy)
		return;
	statement_query_id = utility_query_id;
	statement_text_key = utility_text_key;
}

/*
 * A top-level utility statement ended well: a search it made with no run
 * of the executor of its own (a comparison in a DO block's or a
 * procedure's PL/pgSQL) is queued now, not when the session next acts.
 */
void
AuditUtilityDone(bool toplevel)
{
	if (toplevel && exec_nesting == 0 && ngroups > 0)
		end_search_groups();
}

/* A top-level utility statement ended (or failed). */
void
AuditUtilityEnd(bool toplevel)
{
	if (toplevel && exec_nesting == 0)
		utility_running = utility_copy = false;
}

/*
 * A top-level query's run begins: the groups of the one before end, and it
 * is the statement.  The query a utility statement runs from its own text
 * (CREATE TABLE AS, DECLARE CURSOR, EXPLAIN ANALYZE) is recorded under the
 * utility statement's id and text: it has no id of its own, or (EXPLAIN's)
 * one whose place in the query string is all of it.
 */
static void
statement_begins(QueryDesc *queryDesc)
{
	PlannedStmt *pstmt = queryDesc->plannedstmt;
	UtilityQuery *u;

	if (ngroups > 0)
		flush_groups(true);
	if ((u = utility_query_of(queryDesc)) != NULL)
	{
		/* a cursor's query fetched after other statements */
		statement_query_id = u->query_id;
		statement_text_key = u->text_key;
		return;
	}
	statement_query_id = pstmt->queryId;
	statement_text_key = statement_key(queryDesc->sourceText, pstmt->stmt_location, pstmt->stmt_len);
	if (utility_running &&
		statement_at(queryDesc->sourceText, utility_location, utility_len, utility_text_key))
	{
		u = utility_query_new();
		u->query = queryDesc;
		u->location = utility_location;
		u->len = utility_len;
		statement_query_id = u->query_id = utility_query_id;
		statement_text_key = u->text_key = utility_text_key;
	}
}

/* Is a top-level run of this query the running statement's? */
static bool
statement_is(QueryDesc *queryDesc)
{
	UtilityQuery *u = utility_query_of(queryDesc);

	if (u != NULL)
		return statement_query_id == u->query_id && statement_text_key == u->text_key;
	return queryDesc->plannedstmt->queryId == statement_query_id;
}

static void
audit_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	/* before pgaudit's line for it: see RedactIfProtected() */
	RedactIfProtected(queryDesc->plannedstmt->relationOids);
	/*
	 * The extension's own queries (a key or the policy read while a reveal
	 * that no executor runs, a DO block's PL/pgSQL expression, a CALL's
	 * argument, is checked) are nobody's statement: the reveal stays the
	 * caller's.
	 */
	if (exec_nesting == 0 && !utility_copy && !planning_statement && !CatalogActingAsOwner())
	{
		queue_held(false);
		statement_begins(queryDesc);
	}
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	SearchScanStart(queryDesc->planstate);
}

/* The range table of the innermost query being run, or NIL. */
List *
AuditRunningRangeTable(void)
{
	if (exec_nesting <= 0 || exec_nesting > (int) lengthof(running))
		return NIL;
	return running[exec_nesting - 1]->plannedstmt->rtable;
}

/*
 * The run (or finish) of a query that is innermost now, by a number no
 * other run of this backend has, and how deep; 0 outside any (or too deep
 * to know).
 */
uint64
AuditRunningQuery(int *depth, QueryDesc **query)
{
	*depth = exec_nesting;
	if (query != NULL)
		*query = NULL;
	if (exec_nesting <= 0 || exec_nesting > (int) lengthof(running))
		return 0;
	if (query != NULL)
		*query = running[exec_nesting - 1];
	return running_serial[exec_nesting - 1];
}

static void
audit_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
{
	/*
	 * A top-level run of a query started earlier (a cursor's FETCH, after
	 * other statements) is that query's: what it reveals is recorded under
	 * the cursor's statement, not the one that ran last.
	 */
	if (exec_nesting == 0 && !utility_copy && !planning_statement && !CatalogActingAsOwner() &&
		!statement_is(queryDesc))
		statement_begins(queryDesc);
	if (exec_nesting < (int) lengthof(running))
	{
		running[exec_nesting] = queryDesc;
		running_serial[exec_nesting] = ++run_serial;
	}
	exec_nesting++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		exec_nesting--;
	}
	PG_END_TRY();
	if (exec_nesting == 0 && !utility_copy && ngroups > 0 && !CatalogActingAsOwner())
	{
		end_search_groups();
		if (!execute_once)
			queue_reveal_subjects();
	}
}

static void
audit_ExecutorFinish(QueryDesc *queryDesc)
{
	if (exec_nesting < (int) lengthof(running))
	{
		running[exec_nesting] = queryDesc;
		running_serial[exec_nesting] = ++run_serial;
	}
	exec_nesting++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		exec_nesting--;
	}
	PG_END_TRY();
}

static void
audit_ExecutorEnd(QueryDesc *queryDesc)
{
	for (int i = 0; i < utility_queries_max; i++)
		if (utility_queries[i].query == queryDesc)
			utility_queries[i].query = NULL;
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	if (exec_nesting == 0 && !utility_copy && !CatalogActingAsOwner())
	{
		if (ngroups > 0)
			flush_groups(true);
		/* what a DO block or CALL reveals next, outside any query, is its own */
		if (utility_running && utility_block)
		{
			statement_query_id = utility_query_id;
			statement_text_key = utility_text_key;
		}
	}
}

/*
 * Groups still open at transaction end (values returned outside any
 * executor's end, or by a statement that failed): before commit they are
 * queued with waiting, so a full queue fails the commit rather than lose
 * them; at abort nothing may fail, so they are queued without waiting and
 * a full queue is reported as a warning.
 */
/*
 * Records of work that can roll back (an erasure completed, a policy
 * document loaded, keys re-wrapped): prepared when the work is done,
 * queued when the transaction commits, and dropped with the
 * (sub)transaction that did the work if it rolls back, so that the trail
 * never says "completed" of what did not happen.
 */
typedef struct CommitRecord
{
	SubTransactionId subid;
	AuditEvent *event;
} CommitRecord;

static List *commit_records = NIL;	/* in TopTransactionContext */

void
AuditRecordAtCommit(Oid roleid, const char *event, const char *outcome, const char *detail,
					const char *subject)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	CommitRecord *r = palloc(sizeof(CommitRecord));

	r->subid = GetCurrentSubTransactionId();
	r->event = palloc(sizeof(AuditEvent));
	fill_event(r->event, roleid, event, NULL, NULL, NULL, NULL, outcome, detail, subject);
	commit_records = lappend(commit_records, r);
	MemoryContextSwitchTo(old);
}

static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (commit_records == NIL)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, commit_records)
		{
			CommitRecord *r = lfirst(lc);

			if (r->subid == mySubid)
				r->subid = parentSubid;
		}
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, commit_records)
		{
			CommitRecord *r = lfirst(lc);

			if (r->subid >= mySubid)
				commit_records = foreach_delete_current(commit_records, lc);
		}
	}
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		 event == XACT_EVENT_PRE_PREPARE) && commit_records != NIL)
	{
		ListCell   *lc;

		/* the last moment a failure still rolls the work back */
		foreach(lc, commit_records)
		{
			CommitRecord *r = lfirst(lc);

			r->event->at = GetCurrentTimestamp();
			enqueue(r->event);
		}
		commit_records = NIL;
	}
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		commit_records = NIL;	/* freed with TopTransactionContext */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		utility_queries_forget();	/* their portals are gone, or held having run */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		utility_running = utility_copy = false;
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		 event == XACT_EVENT_PRE_PREPARE) && ngroups > 0)
		flush_groups(true);
	else if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			  event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
			  event == XACT_EVENT_PREPARE) && ngroups > 0)
		flush_groups(false);
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
		exec_nesting = 0;
}

/*----------------------------------------------------------------------
 * The anchor
 *
 * After every committed batch the writer leaves the trail's head (table
 * OID, last id, last hash) in a file of the data directory, outside the
 * reach of SQL: verify_audit() compares the table with it, so records
 * removed from the end, a TRUNCATE or a dropped table are detected too.
 *----------------------------------------------------------------------
 */

static void
anchor_path(char *buf, Oid dboid, bool temp)
{
	snprintf(buf, MAXPGPATH, "%s/privacy_guard_audit_%u.head%s", DataDir, dboid, temp ? ".tmp" : "");
}

/* Read the anchor of a database; false if there is none. */
static bool
anchor_read(Oid dboid, Oid *relid, int64 *last_id, char *hash_hex, int hexlen)
{
	char		path[MAXPGPATH];
	FILE	   *f;
	unsigned int r = 0;
	long long	id = 0;
	char		fmt[32];
	bool		ok;

	anchor_path(path, dboid, false);
	f = AllocateFile(path, "r");
	if (f == NULL)
		return false;
	snprintf(fmt, sizeof(fmt), "%%u %%lld %%%ds", hexlen - 1);
	ok = fscanf(f, fmt, &r, &id, hash_hex) == 3;
	FreeFile(f);
	*relid = r;
	*last_id = id;
	return ok;
}

/* A committed head of the trail, for the anchor file. */
typedef struct AnchorState
{
	Oid			relid;
	int64		last_id;
	bytea	   *hash;
} AnchorState;

/* Write the anchor: a new file renamed over the old one. */
static void
anchor_write(Oid relid, int64 last_id, bytea *hash)
{
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	FILE	   *f;
	const uint8 *h = (const uint8 *) VARDATA_ANY(hash);

	anchor_path(tmp, MyDatabaseId, true);
	anchor_path(path, MyDatabaseId, false);
	f = AllocateFile(tmp, "w");
	if (f == NULL)
	{
		ereport(WARNING, (errcode_for_file_access(),
						  errmsg("could not write the audit trail's anchor: %m")));
		return;
	}
	fprintf(f, "%u %lld ", relid, (long long) last_id);
	for (int i = 0; i < (int) VARSIZE_ANY_EXHDR(hash); i++)
		fprintf(f, "%02x", h[i]);
	fprintf(f, "\n");
	if (FreeFile(f) != 0 || durable_rename(tmp, path, WARNING) != 0)
		ereport(WARNING, (errcode_for_file_access(),
						  errmsg("could not write the audit trail's anchor: %m")));
}

/*
 * Write the trail's committed head into the anchor file, then let the
 * sessions that wait for it (audit_flush()) go on: the writer keeps only the
 * newest head, so everything it committed is anchored.
 */
static void
anchor_flush(AuditQueue *q, AnchorState *a, TimestampTz *written_at)
{
	anchor_write(a->relid, a->last_id, a->hash);
	*written_at = GetCurrentTimestamp();
	pfree(a->hash);
	a->hash = NULL;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	q->anchored_seq = q->written_seq;
	LWLockRelease(audit->lock);
	ConditionVariableBroadcast(&q->written_cv);
}

/* Whether a session waits for the anchor (audit_flush()). */
static bool
anchor_wanted(AuditQueue *q)
{
	bool		wanted;

	LWLockAcquire(audit->lock, LW_SHARED);
	wanted = q->anchor_waiters > 0 || q->stop;
	LWLockRelease(audit->lock);
	return wanted;
}

PG_FUNCTION_INFO_V1(pguard_audit_anchor);

/*
 * audit_anchor(): the head the writer last committed in this database, as
 * (table oid, last id, last hash); no row if none was written yet.
 */
Datum
pguard_audit_anchor(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Oid			relid;
	int64		last_id;
	char		hex[65];
	bytea	   *hash;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "audit_anchor() must return a composite type");
	if (!anchor_read(MyDatabaseId, &relid, &last_id, hex, sizeof(hex)) || strlen(hex) != 64)
		PG_RETURN_NULL();
	hash = palloc(VARHDRSZ + 32);
	SET_VARSIZE(hash, VARHDRSZ + 32);
	for (int i = 0; i < 32; i++)
	{
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			PG_RETURN_NULL();
		((uint8 *) VARDATA(hash))[i] = (uint8) b;
	}
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(last_id);
	values[2] = PointerGetDatum(hash);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*----------------------------------------------------------------------
 * The writer
 *----------------------------------------------------------------------
 */

static void
writer_detach(int code, Datum arg)
{
	uint64		unwritten;

	if (audit == NULL || writer_queue == NULL)
		return;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	writer_queue->writer_latch = NULL;
	writer_queue->writer_pid = 0;
	writer_queue->gathering = false;
	unwritten = writer_queue->head - writer_queue->tail;
	LWLockRelease(audit->lock);
	/* a standby cut off from its primary holds its events here: say so, not silently */
	if (unwritten > 0)
		ereport(WARNING,
				(errmsg("privacy_guard audit writer exits with " UINT64_FORMAT " events not yet recorded", unwritten),
				 errdetail("A writer started again records them; they are lost if the server stops first.")));
	ConditionVariableBroadcast(&writer_queue->written_cv);
	if (audit->launcher_latch != NULL)
		SetLatch(audit->launcher_latch);
}

/*
 * Make a field valid text in the writer's database: events come from any
 * database of the cluster, in its encoding.  Bytes that are not valid here
 * become '?', so one event can never stop the writer.
 */
static void
sanitize(char *field)
{
	int			len = strlen(field);

	if (pg_verifymbstr(field, len, true))
		return;
	for (int i = 0; i < len; i++)
		if ((unsigned char) field[i] >= 0x80)
			field[i] = '?';
}

/* Every text field of an event made valid text here (see sanitize()). */
static void
sanitize_event(AuditEvent *e)
{
	sanitize(e->database);
	sanitize(e->session_user_name);
	sanitize(e->current_role_name);
	sanitize(e->event);
	sanitize(e->purpose);
	sanitize(e->category);
	sanitize(e->table_name);
	sanitize(e->column_name);
	sanitize(e->subject);
	sanitize(e->outcome);
	sanitize(e->detail);
}

/*
 * A JSON string, as escape_json() writes it: copied whole when nothing in it
 * needs escaping (as nearly every name and statement of a record).
 */
static void
json_string(StringInfo buf, const char *str)
{
	const char *p;

	for (p = str; *p != '\0'; p++)
		if ((unsigned char) *p < ' ' || *p == '"' || *p == '\\')
		{
			escape_json(buf, str);
			return;
		}
	enlargeStringInfo(buf, (p - str) + 2);
	appendStringInfoCharMacro(buf, '"');
	appendBinaryStringInfo(buf, str, p - str);
	appendStringInfoCharMacro(buf, '"');
}

/*
 * The hash of one record chained after prev, computed here as
 * privacy_guard.audit_link() computes it in SQL (verify_audit() uses that):
 * SHA-256 over prev and the UTF-8 text of the jsonb array of the record's
 * fields, built with the same functions (escape_json, to_char of the UTC
 * time).
 */
static void
record_hash(const uint8 *prev, int prevlen, AuditEvent *e, int64 id, uint8 *out)
{
	/* the writer's, kept: one record after another */
	static StringInfoData json = {NULL, 0, 0, 0};
	static EVP_MD_CTX *ctx = NULL;
	const char *fields[11] = {e->database, e->session_user_name, e->current_role_name, e->event,
		e->purpose, e->category, e->table_name, e->column_name, e->subject, e->outcome, e->detail};
	const bool	optional[11] = {false, false, false, false, true, true, true, true, true, true, true};
	Datum		utc;
	char		digits[32];
	char	   *at = digits;
	char	   *utf8;
	unsigned int len = 0;
	struct pg_tm tm;
	fsec_t		fsec;

	/* what to_char(at AT TIME ZONE 'UTC', that format) prints, for years 1 to 9999 */
	if (!TIMESTAMP_NOT_FINITE(e->at) &&
		timestamp2tm(e->at, NULL, &tm, &fsec, NULL, NULL) == 0 &&
		tm.tm_year >= 1 && tm.tm_year <= 9999)
	{
		const int	parts[7] = {tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec};
		const int	widths[7] = {4, 2, 2, 2, 2, 2, 6};
		const char	after[7] = {'-', '-', 'T', ':', ':', '.', '\0'};
		char	   *d = digits;

		/* YYYY-MM-DDTHH:MI:SS.US, without a printf a record */
		for (int p = 0; p < 7; p++)
		{
			int			v = parts[p];

			for (int w = widths[p] - 1; w >= 0; w--)
			{
				d[w] = '0' + v % 10;
				v /= 10;
			}
			d += widths[p];
			*d++ = after[p];
		}
	}
	else
	{
		utc = DirectFunctionCall2(timestamptz_zone, CStringGetTextDatum("UTC"), TimestampTzGetDatum(e->at));
		at = TextDatumGetCString(DirectFunctionCall2(timestamp_to_char, utc,
													 CStringGetTextDatum("YYYY-MM-DD\"T\"HH24:MI:SS.US")));
	}
	if (json.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		initStringInfo(&json);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&json);
	appendStringInfo(&json, "[" INT64_FORMAT ", ", id);
	json_string(&json, at);
	for (int f = 0; f < 11; f++)
	{
		appendStringInfoString(&json, ", ");
		if (optional[f] && fields[f][0] == '\0')
			appendStringInfoString(&json, "null");
		else
			json_string(&json, fields[f]);
	}
	appendStringInfoChar(&json, ']');
	utf8 = pg_server_to_any(json.data, json.len, PG_UTF8);

	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
		EVP_DigestUpdate(ctx, prev, prevlen) != 1 ||
		EVP_DigestUpdate(ctx, utf8, utf8 == json.data ? json.len : strlen(utf8)) != 1 ||
		EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
		elog(ERROR, "could not hash an audit record");
	if (utf8 != json.data)
		pfree(utf8);
	if (at != digits)
		pfree(at);
}

/*
 * The records of a batch, chained here and inserted together
 * (direct_insert()): 17 columns, and an 18th, subject_key, which the chain
 * does not cover (no more than audit_subjects' rows), set once the
 * record's one subject is known.
 */
#define RECORD_COLUMNS 18
typedef struct RecordBatch
{
	int			n;
	Datum	   *cols[RECORD_COLUMNS];
	bool	   *nulls[RECORD_COLUMNS];
} RecordBatch;

static SPIPlanPtr own_last_plan = NULL;	/* the last record of this server's queues */
static SPIPlanPtr bulk_plan = NULL;	/* batch_insert()'s, for 17 columns */
static SPIPlanPtr bulk_key_plan = NULL;	/* ... and with subject_key */
static SPIPlanPtr subjects_plan = NULL;
static SPIPlanPtr subjects_plan_0_1 = NULL;	/* for version 0.1's table */

/*
 * The writer's statements, prepared once and planned once: a generic plan,
 * since a custom plan for every batch (what plan_cache_mode would choose
 * for arrays of unknown size) would cost more than the insert it plans.
 */
SPIPlanPtr
AuditWriterPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the audit writer's statement: %s",
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	return *plan;
}

static void
batch_init(RecordBatch *b, int max)
{
	b->n = 0;
	for (int c = 0; c < RECORD_COLUMNS; c++)
	{
		b->cols[c] = palloc(sizeof(Datum) * max);
		b->nulls[c] = palloc0(sizeof(bool) * max);
	}
}

/* Chain one record after *prev (32 bytes, or genesis) into the batch; *prev becomes its hash. */
static void
batch_add(RecordBatch *b, AuditEvent *e, int64 id, uint8 *prev, bool have_prev,
		  int64 epoch, uint64 queue_seq)
{
	static const uint8 genesis[32] = {0};
	uint8		hash[32];
	bytea	   *prev_b;
	bytea	   *hash_b;
	int			i = b->n++;
	const char *text_fields[11];

	sanitize_event(e);
	record_hash(have_prev ? prev : genesis, 32, e, id, hash);
	prev_b = palloc(VARHDRSZ + 32);
	SET_VARSIZE(prev_b, VARHDRSZ + 32);
	memcpy(VARDATA(prev_b), have_prev ? prev : genesis, 32);
	hash_b = palloc(VARHDRSZ + 32);
	SET_VARSIZE(hash_b, VARHDRSZ + 32);
	memcpy(VARDATA(hash_b), hash, 32);
	memcpy(prev, hash, 32);

	/* id, at, then the text columns in table order, queue position, hashes */
	b->cols[0][i] = Int64GetDatum(id);
	b->cols[1][i] = TimestampTzGetDatum(e->at);
	text_fields[0] = e->database;
	text_fields[1] = e->session_user_name;
	text_fields[2] = e->current_role_name;
	text_fields[3] = e->event;
	text_fields[4] = e->purpose;
	text_fields[5] = e->category;
	text_fields[6] = e->table_name;
	text_fields[7] = e->column_name;
	text_fields[8] = e->subject;
	text_fields[9] = e->outcome;
	text_fields[10] = e->detail;
	for (int f = 0; f < 11; f++)
	{
		b->nulls[2 + f][i] = f >= 4 && text_fields[f][0] == '\0';
		b->cols[2 + f][i] = b->nulls[2 + f][i] ? (Datum) 0 : CStringGetTextDatum(text_fields[f]);
	}
	b->cols[13][i] = Int64GetDatum(epoch);
	b->nulls[13][i] = queue_seq == 0;
	b->cols[14][i] = Int64GetDatum((int64) queue_seq);
	b->nulls[14][i] = queue_seq == 0;
	b->cols[15][i] = PointerGetDatum(prev_b);
	b->cols[16][i] = PointerGetDatum(hash_b);
	b->cols[17][i] = (Datum) 0;
	b->nulls[17][i] = true;
}

/*
 * Insert nrows rows, given column by column (cols[c][r], nulls[c][r] for
 * the column named names[c], of type types[c]), into the table relid as
 * COPY does: one multi-row heap insertion, then each row's index entries,
 * without a statement's parse, plan and executor.  Only into a table as
 * the extension made it: a plain table, no partition, without triggers,
 * rules or CHECK constraints, whose every column is one of names, of its
 * type, which has the first required of them (the others are columns an
 * older version's table may lack yet), and whose NOT NULL columns are not
 * null in these rows.  Otherwise returns false, having written nothing,
 * and the caller inserts by statement: a trigger a DBA put on the trail
 * (to copy it elsewhere, say) runs as it always did, and bounds or
 * constraints the writer does not know are checked.
 */
static BufferAccessStrategy trail_ring = NULL;	/* direct_insert()'s, for the process's life */

static bool
direct_insert(Oid relid, const char *const *names, const Oid *types, int ncols, int required,
			  Datum **cols, bool **nulls, int nrows)
{
	BulkInsertStateData bistate;
	static Oid	said_relid = InvalidOid;	/* the table last said to be written by statement */
	Relation	rel = table_open(relid, RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int		   *from = palloc(sizeof(int) * desc->natts);	/* attribute -> column, -1: none */
	int			found = 0;
	const char *why = NULL;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleDesc	slot_desc;
	TupleTableSlot **slots;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition)
		why = "it is not a plain table";
	else if (rel->trigdesc != NULL)
		why = "it has triggers";
	else if (rel->rd_rules != NULL)
		why = "it has rules";
	else if (desc->constr != NULL && desc->constr->num_check > 0)
		why = "it has CHECK constraints";
	for (int a = 0; a < desc->natts && why == NULL; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		from[a] = -1;
		if (att->attisdropped)
			continue;
		for (int c = 0; c < ncols && from[a] < 0; c++)
			if (strcmp(NameStr(att->attname), names[c]) == 0 && att->atttypid == types[c])
				from[a] = c;
		if (from[a] < 0)
			why = "it has a column the writer does not know";
		else if (from[a] < required)
			found++;
		for (int r = 0; r < nrows && why == NULL && att->attnotnull; r++)
			if (nulls[from[a]][r])
				why = "it has a NOT NULL constraint the writer does not know";
	}
	if (why == NULL && found < required)
		why = "it lacks a column the writer knows";
	if (why != NULL)
	{
		/* said once (until another table is): the writer is slower so */
		if (said_relid != relid)
			ereport(LOG,
					(errmsg("privacy_guard audit writer inserts into \"%s\" by statement: %s",
							RelationGetRelationName(rel), why)));
		said_relid = relid;
		table_close(rel, NoLock);
		return false;
	}

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slots = palloc(sizeof(TupleTableSlot *) * nrows);
	/*
	 * The slots share a copy of the descriptor, which nobody counts
	 * references to: the relation's own would be pinned and released in
	 * the resource owner once a row.
	 */
	slot_desc = CreateTupleDescCopy(desc);
	for (int r = 0; r < nrows; r++)
	{
		slots[r] = MakeSingleTupleTableSlot(slot_desc, table_slot_callbacks(rel));
		ExecClearTuple(slots[r]);
		for (int a = 0; a < desc->natts; a++)
		{
			slots[r]->tts_isnull[a] = from[a] < 0 || nulls[from[a]][r];
			slots[r]->tts_values[a] = slots[r]->tts_isnull[a] ? (Datum) 0 : cols[from[a]][r];
		}
		ExecStoreVirtualTuple(slots[r]);
	}
	/*
	 * Through a ring of buffers, as COPY writes: the trail is written once
	 * and seldom read, and a busy trail must not push the shop's own pages
	 * out of shared_buffers.  The ring lives as long as the process, so its
	 * buffers are the same batch after batch; the page written last is
	 * pinned only during the insertion (an error's abort releases it).
	 */
	if (trail_ring == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		trail_ring = GetAccessStrategy(BAS_BULKWRITE);
		MemoryContextSwitchTo(old);
	}
	bistate.strategy = trail_ring;
	bistate.current_buf = InvalidBuffer;
	table_multi_insert(rel, slots, nrows, GetCurrentCommandId(true), 0, &bistate);
	ReleaseBulkInsertStatePin(&bistate);
	for (int r = 0; r < nrows; r++)
	{
		list_free(ExecInsertIndexTuples(rri, slots[r], estate, false, false, NULL, NIL));
		ResetPerTupleExprContext(estate);
		ExecDropSingleTupleTableSlot(slots[r]);
	}
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	FreeTupleDesc(slot_desc);
	table_close(rel, NoLock);
	CommandCounterIncrement();
	return true;
}

/*
 * Insert the batch's records into the trail, the table relid; with_key:
 * it has subject_key (the records' subject keys are set only then).
 */
static void
batch_insert(RecordBatch *b, Oid relid, bool with_key)
{
	static const char *const record_columns[RECORD_COLUMNS] = {"id", "at", "database", "session_user_name",
		"current_role_name", "event", "purpose", "category", "table_name", "column_name", "subject",
		"outcome", "statement", "queue_epoch", "queue_seq", "prev_hash", "hash", "subject_key"};
	static const Oid elem_types[RECORD_COLUMNS] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, BYTEAOID, BYTEAOID,
	INT8OID};
	int			ncols = with_key ? RECORD_COLUMNS : 17;
	Oid			types[RECORD_COLUMNS];
	Datum		args[RECORD_COLUMNS];
	SPIPlanPtr *plan;
	int			rc;

	if (b->n == 0)
		return;
	if (direct_insert(relid, record_columns, elem_types, ncols, ncols, b->cols, b->nulls, b->n))
	{
		b->n = 0;
		return;
	}
	for (int c = 0; c < ncols; c++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;
		int			dims[1] = {b->n};
		int			lbs[1] = {1};

		types[c] = get_array_type(elem_types[c]);
		get_typlenbyvalalign(elem_types[c], &typlen, &typbyval, &typalign);
		args[c] = PointerGetDatum(construct_md_array(b->cols[c], b->nulls[c], 1, dims, lbs,
													 elem_types[c], typlen, typbyval, typalign));
	}
	plan = with_key ? &bulk_key_plan : &bulk_plan;
	if (*plan == NULL)
	{
		/* INSERT INTO ... (the columns) SELECT * FROM ROWS FROM (unnest($1), ...) */
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "INSERT INTO privacy_guard.audit_records (");
		for (int c = 0; c < ncols; c++)
			appendStringInfo(&sql, "%s%s", c > 0 ? ", " : "", record_columns[c]);
		appendStringInfoString(&sql, ") SELECT * FROM ROWS FROM (");
		for (int c = 0; c < ncols; c++)
			appendStringInfo(&sql, "%spg_catalog.unnest($%d)", c > 0 ? ", " : "", c + 1);
		appendStringInfoChar(&sql, ')');
		(void) AuditWriterPlan(plan, sql.data, ncols, types);
		pfree(sql.data);
	}
	rc = SPI_execute_plan(*plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != (uint64) b->n)
		elog(ERROR, "could not write the audit trail");
	b->n = 0;
}

/*
 * The subjects rows of a batch, inserted together: each row's key
 * ids are a slice of one array of them all.
 */
typedef struct SubjectBatch
{
	int			n;				/* rows */
	int			nkeys;			/* key ids, all rows */
	Datum	   *epochs;
	Datum	   *groups;
	Datum	   *starts;			/* a row's first key id's place in keys (1-based) */
	Datum	   *counts;
	Datum	   *keys;
} SubjectBatch;

static void
subjects_init(SubjectBatch *b, int max)
{
	b->n = b->nkeys = 0;
	b->epochs = palloc(sizeof(Datum) * Max(max, 1));
	b->groups = palloc(sizeof(Datum) * Max(max, 1));
	b->starts = palloc(sizeof(Datum) * Max(max, 1));
	b->counts = palloc(sizeof(Datum) * Max(max, 1));
	b->keys = palloc(sizeof(Datum) * Max(max, 1) * AUDIT_KEYS_PER_EVENT);
}

static void
subjects_add(SubjectBatch *b, int64 epoch, uint64 group_seq, const AuditEvent *e)
{
	int64		ids[AUDIT_KEYS_PER_EVENT];
	int			nkeys = AuditUnpackKeys(e, ids);

	if (nkeys == 0)
		return;
	b->epochs[b->n] = Int64GetDatum(epoch);
	b->groups[b->n] = Int64GetDatum((int64) group_seq);
	b->starts[b->n] = Int32GetDatum(b->nkeys + 1);
	b->counts[b->n] = Int32GetDatum(nkeys);
	for (int k = 0; k < nkeys; k++)
		b->keys[b->nkeys++] = Int64GetDatum(ids[k]);
	b->n++;
}

static void
subjects_insert(SubjectBatch *b)
{
	Oid			types[5] = {INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		args[5];
	int			rc;

	if (b->n == 0)
		return;
	{
		static const char *const names[4] = {"queue_epoch", "group_seq", "key_ids", "key_range"};
		static const Oid coltypes[4] = {INT8OID, INT8OID, INT8ARRAYOID, INT8RANGEOID};
		Oid			relid = RangeVarGetRelid(makeRangeVar("privacy_guard", "audit_subjects", -1),
											 RowExclusiveLock, false);
		TypeCacheEntry *range_type = lookup_type_cache(INT8RANGEOID, TYPECACHE_RANGE_INFO);
		Datum	   *cols[4];
		bool	   *nulls[4];

		/* each row's key ids (sorted) and the range they span, as the statement below makes them */
		cols[0] = b->epochs;
		cols[1] = b->groups;
		cols[2] = palloc(sizeof(Datum) * b->n);
		cols[3] = palloc(sizeof(Datum) * b->n);
		for (int c = 0; c < 4; c++)
			nulls[c] = palloc0(sizeof(bool) * b->n);
		for (int r = 0; r < b->n; r++)
		{
			Datum	   *ids = &b->keys[DatumGetInt32(b->starts[r]) - 1];
			int			count = DatumGetInt32(b->counts[r]);
			RangeBound	lower = {.val = ids[0], .infinite = false, .inclusive = true, .lower = true};
			RangeBound	upper = {.val = ids[count - 1], .infinite = false, .inclusive = true, .lower = false};

			cols[2][r] = PointerGetDatum(construct_array(ids, count, INT8OID, 8, FLOAT8PASSBYVAL,
														 TYPALIGN_DOUBLE));
			cols[3][r] = RangeTypePGetDatum(make_range(range_type, &lower, &upper, false));
		}
		if (direct_insert(relid, names, coltypes, 4, 3, cols, nulls, b->n))
		{
			b->n = b->nkeys = 0;
			return;
		}
	}
	args[0] = PointerGetDatum(construct_array(b->epochs, b->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(b->groups, b->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(b->starts, b->n, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(b->counts, b->n, INT4OID, 4, true, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(b->keys, b->nkeys, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	/* version 0.1's table, until ALTER EXTENSION UPDATE, has no key_range */
	if (CatalogExtensionPredatesGuard())
		rc = SPI_execute_plan(AuditWriterPlan(&subjects_plan_0_1,
				"INSERT INTO privacy_guard.audit_subjects (queue_epoch, group_seq, key_ids)"
				" SELECT r.epoch, r.grp, $5[r.start : r.start OPERATOR(pg_catalog.+) r.n OPERATOR(pg_catalog.-) 1]"
				" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
				"  pg_catalog.unnest($4)) AS r(epoch, grp, start, n)", 5, types),
							  args, NULL, false, 0);
	else
		rc = SPI_execute_plan(AuditWriterPlan(&subjects_plan,
				"INSERT INTO privacy_guard.audit_subjects (queue_epoch, group_seq, key_ids, key_range)"
				" SELECT r.epoch, r.grp, $5[r.start : r.start OPERATOR(pg_catalog.+) r.n OPERATOR(pg_catalog.-) 1],"
				"  pg_catalog.int8range($5[r.start], $5[r.start OPERATOR(pg_catalog.+) r.n OPERATOR(pg_catalog.-) 1], '[]')"
				" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
				"  pg_catalog.unnest($4)) AS r(epoch, grp, start, n)", 5, types),
							  args, NULL, false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != (uint64) b->n)
		elog(ERROR, "could not write the audit trail's subjects");
	b->n = b->nkeys = 0;
}

/* Chain a record the writer makes itself (the trail's own events) into the batch. */
static void
add_marker(RecordBatch *b, const char *event, const char *outcome, const char *detail,
		   int64 id, uint8 *head, bool have_prev, uint64 epoch)
{
	AuditEvent	marker;

	memset(&marker, 0, sizeof(marker));
	marker.at = GetCurrentTimestamp();
	set_field(marker.database, AUDIT_NAME_LEN, get_database_name(MyDatabaseId));
	set_field(marker.session_user_name, AUDIT_NAME_LEN, "privacy_guard");
	set_field(marker.current_role_name, AUDIT_NAME_LEN, "privacy_guard");
	set_field(marker.event, AUDIT_NAME_LEN, event);
	set_field(marker.outcome, AUDIT_NAME_LEN, outcome);
	set_field(marker.detail, AUDIT_DETAIL_LEN, detail);
	batch_add(b, &marker, id, head, have_prev, epoch, 0);
}


static SPIPlanPtr head_plan = NULL;
static SPIPlanPtr head_hash_plan = NULL;

/*
 * The head this writer last committed, and when it last compared the
 * anchor file with the table: a batch that finds its own head there again
 * skips that comparison (a file read and a look-up) for up to
 * AUDIT_ANCHOR_CHECK_MS.
 */
#define AUDIT_ANCHOR_CHECK_MS 1000
static Oid	own_head_relid = InvalidOid;
static int64 own_head_id = 0;
static uint8 own_head_hash[32];
static TimestampTz anchor_checked_at = 0;

/*
 * Write the events in batch into privacy_guard.audit_records, chained.
 * Returns false (nothing written) when the extension is not installed.
 */
static bool
writer_insert(AuditEvent *batch, int n, uint64 epoch, AnchorState *anchor_out)
{
	Oid			relid;
	bool		wrote_records = false;
	int64		last_id = 0;
	int64		last_epoch = -1;
	int64		last_seq = 0;
	Datum		prev = (Datum) 0;
	bool		have_prev = false;
	int			rc;
	RecordBatch records;
	SubjectBatch subjects;
	uint8		head[32];
	bool		have_head;
	bool		with_key;
	int		   *row_of;			/* batch[i]'s row in records, or -1 */
	AttrNumber	key_att;
	int64		first_id;
	int64	   *key_rows;		/* the records naming a subject, and its key */
	int64	   *key_ids;
	int			nkeys = 0;

	bool		isnull;

	/*
	 * Locked as it is found: a DROP EXTENSION committing between a look-up
	 * and the statements below would otherwise fail them (and the writer).
	 */
	relid = RangeVarGetRelid(makeRangeVar("privacy_guard", "audit_records", -1),
							 RowExclusiveLock, true);
	if (!OidIsValid(relid))
		return false;

	/*
	 * The chain's head: last id, its hash, and the queue position it came
	 * from.  Planned once (the writer runs with enable_seqscan and
	 * enable_sort off, so the plan reads the primary key backwards even
	 * when it was made while the table was empty).
	 */
	rc = SPI_execute_plan(AuditWriterPlan(&head_plan,
									  "SELECT id, hash, queue_epoch, queue_seq FROM privacy_guard.audit_records"
									  " ORDER BY id DESC LIMIT 1 FOR UPDATE", 0, NULL),
						  NULL, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the audit trail's head");
	have_head = SPI_processed == 1;
	if (have_head)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		last_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		prev = PointerGetDatum(DatumGetByteaPCopy(SPI_getbinval(tup, desc, 2, &isnull)));
		have_prev = true;
		last_epoch = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		if (isnull)
			last_epoch = -1;
		last_seq = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		memcpy(head, VARDATA_ANY(DatumGetByteaPP(prev)), 32);
	}
	if (have_head && last_epoch != (int64) epoch)
	{
		/*
		 * The head came from another queue (a standby's forwarded events,
		 * under negated epochs, or an earlier claim of this slot): what
		 * this queue committed, if anything, is the last record of this
		 * server's queues, read backwards from the head past a standby's
		 * (this server's queues, one claim after another, write in turn:
		 * if that record is not of this claim, this claim wrote none).
		 * Not by an index on the queue position: search records have no
		 * entry there.
		 */
		rc = SPI_execute_plan(AuditWriterPlan(&own_last_plan,
										  "SELECT queue_epoch, queue_seq FROM privacy_guard.audit_records"
										  " WHERE queue_epoch OPERATOR(pg_catalog.>) 0 AND queue_seq IS NOT NULL"
										  " ORDER BY id DESC LIMIT 1", 0, NULL),
							  NULL, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read the audit trail's queue positions");
		if (SPI_processed == 1 &&
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ==
			(int64) epoch)
		{
			last_epoch = (int64) epoch;
			last_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		}
	}
	batch_init(&records, n + 1);
	subjects_init(&subjects, n);
	/* a trail of an older version, until ALTER EXTENSION UPDATE, has no subject_key */
	key_att = get_attnum(relid, "subject_key");
	with_key = key_att != InvalidAttrNumber && get_atttype(relid, key_att) == INT8OID;
	row_of = palloc(sizeof(int) * Max(n, 1));
	if (have_head && relid == own_head_relid &&
		(last_id < own_head_id || (last_id == own_head_id && memcmp(head, own_head_hash, 32) != 0)))
	{
		/*
		 * Records this writer committed are gone from the end, or its last
		 * one was rewritten: said at once, whatever the anchor (which lags
		 * behind) still matches.
		 */
		add_marker(&records, "trail_tampered", "tampered",
				   last_id < own_head_id ?
				   psprintf("found before record %lld: records %lld to %lld were removed (this writer had committed them)",
							(long long) last_id + 1, (long long) last_id + 1, (long long) own_head_id) :
				   psprintf("found before record %lld: record %lld is not the record this writer committed",
							(long long) last_id + 1, (long long) own_head_id),
				   last_id + 1, head, true, epoch);
		last_id++;
		wrote_records = true;
	}
	else if (have_head && relid == own_head_relid && last_id == own_head_id &&
			 !TimestampDifferenceExceeds(anchor_checked_at, GetCurrentTimestamp(), AUDIT_ANCHOR_CHECK_MS))
	{
		/* the head this writer committed last, compared with the anchor a moment ago */
	}
	else if (have_head)
	{
		Oid			old_relid;
		int64		old_id;
		char		old_hash[65];
		char	   *problem = NULL;

		/*
		 * The head the anchor remembers must still be there, unchanged
		 * (the anchor may lag behind the table after a crash, never lead).
		 * If not, the chain goes on from what is there, but first says so.
		 */
		anchor_checked_at = GetCurrentTimestamp();
		if (anchor_read(MyDatabaseId, &old_relid, &old_id, old_hash, sizeof(old_hash)) &&
			old_relid == relid && old_id > 0)
		{
			if (old_id > last_id)
				problem = psprintf("records %lld to %lld were removed", (long long) last_id + 1,
								   (long long) old_id);
			else
			{
				Oid			htypes[1] = {INT8OID};
				Datum		hargs[1] = {Int64GetDatum(old_id)};

				rc = SPI_execute_plan(AuditWriterPlan(&head_hash_plan,
												  "SELECT pg_catalog.encode(hash, 'hex') FROM privacy_guard.audit_records"
												  " WHERE id OPERATOR(pg_catalog.=) $1", 1, htypes),
									  hargs, NULL, true, 1);
				if (rc != SPI_OK_SELECT || SPI_processed != 1 ||
					strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), old_hash) != 0)
					problem = psprintf("record %lld is not the record that was committed", (long long) old_id);
			}
		}
		if (problem != NULL)
		{
			add_marker(&records, "trail_tampered", "tampered",
					   psprintf("found before record %lld: %s", (long long) last_id + 1, problem),
					   last_id + 1, head, true, epoch);
			last_id++;
			wrote_records = true;
		}
	}
	else
	{
		Oid			old_relid;
		int64		old_id;
		char		old_hash[65];

		/*
		 * An empty trail where the anchor remembers records: the table was
		 * emptied or replaced.  The new chain starts by saying so.
		 */
		if (anchor_read(MyDatabaseId, &old_relid, &old_id, old_hash, sizeof(old_hash)) && old_id > 0)
		{
			add_marker(&records, "trail_restarted", "restarted",
					   psprintf("the previous trail (table %u) ended at record %lld, hash %s; it was %s",
								old_relid, (long long) old_id, old_hash,
								old_relid == relid ? "emptied" : "dropped"),
					   1, head, false, epoch);
			have_prev = true;
			last_id = 1;
			wrote_records = true;
		}
	}

	for (int i = 0; i < n; i++)
	{
		AuditEvent *e = &batch[i];

		row_of[i] = -1;
		/* already committed before a restart of this worker */
		if (e->origin_epoch == 0 && (int64) epoch == last_epoch && (int64) e->seq <= last_seq)
			continue;
		if (e->kind == AUDIT_SUBJECTS)
		{
			/*
			 * The one subject of a group whose record is in this batch (a
			 * search's, usually) goes into that record; other subjects
			 * into rows of their own.  Only this server's: a standby's
			 * seqs are its queue's.
			 */
			if (with_key && e->origin_epoch == 0 && e->nkeys == 1 && e->complete &&
				e->group_seq >= batch[0].seq && e->group_seq < e->seq)
			{
				int			j = (int) (e->group_seq - batch[0].seq);

				if (j < i && batch[j].seq == e->group_seq && batch[j].kind == AUDIT_RECORD &&
					batch[j].origin_epoch == 0 && row_of[j] >= 0 && records.nulls[17][row_of[j]])
				{
					records.cols[17][row_of[j]] = Int64GetDatum(e->first_key);
					records.nulls[17][row_of[j]] = false;
					continue;
				}
			}
			/* a standby's, under its queue's negated epoch (ours are positive) */
			subjects_add(&subjects, e->origin_epoch ? -(int64) e->origin_epoch : (int64) epoch,
						 e->group_seq, e);
			continue;
		}
		row_of[i] = records.n;
		if (e->origin_epoch != 0)
			batch_add(&records, e, last_id + 1, head, have_prev, -(int64) e->origin_epoch, e->origin_seq);
		else
			batch_add(&records, e, last_id + 1, head, have_prev, epoch, e->seq);

		/*
		 * A search's record with the subjects it found (flush_group_keys()):
		 * its one subject into the record, more into a row of their own.
		 */
		if (e->origin_epoch == 0 && e->nkeys > 0)
		{
			if (with_key && e->nkeys == 1 && e->complete)
			{
				records.cols[17][row_of[i]] = Int64GetDatum(e->first_key);
				records.nulls[17][row_of[i]] = false;
			}
			else
				subjects_add(&subjects, (int64) epoch, e->seq, e);
		}
		have_prev = true;
		last_id++;
		wrote_records = true;
		if (audit_log_lines)
		{
			/* quotes and line breaks in a justification or a name must not forge lines */
			char	   *fields[] = {e->detail, e->database, e->session_user_name, e->current_role_name,
			e->event, e->purpose, e->category, e->outcome};

			for (int f = 0; f < lengthof(fields); f++)
				for (char *c = fields[f]; *c; c++)
					if (*c == '"' || *c == '\\' || (unsigned char) *c < ' ' || *c == 0x7f)
						*c = ' ';
			ereport(LOG,
					(errmsg("privacy_guard audit: id=%lld database=\"%s\" session_user=\"%s\" role=\"%s\" event=\"%s\" purpose=\"%s\" category=\"%s\" outcome=\"%s\" statement=\"%s\"",
							(long long) last_id, e->database, e->session_user_name,
							e->current_role_name, e->event, e->purpose[0] ? e->purpose : "-",
							e->category[0] ? e->category : "-", e->outcome[0] ? e->outcome : "-",
							e->detail),
					 errhidestmt(true)));
		}
	}
	/* the subjects named in records, indexed a run of records at a time */
	first_id = records.n > 0 ? DatumGetInt64(records.cols[0][0]) : last_id + 1;
	key_ids = palloc(sizeof(int64) * Max(records.n, 1));
	key_rows = palloc(sizeof(int64) * Max(records.n, 1));
	for (int r = 0; with_key && r < records.n; r++)
		if (!records.nulls[17][r])
		{
			key_rows[nkeys] = DatumGetInt64(records.cols[0][r]);
			key_ids[nkeys++] = DatumGetInt64(records.cols[17][r]);
		}
	batch_insert(&records, relid, with_key);
	subjects_insert(&subjects);
	if (with_key)
		AuditRunsBatch(relid, first_id, last_id, key_rows, key_ids, nkeys);
	if (have_prev)
	{
		bytea	   *h = palloc(VARHDRSZ + 32);

		SET_VARSIZE(h, VARHDRSZ + 32);
		memcpy(VARDATA(h), head, 32);
		prev = PointerGetDatum(h);
	}
	if (wrote_records)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		anchor_out->relid = relid;
		anchor_out->last_id = last_id;
		anchor_out->hash = DatumGetByteaPCopy(prev);	/* outlives SPI */
		MemoryContextSwitchTo(old);
	}
	/* this head is ours once the batch commits; an error ends the writer before that */
	own_head_relid = have_prev ? relid : InvalidOid;
	own_head_id = last_id;
	if (have_prev)
		memcpy(own_head_hash, head, 32);
	return true;
}

PGDLLEXPORT void AuditWriterMain(Datum main_arg);
PGDLLEXPORT void AuditLauncherMain(Datum main_arg);

/*
 * The writer of one database's trail: started by the launcher for the
 * queue slot main_arg, connected to that slot's database.
 */
void
AuditWriterMain(Datum main_arg)
{
	AuditEvent *batch;
	int			slot = DatumGetInt32(main_arg);
	AuditQueue *q;
	Oid			dboid;
	AnchorState pending_anchor;	/* committed, not yet in the anchor file */
	TimestampTz anchor_written_at = 0;
	TimestampTz last_event_at = GetCurrentTimestamp();
	TimestampTz retry_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (slot < 0 || slot >= audit->nqueues)
		elog(ERROR, "privacy_guard audit writer started for queue %d of %d", slot, audit->nqueues);
	q = &audit->queues[slot];
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	dboid = q->dboid;
	if (!OidIsValid(dboid) || q->writer_pid != 0 || q->stop)
	{
		LWLockRelease(audit->lock);
		proc_exit(0);			/* the slot changed before we started: nothing to do */
	}
	q->writer_pid = MyProcPid;
	q->writer_latch = MyLatch;
	/* a head its predecessor committed and did not anchor stays unanchored: verify allows it */
	q->anchored_seq = q->written_seq;
	writer_queue = q;
	LWLockRelease(audit->lock);
	before_shmem_exit(writer_detach, (Datum) 0);

	/* a database that refuses connections still has its trail written */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	pgstat_report_appname("privacy_guard audit writer");
	/* reveals wait for this commit: it must be on disk, whatever the server's default */
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	/* the head's saved plan reads the primary key backwards, however small the table was */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_sort", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* the trail's own inserts are no statements of anyone's for pgaudit */
	if (RedactPgauditLoaded())
	{
		SetConfigOption("pgaudit.log", "none", PGC_SUSET, PGC_S_OVERRIDE);
		SetConfigOption("pgaudit.role", "", PGC_SUSET, PGC_S_OVERRIDE);
	}

	batch = MemoryContextAlloc(TopMemoryContext, sizeof(AuditEvent) * AUDIT_BATCH);
	pending_anchor.relid = InvalidOid;
	pending_anchor.last_id = 0;
	pending_anchor.hash = NULL;
	for (;;)
	{
		int			n = 0;
		uint64		epoch;
		uint64		tail;
		uint64		tail_byte;
		Size		consumed;
		uint64		keys_consumed;
		bool		written;
		bool		stop;
		AnchorState anchor;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * Events nobody waits for (searches, refusals, declared purposes)
		 * are gathered for a moment: one commit for many, so that a steady
		 * stream of statements costs the writer little.  A session waiting
		 * for a commit (a reveal that returns data, audit_flush(), a full
		 * queue) wakes the writer, which then commits at once.
		 */
		LWLockAcquire(audit->lock, LW_EXCLUSIVE);
		if (q->head > q->tail && q->waiters == 0 && !q->stop && !AUDIT_GATHERED(q))
		{
			TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), AUDIT_GATHER_MS);

			q->gathering = true;	/* (writer_detach() clears it should the writer exit) */
			LWLockRelease(audit->lock);
			for (;;)
			{
				long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
				bool		enough;

				/* reset, then look, then sleep: a wake between the two is not lost */
				ResetLatch(MyLatch);
				LWLockAcquire(audit->lock, LW_SHARED);
				enough = q->waiters > 0 || q->stop || AUDIT_GATHERED(q);
				LWLockRelease(audit->lock);
				if (enough || left <= 0)
					break;
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 left, PG_WAIT_EXTENSION);
				CHECK_FOR_INTERRUPTS();
			}
			LWLockAcquire(audit->lock, LW_EXCLUSIVE);
			q->gathering = false;
		}
		epoch = q->epoch;
		tail = q->tail;
		tail_byte = q->tail_byte;
		stop = q->stop;
		n = (int) Min(q->head - tail, (uint64) AUDIT_BATCH);
		LWLockRelease(audit->lock);

		/*
		 * Copied without the lock, which sessions queueing events need: the
		 * slots from tail to head are this writer's until it moves tail on
		 * (sessions write only past head, and wait for room before they
		 * would wrap around to tail), and the lock's release after each
		 * was filled orders its contents before our reading of head.
		 */
		consumed = 0;
		keys_consumed = 0;
		for (int i = 0; i < n; i++)
		{
			Size		pos = (tail_byte + consumed) % AUDIT_RING_BYTES;

			if (*(uint32 *) ((char *) q->ring + pos) == 0)
			{
				/* the rest of the ring was skipped: the event is at its beginning */
				consumed += AUDIT_RING_BYTES - pos;
				pos = 0;
			}
			consumed += event_unpack((char *) q->ring + pos, &batch[i]);
			if (batch[i].nkeys > 1)
				keys_consumed += batch[i].nkeys;
		}

		if (n == 0)
		{
			/*
			 * idle: the anchor catches up with the head, AUDIT_ANCHOR_MS
			 * after it was last written (at once for audit_flush())
			 */
			if (pending_anchor.hash != NULL)
			{
				long		left = AUDIT_ANCHOR_MS -
					TimestampDifferenceMilliseconds(anchor_written_at, GetCurrentTimestamp());

				if (left > 0 && !anchor_wanted(q))
				{
					(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									 left, PG_WAIT_EXTENSION);
					ResetLatch(MyLatch);
					continue;
				}
				anchor_flush(q, &pending_anchor, &anchor_written_at);
			}
			/* asked to let go of the database (DROP, RENAME, a copy of it) */
			if (stop)
				proc_exit(0);
			/* long idle: give the queue (and the background worker) back */
			if (TimestampDifferenceExceeds(last_event_at, GetCurrentTimestamp(),
										   AUDIT_IDLE_MINUTES * 60 * 1000))
			{
				bool		freed = false;

				LWLockAcquire(audit->lock, LW_EXCLUSIVE);
				if (q->head == q->tail && q->waiters == 0 && q->holders == 0)
				{
					q->dboid = InvalidOid;
					q->stop = false;
					freed = true;
				}
				LWLockRelease(audit->lock);
				if (freed)
					proc_exit(0);
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}

		last_event_at = GetCurrentTimestamp();

		/*
		 * A standby writes nothing: its primary records its events (the
		 * primary's writer chains them into the trail of this database
		 * there), and the sessions waiting here go on only once it has.
		 * Unreachable, the events stay queued and sessions fail with the
		 * reason; the writer tries again every AUDIT_RETRY_MS.
		 */
		if (RecoveryInProgress())
		{
			char		problem[AUDIT_PROBLEM_LEN];
			bool		forwarded;

			if (GetCurrentTimestamp() < retry_at)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 TimestampDifferenceMilliseconds(GetCurrentTimestamp(), retry_at),
								 PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
			pgstat_report_activity(STATE_RUNNING, "forwarding the audit trail to the primary");
			/*
			 * As this server's writer makes them valid text for its trail:
			 * the primary refuses the whole batch for one field that is not
			 * (a role named in another database's encoding), and every
			 * retry, for good
			 */
			for (int i = 0; i < n; i++)
				sanitize_event(&batch[i]);
			forwarded = ForwardBatch(batch, n, epoch, problem, sizeof(problem));
			pgstat_report_activity(STATE_IDLE, NULL);
			LWLockAcquire(audit->lock, LW_EXCLUSIVE);
			if (forwarded)
			{
				q->problem[0] = '\0';
				q->tail = tail + n;
				q->tail_byte = tail_byte + consumed;
				q->keys_tail += keys_consumed;
				/* the primary anchors its trail */
				q->written_seq = q->anchored_seq = batch[n - 1].seq + 1;
			}
			else
				strlcpy(q->problem, problem, sizeof(q->problem));
			pg_atomic_write_u32(&q->unreachable, forwarded ? 0 : 1);
			LWLockRelease(audit->lock);
			if (forwarded)
				ConditionVariableBroadcast(&q->written_cv);
			else
			{
				ereport(LOG,
						(errmsg("privacy_guard audit writer cannot reach the primary: %s", problem)));
				retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), AUDIT_RETRY_MS);
			}
			continue;
		}
		ForwardDisconnect();	/* promoted: this server writes its own trail */
		pg_atomic_write_u32(&q->unreachable, 0);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "writing the audit trail");
		anchor.hash = NULL;
		written = writer_insert(batch, n, epoch, &anchor);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);

		if (!written)
		{
			/* the extension is gone (or not yet back): keep the events, look again shortly */
			if (stop)
				proc_exit(0);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}

		LWLockAcquire(audit->lock, LW_EXCLUSIVE);
		q->tail = tail + n;
		q->tail_byte = tail_byte + consumed;
		q->keys_tail += keys_consumed;
		q->written_seq = batch[n - 1].seq + 1;
		if (anchor.hash == NULL && pending_anchor.hash == NULL)
			q->anchored_seq = q->written_seq;	/* nothing new to anchor */
		LWLockRelease(audit->lock);
		ConditionVariableBroadcast(&q->written_cv);

		/*
		 * The anchor follows the committed head; a reveal waits for the
		 * commit, not for the anchor.  It is written every AUDIT_ANCHOR_MS
		 * under a steady stream and once the queue runs dry, not after
		 * every commit (two fsyncs each); at once for audit_flush().
		 */
		if (anchor.hash != NULL)
		{
			if (pending_anchor.hash != NULL)
				pfree(pending_anchor.hash);
			pending_anchor = anchor;
		}
		if (pending_anchor.hash != NULL &&
			(anchor_wanted(q) ||
			 TimestampDifferenceExceeds(anchor_written_at, GetCurrentTimestamp(), AUDIT_ANCHOR_MS)))
			anchor_flush(q, &pending_anchor, &anchor_written_at);
	}
}

/*----------------------------------------------------------------------
 * The launcher
 *
 * One background worker, connected to no database (it reads the shared
 * catalog pg_database only), starts a writer for every database whose
 * sessions queued events (their slot is claimed), restarts writers that
 * exit, and frees the slots of databases that were dropped.  Backends wake
 * it when they claim a slot or find no writer.
 *----------------------------------------------------------------------
 */

static void
launcher_detach(int code, Datum arg)
{
	if (audit == NULL)
		return;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	audit->launcher_latch = NULL;
	LWLockRelease(audit->lock);
}

static bool
database_exists(Oid dboid)
{
	bool		exists;

	StartTransactionCommand();
	exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboid));
	CommitTransactionCommand();
	return exists;
}

void
AuditLauncherMain(Datum main_arg)
{
	BackgroundWorkerHandle **handles;
	TimestampTz *next_start;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("privacy_guard audit launcher");
	handles = MemoryContextAllocZero(TopMemoryContext, sizeof(BackgroundWorkerHandle *) * audit->nqueues);
	next_start = MemoryContextAllocZero(TopMemoryContext, sizeof(TimestampTz) * audit->nqueues);

	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	audit->launcher_latch = MyLatch;
	LWLockRelease(audit->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		for (int i = 0; i < audit->nqueues; i++)
		{
			AuditQueue *q = &audit->queues[i];
			Oid			dboid;
			bool		running;
			bool		stop;
			pid_t		pid;

			if (handles[i] != NULL &&
				GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			{
				pfree(handles[i]);
				handles[i] = NULL;
			}
			LWLockAcquire(audit->lock, LW_SHARED);
			dboid = q->dboid;
			running = q->writer_pid != 0;
			stop = q->stop;
			LWLockRelease(audit->lock);
			if (!OidIsValid(dboid) || running || handles[i] != NULL)
				continue;
			if (!database_exists(dboid))
			{
				/* dropped: nobody can queue for it any more, nor read its trail */
				LWLockAcquire(audit->lock, LW_EXCLUSIVE);
				if (q->dboid == dboid && q->writer_pid == 0)
				{
					q->dboid = InvalidOid;
					q->stop = false;
					q->head = q->tail = 0;
					q->head_byte = q->tail_byte = 0;
					q->keys_head = q->keys_tail = 0;
				}
				LWLockRelease(audit->lock);
				ConditionVariableBroadcast(&q->written_cv);
				continue;
			}
			if (stop)
				continue;		/* held off until its database is in use again */
			/* a writer is started at most once a second (five when no worker slot is free) */
			if (!TimestampDifferenceExceeds(next_start[i], GetCurrentTimestamp(), 0))
				continue;
			next_start[i] = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
			{
				BackgroundWorker worker;

				memset(&worker, 0, sizeof(worker));
				worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
				worker.bgw_start_time = BgWorkerStart_ConsistentState;
				worker.bgw_restart_time = BGW_NEVER_RESTART;
				worker.bgw_main_arg = Int32GetDatum(i);
				worker.bgw_notify_pid = MyProcPid;
				snprintf(worker.bgw_library_name, BGW_MAXLEN, "privacy_guard");
				snprintf(worker.bgw_function_name, BGW_MAXLEN, "AuditWriterMain");
				snprintf(worker.bgw_name, BGW_MAXLEN, "privacy_guard audit writer for database %u", dboid);
				snprintf(worker.bgw_type, BGW_MAXLEN, "privacy_guard audit writer");
				if (!RegisterDynamicBackgroundWorker(&worker, &handles[i]))
				{
					handles[i] = NULL;
					next_start[i] = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 5000);
					ereport(WARNING,
							(errmsg("privacy_guard could not start the audit writer of database %u: no background worker slot is free", dboid),
							 errhint("Raise max_worker_processes (restart): privacy_guard needs one for its launcher and one per database it is installed in.")));
				}
			}
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * A statement that needs a database without sessions (DROP DATABASE,
 * ALTER DATABASE ... RENAME or SET TABLESPACE, CREATE DATABASE from it as
 * a template) first has that database's writer write what is queued and
 * exit; the launcher starts it again when a session of the database queues
 * an event.
 */
void
AuditReleaseDatabase(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	AuditQueue *q = NULL;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	Latch	   *latch = NULL;

	if (audit == NULL || !OidIsValid(dboid) || dboid == MyDatabaseId)
		return;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit->nqueues && q == NULL; i++)
		if (audit->queues[i].dboid == dboid)
			q = &audit->queues[i];
	if (q != NULL)
	{
		q->stop = true;
		latch = q->writer_latch;
	}
	LWLockRelease(audit->lock);
	if (q == NULL)
		return;
	if (latch != NULL)
		SetLatch(latch);
	ConditionVariablePrepareToSleep(&q->written_cv);
	for (;;)
	{
		bool		gone;

		LWLockAcquire(audit->lock, LW_SHARED);
		gone = q->dboid != dboid || q->writer_pid == 0;
		LWLockRelease(audit->lock);
		if (gone || GetCurrentTimestamp() >= deadline)
			break;
		ConditionVariableTimedSleep(&q->written_cv, 100, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
}

/* After DROP DATABASE: its queue is free for another database at once. */
void
AuditForgetDatabase(Oid dboid)
{
	if (audit == NULL || !OidIsValid(dboid))
		return;
	LWLockAcquire(audit->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit->nqueues; i++)
	{
		AuditQueue *q = &audit->queues[i];

		if (q->dboid == dboid && q->writer_pid == 0)
		{
			q->dboid = InvalidOid;
			q->stop = false;
			q->head = q->tail = 0;
			q->head_byte = q->tail_byte = 0;
			q->keys_head = q->keys_tail = 0;
		}
	}
	LWLockRelease(audit->lock);
}

void
AuditInit(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("privacy_guard.database",
							   "Obsolete: every database where the extension is installed has its own audit trail.",
							   NULL, &audit_database, "", PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomIntVariable("privacy_guard.max_databases",
							"How many databases can have an audit writer (and a queue) at once.",
							"Each uses a background worker (max_worker_processes) and about 1 MB of shared memory.",
							&audit_max_databases, 8, 1, 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("privacy_guard.audit_wait_timeout",
							"How long a session waits for the audit writer before failing.",
							NULL, &audit_wait_timeout, 5000, 10, 600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomBoolVariable("privacy_guard.audit_subjects",
							 "Record which subjects each reveal touched (for access_history()).",
							 "Off records only who revealed what, when, under which purpose.",
							 &audit_subjects, true, PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("privacy_guard.audit_log_lines",
							 "Also write each audit record to the server log, as one parseable line.",
							 NULL, &audit_log_lines, false, PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);

	AuditRunsInit();
	ForwardInit();

	EnableQueryId();
	prev_planner = planner_hook;
	planner_hook = audit_planner;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = audit_post_parse_analyze;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = audit_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = audit_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = audit_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = audit_ExecutorEnd;
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "privacy_guard");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "AuditLauncherMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "privacy_guard audit launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "privacy_guard audit launcher");
	RegisterBackgroundWorker(&worker);
}
