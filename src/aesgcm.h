/*-------------------------------------------------------------------------
 * src/aesgcm.h
 *	  AES-256-GCM with AES-NI and PCLMULQDQ, for short values under a
 *	  cached key's expanded schedule.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_AESGCM_H
#define PGUARD_AESGCM_H

#include "postgres.h"

/* 15 round keys and H^1..H^8, 16 bytes each, at a 16-byte aligned address */
#define AESGCM_SCHEDULE_LEN (15 * 16 + 8 * 16)

extern bool AesGcmAvailable(void);
extern void AesGcmExpand(uint8 *schedule, const uint8 *key);
extern bool AesGcmOpen(const uint8 *schedule, const uint8 *nonce,
					   const uint8 *ad, int adlen,
					   const uint8 *ct, int ctlen, const uint8 *tag,
					   uint8 *out);
extern void AesGcmSeal(const uint8 *schedule, const uint8 *nonce,
					   const uint8 *ad, int adlen,
					   const uint8 *pt, int len, uint8 *out, uint8 *tag);

#endif
