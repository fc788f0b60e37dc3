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
/* Installs the handlers above (no SA_RESTART, so accept() wakes up) and
 * ignores SIGPIPE. */
void server_install_signals(void);

/* Serves until stopped or max_requests; 0 on a clean stop, -1 on error. */
int server_run(struct app *a, const struct server_opts *opts);

/* True when fd 0 is a socket (we were started as a FastCGI responder). */
int server_fd0_is_socket(void);

#endif
