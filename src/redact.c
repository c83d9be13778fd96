/*-------------------------------------------------------------------------
 * src/redact.c
 *	  Keep statements that carried plaintext out of the server log.
 *
 * A statement that writes plaintext into a protected column, seals a value
 * or computes a blind index holds personal data in its text.  When any
 * message is logged in such a transaction (an error of ours or of
 * PostgreSQL itself, such as a unique violation, or a LOG line such as
 * log_lock_waits' "still waiting", which log_min_error_statement follows
 * with the statement too), this emit_log_hook suppresses the "STATEMENT:"
 * line and the "CONTEXT:" lines (a COPY line, a dynamic SQL statement,
 * bound parameters).  Data exceptions, integrity violations and syntax
 * errors, whose messages quote values, are kept out of the server log
 * altogether, and so are errors that quote a name (undefined column,
 * object or table, unsupported features, schemas), which may be a value
 * taken for a name: a line with their SQLSTATE stands in for them.  The values
 * of bind parameters that statement logging prints are dropped too.  A deadlock's
 * log detail, which quotes the statement of every process involved (another
 * session's too), is replaced by the detail the client gets.  The mark is set by every function that receives
 * plaintext, and after
 * parse analysis for any INSERT, UPDATE or COPY whose target table has
 * encrypted columns, before anything executes; it is cleared when the
 * top-level transaction ends.  Hiding a few unrelated statements of the
 * same transaction is the price of never showing a sensitive one.
 *
 * A statement can also fail before anything can tell that it carries
 * personal data (a bad literal for an earlier column is rejected during
 * parse analysis), so by default (privacy_guard.hide_error_statements =
 * always) every error is logged without them; "plaintext" limits hiding to
 * the marked transactions.  Settings that log statements regardless of
 * errors (log_statement, log_min_duration_statement, auto_explain) are
 * outside this hook's reach; the README says so.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/ipc.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "replication/logicalworker.h"
#include "nodes/nodeFuncs.h"
#include "commands/prepare.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog.h"
#include "redact.h"

/* privacy_guard.hide_error_statements */
typedef enum HideMode
{
	HIDE_PLAINTEXT,				/* errors of transactions that handled plaintext */
	HIDE_ALWAYS					/* every error */
} HideMode;

static const struct config_enum_entry hide_options[] = {
	{"plaintext", HIDE_PLAINTEXT, false},
	{"always", HIDE_ALWAYS, false},
	{NULL, 0, false}
};
static int	hide_mode = HIDE_ALWAYS;

static emit_log_hook_type next_emit_log_hook = NULL;
static post_parse_analyze_hook_type next_post_parse_analyze_hook = NULL;
static bool statement_has_plaintext = false;

/* The current transaction handled plaintext: hide its statements from error logs. */
void
RedactStatement(void)
{
	statement_has_plaintext = true;
}

static bool relation_is_protected(Oid relid);

/* Is pgaudit loaded (its settings defined)?  Known once, at the first call. */
bool
RedactPgauditLoaded(void)
{
	static int	loaded = -1;

	if (loaded < 0)
		loaded = GetConfigOption("pgaudit.log", true, false) != NULL ? 1 : 0;
	return loaded == 1;
}

/*
 * With pgaudit loaded: a statement that reads or writes a table with an
 * encrypted column may carry that column's plaintext (a literal compared
 * or written, a parameter), which pgaudit would print in its line for it.
 * Marked before pgaudit logs it (its session lines come from the executor's
 * permission check, after our ExecutorStart; its utility lines after our
 * ProcessUtility), this hook then prints the line without the statement.
 */
void
RedactIfProtected(List *relids)
{
	ListCell   *lc;

	if (statement_has_plaintext || !RedactPgauditLoaded() || creating_extension)
		return;
	foreach(lc, relids)
		if (relation_is_protected(lfirst_oid(lc)))
		{
			statement_has_plaintext = true;
			return;
		}
}

/*
 * pgaudit's line, "AUDIT: TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,
 * OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER", as CSV: the first seven
 * fields kept, the statement and its parameters not.
 */
