/*-------------------------------------------------------------------------
 * src/audit_runs.c
 *	  From a search's subject to its audit record: an index the writer
 *	  builds a run of records at a time.
 *
 * A search's record names its one subject in audit_records.subject_key.
 * A btree on that column would cost the writer an insertion on a random
 * page for every search: the largest single part of its work.  Instead the
 * writer keeps the (key, record id) pairs of the records it commits and,
 * every privacy_guard.audit_run_records records, writes them sorted as a
 * run: rows of audit_subject_runs, each a chunk of pairs with the range of
 * keys it holds, which a GiST index finds.  AUDIT_RUN_FANOUT runs of a
 * level are merged into one of the next level, up to AUDIT_RUN_TOP, so a
 * look-up reads one chunk for each of a few runs, not one for every run
 * ever written (the top level's runs, AUDIT_RUN_FANOUT^AUDIT_RUN_TOP times
 * the first's size, do grow in number with the trail).
 *
 * access_history() reads the chunks holding a key, then the records after
 * the last run (fewer than audit_run_records), and keeps only records that
 * name the key themselves: a stale or forged pair never adds a record.
 *
 * A run is written in the transaction of the batch that completes it: the
 * records and the runs covering them commit together, and every record
 * with a subject_key up to the last run's end is in a run.  The pairs in
 * the writer's memory are only a copy of the records after the last run;
 * a writer that starts, or finds the trail or its runs replaced, reads them
 * again from the trail.
 *
 * The runs are only an index: what they hold can always be read again from
 * the trail.  Each row says how many rows its run was written in.  A writer
 * that starts drops incomplete runs and indexes again any stretch of the
 * trail no run covers; a merge that finds a run damaged, incomplete,
 * missing or out of its bounds rebuilds the range from the trail.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "audit_runs.h"

#define AUDIT_RUN_FANOUT 8		/* runs of a level merged into one of the next */
#define AUDIT_RUN_TOP 2			/* the level whose runs are not merged further */
#define AUDIT_RUN_CHUNK 7600	/* bytes of pairs a row: inline in one page */

typedef struct RunPair
{
	int64		key;
	int64		id;
} RunPair;

/* a growable array of pairs, in the context it was first grown in */
typedef struct PairList
{
	RunPair    *v;
	int			n;
	int			max;
} PairList;

typedef struct RunInfo
{
	int			level;
	int64		first_id;
	int64		last_id;
	int			chunks;			/* rows the run was written in */
	int			seen;			/* rows of it read (by a merge) */
} RunInfo;

static int	audit_run_records = 8192;

/* the writer's state: valid for the trail and runs tables it was read from */
static bool runs_known = false;
static Oid	runs_trail_relid = InvalidOid;
static Oid	runs_relid = InvalidOid;
static int64 runs_end = 0;		/* every record up to this id is in a run */
static PairList pending;		/* the records' pairs after runs_end, in TopMemoryContext */
static RunInfo *runs = NULL;	/* by first_id */
static int	nruns = 0;
static int	maxruns = 0;

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr list_plan = NULL;
static SPIPlanPtr tail_plan = NULL;
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr delete_plan = NULL;
static SPIPlanPtr cut_plan = NULL;
static SPIPlanPtr last_plan = NULL;

