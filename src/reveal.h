/*-------------------------------------------------------------------------
 * src/reveal.h
 *	  Decide what a role, acting under a purpose, may see of a sealed value.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_REVEAL_H
#define PGUARD_REVEAL_H

#include "postgres.h"

/* What one reveal ended in; the names are what the audit trail records. */
typedef enum RevealOutcome
{
	OUTCOME_REVEALED = 0,
	OUTCOME_MASKED,
	OUTCOME_DENIED,
	OUTCOME_NO_CONSENT,
	OUTCOME_RESTRICTED,
	OUTCOME_ERASED
} RevealOutcome;

extern const char *RevealOutcomeName(RevealOutcome outcome);
extern void RevealRequireSearch(const char *category, const uint8 *term, bool again);
extern void RevealSearchMatched(const char *category, int64 key_id);

#endif
