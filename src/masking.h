/*-------------------------------------------------------------------------
 * src/masking.h
 *	  Masking rules: what a purpose allowed only "masked" sees.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_MASKING_H
#define PGUARD_MASKING_H

#include "postgres.h"

#include "envelope.h"

typedef enum MaskRule
{
	MASK_REDACT = 0,
	MASK_EMAIL,
	MASK_PHONE,
	MASK_NAME,
	MASK_ADDRESS,
	MASK_CARD,
	MASK_YEAR,
	MASK_ROUND
} MaskRule;

extern int	MaskingRuleByName(const char *name);
extern Datum MaskingApply(EnvelopeType type, int rule, const uint8 *plain, int len, bool *isnull);

#endif
