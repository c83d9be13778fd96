/*-------------------------------------------------------------------------
 * src/guard.h
 *	  The protection guard: refuses the DDL that would undo protect()'s work.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_GUARD_H
#define PGUARD_GUARD_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* One protected column as privacy_guard's catalog records it. */
typedef struct GuardedColumn
{
	char	   *col;
	char	   *category;
	char	   *subject;
	char	   *searchable;		/* "searchable", or "" (the trigger's 4th argument) */
} GuardedColumn;

/* What the guard keeps in place on one table. */
typedef struct GuardedTable
{
	Oid			relid;
	List	   *cols;			/* GuardedColumn, in the trigger's order */
	char	   *erasure_subject;	/* erasure_actions.subject_col, or NULL */
	char	   *retention_time; /* retention_rules.time_col, or NULL */
} GuardedTable;

extern void GuardReadTable(GuardedTable *g, MemoryContext into);
extern void GuardCheckPolicies(Oid relid);
extern void GuardCheckReaderCode(Oid relid);
extern char *GuardPlannerRoleCode(Oid relid);
extern void GuardInit(void);

#endif
