/*-------------------------------------------------------------------------
 * src/incident.h
 *	  Lockdown: every reveal refused, except under incident_response.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_INCIDENT_H
#define PGUARD_INCIDENT_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* the built-in purpose that alone reveals during a lockdown */
#define POLICY_INCIDENT_RESPONSE "incident_response"

extern bool IncidentLockdown(TimestampTz *since);
extern void IncidentInit(void);

#endif
