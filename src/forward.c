/*-------------------------------------------------------------------------
 * src/forward.c
 *	  A hot standby's audit events, recorded in its primary's trail.
 *
 * A standby cannot write, yet a value may leave it only once its access is
 * in a durable trail.  Its audit writer (audit.c) therefore forwards each
 * batch of its queue to the primary, over a libpq connection to the same
 * database there (privacy_guard.primary_conninfo, or the standby's own
 * primary_conninfo), as one call of privacy_guard.audit_forward().  That
 * function, on the primary, queues the events in the primary's queue of
 * the database, naming the standby in each record, and returns once the
 * primary's writer has committed them.  Only then does the standby's
 * writer let its waiting sessions go on.  A standby of a standby forwards
 * to its upstream, which forwards further the same way.
 *
 * Forwarded records keep the standby queue's position as their own, under
 * the negated epoch (this server's queues have positive ones), so that the
 * subjects of a standby's reveal (which name their group by the standby's
 * seq) find their record and nothing forwarded is taken for a position of
 * this server's.  The caller must be a member of privacy_guard_standby: the
 * trail trusts that role to say what happened on its standby, and each
 * record names the standby, that role and its address.
 *
 * Everything waits on the latch with a deadline: a primary that does not
 * answer never blocks the writer's shutdown, and sessions fail (closed)
 * after privacy_guard.audit_wait_timeout with the reason.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "commands/dbcommands.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "common/ip.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "audit_event.h"
#include "catalog.h"

/* the fields of one event in audit_forward()'s array, in this order */
enum
{
	FWD_KIND,
	FWD_EPOCH,
	FWD_SEQ,
	FWD_GROUP_SEQ,
	FWD_AT,
	FWD_SESSION_USER,
	FWD_CURRENT_ROLE,
	FWD_EVENT,
	FWD_PURPOSE,
	FWD_CATEGORY,
	FWD_TABLE,
	FWD_COLUMN,
	FWD_SUBJECT,
	FWD_OUTCOME,
	FWD_DETAIL,
	FWD_KEYS,
	FWD_NFIELDS
};

#define FORWARD_TIMEOUT_MS 10000	/* connecting, and each call */
#define FORWARD_MAX_EVENTS 1024		/* events in one call (a standby sends a batch of at most 256) */

static char *forward_conninfo = NULL;	/* privacy_guard.primary_conninfo */
static PGconn *primary = NULL;

void
ForwardDisconnect(void)
{
	if (primary != NULL)
		PQfinish(primary);
	primary = NULL;
}

/* Wait for the socket (or the latch, or the deadline); false on timeout. */
static bool
wait_socket(PGconn *conn, int events, TimestampTz deadline)
{
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int			rc;

		if (left <= 0)
			return false;
		rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
							   PQsocket(conn), left, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & events)
			return true;
	}
}

/* The first line of libpq's message: no connection string, no password. */
static void
set_problem(char *problem, int len, const char *what, PGconn *conn)
{
	const char *msg = conn ? PQerrorMessage(conn) : "";
	int			n = strcspn(msg, "\n");

	snprintf(problem, len, "%s%s%.*s", what, n > 0 ? ": " : "", n, msg);
}

