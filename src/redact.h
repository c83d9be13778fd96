/*-------------------------------------------------------------------------
 * src/redact.h
 *	  Keep statements that carried plaintext out of the server log.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_REDACT_H
#define PGUARD_REDACT_H

#include "nodes/nodes.h"
#include "nodes/pg_list.h"

extern void RedactStatement(void);
extern bool RedactPgauditLoaded(void);
extern void RedactIfProtected(List *relids);
extern void RedactUtility(Node *stmt);
extern void RedactInit(void);

#endif
