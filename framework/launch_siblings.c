/* SO_PEERCRED, struct ucred, accept4, execvpe and pidfd_open's syscall
 * number. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/exchange.h"
#include "framework/launch.h"

/* The parent's socket name (Linux's abstract namespace, without the
 * leading NUL) in the ranks' environment; empty when the parent has none.
 * Set, it tells a rank that `pipeline job.conf` launched it. */
#define SIBLINGS_ENV "PIPELINE_SIBLINGS"
/* Where the parent looks for the ranks while they start, in ms. */
#define FIND_POLL_MS 20

#ifndef PL_MPIEXEC
#define PL_MPIEXEC "mpirun"
#endif

/* The parent's view of the launch. */
struct siblings {
	pid_t mpirun;
	int pidfd;    /* readable once mpirun has ended, or -1 */
	int listener; /* where rank 0 connects, or -1 */
	int link;     /* rank 0's connection, or -1 */
	int linked;   /* rank 0 connected (link may be closed since) */
	int status;   /* the job's status from rank 0, or -1 */
	int wstatus;  /* mpirun's, from waitpid */
	int nranks;
	int seen; /* a rank was found running */
	int stopped;
	pid_t *rank_pids; /* the ranks once all are known, or NULL */
	int *rank_fds;	  /* their pidfds (-1: ended, or none) */
	int first_gone;	  /* the first rank seen to end, or -1 */
};

/* A rank's connection to the parent: rank 0's alone. */
static int parent_link = -1;

/* Binds an unused abstract name the kernel picks (5 hex digits) and
 * listens; -1 when the socket cannot be had. */
static int listen_anywhere(char *name, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	socklen_t len = sizeof(sa_family_t);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) != 0 ||
	    listen(fd, 4) != 0)
		goto fail;
	len = sizeof(a);
	size_t head = offsetof(struct sockaddr_un, sun_path) + 1;
	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 || len <= head ||
	    len - head >= cap)
		goto fail;
	memcpy(name, a.sun_path + 1, len - head);
	name[len - head] = '\0';
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The environment mpirun and the ranks inherit: one node's
 * (pl_mpi_one_node_env, for mpirun too), more ranks than cores (the
 * user's own win), and, for root, Open MPI's consent, since the user ran
 * pipeline, not mpirun. */
static void set_environment(const char *name)
{
	setenv(SIBLINGS_ENV, name, 1);
	setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
	pl_mpi_one_node_env();
	if (geteuid() == 0) {
		setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
		setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
	}
}

/* mpirun -n N --bind-to none --stdin none EXE ARGS...: the ranks float
 * over the cores as the parent's threads did, and no rank reads standard
 * input (a job that does runs in one process). */
static char **launcher_argv(int nranks, char **argv, const char *exe, char *n)
{
	size_t argc = 0;
	while (argv[argc] != NULL)
		argc++;
	char **args = calloc(argc + 9, sizeof(*args));
	if (args == NULL)
		return NULL;
	snprintf(n, 16, "%d", nranks);
	/* args[0], the launcher, is set when it is run (exec_launcher). */
	const char *head[] = {"",     "-n",	 n,	 "--bind-to",
			      "none", "--stdin", "none", exe};
	size_t k = 0;
	for (; k < sizeof(head) / sizeof(*head); k++)
		args[k] = (char *)head[k];
	for (size_t i = 1; i < argc; i++)
		args[k++] = argv[i];
	return args;
}

/* In the child, between fork and exec: its own process group, so that a
 * Ctrl-C reaches the parent alone (which tells the ranks; mpirun would
 * kill them), and ended with the parent. Async-signal-safe only. */
static void exec_launcher(char **args, const char *const *paths, pid_t parent,
			  int report)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int e = ENOENT;
	for (size_t i = 0; paths[i] != NULL; i++) {
		args[0] = (char *)paths[i];
		execvp(paths[i], args);
		e = errno;
	}
	ssize_t w = write(report, &e, sizeof(e));
	(void)w;
	_exit(127);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* Forks and execs the launcher: PIPELINE_MPIRUN when set (empty: none),
 * else the mpiexec found at build time, else mpirun on PATH. 1 when none
 * could be run. */
static int start_launcher(struct siblings *s, char **args)
{
	const char *paths[] = {getenv("PIPELINE_MPIRUN"), NULL, NULL};
	if (paths[0] == NULL) {
		paths[0] = PL_MPIEXEC;
		paths[1] = "mpirun";
	} else if (*paths[0] == '\0') {
		return 1;
	}
	int report[2];
	if (pipe2(report, O_CLOEXEC) != 0)
		return 1;
	pid_t parent = getpid();
	s->mpirun = fork();
	if (s->mpirun == 0)
		exec_launcher(args, paths, parent, report[1]);
	close(report[1]);
	int e = 0;
	ssize_t got = -1;
	while (s->mpirun > 0 && (got = read(report[0], &e, sizeof(e))) < 0 &&
	       errno == EINTR)
		;
	close(report[0]);
	if (s->mpirun < 0)
		return 1;
	if (got == (ssize_t)sizeof(e)) {
		waitpid(s->mpirun, NULL, 0);
		return 1;
	}
	s->pidfd = open_pidfd(s->mpirun);
	return 0;
}

static int send_fds(int sock, const int *fds, int n)
{
	char byte = 0;
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Rank 0 connects: it gets the parent's standard output and error (its
 * own go through mpirun, byte by byte at ~80 MB/s) and later sends the
 * job's status. Only a process of ours that mpirun started is answered. */
static void take_rank0(struct siblings *s)
{
	int c = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct ucred who;
	socklen_t len = sizeof(who);
	static const int fds[2] = {STDOUT_FILENO, STDERR_FILENO};
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &who, &len) != 0 ||
	    who.uid != geteuid() || pl_proc_parent(who.pid) != s->mpirun ||
	    send_fds(c, fds, 2) != 0) {
		close(c);
		return;
	}
	s->link = c;
	s->linked = 1;
	close(s->listener);
	s->listener = -1;
}