static inline int
pair_cmp(const RunPair *x, const RunPair *y)
{
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* sort_pairs(): a quicksort made for pairs (a run's are sorted every 8,192 records) */
#define ST_SORT sort_pairs
#define ST_ELEMENT_TYPE RunPair
#define ST_COMPARE(a, b) pair_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static void
pairs_reserve(PairList *l, MemoryContext cxt, int more)
{
	if (l->n + more > l->max)
	{
		l->max = Max(Max(1024, l->max * 2), l->n + more);
		l->v = l->v == NULL ?
			MemoryContextAllocHuge(cxt, sizeof(RunPair) * l->max) :
			repalloc_huge(l->v, sizeof(RunPair) * l->max);
	}
}

static void
pairs_add(PairList *l, MemoryContext cxt, int64 key, int64 id)
{
	pairs_reserve(l, cxt, 1);
	l->v[l->n].key = key;
	l->v[l->n].id = id;
	l->n++;
}

/* Add the pairs of the trail's records with ids in (after, upto]. */
static void
read_trail(PairList *l, MemoryContext cxt, int64 after, int64 upto)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(after), Int64GetDatum(upto)};

	if (SPI_execute_plan(AuditWriterPlan(&tail_plan,
										 "SELECT id, subject_key FROM privacy_guard.audit_records"
										 " WHERE id OPERATOR(pg_catalog.>) $1 AND id OPERATOR(pg_catalog.<=) $2"
										 " AND subject_key IS NOT NULL", 2, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the audit trail's subjects");
	pairs_reserve(l, cxt, (int) SPI_processed);
	for (uint64 t = 0; t < SPI_processed; t++)
	{
		bool		isnull;

		pairs_add(l, cxt, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 2, &isnull)),
				  DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 1, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
}

static void
runs_append(int level, int64 first_id, int64 last_id)
{
	if (nruns == maxruns)
	{
		maxruns = Max(16, maxruns * 2);
		runs = runs == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(RunInfo) * maxruns) :
			repalloc(runs, sizeof(RunInfo) * maxruns);
	}
	runs[nruns].level = level;
	runs[nruns].first_id = first_id;
	runs[nruns].last_id = last_id;
	runs[nruns].chunks = 0;		/* known once read */
	runs[nruns].seen = 0;
	nruns++;
}

/* unsigned LEB128 */
static char *
put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static const char *
get_varint(const char *p, const char *end, uint64 *out)
{
	uint64		v = 0;

	for (int shift = 0; p < end && shift < 64; shift += 7)
	{
		uint8		b = (uint8) *p++;

		v |= (uint64) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*out = v;
			return p;
		}
	}
	return NULL;
}

static void
damaged(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("an audit subject run is damaged"),
			 errhint("Delete the damaged row of privacy_guard.audit_subject_runs: the audit writer indexes its records again from the trail when it next starts (pg_terminate_backend() on it restarts it).")));
}

/*
 * Decode a chunk: pairs sorted by key, each the key's difference from the
 * one before (from 0 for the first) and the record's id less first_id.
 * With want >= 0, only the pairs of that key are kept.  Returns -1 for a
 * damaged chunk.
 */
static int
chunk_decode(bytea *chunk, int64 first_id, int64 want, RunPair *out, int max)
{
	const char *p = VARDATA_ANY(chunk);
	const char *end = p + VARSIZE_ANY_EXHDR(chunk);
	int64		key = 0;
	int			n = 0;

	while (p < end)
	{
		uint64		dk,
					did;

		p = get_varint(p, end, &dk);
		if (p != NULL)
			p = get_varint(p, end, &did);
		if (p == NULL || first_id < 0 ||
			dk > (uint64) PG_INT64_MAX - (uint64) key || did > (uint64) PG_INT64_MAX - (uint64) first_id)
			return -1;
		key += (int64) dk;
		if (want >= 0 && key > want)
			break;
		if (want >= 0 && key != want)
			continue;
		if (n == max)
			return -1;
		out[n].key = key;
		out[n].id = first_id + (int64) did;
		n++;
	}
	return n;
}

/*
 * Write pairs (sorted here) as the run [first_id, last_id] of level: its
 * chunks, each row saying how many there are, so that a run missing one
 * is known to be incomplete.
 */
