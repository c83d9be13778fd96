/*-------------------------------------------------------------------------
 * src/redact.h
 *	  Keep statements that carried plaintext out of the server log.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_REDACT_H
#define PGUARD_REDACT_H

extern void RedactStatement(void);
extern void RedactInit(void);

#endif