/* Once the ranks are known: a pidfd each, so that the first to end (the
 * one killed or crashed, when rank 0 sends no status) can be named. */
static void watch_ranks(struct siblings *s)
{
	s->rank_pids = calloc((size_t)s->nranks, sizeof(*s->rank_pids));
	s->rank_fds = malloc((size_t)s->nranks * sizeof(*s->rank_fds));
	if (s->rank_pids == NULL || s->rank_fds == NULL ||
	    pl_launch_ranks(s->rank_pids, s->nranks) != 0) {
		free(s->rank_pids);
		free(s->rank_fds);
		s->rank_pids = NULL;
		s->rank_fds = NULL;
	}
	for (int i = 0; s->rank_fds != NULL && i < s->nranks; i++)
		s->rank_fds[i] = open_pidfd(s->rank_pids[i]);
}

/* mpirun gone without rank 0's status: ranks it left (it was killed
 * itself) would wait for each other for ever. */
static void end_ranks(struct siblings *s)
{
	for (int i = 0; s->rank_fds != NULL && i < s->nranks; i++) {
		if (s->status < 0 && s->rank_fds[i] >= 0)
			kill(s->rank_pids[i], SIGKILL);
		if (s->rank_fds[i] >= 0)
			close(s->rank_fds[i]);
	}
	free(s->rank_fds);
	free(s->rank_pids);
	s->rank_fds = NULL;
	s->rank_pids = NULL;
}

static void rank_ended(struct siblings *s, int r)
{
	if (s->first_gone < 0)
		s->first_gone = r;
	close(s->rank_fds[r]);
	s->rank_fds[r] = -1;
}

static void read_status(struct siblings *s)
{
	unsigned char b;
	ssize_t n = recv(s->link, &b, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1)
		s->status = b;
	close(s->link);
	s->link = -1;
}

/* Until mpirun ends: rank 0's connection and status, the ranks' pids (so
 * that a signal to the parent reaches them; before they are all known a
 * signal stops mpirun, which ends the starting ranks). */
static void wait_launcher(struct siblings *s, struct pollfd *p)
{
	int known = 0;
	for (;;) {
		pid_t r = waitpid(s->mpirun, &s->wstatus, WNOHANG);
		if (r == s->mpirun)
			break;
		if (r < 0 && errno != EINTR) {
			s->wstatus = 1 << 8;
			break;
		}
		if (!known &&
		    (known = pl_launch_track_ranks(s->nranks, &s->seen)))
			watch_ranks(s);
		if (!known && pl_launch_signal() != 0 && !s->stopped) {
			kill(s->mpirun, SIGTERM);
			s->stopped = 1;
		}
		int n = 3 + (s->rank_fds != NULL ? s->nranks : 0);
		for (int i = 3; i < n; i++)
			p[i] = (struct pollfd){s->rank_fds[i - 3], POLLIN, 0};
		p[0] = (struct pollfd){s->pidfd, POLLIN, 0};
		p[1] = (struct pollfd){s->listener, POLLIN, 0};
		p[2] = (struct pollfd){s->link, POLLIN, 0};
		int wait_ms = known && s->pidfd >= 0 ? -1 : FIND_POLL_MS;
		if (poll(p, (nfds_t)n, wait_ms) <= 0)
			continue;
		if (p[1].revents & POLLIN)
			take_rank0(s);
		if (p[2].revents != 0)
			read_status(s);
		for (int i = 3; i < n; i++)
			if (p[i].revents != 0)
				rank_ended(s, i - 3);
	}
	if (s->link >= 0)
		read_status(s);
	end_ranks(s);
	pl_launch_untrack_ranks();
}

