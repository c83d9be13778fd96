/*-------------------------------------------------------------------------
 * src/redact.c
 *	  Keep statements that carried plaintext out of the server log.
 *
 * A statement that writes plaintext into a protected column, seals a value
 * or computes a blind index holds personal data in its text.  When any error
 * is logged in such a transaction (ours, or one PostgreSQL raises itself,
 * such as a unique violation), this emit_log_hook suppresses the
 * "STATEMENT:" line that log_min_error_statement would add.  The mark is
 * set by every function that receives plaintext and cleared when the
 * top-level transaction ends; hiding a few unrelated statements of the same
 * transaction is the price of never showing a sensitive one.
 *
 * Settings that log statements regardless of errors (log_statement,
 * log_min_duration_statement, auto_explain) are outside this hook's reach;
 * the README says so.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/elog.h"

#include "redact.h"

static emit_log_hook_type next_emit_log_hook = NULL;
static bool statement_has_plaintext = false;

/* The current transaction handled plaintext: hide its statements from error logs. */
void
RedactStatement(void)
{
	statement_has_plaintext = true;
}

static void
redact_emit_log(ErrorData *edata)
{
	if (statement_has_plaintext && edata->elevel >= ERROR)
		edata->hide_stmt = true;
	if (next_emit_log_hook)
		next_emit_log_hook(edata);
}

static void
redact_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		statement_has_plaintext = false;
}

void
RedactInit(void)
{
	next_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_emit_log;
	RegisterXactCallback(redact_xact_callback, NULL);
}
