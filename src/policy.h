/*-------------------------------------------------------------------------
 * src/policy.h
 *	  Categories, purposes, allowances and grants, cached per backend.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_POLICY_H
#define PGUARD_POLICY_H

#include "postgres.h"

typedef enum PolicyLevel
{
	LEVEL_NONE = 0,
	LEVEL_MASKED,
	LEVEL_FULL
} PolicyLevel;

typedef enum PolicySensitivity
{
	SENS_PERSONAL = 0,
	SENS_SENSITIVE,
	SENS_PROHIBITED
} PolicySensitivity;

typedef struct PolicyCategory
{
	char	   *name;
	PolicySensitivity sensitivity;
	int			mask;			/* MaskRule */
	bool		allowed_somewhere;	/* some purpose allows it */
} PolicyCategory;

/* the built-in purpose of a subject's own access (subject_export) */
#define POLICY_SUBJECT_ACCESS "subject_access"

typedef struct PolicyPurpose
{
	char	   *name;
	bool		subject_access;	/* the built-in POLICY_SUBJECT_ACCESS */
	int			parent;			/* index into purposes, or -1 */
	bool		requires_consent;	/* itself or an ancestor */
	bool		third_party;
} PolicyPurpose;

extern void PolicyEnsure(void);
extern bool PolicyIsCurrent(void);
extern uint64 PolicyGeneration(void);
extern PolicyCategory *PolicyFindCategory(const char *name, int len);
extern PolicyPurpose *PolicyFindPurpose(const char *name);
extern PolicyCategory *PolicyRequireCategory(const char *name);
extern PolicyPurpose *PolicyRequirePurpose(const char *name);
extern bool PolicyRoleHolds(Oid roleid, PolicyPurpose *purpose);
extern PolicyLevel PolicyAllowance(PolicyPurpose *purpose, PolicyCategory *category);
extern bool PolicyRoleUsesCategory(Oid roleid, PolicyCategory *category);
extern const char *PolicySessionPurpose(void);
extern int	PolicyPurposeLineage(PolicyPurpose *purpose, const char **names, int max);
extern int	PolicyPurposeSubtree(PolicyPurpose *purpose, const char **names, int max);
extern void PolicyRequireCollectable(PolicyCategory *category);
extern void PolicyInit(void);

#endif
