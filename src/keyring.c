/*-------------------------------------------------------------------------
 * src/keyring.c
 *	  Master key versions read from privacy_guard.keyring_file or _command.
 *
 * The keyring is a file (or a command's standard output) with one master key
 * a line, "VERSION:HEX", 64 hex digits for 256 bits; '#' starts a comment.
 * The highest version wraps new data keys; older versions stay usable for
 * unwrapping until their line is removed.  A file must be a regular file
 * owned by the server's user and not accessible by group or others.
 *
 * The postmaster reads the keyring once at start, so that backends inherit
 * it; a configuration reload marks it stale and each process reads it again
 * the next time it needs a key.  A broken keyring never stops the server:
 * the reason is kept (file and line, never a key) and every operation that
 * needs a key fails with it until the keyring is fixed and reloaded.  Keys
 * live in static memory that is wiped before every reload and at exit.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "envelope.h"
#include "catalog.h"
#include "keyring.h"

#define KEYRING_MAX_VERSIONS 256
#define KEYRING_MAX_BYTES (256 * 1024)

typedef struct MasterKey
{
	int32		version;
	bool		verified;		/* matched its recorded check value since loaded */
	uint8		key[KEYRING_KEY_LEN];
} MasterKey;

/* GUC values */
static char *keyring_file = NULL;
static char *keyring_command = NULL;
static int	keyring_command_timeout = 10;	/* seconds */

/* the loaded keyring, sorted by version */
static MasterKey ring[KEYRING_MAX_VERSIONS];
static int	ring_count = 0;
static bool ring_stale = true;
static bool ring_ok = false;
static char ring_error[512];
static int	exit_hook_pid = 0;	/* process that registered keyring_exit */

/* Wipe every loaded key. */
static void
keyring_wipe(void)
{
	EnvelopeForgetKeys();
	OPENSSL_cleanse(ring, sizeof(ring));
	ring_count = 0;
	ring_ok = false;
}

static void
keyring_exit(int code, Datum arg)
{
	keyring_wipe();
}

