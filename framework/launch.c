/* sched_getaffinity and CPU_COUNT: the cores a container or taskset
 * leaves us, which sysconf does not tell. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "framework/conf.h"
#include "framework/exchange.h"
#include "framework/launch.h"
#include "io/input_paths.h"

/* One error line of a rank, with its "pipeline: rank N: " prefix. */
#define LINE_MAX_BYTES (PL_ERROR_MSG_MAX + 64)

/* A dead child leaves the parent waiting in a collective for ever: the
 * watchdog gives up on the job after this long without the parent
 * reaching pl_launch_end (which a child may legitimately exit right
 * after). */
#define WATCH_GRACE_MS 2000
#define WATCH_POLL_MS 50
#define DAEMON_GRACE_MS 1000
/* How long the parent waits at the end for its children to exit. */
#define EXIT_WAIT_MS 10000

/* Process-wide because a signal handler and the watchdog thread must reach
 * them: the children's pids, written once before nchildren is set. */
static pid_t *children;
static volatile sig_atomic_t nchildren;
static volatile sig_atomic_t pending_signal; /* came before the pids */
static atomic_int watch_armed;
static atomic_int pids_known; /* children[] is complete */
static int watching;
static pthread_t watchdog;
static MPI_Comm intercomm = MPI_COMM_NULL;
/* The ranks the watchdog found itself while they start (nstarting, one
 * per spawned rank, 0 until found): the watchdog thread's alone until it
 * is joined. */
static pid_t *starting;
static int nstarting;
static char self_exe[PATH_MAX];

int pl_ranks_parse(const char *s, const char *what, int *out, pl_error *err)
{
	if (strcmp(s, "auto") == 0) {
		*out = PL_RANKS_AUTO;
		return 0;
	}
	long v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && v <= PL_RANKS_MAX; i++)
		v = v * 10 + (s[i] - '0');
	if (i == 0 || s[i] != '\0' || v < 1 || v > PL_RANKS_MAX)
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: '%s' is not a number of ranks (1 to "
				    "%d) or 'auto'",
				    what, s, PL_RANKS_MAX);
	*out = (int)v;
	return 0;
}

int pl_ranks_auto(uint64_t input_bytes, int cores)
{
	uint64_t n = input_bytes / PL_AUTO_BYTES_PER_RANK;
	if (n > (uint64_t)cores)
		n = (uint64_t)cores;
	return n < 1 ? 1 : (int)n;
}

int pl_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < INT_MAX ? (int)n : 1;
}

