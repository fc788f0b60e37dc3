/* server: the only libfcgi user. Accept loop on a listening socket (fd 0
 * when started by spawn-fcgi, lighttpd or systemd), request in, response
 * out, one log line per request. */
#ifndef SGID_SERVER_H
#define SGID_SERVER_H

#include <signal.h>
#include "api.h"

#define SERVER_MAX_BODY (64 * 1024) /* request bodies are not used; larger is 413 */
#define SERVER_MAX_PATH 1024
/* A FastCGI peer that stalls while sending a request, or stops reading the
 * response, releases the worker after this long. */
#define SERVER_IO_TIMEOUT_S 10

#define SERVER_DEFAULT_THREADS 64
/* Request threads of a worker that take new requests at once; the others
 * stand by for the ones waiting on the provider (server.c, struct free_threads). */
#define SERVER_FREE_THREADS 8
#define SERVER_MAX_THREADS 1024
/* Stack of a request thread: the request path needs tens of KB (the
 * decrypted-userinfo table, OpenSSL, libcurl); only touched pages count. */
#define SERVER_THREAD_STACK (512 * 1024)
#define SERVER_MALLOC_ARENAS 4
/* The bulkhead's default: 4/5 of the request threads may be inside
 * provider calls, the other fifth stays for health, auth-url, cached userinfo and
 * logout (4 workers x 64 threads: 204 logins waiting on the provider at once). */
#define SERVER_DEFAULT_SGID_SHARE(threads) ((int)((threads) * 4 / 5))

struct worker_opts {
	int listen_fd;              /* 0 for the FastCGI convention */
	unsigned long max_requests; /* exit after this many, over all threads (0 = no limit) */
	unsigned threads;           /* request threads (0: SERVER_DEFAULT_THREADS) */
	struct scoreboard *scoreboard; /* the supervisor's, or NULL: one of our own */
	size_t slot_base;           /* our threads' slots: [slot_base, +threads) */
};

/* Set when a stop signal (SIGTERM/SIGINT/SIGQUIT) came: every thread
 * finishes the request in hand, then the worker returns. */
extern volatile sig_atomic_t server_stop_requested;
/* Installs the handlers above (no SA_RESTART, so accept() wakes up). */
void server_install_signals(void);
/* The process's SIGPIPE policy, for the supervisor and every worker:
 * ignored, so a peer that went away (the web server, Redis, the provider, the log
 * reader) is an EPIPE to handle, never the death of the process. */
void server_ignore_sigpipe(void);

/* Sets the log's request id from a request's FastCGI parameters (envp as
 * libfcgi hands them over): the web server's REQUEST_ID only, never a
 * header the client sent (HTTP_X_REQUEST_ID is spoofable); a random one
 * when it is absent. log_set_request_id sanitises it. */
void server_set_request_id(char **envp);

/* Bytes of X-Forwarded-For kept (all copies joined): past it the leftmost
 * entries, the ones farthest from us, are dropped whole. */
#define SERVER_MAX_FORWARDED_FOR 4096
/* Every HTTP_X_FORWARDED_FOR parameter of envp, in order, joined by ", "
 * into out (reset first): nginx passes a repeated header as several
 * parameters of one name and FCGX_GetParam returns only the first, the
 * one the client wrote. The audit log's trusted-proxy walk runs from the
 * right of the whole list. out stays empty (len 0) when there is none;
 * -1 out of memory. */
int server_forwarded_for(char **envp, struct buf *out);
/* True when a parameter the web server's config sets for the gateway
 * check (SGID_GATEWAY_SCOPE, SGID_REQUIRE, SGID_REQUIRE_NAME) comes more
 * than once with different values: FCGX_GetParam would return the first,
 * and which one the config meant is unknowable, so the check refuses. */
bool server_gateway_params_conflict(char **envp);

/* Serves on opts->threads request threads, each with its own app, until
 * stopped or max_requests; 0 on a clean stop, -1 on error. */
int server_run(const struct config *cfg, const struct worker_opts *opts,
	const struct app_shared *shared);

/* True when fd 0 is a socket (we were started as a FastCGI responder). */
int server_fd0_is_socket(void);

/* A worker's life: ignores SIGPIPE, sets up what its threads share (the
 * JWKS cache, libcurl's DNS and TLS-session caches, a scoreboard when the
 * supervisor gave none) and serves until stopped or max_requests; returns
 * the process exit code. For the supervisor's workers and main's fd-0
 * mode. */
int worker_main(const struct config *cfg, const struct worker_opts *opts);

#endif
