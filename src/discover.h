/*-------------------------------------------------------------------------
 * src/discover.h
 *	  Personal-data discovery: classify a value, read a column's name.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_DISCOVER_H
#define PGUARD_DISCOVER_H

#include "postgres.h"

extern const char *DiscoverClassifyValue(const char *s, int len);
extern const char *DiscoverNameSuggests(const char *name);
extern bool DiscoverLabelIsSpecial(const char *label);

#endif
