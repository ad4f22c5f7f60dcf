/* Where an output of the job (sink, reject file, metrics) may go, checked
 * before any work so that a run never destroys what existed before it: an
 * input, a device, a FIFO, a link, or a file without `overwrite`. */
#ifndef PIPELINE_FRAMEWORK_OUTPUT_PATH_H
#define PIPELINE_FRAMEWORK_OUTPUT_PATH_H

#include <stddef.h>

enum pl_output_kind {
	PL_OUTPUT_FILE,	  /* a new file, or a regular file to replace */
	PL_OUTPUT_STDOUT, /* "-" or /dev/stdout: the process's standard output
			   */
	PL_OUTPUT_STREAM, /* a FIFO, character device or socket: written
			     through, never replaced */
};

/* Classifies path into *kind. A regular file that exists needs overwrite;
 * one that is also an input (same device and inode as one of the ninputs
 * paths) is refused even with it. A symbolic link is followed only to a
 * FIFO or device (a link to a file would be replaced by a file); a
 * directory and a block device are refused. Returns 0, or -1 with the
 * reason in why (no path in it). */
int pl_output_path_check(const char *path, int overwrite, char *const *inputs,
			 size_t ninputs, int *kind, char *why, size_t cap);

/* A descriptor writing to the stream path names (kind PL_OUTPUT_STDOUT or
 * PL_OUTPUT_STREAM): a copy of standard output, or path opened without
 * creating or truncating anything. -1 with errno on failure. */
int pl_output_open_stream(const char *path, int kind);

/* 1 when a and b name the same file: the same inode when both exist, else
 * the same path once their directories are resolved. */
int pl_same_file(const char *a, const char *b);

#endif