static bool
connect_primary(char *problem, int len)
{
	const char *conninfo = forward_conninfo;
	const char *keywords[4];
	const char *values[4];
	char	   *dbname;
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FORWARD_TIMEOUT_MS);

	if (conninfo == NULL || conninfo[0] == '\0')
		conninfo = GetConfigOption("primary_conninfo", true, false);
	if (conninfo == NULL || conninfo[0] == '\0')
	{
		snprintf(problem, len, "neither privacy_guard.primary_conninfo nor primary_conninfo is set");
		return false;
	}
	StartTransactionCommand();
	dbname = pstrdup(get_database_name(MyDatabaseId));
	CommitTransactionCommand();

	/* the connection string first, then the database, which overrides one it names */
	keywords[0] = "dbname";
	values[0] = conninfo;
	keywords[1] = "dbname";
	values[1] = dbname;
	keywords[2] = "application_name";
	values[2] = "privacy_guard audit forwarder";
	keywords[3] = NULL;
	values[3] = NULL;
	primary = PQconnectStartParams(keywords, values, 1);
	if (primary == NULL || PQstatus(primary) == CONNECTION_BAD)
	{
		set_problem(problem, len, "could not connect to the primary", primary);
		ForwardDisconnect();
		return false;
	}
	while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
	{
		if (!wait_socket(primary, status == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
						 deadline))
		{
			snprintf(problem, len, "could not connect to the primary: no answer within %d ms", FORWARD_TIMEOUT_MS);
			ForwardDisconnect();
			return false;
		}
		status = PQconnectPoll(primary);
	}
	if (PQstatus(primary) != CONNECTION_OK)
	{
		set_problem(problem, len, "could not connect to the primary", primary);
		ForwardDisconnect();
		return false;
	}
	return true;
}

/* One element of an array literal, quoted. */
static void
append_element(StringInfo buf, const char *value, bool first)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	appendStringInfoChar(buf, '"');
	for (const char *c = value; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *c);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Send a batch of this standby's queue to the primary and wait until it is
 * committed there.  False, with the reason in problem, when it is not
 * known to be: the caller sends the same batch again later (the primary
 * may then hold some records twice; it never misses one).  Events this
 * standby received from a standby of its own keep their origin's position.
 */
bool
ForwardBatch(const AuditEvent *batch, int n, uint64 epoch, char *problem, int problemlen)
{
	StringInfoData events;
	const char *name = GetConfigOption("cluster_name", true, false);
	const char *params[2];
	TimestampTz deadline;
	PGresult   *res;
	bool		ok = true;
	int64		expected = 0;
	int64		ids[AUDIT_KEYS_PER_EVENT];

	if (primary != NULL && PQstatus(primary) != CONNECTION_OK)
		ForwardDisconnect();
	if (primary == NULL && !connect_primary(problem, problemlen))
		return false;

	initStringInfo(&events);
	appendStringInfoChar(&events, '{');
	for (int i = 0; i < n; i++)
	{
		const AuditEvent *e = &batch[i];
		StringInfoData keys;

		if (e->kind == AUDIT_SUBJECTS && e->nkeys == 0)
			continue;
		initStringInfo(&keys);
		if (e->kind == AUDIT_SUBJECTS)
		{
			int			nkeys = AuditUnpackKeys(e, ids);

			for (int k = 0; k < nkeys; k++)
				appendStringInfo(&keys, "%s" INT64_FORMAT, k ? "," : "", ids[k]);
		}
		append_element(&events, psprintf("%d", (int) e->kind), expected == 0);
		append_element(&events, psprintf(UINT64_FORMAT, e->origin_epoch ? e->origin_epoch : epoch), false);
		append_element(&events, psprintf(UINT64_FORMAT, e->origin_epoch ? e->origin_seq : e->seq), false);
		append_element(&events, psprintf(UINT64_FORMAT, e->group_seq), false);
		append_element(&events, psprintf(INT64_FORMAT, (int64) e->at), false);
		append_element(&events, e->session_user_name, false);
		append_element(&events, e->current_role_name, false);
		append_element(&events, e->event, false);
		append_element(&events, e->purpose, false);
		append_element(&events, e->category, false);
		append_element(&events, e->table_name, false);
		append_element(&events, e->column_name, false);
		append_element(&events, e->subject, false);
		append_element(&events, e->outcome, false);
		append_element(&events, e->detail, false);
		append_element(&events, keys.data, false);
		pfree(keys.data);
		expected++;
	}
	appendStringInfoChar(&events, '}');
	if (expected == 0)
	{
		pfree(events.data);
		return true;
	}
	params[0] = (name && name[0]) ? name : "unnamed";
	params[1] = events.data;

	if (!PQsendQueryParams(primary,
						   "SELECT privacy_guard.audit_forward($1::pg_catalog.text, $2::pg_catalog.text[])",
						   2, NULL, params, NULL, NULL, 0))
	{
		set_problem(problem, problemlen, "could not send to the primary", primary);
		ForwardDisconnect();
		pfree(events.data);
		return false;
	}
	pfree(events.data);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FORWARD_TIMEOUT_MS);
	while (PQflush(primary) == 1)
	{
		if (!wait_socket(primary, WL_SOCKET_WRITEABLE, deadline))
		{
			snprintf(problem, problemlen, "the primary did not take the events within %d ms", FORWARD_TIMEOUT_MS);
			ForwardDisconnect();
			return false;
		}
	}
	while (PQisBusy(primary))
	{
		if (!wait_socket(primary, WL_SOCKET_READABLE, deadline) || !PQconsumeInput(primary))
		{
			if (PQstatus(primary) == CONNECTION_BAD)
				set_problem(problem, problemlen, "lost the connection to the primary", primary);
			else
				snprintf(problem, problemlen, "the primary did not confirm within %d ms", FORWARD_TIMEOUT_MS);
			ForwardDisconnect();
			return false;
		}
	}
	while ((res = PQgetResult(primary)) != NULL)
	{
		if (!ok)
		{
			PQclear(res);
			continue;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

			snprintf(problem, problemlen, "the primary refused the events: %s", msg ? msg : "(no message)");
			ok = false;
		}
		/* it says how many it committed: all of them, or the batch is not recorded */
		else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
				 strtoi64(PQgetvalue(res, 0, 0), NULL, 10) != expected)
		{
			snprintf(problem, problemlen, "the primary did not confirm every event (" INT64_FORMAT " sent)", expected);
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/* An event's numeric field; the whole call fails on a bad one. */
static int64
field_int8(Datum *elems, bool *nulls, int i, int field)
{
	char	   *s;
	char	   *end;
	int64		v;

	if (nulls[i * FWD_NFIELDS + field])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("forwarded audit event %d has a null field %d", i + 1, field + 1)));
	s = TextDatumGetCString(elems[i * FWD_NFIELDS + field]);
	errno = 0;
	v = strtoi64(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("forwarded audit event %d has an invalid number in field %d", i + 1, field + 1)));
	return v;
}

