/* Single-node mode on all cores: how many ranks `pipeline job.conf` runs
 * when no launcher (mpirun, srun) started it, and starting them: as
 * siblings under mpirun (launch_siblings.c) or, without mpirun, from the
 * one process with MPI_Comm_spawn. A spawned job runs on the
 * intracommunicator of parent (rank 0) and children exactly as it would
 * under mpirun.
 *
 * Open MPI does not stop a spawning parent when a child dies, nor wait
 * for the children when the parent exits: this file does both (a watchdog
 * thread in the parent, and a wait for the children's exit at the end). */
#ifndef PIPELINE_FRAMEWORK_LAUNCH_H
#define PIPELINE_FRAMEWORK_LAUNCH_H

#include <mpi.h>
#include <stdint.h>
#include <sys/types.h>

#include "pipeline/error.h"

/* "--ranks auto": chosen by pl_ranks_auto. */
#define PL_RANKS_AUTO 0
#define PL_RANKS_MAX 1024

/* Input bytes each rank is given at least under "--ranks auto". Measured
 * on a 2-core machine (scripts/bench_auto_ranks.sh, README "Performance"):
 * starting 2 ranks as siblings under mpirun costs about 0.3 s of wall
 * time; db-benchmark q1 then gains from 1-2 GB of input (1.40 s against
 * 2.25 at 1.9 GB, 0.95 against 0.86 at 1 GB), while group-bys with many
 * groups tie or lose at 2 GB (one process already runs two threads with
 * read-ahead). Below 1 GiB a job stays in one process, which also keeps
 * every small job (and the whole test suite) free of MPI's start-up. */
#define PL_AUTO_BYTES_PER_RANK ((uint64_t)512 << 20)

/* Parses a --ranks or PIPELINE_RANKS value: "auto" gives PL_RANKS_AUTO, a
 * whole number from 1 to PL_RANKS_MAX gives itself. Anything else is
 * PL_ERR_CONF naming `what` (the option or variable). */
int pl_ranks_parse(const char *s, const char *what, int *out, pl_error *err);

/* The ranks "auto" picks for input_bytes of input (0: unknown) on `cores`
 * cores: one per PL_AUTO_BYTES_PER_RANK, at least 1, at most cores. */
int pl_ranks_auto(uint64_t input_bytes, int cores);

/* The cores this process may run on (its CPU affinity), at least 1. */
int pl_cpu_count(void);

/* The total size in bytes of the files the [source] of conf_path (with
 * the --set overrides) names; *from_stdin set when it reads standard
 * input. Cheap: loads the conf and stats the files, opens none. Errors
 * (the conf or a path is wrong) are returned as pl_conf_load and
 * pl_input_paths return them; the caller leaves them to the planner. */
int pl_input_bytes(const char *conf_path, char *const *sets, size_t nsets,
		   uint64_t *bytes, int *from_stdin, pl_error *err);

/* In the process started without a launcher: runs nranks copies of this
 * program with argv[1..] (NULL-terminated) as siblings under Open MPI's
 * launcher (PIPELINE_MPIRUN, else the mpiexec found at build time, else
 * mpirun on PATH), so that they reach each other through shared memory,
 * and waits for them. This process computes nothing: it hands rank 0 its
 * standard output and error, forwards signals to the ranks and sets
 * *status to the job's exit status, which rank 0 sends it (a rank that
 * dies, or ranks that never start, are told on standard error and give
 * 1). Returns 0 when the job ran, 1 when no launcher could be run (the
 * caller spawns instead: pl_launch_spawn), or a negative code with err. */
int pl_launch_siblings(int nranks, char **argv, int *status, pl_error *err);

/* In a rank under a launcher, after MPI_Init: whether pl_launch_siblings
 * started it (1) or not (0). Rank 0 of such a run takes the parent's
 * standard output and error as its own. */
int pl_launch_sibling_join(int rank);

/* Rank 0 of a run pl_launch_siblings started: sends status to the parent
 * and returns 0, so that the launcher has no failure of its own to tell;
 * status itself when it cannot be sent (or the rank is not such). */
int pl_launch_sibling_status(int status);

/* For launch_siblings.c. This program's path (cached), or NULL with err. */
const char *pl_launch_self(pl_error *err);

/* The parent of pid from /proc, or -1. */
pid_t pl_proc_parent(pid_t pid);

/* Looks for nranks ranks: this program, run by a child of this process
 * (the launcher), each known by its OMPI_COMM_WORLD_RANK. Sets *seen once
 * one is found; returns 1 once all are, from when on signals are
 * forwarded to them (and one that came before is forwarded then). */
int pl_launch_track_ranks(int nranks, int *seen);

/* Copies the n ranks' pids once pl_launch_track_ranks has found them all
 * (0), else -1. */
int pl_launch_ranks(pid_t *pids, int n);

/* Forgets the ranks pl_launch_track_ranks found. */
void pl_launch_untrack_ranks(void);

/* The last signal pl_launch_forward_signal was given, or 0. */
int pl_launch_signal(void);

/* In the process started without a launcher: starts MPI (with the
 * single-node settings: pml ob1, oversubscription allowed, unless the
 * user set them), spawns nranks - 1 copies of this program with argv[1..]
 * (NULL-terminated) and gives in *comm parent and children as one
 * intracommunicator, the parent rank 0. A failed spawn is PL_ERR_IO with
 * Open MPI's reason, *comm is MPI_COMM_NULL and MPI is ended. Any other
 * failure leaves *comm set: end it with pl_launch_end. */
int pl_launch_spawn(int nranks, char **argv, MPI_Comm *comm, pl_error *err);

/* In a process a launcher started, after MPI_Init: *spawned says whether
 * this program started it (pl_launch_spawn, or pl_launch_siblings through
 * mpirun), and if so *comm is the job's intracommunicator (the merged one,
 * or MPI_COMM_WORLD for siblings), to be ended with pl_launch_end (also on
 * failure, which is collective). */
int pl_launch_join(MPI_Comm *comm, int *spawned, pl_error *err);

/* Sends sig to the ranks this process started (spawned, or siblings once
 * pl_launch_track_ranks found them): a Ctrl-C reaches only the parent
 * (Open MPI starts spawned children in a session of their own, and
 * mpirun runs in a process group of its own). A signal that comes before
 * they are known is sent once they are. Async-signal-safe. */
void pl_launch_forward_signal(int sig);

/* The end of a run this program started, collective over comm: rank 0
 * prints every rank's `line` (an error message, or "") in rank order, so
 * that nothing depends on Open MPI forwarding a child's output before the
 * parent exits, and gets the highest of the ranks' exit statuses; the
 * other ranks get 0 (their status is rank 0's to tell). Ends MPI (and
 * frees a spawned run's comm); a spawning parent then waits for the
 * children to exit, rank 0 of siblings sends the status to the process
 * that launched them and gets 0 (pl_launch_sibling_status). */
int pl_launch_end(MPI_Comm *comm, int status, const char *line);

#endif
