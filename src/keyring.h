/*-------------------------------------------------------------------------
 * src/keyring.h
 *	  Master key versions read from privacy_guard.keyring_file or _command.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_KEYRING_H
#define PGUARD_KEYRING_H

#include "postgres.h"

#define KEYRING_KEY_LEN 32

extern void KeyringInit(void);
extern int32 KeyringActiveVersion(void);
extern const uint8 *KeyringGet(int32 version);
extern bool KeyringHasVersion(int32 version);
extern int	KeyringVersions(int32 *versions, int max);
extern bool KeyringVerified(int32 version);
extern void KeyringSetVerified(int32 version);

#endif
