/*-------------------------------------------------------------------------
 * src/writepath.h
 *	  Sealing on the way in: the name of the sealing trigger, which the
 *	  guard keeps in place, and search terms.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_WRITEPATH_H
#define PGUARD_WRITEPATH_H

#include "postgres.h"

#include "envelope.h"

/* The sealing trigger protect() puts on a table. */
#define WRITEPATH_SEAL_TRIGGER "zz_privacy_guard_seal"
/* the same function, first of the BEFORE row triggers: binds plaintext to its category */
#define WRITEPATH_BIND_TRIGGER "!privacy_guard_bind"

extern bool WritepathSearchTerm(const char *category, const uint8 *plain, int len,
								bool create, uint8 *out);
extern bool WritepathTermKeyCurrent(const EnvelopeView *view, const char *category);

extern bool WritepathUpgradeRewrite(Oid relid, const char *col);

#endif
