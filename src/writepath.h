/*-------------------------------------------------------------------------
 * src/writepath.h
 *	  Sealing on the way in, and the guard that keeps protect()'s work in
 *	  place.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_WRITEPATH_H
#define PGUARD_WRITEPATH_H

#include "postgres.h"

/* The sealing trigger protect() puts on a table. */
#define WRITEPATH_SEAL_TRIGGER "zz_privacy_guard_seal"

extern void WritepathInit(void);

#endif