static void
redact_pgaudit_line(ErrorData *edata)
{
	const char *p = edata->message + 7;		/* after "AUDIT: " */

	for (int field = 0; field < 7; field++)
	{
		if (*p == '"')
		{
			for (p++; *p != '\0'; p++)
				if (*p == '"' && *++p != '"')
					break;
		}
		else
			while (*p != '\0' && *p != ',')
				p++;
		if (*p != ',')
		{
			edata->message = pstrdup("AUDIT: (not logged by privacy_guard: it may quote personal data)");
			return;
		}
		p++;
	}
	edata->message = psprintf("%.*s<not logged by privacy_guard>,<not logged>",
							  (int) (p - edata->message), edata->message);
}

/* May the message quote a value in its text, whatever the statement? */
static bool
quotes_values(ErrorData *edata)
{
	switch (ERRCODE_TO_CATEGORY(edata->sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:	/* invalid input syntax ... "x" */
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:	/* Key (e)=(x), Failing row contains */
		case ERRCODE_WITH_CHECK_OPTION_VIOLATION:	/* Failing row contains */
			return true;
		default:
			break;
	}
	/* at or near "'x'" */
	if (edata->sqlerrcode == ERRCODE_SYNTAX_ERROR)
		return true;

	/*
	 * A value taken for a name, and quoted as one: a value written in double
	 * quotes (column "ada@example.com" does not exist), passed where a name
	 * goes (current_setting(), a ::regclass cast, a purpose), or put into
	 * dynamic SQL with format('%I').  Such messages name what was not
	 * found or not allowed, in double quotes; which names are values only
	 * the application knows.
	 */
	switch (ERRCODE_TO_CATEGORY(edata->sqlerrcode))
	{
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION:
		case ERRCODE_FEATURE_NOT_SUPPORTED:
		case ERRCODE_INVALID_SCHEMA_NAME:
		case ERRCODE_INVALID_CATALOG_NAME:
			return edata->message != NULL && strchr(edata->message, '"') != NULL;
		default:
			return false;
	}
}

/* the SQLSTATE of an error kept out of the server log, whose stand-in is due */
static char standin_sqlstate[6] = "";
/* and the relation it was about, when known ("" if not) */
static char standin_relation[2 * NAMEDATALEN + 2] = "";

/* a relation's name, as a stand-in may quote it: no quote, no line break */
static bool
plain_name(const char *name, int len)
{
	if (len <= 0 || len >= (int) sizeof(standin_relation))
		return false;
	for (int i = 0; i < len; i++)
		if (name[i] == '"' || name[i] == '\'' || name[i] == '\n' || name[i] == '\r')
			return false;
	return true;
}

/*
 * The relation an error is about, for its stand-in: a logical replication
 * worker's error (an initial copy, a change applied) must say which table
 * failed.  From the error's own fields (constraint violations, set by
 * PostgreSQL), or, in a logical replication worker only, from the context
 * line its own code adds: the table copy's "COPY name, line ..." (the first
 * line), or the apply's "... replication target relation "schema.name" in
 * transaction ..." (the last).  Only the name is taken, never the rest of
 * the line (a COPY's context may quote the value), and no name with a quote
 * or a line break in it: other context lines (a dynamic statement's) quote
 * values, and could be made to look like one of those.
 */
static void
note_relation(ErrorData *edata)
{
	const char *ctx = edata->context;
	const char *last;
	const char *p;

	standin_relation[0] = '\0';
	if (edata->table_name != NULL)
	{
		snprintf(standin_relation, sizeof(standin_relation), "%s%s%s",
				 edata->schema_name ? edata->schema_name : "", edata->schema_name ? "." : "",
				 edata->table_name);
		return;
	}
	if (ctx == NULL || !IsLogicalWorker())
		return;
	if (strncmp(ctx, "COPY ", 5) == 0 && (p = strstr(ctx, ", line ")) != NULL &&
		memchr(ctx, '\n', p - ctx) == NULL && plain_name(ctx + 5, p - ctx - 5))
	{
		snprintf(standin_relation, sizeof(standin_relation), "%.*s", (int) (p - ctx - 5), ctx + 5);
		return;
	}
	last = strrchr(ctx, '\n');
	last = last ? last + 1 : ctx;
	if (strncmp(last, "processing remote data for replication origin ", 46) == 0 &&
		(p = strstr(last, " for replication target relation \"")) != NULL)
	{
		const char *name = p + strlen(" for replication target relation \"");
		const char *end = strstr(name, "\" in transaction ");

		if (end == NULL)
			end = strrchr(name, '"');
		if (end != NULL && plain_name(name, end - name))
			snprintf(standin_relation, sizeof(standin_relation), "%.*s", (int) (end - name), name);
	}
}

/* " (relation "x")" when the stand-in's relation is known */
static const char *
standin_suffix(void)
{
	static char buf[sizeof(standin_relation) + 16];

	if (standin_relation[0] == '\0')
		return "";
	snprintf(buf, sizeof(buf), " (relation \"%s\")", standin_relation);
	return buf;
}

static void
log_standin(void)
{
	char		state[6];

	if (standin_sqlstate[0] == '\0')
		return;
	strlcpy(state, standin_sqlstate, sizeof(state));
	standin_sqlstate[0] = '\0';
	ereport(LOG,
			(errmsg("privacy_guard: an error with SQLSTATE %s was not logged: its message may quote personal data%s",
					state, standin_suffix()),
			 errhidestmt(true), errhidecontext(true)));
	standin_relation[0] = '\0';
}

static void
standin_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		log_standin();
}

