/*-------------------------------------------------------------------------
 * src/collection.h
 *	  The collection guard: personal data only in protected columns.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_COLLECTION_H
#define PGUARD_COLLECTION_H

extern void CollectionInit(void);

#endif
