/* metrics_http: the metrics listener's plain HTTP/1.1, served from the
 * supervisor's single-threaded main loop (it forks: no threads). Every
 * socket is non-blocking and polled by the caller; at most
 * METRICS_HTTP_MAX_CONNS connections at once (more are answered 503 and
 * closed), a request head of at most METRICS_HTTP_MAX_HEAD bytes (431
 * past it), and each connection is closed METRICS_HTTP_DEADLINE_MS after
 * it was accepted, whatever it did: a client that sends nothing, or reads
 * nothing, holds one of those places for that long and never the loop.
 * GET and HEAD only, Connection: close. And the client side, for
 * sgid-fcgi --status. */
#ifndef SGID_METRICS_HTTP_H
#define SGID_METRICS_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_HTTP_MAX_CONNS 16
#define METRICS_HTTP_MAX_HEAD 8192
#define METRICS_HTTP_DEADLINE_MS 5000
/* the default of --metrics-listen for --status */
#define METRICS_HTTP_DEFAULT_ADDR "127.0.0.1:9464"

/* Fills body for path (query removed); returns the status: 200, or 404. */
typedef int (*metrics_http_handler)(void *ctx, const char *path, struct buf *body);

struct metrics_conn {
	int fd;                        /* -1: free */
	int64_t deadline_ms;
	size_t got;
	char head[METRICS_HTTP_MAX_HEAD + 1];
	struct buf out;                /* the response, once the head is in */
	size_t sent;
};

struct metrics_http {
	int listen_fd;                 /* -1: no listener; nothing to poll */
	metrics_http_handler handler;
	void *ctx;
	struct metrics_conn conns[METRICS_HTTP_MAX_CONNS];
};

/* Takes listen_fd (-1: none) and makes it non-blocking; 0 or -1. */
int metrics_http_init(struct metrics_http *h, int listen_fd, metrics_http_handler handler,
	void *ctx);
/* The fds to poll (the listener, then each connection), at most
 * 1 + METRICS_HTTP_MAX_CONNS; returns how many were written. */
size_t metrics_http_pollfds(const struct metrics_http *h, struct pollfd *fds);
/* How long the caller may sleep in poll: at most max_ms, less when a
 * connection's deadline comes sooner. */
int metrics_http_timeout_ms(const struct metrics_http *h, int max_ms);
/* Serves what poll reported on fds[0..n) (from metrics_http_pollfds),
 * and closes connections past their deadline. */
void metrics_http_step(struct metrics_http *h, const struct pollfd *fds, size_t n);
/* Closes every socket, the listener included (a forked worker drops the
 * copies it inherited this way: close, never shutdown). */
void metrics_http_close(struct metrics_http *h);

/* GET path from the listener at spec ("host:port" or "unix:/path"), within
 * METRICS_HTTP_DEADLINE_MS: the body on a 200 (0); -1 with err filled
 * otherwise (nothing listens, a timeout, another status). */
int metrics_http_get(const char *spec, const char *path, struct buf *body, char *err,
	size_t err_len);

#endif