/* A text field, clipped to its size, control characters made spaces (no forged log lines). */
static void
field_text(char *dst, int size, Datum *elems, bool *nulls, int i, int field)
{
	char	   *s = nulls[i * FWD_NFIELDS + field] ? "" : TextDatumGetCString(elems[i * FWD_NFIELDS + field]);
	int			len = strlen(s);

	if (len >= size)
		len = pg_mbcliplen(s, len, size - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	for (char *c = dst; *c; c++)
		if ((unsigned char) *c < ' ' || *c == 0x7f)
			*c = ' ';
}

PG_FUNCTION_INFO_V1(pguard_audit_forward);

/*
 * audit_forward(standby, events) on the primary: record a standby's events
 * (FWD_NFIELDS text fields each) in this database's trail, and return how
 * many once they are committed.  For members of privacy_guard_standby (the
 * role a standby's audit writer connects as), whom the trail trusts to say
 * what happened on their standby: each record names the standby, the role
 * that forwarded it and its address.
 *
 * Forwarded records and their subjects are kept under the negated epoch of
 * their standby's queue (the own queue's epochs are positive), so that no
 * forwarded position is ever taken for one of this server's own, and
 * subjects attach only to records forwarded from the same standby queue.
 * Nothing is skipped as a duplicate: a batch sent again after a lost answer
 * is recorded twice rather than a forged position suppressing a real event.
 */
Datum
pguard_audit_forward(PG_FUNCTION_ARGS)
{
	char	   *standby;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			nevents;
	uint64		last = 0;
	AuditEvent *events;
	int64	  **keyids;			/* a subjects event's key ids, ascending */
	int		   *nkeyids;
	char	   *origin;
	Oid			standby_role = get_role_oid("privacy_guard_standby", true);
	TimestampTz now = GetCurrentTimestamp();

	if (!superuser() && !(OidIsValid(standby_role) && has_privs_of_role(GetUserId(), standby_role)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to forward audit events"),
				 errdetail("Only a superuser or a member of privacy_guard_standby (the role a standby's audit writer connects as) may.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("audit_forward() takes no null argument")));
	standby = text_to_cstring(PG_GETARG_TEXT_PP(0));
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("forwarded audit events must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	if (nelems % FWD_NFIELDS != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("forwarded audit events must have %d fields each", FWD_NFIELDS)));
	nevents = nelems / FWD_NFIELDS;
	if (nevents > FORWARD_MAX_EVENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("at most %d audit events can be forwarded in one call", FORWARD_MAX_EVENTS)));
	for (int c = 0; standby[c]; c++)
		if ((unsigned char) standby[c] < ' ' || standby[c] == 0x7f)
			standby[c] = ' ';
	{
		char		host[NI_MAXHOST] = "local";

		if (MyBEEntry != NULL && MyBEEntry->st_clientaddr.salen > 0 &&
			MyBEEntry->st_clientaddr.addr.ss_family != AF_UNIX)
			(void) pg_getnameinfo_all(&MyBEEntry->st_clientaddr.addr, MyBEEntry->st_clientaddr.salen,
									  host, sizeof(host), NULL, 0, NI_NUMERICHOST);
		origin = psprintf("on standby %.64s (%s, %s): ", standby,
						  GetUserNameFromId(GetUserId(), false), host);
	}

	/* all parsed first: a malformed batch is refused whole, nothing queued */
	events = palloc0(sizeof(AuditEvent) * Max(nevents, 1));
	keyids = palloc0(sizeof(int64 *) * Max(nevents, 1));
	nkeyids = palloc0(sizeof(int) * Max(nevents, 1));
	for (int i = 0; i < nevents; i++)
	{
		AuditEvent *e = &events[i];
		int64		kind = field_int8(elems, nulls, i, FWD_KIND);
		int64		epoch = field_int8(elems, nulls, i, FWD_EPOCH);
		int64		seq = field_int8(elems, nulls, i, FWD_SEQ);
		char	   *keys;
		char		detail[AUDIT_DETAIL_LEN];

		if (kind != AUDIT_RECORD && kind != AUDIT_SUBJECTS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("forwarded audit event %d has an unknown kind", i + 1)));
		if (epoch <= 0 || seq <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("forwarded audit event %d has an invalid queue position", i + 1)));
		e->kind = (AuditKind) kind;

		/*
		 * The position is the forwarding role's: bound to that role, so
		 * that no other member of privacy_guard_standby can attach subjects
		 * to this standby's records (nor any to the primary's own).
		 */
		e->origin_epoch = ((uint64) epoch ^ ((uint64) GetUserId() * UINT64CONST(0x9E3779B97F4A7C15))) &
			UINT64CONST(0x7FFFFFFFFFFFFFFF);
		if (e->origin_epoch == 0)
			e->origin_epoch = 1;
		e->origin_seq = (uint64) seq;
		e->group_seq = (uint64) field_int8(elems, nulls, i, FWD_GROUP_SEQ);
		e->at = (TimestampTz) field_int8(elems, nulls, i, FWD_AT);
		/* a record's time the trail can print; a standby's clock may be off, not by years */
		if (e->kind == AUDIT_SUBJECTS)
			e->at = now;		/* subjects have none of their own */
		else if (TIMESTAMP_NOT_FINITE(e->at) || !IS_VALID_TIMESTAMP(e->at) ||
			e->at > TimestampTzPlusMilliseconds(now, INT64CONST(86400000)) ||
			e->at < TimestampTzPlusMilliseconds(now, -INT64CONST(86400000) * 366))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("forwarded audit event %d has an invalid time", i + 1)));
		field_text(e->session_user_name, AUDIT_NAME_LEN, elems, nulls, i, FWD_SESSION_USER);
		field_text(e->current_role_name, AUDIT_NAME_LEN, elems, nulls, i, FWD_CURRENT_ROLE);
		field_text(e->event, AUDIT_NAME_LEN, elems, nulls, i, FWD_EVENT);
		field_text(e->purpose, AUDIT_NAME_LEN, elems, nulls, i, FWD_PURPOSE);
		field_text(e->category, AUDIT_NAME_LEN, elems, nulls, i, FWD_CATEGORY);
		field_text(e->table_name, AUDIT_NAME_LEN * 2, elems, nulls, i, FWD_TABLE);
		field_text(e->column_name, AUDIT_NAME_LEN, elems, nulls, i, FWD_COLUMN);
		field_text(e->subject, AUDIT_NAME_LEN * 2, elems, nulls, i, FWD_SUBJECT);
		field_text(e->outcome, AUDIT_NAME_LEN, elems, nulls, i, FWD_OUTCOME);
		field_text(detail, AUDIT_DETAIL_LEN, elems, nulls, i, FWD_DETAIL);
		/* the trail's own markers are the primary writer's to make, no standby's */
		if (strncmp(e->event, "trail_", 6) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("forwarded audit event %d is a marker of the trail itself", i + 1)));
		/* the record names the standby, within the field's size */
		snprintf(e->detail, AUDIT_DETAIL_LEN, "%s%s", origin, detail);
		e->detail[pg_mbcliplen(e->detail, strlen(e->detail), AUDIT_DETAIL_LEN - 1)] = '\0';
		if (e->kind == AUDIT_SUBJECTS)
		{
			int			n = 0;

			keyids[i] = palloc(sizeof(int64) * AUDIT_KEYS_PER_EVENT);
			keys = nulls[i * FWD_NFIELDS + FWD_KEYS] ? "" : TextDatumGetCString(elems[i * FWD_NFIELDS + FWD_KEYS]);
			while (*keys)
			{
				char	   *end;
				int64		id;

				if (n == AUDIT_KEYS_PER_EVENT)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("forwarded audit event %d has more than %d keys", i + 1, AUDIT_KEYS_PER_EVENT)));
				errno = 0;
				id = strtoi64(keys, &end, 10);
				/* (the largest bigint is no key id: a row's range of them would not fit) */
				if (errno != 0 || end == keys || id <= 0 || id == PG_INT64_MAX ||
					(*end != ',' && *end != '\0') || (n > 0 && id <= keyids[i][n - 1]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("forwarded audit event %d has an invalid key list", i + 1),
							 errdetail("Key ids are positive, below the largest bigint, and ascending, separated by commas.")));
				keyids[i][n++] = id;
				keys = *end ? end + 1 : end;
			}
			if (n == 0 || e->group_seq == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("forwarded audit event %d names no keys or no group", i + 1)));
			nkeyids[i] = n;
		}
	}
	for (int i = 0; i < nevents; i++)
	{
		AuditEvent *e = &events[i];

		if (e->kind != AUDIT_SUBJECTS)
		{
			last = AuditEnqueueForwarded(e);
			continue;
		}
		/* packed as this server's own, in as many events as they take */
		e->nkeys = 0;
		for (int k = 0; k < nkeyids[i]; k++)
		{
			if (!AuditPackKey(e, keyids[i][k]))
			{
				last = AuditEnqueueForwarded(e);
				e->nkeys = 0;
				(void) AuditPackKey(e, keyids[i][k]);
			}
		}
		last = AuditEnqueueForwarded(e);
	}
	if (last > 0)
		AuditWaitWritten(last);
	PG_RETURN_INT64(nevents);
}

void
ForwardInit(void)
{
	DefineCustomStringVariable("privacy_guard.primary_conninfo",
							   "Where a hot standby's audit writer records its events: a connection string to the primary.",
							   "Empty: the standby's primary_conninfo; the database is the event's own.",
							   &forward_conninfo, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}
