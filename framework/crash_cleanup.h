/* Temporary output files removed when the process crashes.
 *
 * A file armed here is unlinked by a handler of SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL and SIGABRT, which then prints one line and re-raises the signal
 * with its default action, so that the exit status and core dump are the
 * crash's own (unless a file is blamed: pl_crash_cleanup_blame). A normal run
 * disarms the file once it is renamed into place or removed.
 * pl_crash_cleanup_now removes them for other handlers. */
#ifndef PIPELINE_FRAMEWORK_CRASH_CLEANUP_H
#define PIPELINE_FRAMEWORK_CRASH_CLEANUP_H

/* Installs the handlers (once; later calls do nothing), so that a crash
 * is reported even while no file is armed. Call it after MPI_Init, whose
 * own handlers it replaces. */
void pl_crash_cleanup_install(void);

/* Remembers path (copied) for removal on a crash and installs the
 * handlers on first use. Returns 0, or -1 when the path is too long or
 * all slots are taken (the file is then simply not cleaned up). */
int pl_crash_cleanup_arm(const char *path);

/* Forgets path (NULL is fine); call before renaming or removing it. */
void pl_crash_cleanup_disarm(const char *path);

/* Blames file for a crash of the calling thread until cleared (file
 * NULL): while set, a crash prints "pipeline: FILE: WHAT (signal N)",
 * removes the armed files and exits with status 1, the status of a job
 * failed on its data, instead of dying of the signal. For the calls into
 * a library that can crash on a damaged input file (libhdf5 1.10 reads
 * out of bounds on some damaged metadata), so that the user learns which
 * file. Both strings are borrowed: they must outlive the setting. */
void pl_crash_cleanup_blame(const char *file, const char *what);

/* Unlinks every armed file now and forgets it, saying so on standard
 * error; async-signal-safe, for a handler that ends the process itself
 * (a second SIGINT or SIGTERM). */
void pl_crash_cleanup_now(void);

#endif