static void
redact_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		log_standin();
}

static void
redact_exit(int code, Datum arg)
{
	/* through the server's logging (a background worker's error ends it here) */
	log_standin();
}

static void
redact_emit_log(ErrorData *edata)
{
	/*
	 * A deadlock's log detail quotes every process's statement, another
	 * session's too (one that an attacker holding a row lock made wait):
	 * the server log gets the detail the client gets, which names only the
	 * locks.
	 */
	if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
		edata->detail_log = NULL;

	/* pgaudit's line for a statement that may carry plaintext */
	if (statement_has_plaintext && edata->message != NULL &&
		strncmp(edata->message, "AUDIT: ", 7) == 0)
		redact_pgaudit_line(edata);

	/*
	 * protect() and unprotect() are granted to privacy_guard_admin only: a
	 * table's owner without it is told so, not just refused (matched
	 * untranslated, the way PostgreSQL reports a function's ACL check).
	 */
	if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE && edata->hint == NULL &&
		edata->message_id != NULL && strcmp(edata->message_id, "permission denied for function %s") == 0 &&
		edata->message != NULL &&
		(strcmp(edata->message, "permission denied for function protect") == 0 ||
		 strcmp(edata->message, "permission denied for function unprotect") == 0))
		edata->hint = pstrdup("Protecting and unprotecting a column are for the table's owner holding role privacy_guard_admin; a superuser grants it: GRANT privacy_guard_admin TO <role>.");

	/*
	 * log_statement and log_min_duration_statement follow a statement with
	 * the values of its bind parameters ("parameters: $1 = '...'"), whatever
	 * the statement: a bind or execute message comes in a transaction of its
	 * own, before anything can tell what it writes.  The statement is kept,
	 * its values never are.  The postmaster reports the statement a crashed
	 * backend was running; debug_print_parse and its kin, which any role may
	 * set, print a query tree with its constants.  (Matched untranslated:
	 * with lc_messages other than English, log_parameter_max_length = 0 and
	 * track_activities = off do the first two.)
	 */
	if (edata->detail != NULL && strncmp(edata->detail, "parameters: ", 12) == 0)
		edata->detail = pstrdup("parameters: not logged by privacy_guard");
	if (edata->detail != NULL && strncmp(edata->detail, "Failed process was running: ", 28) == 0)
		edata->detail = pstrdup("Failed process was running: (not logged by privacy_guard)");
	if (edata->funcname != NULL && strcmp(edata->funcname, "elog_node_display") == 0)
		edata->detail = pstrdup("(not logged by privacy_guard)");

	/*
	 * Any message may be logged with its STATEMENT line: one at LOG level
	 * too, as log_lock_waits' are, since LOG ranks above ERROR for
	 * log_min_error_statement.  A parallel worker is marked when its leader
	 * is: it cannot tell.
	 */
	if (statement_has_plaintext || hide_mode == HIDE_ALWAYS || IsParallelWorker())
	{
		edata->hide_stmt = true;
		edata->hide_ctx = true; /* COPY lines, dynamic SQL, bound parameters */
		edata->internalquery = NULL;	/* the QUERY: line of dynamic SQL */
		edata->internalpos = 0;

		/*
		 * Some messages quote the offending value itself.  The client still
		 * gets the error; the server log gets only its SQLSTATE.
		 */
		if (edata->output_to_server && edata->elevel >= ERROR && quotes_values(edata))
		{
			edata->output_to_server = false;
			note_relation(edata);
			/*
			 * Its stand-in goes through the server's logging (every
			 * log_destination, with its prefix: time, process, user,
			 * database) once the error has aborted the (sub)transaction,
			 * or, for a FATAL one and a background worker's (whose ERROR
			 * out of a transaction ends it: a logical replication worker's
			 * copy or apply), as the process exits, where logging is safe
			 * again; for a backend's ERROR outside a transaction, and a
			 * PANIC, straight to stderr.
			 */
			if ((IsTransactionState() && edata->elevel == ERROR) || edata->elevel == FATAL ||
				(edata->elevel == ERROR && MyBackendType == B_BG_WORKER))
			{
				static bool exit_registered = false;

				if (!exit_registered)
				{
					before_shmem_exit(redact_exit, (Datum) 0);
					exit_registered = true;
				}
				strlcpy(standin_sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(standin_sqlstate));
			}
			else
				write_stderr("privacy_guard: an error with SQLSTATE %s was not logged: its message may quote personal data%s\n",
							 unpack_sql_state(edata->sqlerrcode), standin_suffix());
		}
	}
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

