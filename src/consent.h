/*-------------------------------------------------------------------------
 * src/consent.h
 *	  Consent: given, withdrawn, and checked on every consent-bound reveal.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_CONSENT_H
#define PGUARD_CONSENT_H

#include "postgres.h"

extern bool ConsentGiven(const char *purpose, int purposelen, const uint8 *digest);
extern bool ConsentRestricted(const uint8 *digest);
extern bool ConsentExportAllows(const uint8 *digest);
extern void ConsentInit(void);

#endif
