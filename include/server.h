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

struct server_opts {
	int listen_fd;              /* 0 for the FastCGI convention */
	unsigned long max_requests; /* exit after this many (0 = no limit) */
};

/* Set by SIGTERM/SIGINT/SIGQUIT: finish the request in hand, then return. */
extern volatile sig_atomic_t server_stop_requested;
/* Installs the handlers above (no SA_RESTART, so accept() wakes up). */
void server_install_signals(void);
/* The process's SIGPIPE policy, for the supervisor and every worker:
 * ignored, so a peer that went away (the web server, Redis, sgID, the log
 * reader) is an EPIPE to handle, never the death of the process. */
void server_ignore_sigpipe(void);

/* Sets the log's request id from a request's FastCGI parameters (envp as
 * libfcgi hands them over): the web server's REQUEST_ID only, never a
 * header the client sent (HTTP_X_REQUEST_ID is spoofable); a random one
 * when it is absent. log_set_request_id sanitises it. */
void server_set_request_id(char **envp);

/* Serves until stopped or max_requests; 0 on a clean stop, -1 on error. */
int server_run(struct app *a, const struct server_opts *opts);

/* True when fd 0 is a socket (we were started as a FastCGI responder). */
int server_fd0_is_socket(void);

/* A worker's life: ignores SIGPIPE, sets up the app (Redis, curl, sgID
 * client) from cfg and serves requests on listen_fd until stopped or
 * max_requests; returns the process exit code. For the supervisor's
 * workers and main's fd-0 mode. */
int worker_main(const struct config *cfg, int listen_fd, unsigned long max_requests);

#endif
