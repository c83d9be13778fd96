/*-------------------------------------------------------------------------
 * src/progress.h
 *	  Progress of long work (privacy_guard.progress).
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_PROGRESS_H
#define PGUARD_PROGRESS_H

#define PROGRESS_KEEP (-2)		/* ProgressPhase(): keep done and total */

extern void ProgressBegin(const char *operation, const char *phase, Oid relid, int64 total);
extern void ProgressPhase(const char *phase, int64 total);
extern void ProgressAdd(int64 n);
extern void ProgressFlush(void);
extern void ProgressEnd(void);
extern void ProgressInit(void);

#endif