static void
write_run(int level, int64 first_id, int64 last_id, RunPair *pairs, int n)
{
	Oid			types[7] = {INT2OID, INT8OID, INT8OID, INT4OID, INT8OID, INT8OID, BYTEAOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	List	   *chunks = NIL;
	List	   *bounds = NIL;	/* each chunk's first and last pair */
	SPIPlanPtr	plan;
	int			i = 0;

	plan = AuditWriterPlan(&insert_plan,
						   "INSERT INTO privacy_guard.audit_subject_runs (level, first_id, last_id, chunks, key_range, pairs)"
						   " VALUES ($1, $2, $3, $4, CASE WHEN $5 IS NULL THEN 'empty'::pg_catalog.int8range"
						   " ELSE pg_catalog.int8range($5, $6, '[]') END, $7)", 7, types);
	sort_pairs(pairs, n);
	do
	{
		bytea	   *chunk = palloc(VARHDRSZ + AUDIT_RUN_CHUNK + 20);
		char	   *p = VARDATA(chunk);
		int64		prev = 0;

		bounds = lappend_int(bounds, i);
		/* a pair takes at most 20 bytes: stop before one could overflow */
		while (i < n && p - VARDATA(chunk) <= AUDIT_RUN_CHUNK - 20)
		{
			p = put_varint(p, (uint64) (pairs[i].key - prev));
			p = put_varint(p, (uint64) (pairs[i].id - first_id));
			prev = pairs[i].key;
			i++;
		}
		SET_VARSIZE(chunk, p - (char *) chunk);
		chunks = lappend(chunks, chunk);
		bounds = lappend_int(bounds, i);
	} while (i < n);
	args[0] = Int16GetDatum((int16) level);
	args[1] = Int64GetDatum(first_id);
	args[2] = Int64GetDatum(last_id);
	args[3] = Int32GetDatum(list_length(chunks));
	for (int c = 0; c < list_length(chunks); c++)
	{
		int			start = list_nth_int(bounds, 2 * c);
		int			end = list_nth_int(bounds, 2 * c + 1);

		args[4] = Int64GetDatum(end > start ? pairs[start].key : 0);
		nulls[4] = end > start ? ' ' : 'n';
		args[5] = Int64GetDatum(end > start ? pairs[end - 1].key : 0);
		nulls[5] = nulls[4];
		args[6] = PointerGetDatum(list_nth(chunks, c));
		if (SPI_execute_plan(plan, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write an audit subject run");
	}
	list_free_deep(chunks);
	list_free(bounds);
}

/* Delete the rows of the runs of level within [first_id, last_id]. */
static void
delete_runs(int level, int64 first_id, int64 last_id)
{
	Oid			types[3] = {INT2OID, INT8OID, INT8OID};
	Datum		args[3] = {Int16GetDatum((int16) level), Int64GetDatum(first_id), Int64GetDatum(last_id)};

	if (SPI_execute_plan(AuditWriterPlan(&delete_plan,
										 "DELETE FROM privacy_guard.audit_subject_runs"
										 " WHERE level OPERATOR(pg_catalog.=) $1 AND first_id OPERATOR(pg_catalog.>=) $2"
										 " AND last_id OPERATOR(pg_catalog.<=) $3", 3, types),
						 args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete audit subject runs");
}

/* Merge the runs of a level into one run of the next. */
static void
merge_level(int level)
{
	Oid			types[3] = {INT2OID, INT8OID, INT8OID};
	Datum		args[3];
	int64		first_id = PG_INT64_MAX;
	int64		last_id = 0;
	PairList	pairs = {0};
	bool		broken = false;
	int			keep = 0;

	for (int r = 0; r < nruns; r++)
		if (runs[r].level == level)
		{
			first_id = Min(first_id, runs[r].first_id);
			last_id = Max(last_id, runs[r].last_id);
		}
	args[0] = Int16GetDatum((int16) level);
	args[1] = Int64GetDatum(first_id);
	args[2] = Int64GetDatum(last_id);
	if (SPI_execute_plan(AuditWriterPlan(&read_plan,
										 "SELECT first_id, pairs, last_id, chunks, pg_catalog.lower(key_range),"
										 " pg_catalog.upper(key_range) FROM privacy_guard.audit_subject_runs"
										 " WHERE level OPERATOR(pg_catalog.=) $1 AND first_id OPERATOR(pg_catalog.>=) $2"
										 " AND last_id OPERATOR(pg_catalog.<=) $3", 3, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the audit subject runs");
	for (int r = 0; r < nruns; r++)
		runs[r].seen = 0;
	for (uint64 t = 0; t < SPI_processed && !broken; t++)
	{
		HeapTuple	tup = SPI_tuptable->vals[t];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull,
					empty;
		int64		run_first = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		bytea	   *chunk = DatumGetByteaPP(SPI_getbinval(tup, desc, 2, &isnull));
		int64		run_last = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		int			nchunks = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		int64		key_lo = DatumGetInt64(SPI_getbinval(tup, desc, 5, &empty));
		int64		key_hi = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));	/* exclusive */
		/* each pair takes at least two bytes */
		int			most = VARSIZE_ANY_EXHDR(chunk) / 2;
		int			got;
		int			r;

		/* the chunk must belong to a run this writer merges, and hold what its row says */
		for (r = 0; r < nruns; r++)
			if (runs[r].level == level && runs[r].first_id == run_first && runs[r].last_id == run_last)
				break;
		if (r == nruns || (runs[r].seen > 0 && runs[r].chunks != nchunks))
		{
			broken = true;
			break;
		}
		runs[r].seen++;
		runs[r].chunks = nchunks;
		pairs_reserve(&pairs, CurrentMemoryContext, most);
		got = chunk_decode(chunk, run_first, -1, pairs.v + pairs.n, most);
		broken = got < 0 || (empty && got > 0);
		for (int i = 0; i < got && !broken; i++)
			broken = pairs.v[pairs.n + i].key < key_lo || pairs.v[pairs.n + i].key >= key_hi ||
				pairs.v[pairs.n + i].id > run_last;
		pairs.n += Max(got, 0);
	}
	SPI_freetuptable(SPI_tuptable);
	/* and every run's chunks were there */
	for (int r = 0; r < nruns && !broken; r++)
		broken = runs[r].level == level && (runs[r].seen == 0 || runs[r].seen != runs[r].chunks);
	if (broken)
	{
		/* only an index: what it held is read again from the trail */
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("an audit subject run is damaged or incomplete: records %lld to %lld are indexed again from the trail",
						(long long) first_id, (long long) last_id)));
		pairs.n = 0;
		read_trail(&pairs, CurrentMemoryContext, first_id - 1, last_id);
	}
	delete_runs(level, first_id, last_id);
	write_run(level + 1, first_id, last_id, pairs.v, pairs.n);
	if (pairs.v != NULL)
		pfree(pairs.v);
	for (int r = 0; r < nruns; r++)
		if (runs[r].level != level)
			runs[keep++] = runs[r];
	nruns = keep;
	runs_append(level + 1, first_id, last_id);
}

static void
merge_runs(void)
{
	for (int level = 0; level < AUDIT_RUN_TOP; level++)
	{
		int			count = 0;

		for (int r = 0; r < nruns; r++)
			count += runs[r].level == level;
		if (count >= AUDIT_RUN_FANOUT)
			merge_level(level);
	}
}

/* where the runs end now, as the table says */
static int64
runs_last(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute_plan(AuditWriterPlan(&last_plan,
										 "SELECT pg_catalog.max(last_id) FROM privacy_guard.audit_subject_runs", 0, NULL),
						 NULL, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the audit subject runs");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * Write the records with ids in (after, upto] as runs of the top level
 * (never merged), AUDIT_RUN_FANOUT^AUDIT_RUN_TOP times audit_run_records
 * records each, so that memory holds no more than one such run's pairs.
 */
static void
index_stretch(int64 after, int64 upto)
{
	int64		step = (int64) audit_run_records * AUDIT_RUN_FANOUT * AUDIT_RUN_FANOUT;

	while (after < upto)
	{
		int64		to = Min(upto, after + step);
		PairList	pairs = {0};

		/* read a run's worth of records at a time: only the pairs are kept */
		for (int64 from = after; from < to; from += audit_run_records)
			read_trail(&pairs, CurrentMemoryContext, from, Min(to, from + audit_run_records));
		write_run(AUDIT_RUN_TOP, after + 1, to, pairs.v, pairs.n);
		runs_append(AUDIT_RUN_TOP, after + 1, to);
		if (pairs.v != NULL)
			pfree(pairs.v);
		after = to;
	}
}

/*
 * Read the runs there are, index again the records of any stretch no run
 * covers (runs deleted by hand: the records before the last run's end
 * would be found by nothing), and read the pairs of the records after the
 * last run up to (not including) record before.  A long stretch after
 * the last run (the runs table emptied, say) is written as runs first.
 */
static void
runs_load(int64 before)
{
	int64		covered = 0;	/* every record up to this id is in a run */
	int			nlisted;
	int			keep = 0;
	SPITupleTable *tuptable;

	nruns = 0;
	pending.n = 0;
	runs_end = 0;
	if (SPI_execute_plan(AuditWriterPlan(&list_plan,
										 "SELECT last_id, first_id, level, pg_catalog.count(*), pg_catalog.min(chunks),"
										 " pg_catalog.max(chunks) FROM privacy_guard.audit_subject_runs"
										 " GROUP BY last_id, first_id, level ORDER BY last_id", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the audit subject runs");
	tuptable = SPI_tuptable;
	for (uint64 t = 0; t < SPI_processed; t++)
	{
		HeapTuple	tup = tuptable->vals[t];
		bool		isnull;
		int64		last_id = DatumGetInt64(SPI_getbinval(tup, tuptable->tupdesc, 1, &isnull));
		int64		first_id = DatumGetInt64(SPI_getbinval(tup, tuptable->tupdesc, 2, &isnull));
		int			level = DatumGetInt16(SPI_getbinval(tup, tuptable->tupdesc, 3, &isnull));
		int64		rows = DatumGetInt64(SPI_getbinval(tup, tuptable->tupdesc, 4, &isnull));
		int			least = DatumGetInt32(SPI_getbinval(tup, tuptable->tupdesc, 5, &isnull));
		int			most = DatumGetInt32(SPI_getbinval(tup, tuptable->tupdesc, 6, &isnull));

		runs_append(level, first_id, last_id);
		runs[nruns - 1].chunks = least;
		if (rows != least || least != most)
			runs[nruns - 1].seen = -1;	/* incomplete */
	}
	SPI_freetuptable(tuptable);
	/* a run missing some of its rows is dropped: its records are a gap now */
	for (int r = 0; r < nruns; r++)
		if (runs[r].seen < 0)
		{
			ereport(LOG,
					(errmsg("privacy_guard audit writer: the subject run of records %lld to %lld is incomplete; dropping it",
							(long long) runs[r].first_id, (long long) runs[r].last_id)));
			delete_runs(runs[r].level, runs[r].first_id, runs[r].last_id);
		}
		else
			runs[keep++] = runs[r];
	nruns = keep;
	/* the runs as written tile the trail by last_id; a gap is indexed again */
	nlisted = nruns;
	for (int r = 0; r < nlisted; r++)
	{
		if (runs[r].first_id > covered + 1)
		{
			ereport(LOG,
					(errmsg("privacy_guard audit writer: no subject run covers records %lld to %lld; indexing them again from the trail",
							(long long) covered + 1, (long long) runs[r].first_id - 1)));
			index_stretch(covered, runs[r].first_id - 1);
		}
		covered = Max(covered, runs[r].last_id);
	}
	runs_end = covered;
	if (before - 1 - runs_end >= audit_run_records)
	{
		int64		upto = before - 1 - (before - 1 - runs_end) % audit_run_records;

		index_stretch(runs_end, upto);
		runs_end = upto;
	}
	if (runs_end < before - 1)
		read_trail(&pending, TopMemoryContext, runs_end, before - 1);
}

void
AuditRunsBatch(Oid trail_relid, int64 first_id, int64 last_id,
			   const int64 *ids, const int64 *keys, int n)
{
	Oid			relid;

	if (last_id < first_id)
		return;					/* no record in this batch */
	relid = RangeVarGetRelid(makeRangeVar("privacy_guard", "audit_subject_runs", -1),
							 RowExclusiveLock, true);
	if (!OidIsValid(relid))
		return;					/* a trail of an older version */
	if (!runs_known || relid != runs_relid || trail_relid != runs_trail_relid ||
		(last_id - runs_end >= audit_run_records && runs_last() != runs_end))
	{
		/*
		 * Read again: at the writer's first batch, and when the runs are
		 * not where this writer left them before it adds one (emptied,
		 * restored): the records after what is left are indexed again.
		 */
		runs_known = false;
		runs_load(first_id);
		runs_relid = relid;
		runs_trail_relid = trail_relid;
		runs_known = true;
	}
	if (first_id <= runs_end)
	{
		Oid			types[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(first_id)};

		/*
		 * The trail's end moved back (records removed, the table emptied):
		 * runs reaching into the ids given again are dropped, and what is
		 * left of the trail after the runs is read again.
		 */
		if (SPI_execute_plan(AuditWriterPlan(&cut_plan,
											 "DELETE FROM privacy_guard.audit_subject_runs"
											 " WHERE last_id OPERATOR(pg_catalog.>=) $1", 1, types),
							 args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not cut the audit subject runs");
		runs_known = false;
		runs_load(first_id);
		runs_known = true;
	}
	else
	{
		/* pairs of records this batch's ids replace (removed from the end) */
		int			keep = 0;

		for (int i = 0; i < pending.n; i++)
			if (pending.v[i].id < first_id)
				pending.v[keep++] = pending.v[i];
		pending.n = keep;
	}
	for (int i = 0; i < n; i++)
		pairs_add(&pending, TopMemoryContext, keys[i], ids[i]);
	if (last_id - runs_end >= audit_run_records)
	{
		write_run(0, runs_end + 1, last_id, pending.v, pending.n);
		runs_append(0, runs_end + 1, last_id);
		runs_end = last_id;
		pending.n = 0;
		merge_runs();
	}
}

/*
 * audit_run_ids(pairs bytea, first_id bigint, key bigint) returns bigint[]:
 * the ids a chunk of a run holds for key, for access_history().
 */
PG_FUNCTION_INFO_V1(pguard_audit_run_ids);
Datum
pguard_audit_run_ids(PG_FUNCTION_ARGS)
{
	bytea	   *chunk = PG_GETARG_BYTEA_PP(0);
	int64		first_id = PG_GETARG_INT64(1);
	int64		key = PG_GETARG_INT64(2);
	int			most = VARSIZE_ANY_EXHDR(chunk) / 2 + 1;
	RunPair    *found = palloc(sizeof(RunPair) * most);
	Datum	   *ids;
	int			n;

	if (first_id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a run's first record id cannot be negative")));
	n = key < 0 ? 0 : chunk_decode(chunk, first_id, key, found, most);
	if (n < 0)
		damaged();
	ids = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(found[i].id);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
}

void
AuditRunsInit(void)
{
	DefineCustomIntVariable("privacy_guard.audit_run_records",
							"How many audit records the writer gathers before it indexes their subjects as a run.",
							"access_history() reads the records after the last run one by one.",
							&audit_run_records, 8192, 1, 65536,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}