/* Any change of either setting makes the loaded keyring stale. */
static void
assign_keyring_setting(const char *newval, void *extra)
{
	ring_stale = true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse keyring text into staging.  On failure, describe the first problem
 * in ring_error (naming source and line, never the content) and return -1.
 */
static int
keyring_parse(char *text, size_t len, const char *source, MasterKey *staging)
{
	int			count = 0;
	int			lineno = 0;
	char	   *p = text;
	char	   *end = text + len;

	while (p < end)
	{
		char	   *eol = memchr(p, '\n', end - p);
		char	   *s = p;
		char	   *e = eol ? eol : end;
		int64		version = 0;
		int			ndigits = 0;
		int			nhex = 0;
		MasterKey  *mk;

		p = eol ? eol + 1 : end;
		lineno++;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;

		while (s < e && *s >= '0' && *s <= '9' && version <= PG_INT32_MAX)
		{
			version = version * 10 + (*s++ - '0');
			ndigits++;
		}
		if (ndigits == 0 || s == e || *s != ':')
		{
			snprintf(ring_error, sizeof(ring_error),
					 "%s line %d: expected VERSION:HEX", source, lineno);
			return -1;
		}
		if (version < 1 || version > PG_INT32_MAX)
		{
			snprintf(ring_error, sizeof(ring_error),
					 "%s line %d: version must be an integer between 1 and %d",
					 source, lineno, PG_INT32_MAX);
			return -1;
		}
		s++;
		if (count >= KEYRING_MAX_VERSIONS)
		{
			snprintf(ring_error, sizeof(ring_error),
					 "%s line %d: more than %d keys",
					 source, lineno, KEYRING_MAX_VERSIONS);
			return -1;
		}
		for (int i = 0; i < count; i++)
		{
			if (staging[i].version == version)
			{
				snprintf(ring_error, sizeof(ring_error),
						 "%s line %d: duplicate key version %d",
						 source, lineno, (int) version);
				return -1;
			}
		}
		mk = &staging[count];
		mk->version = (int32) version;
		mk->verified = false;
		for (char *h = s; h < e; h++)
		{
			if (hexval(*h) < 0)
			{
				snprintf(ring_error, sizeof(ring_error),
						 "%s line %d: key is not hexadecimal", source, lineno);
				return -1;
			}
			nhex++;
		}
		if (nhex != KEYRING_KEY_LEN * 2)
		{
			snprintf(ring_error, sizeof(ring_error),
					 "%s line %d: key must be %d hexadecimal digits (256 bits), found %d",
					 source, lineno, KEYRING_KEY_LEN * 2, nhex);
			return -1;
		}
		for (int i = 0; i < KEYRING_KEY_LEN; i++)
			mk->key[i] = (uint8) (hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
		count++;
	}
	if (count == 0)
	{
		snprintf(ring_error, sizeof(ring_error), "%s holds no keys", source);
		return -1;
	}
	return count;
}

/* Read the whole keyring file into buf after checking who may read it. */
static ssize_t
keyring_read_file(const char *path, char *buf, size_t bufsize)
{
	int			fd;
	struct stat st;
	ssize_t		total = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "could not open keyring file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "could not stat keyring file \"%s\": %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode))
	{
		snprintf(ring_error, sizeof(ring_error),
				 "keyring file \"%s\" is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid())
	{
		snprintf(ring_error, sizeof(ring_error),
				 "keyring file \"%s\" is not owned by the database server's user", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
	{
		snprintf(ring_error, sizeof(ring_error),
				 "keyring file \"%s\" has group or world access; it must be mode 0600 or stricter", path);
		close(fd);
		return -1;
	}
	while (total < (ssize_t) bufsize)
	{
		ssize_t		n = read(fd, buf + total, bufsize - total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			snprintf(ring_error, sizeof(ring_error),
					 "could not read keyring file \"%s\": %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	if (total >= (ssize_t) bufsize)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "keyring file \"%s\" is larger than %d bytes", path, KEYRING_MAX_BYTES);
		return -1;
	}
	return total;
}

/* Milliseconds on a monotonic clock. */
static int64
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run the keyring command and collect its standard output into buf.  The
 * command runs in a process group of its own, so that when it outlives
 * privacy_guard.keyring_command_timeout, or the backend is cancelled or
 * terminated while waiting, the whole group is killed.  An interrupted
 * wait leaves the keyring stale (the next use runs the command again) and
 * sets *interrupted, for the caller to process the interrupt; a wait cut
 * short either way sets *cut_short.
 */
static ssize_t
keyring_run_command(const char *command, char *buf, size_t bufsize,
					bool *interrupted, bool *cut_short)
{
	int			fds[2];
	pid_t		pid;
	size_t		total = 0;
	int			status = 0;
	int64		deadline = now_ms() + (int64) keyring_command_timeout * 1000;
	enum
	{
		RUN_OK, RUN_TIMEOUT, RUN_TOO_LARGE, RUN_INTERRUPTED, RUN_READ_ERROR
	}			outcome = RUN_OK;
	int			read_errno = 0;

	*interrupted = false;
	*cut_short = false;
	if (pipe(fds) != 0)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "could not run privacy_guard.keyring_command: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		int			save_errno = errno;

		close(fds[0]);
		close(fds[1]);
		snprintf(ring_error, sizeof(ring_error),
				 "could not run privacy_guard.keyring_command: %s", strerror(save_errno));
		return -1;
	}
	if (pid == 0)
	{
		/* the child: its own process group, default signals, stdout to the pipe */
		sigset_t	none;
		int			devnull = open("/dev/null", O_RDONLY);

		setsid();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", "-c", command, (char *) NULL);
		_exit(127);
	}
	close(fds[1]);

	for (;;)
	{
		struct pollfd pfd = {.fd = fds[0],.events = POLLIN};
		int64		left = deadline - now_ms();
		int			rc;

		if (left <= 0)
		{
			outcome = RUN_TIMEOUT;
			break;
		}
		rc = poll(&pfd, 1, (int) Min(left, 100));
		if (IsUnderPostmaster && InterruptPending && (QueryCancelPending || ProcDiePending))
		{
			outcome = RUN_INTERRUPTED;
			break;
		}
		if (rc < 0 && errno != EINTR)
		{
			outcome = RUN_READ_ERROR;
			read_errno = errno;
			break;
		}
		if (rc > 0)
		{
			ssize_t		n = read(fds[0], buf + total, bufsize - total);

			if (n == 0)
				break;			/* end of output */
			if (n < 0 && errno != EINTR && errno != EAGAIN)
			{
				outcome = RUN_READ_ERROR;
				read_errno = errno;
				break;
			}
			if (n > 0)
				total += n;
			if (total >= bufsize)
			{
				outcome = RUN_TOO_LARGE;
				break;
			}
		}
	}
	close(fds[0]);
	if (outcome != RUN_OK)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	switch (outcome)
	{
		case RUN_TIMEOUT:
			*cut_short = true;
			snprintf(ring_error, sizeof(ring_error),
					 "privacy_guard.keyring_command did not finish within %d seconds (privacy_guard.keyring_command_timeout)",
					 keyring_command_timeout);
			return -1;
		case RUN_TOO_LARGE:
			snprintf(ring_error, sizeof(ring_error),
					 "privacy_guard.keyring_command printed more than %d bytes", KEYRING_MAX_BYTES);
			return -1;
		case RUN_INTERRUPTED:
			snprintf(ring_error, sizeof(ring_error),
					 "privacy_guard.keyring_command was interrupted");
			*interrupted = true;
			*cut_short = true;
			return -1;
		case RUN_READ_ERROR:
			snprintf(ring_error, sizeof(ring_error),
					 "could not read the output of privacy_guard.keyring_command: %s", strerror(read_errno));
			return -1;
		case RUN_OK:
			break;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "privacy_guard.keyring_command failed with exit status %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -1;
	}
	return (ssize_t) total;
}

static int
masterkey_cmp(const void *a, const void *b)
{
	int32		va = ((const MasterKey *) a)->version;
	int32		vb = ((const MasterKey *) b)->version;

	return (va > vb) - (va < vb);
}

/*
 * (Re)load the keyring.  Never raises an error: on failure the reason is
 * kept in ring_error, reported at elevel, and raised by the next use.
 */
static void
keyring_load(int elevel)
{
	char	   *buf;
	MasterKey  *staging;
	ssize_t		len = -1;
	int			count = -1;
	bool		interrupted = false;
	bool		cut_short = false;
	bool		have_file = keyring_file && keyring_file[0] != '\0';
	bool		have_cmd = keyring_command && keyring_command[0] != '\0';

	keyring_wipe();
	ring_stale = false;
	ring_error[0] = '\0';

	if (have_file && have_cmd)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "both privacy_guard.keyring_file and privacy_guard.keyring_command are set");
		goto done;
	}
	if (!have_file && !have_cmd)
	{
		snprintf(ring_error, sizeof(ring_error),
				 "neither privacy_guard.keyring_file nor privacy_guard.keyring_command is set");
		goto done;
	}

	buf = malloc(KEYRING_MAX_BYTES);
	staging = malloc(sizeof(MasterKey) * KEYRING_MAX_VERSIONS);
	if (buf == NULL || staging == NULL)
	{
		free(buf);
		free(staging);
		snprintf(ring_error, sizeof(ring_error), "out of memory while reading the keyring");
		goto done;
	}

	if (have_file)
		len = keyring_read_file(keyring_file, buf, KEYRING_MAX_BYTES);
	else
		len = keyring_run_command(keyring_command, buf, KEYRING_MAX_BYTES,
								  &interrupted, &cut_short);

	if (len >= 0)
	{
		char		source[MAXPGPATH + 32];

		if (have_file)
			snprintf(source, sizeof(source), "keyring file \"%s\"", keyring_file);
		else
			snprintf(source, sizeof(source), "privacy_guard.keyring_command output");
		count = keyring_parse(buf, (size_t) len, source, staging);
	}
	if (count > 0)
	{
		memcpy(ring, staging, sizeof(MasterKey) * count);
		ring_count = count;
		qsort(ring, ring_count, sizeof(MasterKey), masterkey_cmp);
		ring_ok = true;
	}
	OPENSSL_cleanse(buf, KEYRING_MAX_BYTES);
	OPENSSL_cleanse(staging, sizeof(MasterKey) * KEYRING_MAX_VERSIONS);
	free(buf);
	free(staging);
	/* a command cut short (interrupt or timeout) runs again at the next use */
	if (cut_short)
		ring_stale = true;
	if (interrupted)
		CHECK_FOR_INTERRUPTS();

done:
	/* the reason names the file: for the server log, never a client */
	if (!ring_ok)
		ereport(elevel == LOG ? LOG_SERVER_ONLY : elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("privacy_guard keyring is not available: %s", ring_error)));
}

/*
 * The reason a keyring is unusable names its file: only a superuser sees it,
 * acting as such.  Not superuser() alone, which is true inside the
 * extension's SECURITY DEFINER functions and while the key cache acts as the
 * extension's owner; and not to another role's code that a superuser's
 * session runs as that role (a table owner's trigger, as erasure runs it,
 * can read an error's detail).
 */
static bool
reason_visible(void)
{
	Oid			userid;
	int			sec_context;

	CatalogCaller(&userid, &sec_context);
	return superuser_arg(GetSessionUserId()) && superuser_arg(userid) &&
		(sec_context & SECURITY_RESTRICTED_OPERATION) == 0;
}

/* Load if a reload made the keyring stale; raise the reason if it is unusable. */
static void
keyring_ensure(void)
{
	if (exit_hook_pid != MyProcPid)
	{
		/* children of the postmaster do not run its exit callbacks */
		on_proc_exit(keyring_exit, (Datum) 0);
		exit_hook_pid = MyProcPid;
	}
	if (ring_stale)
		keyring_load(LOG);
	if (!ring_ok && reason_visible())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard keyring is not available"),
				 errdetail("%s.", ring_error),
				 errhint("Fix privacy_guard.keyring_file or privacy_guard.keyring_command and reload the configuration.")));
	if (!ring_ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard keyring is not available"),
				 errdetail("The server log has the reason."),
				 errdetail_log("%s.", ring_error),
				 errhint("Ask a superuser to fix privacy_guard.keyring_file or privacy_guard.keyring_command.")));
}