/* What the parent exits with: rank 0's word, else what mpirun tells. */
static int job_status(const struct siblings *s)
{
	if (s->status >= 0)
		return s->status;
	if (pl_launch_signal() != 0)
		return 128 + pl_launch_signal();
	int code = WIFEXITED(s->wstatus) ? WEXITSTATUS(s->wstatus) : -1;
	if (code == 0)
		return 0;
	if (!s->seen && !s->linked) {
		fprintf(stderr,
			"pipeline: could not start %d ranks on this machine: "
			"mpirun ended with status %d (--ranks 1 runs the job "
			"in one process)\n",
			s->nranks,
			code >= 0 ? code : 128 + WTERMSIG(s->wstatus));
		return 1;
	}
	/* A rank's own failure (rank 0 could not reach us to say so): it
	 * said why, through mpirun; a signal's death is 128 + the signal. */
	if (code > 0 && code < 128)
		return code;
	if (s->first_gone < 0 && WIFSIGNALED(s->wstatus))
		fprintf(stderr,
			"pipeline: mpirun ended unexpectedly (signal %d); the "
			"job is stopped\n",
			WTERMSIG(s->wstatus));
	else if (s->first_gone >= 0)
		fprintf(stderr,
			"pipeline: rank %d ended unexpectedly (killed or "
			"crashed); the job is stopped\n",
			s->first_gone);
	else
		fprintf(stderr, "pipeline: a rank ended unexpectedly (killed "
				"or crashed); the job is stopped\n");
	return 1;
}

int pl_launch_siblings(int nranks, char **argv, int *status, pl_error *err)
{
	const char *exe = pl_launch_self(err);
	if (exe == NULL)
		return PL_ERR_IO;
	struct siblings s = {.pidfd = -1,
			     .link = -1,
			     .status = -1,
			     .nranks = nranks,
			     .first_gone = -1};
	struct pollfd *p = malloc((size_t)(nranks + 3) * sizeof(*p));
	if (p == NULL)
		return pl_error_nomem(err, "the launcher's poll set");
	char name[32] = "", n[16];
	s.listener = listen_anywhere(name, sizeof(name));
	char **args = launcher_argv(nranks, argv, exe, n);
	if (args == NULL) {
		if (s.listener >= 0)
			close(s.listener);
		free(p);
		return pl_error_nomem(err, "the launcher's arguments");
	}
	set_environment(name);
	int rc = start_launcher(&s, args);
	free(args);
	if (rc != 0) {
		unsetenv(SIBLINGS_ENV);
		if (s.listener >= 0)
			close(s.listener);
		free(p);
		return 1;
	}
	wait_launcher(&s, p);
	free(p);
	if (s.listener >= 0)
		close(s.listener);
	if (s.pidfd >= 0)
		close(s.pidfd);
	*status = job_status(&s);
	return 0;
}

static int receive_fds(int sock, int *fds, int n)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN((size_t)n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), (size_t)n * sizeof(int));
	return 0;
}

/* Rank 0 takes the parent's standard output and error as its own. */
static void reach_parent(const char *name)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	size_t len = strlen(name);
	if (len + 1 >= sizeof(a.sun_path))
		return;
	memcpy(a.sun_path + 1, name, len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int fds[2];
	socklen_t alen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, alen) != 0 ||
	    receive_fds(fd, fds, 2) != 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	dup2(fds[0], STDOUT_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[0]);
	close(fds[1]);
	parent_link = fd;
}

int pl_launch_sibling_join(int rank)
{
	const char *name = getenv(SIBLINGS_ENV);
	if (name == NULL)
		return 0;
	if (rank == 0 && *name != '\0')
		reach_parent(name);
	unsetenv(SIBLINGS_ENV);
	return 1;
}

int pl_launch_sibling_status(int status)
{
	if (parent_link < 0)
		return status;
	fflush(stdout);
	fflush(stderr);
	unsigned char b = (unsigned char)status;
	int sent = send(parent_link, &b, 1, MSG_NOSIGNAL) == 1;
	close(parent_link);
	parent_link = -1;
	return sent ? 0 : status;
}
