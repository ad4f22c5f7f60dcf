/* See crash_cleanup.h. The slots are process-wide state, like the stop
 * flag in cli.c: a signal handler can reach nothing else. Only
 * async-signal-safe calls (unlink, write, sigaction, raise, _exit) run in
 * the handler. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "framework/crash_cleanup.h"

#define SLOTS 4
#define PATH_CAP 4352

static struct {
	volatile sig_atomic_t used;
	char path[PATH_CAP];
} slots[SLOTS];
static volatile sig_atomic_t installed;
/* What pl_crash_cleanup_blame names, per thread: a crash is delivered to
 * the thread that faulted, and only a crash inside the blamed calls is the
 * file's (not one of the CSV read-ahead thread meanwhile). Static TLS, so
 * that the handler reads it without the dynamic loader. */
#define BLAME_TLS __thread __attribute__((tls_model("initial-exec")))
static BLAME_TLS const char *volatile blamed_file;
static BLAME_TLS const char *volatile blamed_what;

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* Writes the pieces, NULL-terminated, as one line with one write(), so
 * that the lines of ranks crashing at once do not interleave (a pipe
 * keeps a write of up to PIPE_BUF bytes whole). */
static void say(const char *const *pieces)
{
	char line[PATH_CAP + 256];
	size_t n = 0;
	for (; *pieces != NULL; pieces++)
		for (const char *c = *pieces;
		     *c != '\0' && n < sizeof(line) - 1; c++)
			line[n++] = *c;
	line[n++] = '\n';
	ssize_t rc = write(STDERR_FILENO, line, n);
	(void)rc;
}

static void on_crash(int sig)
{
	char num[16];
	int n = 0;
	for (int v = sig; n < 15 && (v > 0 || n == 0); v /= 10)
		num[n++] = (char)('0' + v % 10);
	char rev[16];
	for (int i = 0; i < n; i++)
		rev[i] = num[n - 1 - i];
	rev[n] = '\0';
	const char *file = blamed_file, *what = blamed_what;
	if (file != NULL)
		say((const char *const[]){"pipeline: ", file, ": ", what,
					  " (signal ", rev, ")", NULL});
	else
		say((const char *const[]){"pipeline: crashed (signal ", rev,
					  ")", NULL});
	pl_crash_cleanup_now();
	if (file != NULL)
		_exit(1);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	raise(sig);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_crash;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(int); i++)
		sigaction(fatal_signals[i], &sa, NULL);
	installed = 1;
}

void pl_crash_cleanup_install(void)
{
	if (!installed)
		install();
}

int pl_crash_cleanup_arm(const char *path)
{
	size_t len = strlen(path);
	if (len >= PATH_CAP)
		return -1;
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].used)
			continue;
		memcpy(slots[i].path, path, len + 1);
		slots[i].used = 1;
		pl_crash_cleanup_install();
		return 0;
	}
	return -1;
}

void pl_crash_cleanup_disarm(const char *path)
{
	for (int i = 0; path != NULL && i < SLOTS; i++) {
		if (slots[i].used && strcmp(slots[i].path, path) == 0)
			slots[i].used = 0;
	}
}

void pl_crash_cleanup_blame(const char *file, const char *what)
{
	blamed_what = what;
	blamed_file = file;
}

void pl_crash_cleanup_now(void)
{
	for (int i = 0; i < SLOTS; i++) {
		if (!slots[i].used)
			continue;
		if (unlink(slots[i].path) == 0) {
			say((const char *const[]){
			    "pipeline: removed the temporary output ",
			    slots[i].path, NULL});
		}
		slots[i].used = 0;
	}
}