int32
KeyringActiveVersion(void)
{
	keyring_ensure();
	return ring[ring_count - 1].version;
}

bool
KeyringHasVersion(int32 version)
{
	keyring_ensure();
	for (int i = 0; i < ring_count; i++)
		if (ring[i].version == version)
			return true;
	return false;
}

/* The master key of one version; error if the keyring no longer has it. */
const uint8 *
KeyringGet(int32 version)
{
	keyring_ensure();
	for (int i = 0; i < ring_count; i++)
		if (ring[i].version == version)
			return ring[i].key;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("master key version %d is not in the keyring", version),
			 errhint("Restore that version to the keyring, or run privacy_guard.rotate_master_key() while it is still present.")));
	return NULL;				/* keep compiler quiet */
}

/* Has this version matched its check value since the keyring was loaded? */
bool
KeyringVerified(int32 version)
{
	keyring_ensure();
	for (int i = 0; i < ring_count; i++)
		if (ring[i].version == version)
			return ring[i].verified;
	return false;
}

/* Remember that this version matched its recorded check value. */
void
KeyringSetVerified(int32 version)
{
	for (int i = 0; i < ring_count; i++)
		if (ring[i].version == version)
			ring[i].verified = true;
}

/* Fill versions[] with the loaded versions, ascending; returns the count. */
int
KeyringVersions(int32 *versions, int max)
{
	int			n = 0;

	keyring_ensure();
	for (int i = 0; i < ring_count && n < max; i++)
		versions[n++] = ring[i].version;
	return n;
}