/* Does the relation have a column of an encrypted type? */
static bool
relation_is_protected(Oid relid)
{
	Relation	rel;
	bool		found = false;

	if (!OidIsValid(relid) || !CatalogExtensionInstalled())
		return false;
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return false;
	for (int i = 0; i < RelationGetDescr(rel)->natts && !found; i++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), i);

		if (!att->attisdropped && CatalogEncryptedType(att->atttypid) != 0)
			found = true;
	}
	relation_close(rel, AccessShareLock);
	return found;
}

/* Does the query, or one of its WITH queries, write to a protected table? */
static bool
writes_protected(Query *query)
{
	ListCell   *lc;

	if ((query->commandType == CMD_INSERT || query->commandType == CMD_UPDATE ||
		 query->commandType == CMD_MERGE) &&
		query->resultRelation > 0 &&
		relation_is_protected(rt_fetch(query->resultRelation, query->rtable)->relid))
		return true;
	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (IsA(cte->ctequery, Query) && writes_protected((Query *) cte->ctequery))
			return true;
	}
	return false;
}

/*
 * Does an expression call one of the extension's functions or operators
 * (seal(), blind_index(), a plaintext comparison: they take plaintext), or
 * hold a constant of an encrypted type (plaintext on its way to a column)?
 */
static bool
calls_extension_walker(Node *node, void *context)
{
	Oid			nsp = *(Oid *) context;
	Oid			fn = InvalidOid;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, calls_extension_walker, context, 0);
	if (IsA(node, FuncExpr))
		fn = ((FuncExpr *) node)->funcid;
	else if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr))
		fn = get_opcode(((OpExpr *) node)->opno);
	else if (IsA(node, ScalarArrayOpExpr))
		fn = get_opcode(((ScalarArrayOpExpr *) node)->opno);
	else if (IsA(node, Const) && CatalogEncryptedType(((Const *) node)->consttype) != 0)
		return true;
	if (OidIsValid(fn) && get_func_namespace(fn) == nsp)
		return true;

	/*
	 * A function of the application's given a constant may hand it on to
	 * one of ours (a wrapper, inlined after this point or run later).
	 */
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid >= FirstNormalObjectId)
	{
		ListCell   *lc;

		foreach(lc, ((FuncExpr *) node)->args)
			if (IsA(lfirst(lc), Const) && !((Const *) lfirst(lc))->constisnull)
				return true;
	}
	return expression_tree_walker(node, calls_extension_walker, context);
}

