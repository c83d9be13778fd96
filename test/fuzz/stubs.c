/*-------------------------------------------------------------------------
 * test/fuzz/stubs.c
 *	  The few server symbols the fuzzed parsers' files refer to, for
 *	  harnesses built outside the server.  The parsers themselves call none
 *	  of them; an error report reaching errfinish() aborts the harness, so
 *	  that the fuzzer reports it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "catalog.h"
#include "envelope.h"

int			MyProcPid = 1;
bool		IsUnderPostmaster = false;
volatile sig_atomic_t InterruptPending = false;
volatile sig_atomic_t QueryCancelPending = false;
volatile sig_atomic_t ProcDiePending = false;

void		RegisterXactCallback(XactCallback callback, void *arg) {}
void		on_proc_exit(pg_on_exit_callback function, Datum arg) {}
void		ProcessInterrupts(void) {}
void		CatalogCaller(Oid *userid, int *sec_context) { *userid = InvalidOid; *sec_context = 0; }
Oid			GetSessionUserId(void) { return InvalidOid; }
bool		superuser_arg(Oid roleid) { return false; }

void
DefineCustomIntVariable(const char *name, const char *short_desc, const char *long_desc,
						int *valueAddr, int bootValue, int minValue, int maxValue,
						GucContext context, int flags, GucIntCheckHook check_hook,
						GucIntAssignHook assign_hook, GucShowHook show_hook)
{
	*valueAddr = bootValue;
}

void
DefineCustomStringVariable(const char *name, const char *short_desc, const char *long_desc,
						   char **valueAddr, const char *bootValue, GucContext context, int flags,
						   GucStringCheckHook check_hook, GucStringAssignHook assign_hook,
						   GucShowHook show_hook)
{
	*valueAddr = (char *) bootValue;
}

void
DefineCustomEnumVariable(const char *name, const char *short_desc, const char *long_desc,
						 int *valueAddr, int bootValue, const struct config_enum_entry *options,
						 GucContext context, int flags, GucEnumCheckHook check_hook,
						 GucEnumAssignHook assign_hook, GucShowHook show_hook)
{
	*valueAddr = bootValue;
}

bool		errstart(int elevel, const char *domain) { return true; }
bool		errstart_cold(int elevel, const char *domain) { return true; }
void		errfinish(const char *filename, int lineno, const char *funcname) { abort(); }
int			errcode(int sqlerrcode) { return 0; }
int			errmsg(const char *fmt,...) { return 0; }
int			errdetail(const char *fmt,...) { return 0; }
int			errdetail_log(const char *fmt,...) { return 0; }
int			errhint(const char *fmt,...) { return 0; }

/* the keyring harness has no envelope.c; the envelope harness's wins */
__attribute__((weak)) void EnvelopeForgetKeys(void) {}
