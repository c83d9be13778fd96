/*-------------------------------------------------------------------------
 * src/types.h
 *	  The encrypted_* types: text and binary I/O, plaintext conversions.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_TYPES_H
#define PGUARD_TYPES_H

#include "postgres.h"
#include "fmgr.h"

#include "envelope.h"

extern EnvelopeType TypesForPlainType(Oid typid);
extern uint8 *TypesToPlain(EnvelopeType type, Datum value, int *len);
extern Datum TypesFromPlain(EnvelopeType type, const uint8 *plain, int len);
extern void TypesParseDatum(struct varlena *value, EnvelopeType expected, EnvelopeView *view);
extern void TypesRefuseInWorker(void);
extern void TypesRequireSearch(const char *category, const uint8 *term,
							   const uint8 *pending, int len);

#endif