/* The query a utility statement holds, analysed (CREATE TABLE AS, DECLARE, EXPLAIN), or NULL. */
static Query *
utility_query(Node *stmt)
{
	Node	   *q = NULL;

	if (stmt == NULL)
		return NULL;
	if (IsA(stmt, CreateTableAsStmt))
		q = ((CreateTableAsStmt *) stmt)->query;
	else if (IsA(stmt, DeclareCursorStmt))
		q = ((DeclareCursorStmt *) stmt)->query;
	else if (IsA(stmt, ExplainStmt))
		q = ((ExplainStmt *) stmt)->query;
	return q != NULL && IsA(q, Query) ? (Query *) q : NULL;
}

/*
 * With pgaudit loaded, which prints statements before they run: mark a
 * statement that hands plaintext to the extension (its own functions and
 * operators, a constant of an encrypted type), also inside CREATE TABLE AS,
 * DECLARE and EXPLAIN, before pgaudit's line for it.
 */
static void
mark_if_extension_called(Query *query)
{
	Oid			nsp;
	Query	   *inner;

	if (statement_has_plaintext || !RedactPgauditLoaded() || creating_extension ||
		!CatalogExtensionInstalled())
		return;
	nsp = CatalogSchemaOid();
	inner = query->commandType == CMD_UTILITY ? utility_query(query->utilityStmt) : query;
	if (inner != NULL &&
		query_tree_walker(inner, calls_extension_walker, &nsp, 0))
		statement_has_plaintext = true;
}

/*
 * With pgaudit loaded, before its line for a utility statement: DO and
 * CALL run code whose arguments and body nothing can read ahead, and an
 * EXECUTE or PREPARE's text carries the values its statement takes; marked
 * when that statement touches a protected table or calls the extension.
 */
void
RedactUtility(Node *stmt)
{
	if (statement_has_plaintext || !RedactPgauditLoaded() || creating_extension ||
		!CatalogExtensionInstalled())
		return;
	if (IsA(stmt, DoStmt) || IsA(stmt, CallStmt))
		statement_has_plaintext = true;
	else if (IsA(stmt, ExecuteStmt))
	{
		PreparedStatement *ps = FetchPreparedStatement(((ExecuteStmt *) stmt)->name, false);
		Oid			nsp = CatalogSchemaOid();
		ListCell   *lc;

		if (ps == NULL)
			return;
		RedactIfProtected(ps->plansource->relationOids);
		foreach(lc, ps->plansource->query_list)
			if (!statement_has_plaintext &&
				query_tree_walker(lfirst_node(Query, lc), calls_extension_walker, &nsp, 0))
				statement_has_plaintext = true;
	}
}

/* Mark writes to protected tables before they run. */
static void
redact_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (next_post_parse_analyze_hook)
		next_post_parse_analyze_hook(pstate, query, jstate);
	if (statement_has_plaintext)
		return;
	if (query->commandType == CMD_UTILITY && query->utilityStmt != NULL &&
		IsA(query->utilityStmt, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) query->utilityStmt;

		if (copy->is_from && copy->relation != NULL &&
			relation_is_protected(RangeVarGetRelid(copy->relation, NoLock, true)))
			statement_has_plaintext = true;
	}
	else if (writes_protected(query))
		statement_has_plaintext = true;
	mark_if_extension_called(query);
}

void
RedactInit(void)
{
	DefineCustomEnumVariable("privacy_guard.hide_error_statements",
							 "Which errors are logged without their STATEMENT and CONTEXT lines.",
							 "always: every error (a statement may carry personal data before anything "
							 "can tell); plaintext: errors of transactions that handled personal data.",
							 &hide_mode, HIDE_ALWAYS, hide_options, PGC_SUSET, 0, NULL, NULL, NULL);

	next_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_emit_log;
	RegisterXactCallback(standin_xact_callback, NULL);
	RegisterSubXactCallback(redact_subxact_callback, NULL);
	next_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = redact_post_parse_analyze;
	RegisterXactCallback(redact_xact_callback, NULL);
}
