/* supervisor: a php-fpm-like pool. Opens the listening socket, preforks N
 * workers that share it, respawns any that exit (with backoff so a crash
 * loop does not spin), recycles workers after a number of requests,
 * reloads the configuration on SIGHUP by replacing workers one by one, and
 * on SIGTERM lets in-flight requests finish within a deadline. */
#ifndef SGID_SUPERVISOR_H
#define SGID_SUPERVISOR_H

#include <stddef.h>
#include <sys/types.h>
#include "cfg.h"

#define SUPERVISOR_MAX_WORKERS 256

struct supervisor_opts {
	const char *listen;          /* "unix:/path" or "host:port" */
	unsigned workers;
	unsigned threads;            /* request threads per worker */
	unsigned long max_requests;  /* per worker, 0 = never recycle */
	int stop_timeout_s;          /* SIGTERM deadline for in-flight requests */
	const char *env_file;        /* re-read on SIGHUP */
	const char *metrics_listen;  /* NULL, or where /metrics and /status are
	                                served (metrics_http.h) */
	pid_t (*fork_fn)(void);      /* NULL: fork(2); tests pass one that fails
	                                as fork does (EAGAIN) at a chosen call */
};

/* Opens a listening socket for "unix:/path" (mode 0660, a stale socket
 * file is replaced) or "host:port" (IPv4/IPv6 literal or name). Returns
 * the fd or -1 with err filled. */
int listen_socket_open(const char *spec, char *err, size_t err_len);

/* Runs the pool until SIGTERM/SIGINT. cfg is the validated configuration
 * (owned by the caller; replaced by a reloaded one on SIGHUP). Returns the
 * process exit code. */
int supervisor_run(const struct supervisor_opts *opts, struct config *cfg);

#endif