static void free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int pl_input_bytes(const char *conf_path, char *const *sets, size_t nsets,
		   uint64_t *bytes, int *from_stdin, pl_error *err)
{
	pl_conf conf;
	*bytes = 0;
	*from_stdin = 0;
	int rc = pl_conf_load(conf_path, sets, nsets, &conf, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < conf.n; i++) {
		if (strcmp(conf.sections[i].name, "source") != 0)
			continue;
		char **paths = NULL;
		size_t n = 0;
		rc = pl_input_paths(&conf.sections[i], 1, &paths, &n, err);
		for (size_t k = 0; rc == 0 && k < n; k++) {
			struct stat st;
			if (strcmp(paths[k], "-") == 0)
				*from_stdin = 1;
			else if (stat(paths[k], &st) == 0)
				*bytes += (uint64_t)st.st_size;
		}
		free_paths(paths, n);
		break;
	}
	pl_conf_free(&conf);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

/* From /proc/PID/stat ("pid (comm) state ppid", comm may hold spaces and
 * parentheses). */
pid_t pl_proc_parent(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end = strrchr(buf, ')');
	int ppid = -1;
	if (end == NULL || sscanf(end + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* Our own children in /proc: in a spawned run, Open MPI's daemon. */
static int own_children(pid_t *out, int cap)
{
	pid_t me = getpid();
	int n = 0;
	DIR *dir = opendir("/proc");
	if (dir == NULL)
		return 0;
	struct dirent *e;
	while (n < cap && (e = readdir(dir)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && pl_proc_parent(pid) == me)
			out[n++] = pid;
	}
	closedir(dir);
	return n;
}

/* The rank in the spawned job (0 is the job's rank 1) of pid if it runs
 * this program, from the environment Open MPI gives it; else -1. */
static int spawned_rank(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t len = readlink(path, exe, sizeof(exe) - 1);
	if (len <= 0)
		return -1;
	exe[len] = '\0';
	if (strcmp(exe, self_exe) != 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	static const char key[] = "OMPI_COMM_WORLD_RANK=";
	char *var = NULL;
	size_t cap = 0;
	int rank = -1;
	while (rank < 0 && getdelim(&var, &cap, '\0', f) > 0)
		if (strncmp(var, key, sizeof(key) - 1) == 0)
			rank = atoi(var + sizeof(key) - 1);
	free(var);
	fclose(f);
	return rank;
}

/* Before their pids come over MPI, the spawned ranks are found in /proc:
 * this program, run by a child of ours (Open MPI's daemon). */
static void find_starting(void)
{
	pid_t daemons[8];
	int ndaemons = own_children(daemons, 8);
	DIR *dir = ndaemons > 0 ? opendir("/proc") : NULL;
	if (dir == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name), pp;
		if (pid <= 0 || (pp = pl_proc_parent(pid)) <= 0)
			continue;
		for (int d = 0; d < ndaemons; d++) {
			int r = pp == daemons[d] ? spawned_rank(pid) : -1;
			if (r >= 0 && r < nstarting && starting[r] == 0)
				starting[r] = pid;
		}
	}
	closedir(dir);
}

/* Ends Open MPI's daemon after its ranks were killed. It usually exits
 * when its singleton does, but it has been seen deadlocked in its own
 * abort (a futex, for ever), keeping the caller's standard error open, so
 * it gets SIGTERM, a moment, then SIGKILL. */
static void end_daemons(void)
{
	pid_t d[8];
	int n = own_children(d, 8), alive = n;
	for (int i = 0; i < n; i++)
		kill(d[i], SIGTERM);
	for (int t = 0; alive > 0 && t < DAEMON_GRACE_MS; t += 10) {
		sleep_ms(10);
		alive = 0;
		for (int i = 0; i < n; i++)
			if (d[i] > 0 && waitpid(d[i], NULL, WNOHANG) == 0)
				alive++;
			else
				d[i] = 0;
	}
	for (int i = 0; i < n; i++)
		if (d[i] > 0)
			kill(d[i], SIGKILL);
}

/* A child died while the job ran or started. The parent's main thread is
 * stuck in MPI and cannot be unwound: like mpirun when a rank dies, the
 * watchdog ends the job, here with the process exit that is the only way
 * out. */
static void give_up(const pid_t *pids, int n, int rank)
{
	for (int t = 0; t < WATCH_GRACE_MS && atomic_load(&watch_armed);
	     t += WATCH_POLL_MS)
		sleep_ms(WATCH_POLL_MS);
	if (!atomic_load(&watch_armed))
		return;
	fprintf(stderr,
		"pipeline: rank %d ended unexpectedly (killed or crashed); "
		"stopping the job\n",
		rank);
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	end_daemons();
	_exit(1);
}

static void *watch(void *arg)
{
	(void)arg;
	while (atomic_load(&watch_armed)) {
		sleep_ms(WATCH_POLL_MS);
		int known = atomic_load(&pids_known);
		if (!known)
			find_starting();
		const pid_t *pids = known ? children : starting;
		int n = known ? nchildren : nstarting;
		for (int i = 0; i < n && atomic_load(&watch_armed); i++)
			if (pids[i] > 0 && gone(pids[i]))
				give_up(pids, n, i + 1);
	}
	return NULL;
}

/* From before the spawn: a rank that dies while the ranks start leaves the
 * parent waiting in MPI_Comm_spawn or the merge for ever, as one that
 * dies later leaves it waiting in a collective. */
static int start_watch(int nranks, pl_error *err)
{
	starting = calloc((size_t)nranks - 1, sizeof(*starting));
	if (starting == NULL)
		return pl_error_nomem(err, "the spawn");
	nstarting = nranks - 1;
	atomic_store(&watch_armed, 1);
	if (pthread_create(&watchdog, NULL, watch, NULL) != 0) {
		atomic_store(&watch_armed, 0);
		return pl_error_set(err, PL_ERR_IO,
				    "cannot start the thread that watches "
				    "the ranks");
	}
	watching = 1;
	return 0;
}

static void stop_watch(void)
{
	if (watching) {
		atomic_store(&watch_armed, 0);
		pthread_join(watchdog, NULL);
		watching = 0;
	}
	free(starting);
	starting = NULL;
	nstarting = 0;
}

/* Open MPI's daemon, forked by a singleton's MPI_Init, would read our
 * standard input to forward it to the first child: it gets /dev/null, and
 * standard input stays the parent's alone. */
static void init_mpi_without_stdin(void)
{
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	int null = saved >= 0 ? open("/dev/null", O_RDONLY) : -1;
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	pl_mpi_init();
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
}

static int spawn_failed(int nranks, int code, pl_error *err)
{
	char why[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(code, why, &len) != MPI_SUCCESS)
		snprintf(why, sizeof(why), "MPI error %d", code);
	MPI_Finalize();
	return pl_error_set(err, PL_ERR_IO,
			    "could not start %d ranks on this machine: %s "
			    "(--ranks 1 runs the job in one process)",
			    nranks, why);
}

/* Every rank's pid to the parent, which watches them and forwards
 * signals to them. */
static int gather_pids(MPI_Comm comm, int nranks, pl_error *err)
{
	int me = (int)getpid();
	int *all = NULL;
	if (pl_comm_rank(comm) == 0 &&
	    (all = malloc((size_t)nranks * sizeof(*all))) == NULL)
		pl_error_nomem(err, "the ranks' pids");
	int ok = all != NULL || pl_comm_rank(comm) != 0;
	MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
	if (!ok) /* rank 0 tells the others at the next agreement */
		return pl_comm_rank(comm) == 0 ? PL_ERR_NOMEM : 0;
	MPI_Gather(&me, 1, MPI_INT, all, 1, MPI_INT, 0, comm);
	if (all == NULL)
		return 0;
	children = malloc((size_t)(nranks - 1) * sizeof(*children));
	for (int i = 1; children != NULL && i < nranks; i++)
		children[i - 1] = (pid_t)all[i];
	free(all);
	if (children == NULL)
		return pl_error_nomem(err, "the ranks' pids");
	nchildren = nranks - 1;
	atomic_store(&pids_known, 1);
	if (pending_signal)
		pl_launch_forward_signal(pending_signal);
	return 0;
}

const char *pl_launch_self(pl_error *err)
{
	if (self_exe[0] != '\0')
		return self_exe;
	ssize_t len =
	    readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0) {
		pl_error_set(err, PL_ERR_IO,
			     "cannot find this program to start more ranks: "
			     "/proc/self/exe: %s",
			     strerror(errno));
		return NULL;
	}
	self_exe[len] = '\0';
	return self_exe;
}

int pl_launch_spawn(int nranks, char **argv, MPI_Comm *comm, pl_error *err)
{
	*comm = MPI_COMM_NULL;
	/* One node: shared memory and TCP suffice. More ranks than cores are
	 * the user's choice. */
	pl_mpi_one_node_env();
	setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
	if (pl_launch_self(err) == NULL)
		return PL_ERR_IO;
	int *codes = calloc((size_t)nranks, sizeof(*codes));
	if (codes == NULL)
		return pl_error_nomem(err, "the spawn");
	int rc = start_watch(nranks, err);
	if (rc != 0) {
		free(codes);
		return rc;
	}
	/* A child killed while the ranks connect can leave the parent
	 * writing to its socket: SIGPIPE would end the parent with 141
	 * before the watchdog tells what happened (seen in CI). Ignored until
	 * the ranks are connected; after that a closed standard output
	 * still ends the job as in one process. */
	struct sigaction ign, old_pipe;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	init_mpi_without_stdin();
	MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
	/* The parent is bound to no core: children bound to cores (Open
	 * MPI's default for two) could be put on the one it runs on. */
	MPI_Info info;
	MPI_Info_create(&info);
	MPI_Info_set(info, "bind_to", "none");
	rc = MPI_Comm_spawn(self_exe, argv + 1, nranks - 1, info, 0,
			    MPI_COMM_SELF, &intercomm, codes);
	MPI_Info_free(&info);
	for (int i = 0; rc == MPI_SUCCESS && i < nranks - 1; i++)
		if (codes[i] != MPI_SUCCESS)
			rc = codes[i];
	free(codes);
	if (rc != MPI_SUCCESS) {
		stop_watch();
		sigaction(SIGPIPE, &old_pipe, NULL);
		return spawn_failed(nranks, rc, err);
	}
	MPI_Intercomm_merge(intercomm, 0, comm);
	rc = gather_pids(*comm, nranks, err);
	rc = pl_mpi_agree(*comm, rc, err);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return rc;
}

int pl_launch_join(MPI_Comm *comm, int *spawned, pl_error *err)
{
	MPI_Comm parent;
	MPI_Comm_get_parent(&parent);
	*spawned = parent != MPI_COMM_NULL;
	if (!*spawned) {
		*spawned = pl_launch_sibling_join(pl_comm_rank(*comm));
		return 0;
	}
	intercomm = parent;
	MPI_Intercomm_merge(parent, 1, comm);
	return pl_mpi_agree(*comm, gather_pids(*comm, pl_comm_size(*comm), err),
			    err);
}

void pl_launch_forward_signal(int sig)
{
	pending_signal = sig;
	for (int i = 0; i < nchildren; i++)
		kill(children[i], sig);
}

/* Rank 0 prints the lines in rank order: its own, then each child's. */
static void gather_lines(MPI_Comm comm, const char *line)
{
	char buf[LINE_MAX_BYTES];
	snprintf(buf, sizeof(buf), "%s", line);
	if (pl_comm_rank(comm) != 0) {
		MPI_Send(buf, sizeof(buf), MPI_CHAR, 0, 0, comm);
		return;
	}
	fputs(buf, stderr);
	for (int r = 1; r < pl_comm_size(comm); r++) {
		MPI_Recv(buf, sizeof(buf), MPI_CHAR, r, 0, comm,
			 MPI_STATUS_IGNORE);
		buf[sizeof(buf) - 1] = '\0';
		fputs(buf, stderr);
	}
}

static void wait_children(void)
{
	for (int t = 0; t < EXIT_WAIT_MS; t += 5) {
		int alive = 0;
		for (int i = 0; i < nchildren; i++)
			alive += !gone(children[i]);
		if (!alive)
			break;
		sleep_ms(5);
	}
	nchildren = 0;
	free(children);
	children = NULL;
}

int pl_launch_end(MPI_Comm *comm, int status, const char *line)
{
	int rank = pl_comm_rank(*comm), worst = status;
	gather_lines(*comm, line);
	MPI_Reduce(&status, &worst, 1, MPI_INT, MPI_MAX, 0, *comm);
	stop_watch();
	if (intercomm != MPI_COMM_NULL) {
		MPI_Comm_free(comm);
		MPI_Comm_disconnect(&intercomm);
	}
	MPI_Finalize();
	if (rank != 0)
		return 0;
	wait_children();
	return pl_launch_sibling_status(worst);
}

int pl_launch_track_ranks(int nranks, int *seen)
{
	if (starting == NULL) {
		starting = calloc((size_t)nranks, sizeof(*starting));
		if (starting == NULL)
			return 0;
		nstarting = nranks;
	}
	find_starting();
	int found = 0;
	for (int i = 0; i < nstarting; i++)
		found += starting[i] > 0;
	*seen |= found > 0;
	if (found < nstarting)
		return 0;
	children = starting;
	starting = NULL;
	nchildren = nstarting;
	nstarting = 0;
	atomic_store(&pids_known, 1);
	if (pending_signal)
		pl_launch_forward_signal(pending_signal);
	return 1;
}

int pl_launch_ranks(pid_t *pids, int n)
{
	if (!atomic_load(&pids_known) || n != nchildren)
		return -1;
	memcpy(pids, children, (size_t)n * sizeof(*pids));
	return 0;
}

void pl_launch_untrack_ranks(void)
{
	pid_t *pids = children;
	nchildren = 0;
	children = NULL;
	atomic_store(&pids_known, 0);
	free(pids);
	free(starting);
	starting = NULL;
	nstarting = 0;
}

int pl_launch_signal(void)
{
	return pending_signal;
}
