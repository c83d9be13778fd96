/*-------------------------------------------------------------------------
 * src/leave.h
 *	  The values of one column, read so that only they are opened (by
 *	  unprotect()'s plaintext_of() and the 0.1 to 0.2 upgrade's re-sealing).
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_LEAVE_H
#define PGUARD_LEAVE_H

#include "postgres.h"

extern int64 ColumnValuesRead(Oid relid, const char *col);
extern bool ColumnValuesHas(struct varlena *value);

#endif