void
KeyringInit(void)
{
	DefineCustomStringVariable("privacy_guard.keyring_file",
							   "File holding the master keys, one VERSION:HEX a line.",
							   "Must be owned by the server's user with mode 0600 or stricter.",
							   &keyring_file, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, assign_keyring_setting, NULL);
	DefineCustomStringVariable("privacy_guard.keyring_command",
							   "Command whose standard output supplies the master keys.",
							   "Empty means use privacy_guard.keyring_file.",
							   &keyring_command, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, assign_keyring_setting, NULL);

	DefineCustomIntVariable("privacy_guard.keyring_command_timeout",
							"Seconds privacy_guard.keyring_command may run before it is killed.",
							"The keyring is then unavailable until the next use runs the command again.",
							&keyring_command_timeout, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S | GUC_SUPERUSER_ONLY,
							NULL, NULL, NULL);

	/*
	 * A keyring file is read at postmaster start, so that backends inherit
	 * it; problems are logged, never fatal.  A keyring command is not run
	 * there: one that hangs would keep the server from ever opening its
	 * socket.  Each backend runs it when it first needs a key.
	 */
	if (!IsUnderPostmaster && keyring_command != NULL && keyring_command[0] != '\0' &&
		(keyring_file == NULL || keyring_file[0] == '\0'))
	{
		ereport(LOG,
				(errmsg("privacy_guard.keyring_command will run in each backend when it first needs a key")));
		on_proc_exit(keyring_exit, (Datum) 0);
		exit_hook_pid = MyProcPid;
	}
	else if (!IsUnderPostmaster)
	{
		keyring_load(WARNING);
		on_proc_exit(keyring_exit, (Datum) 0);
		exit_hook_pid = MyProcPid;
	}
}
