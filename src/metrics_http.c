/* Linux: accept4 */
#define _GNU_SOURCE
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

int metrics_http_init(struct metrics_http *h, int listen_fd, metrics_http_handler handler,
	void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->listen_fd = listen_fd;
	h->handler = handler;
	h->ctx = ctx;
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		h->conns[i].fd = -1;
	return listen_fd >= 0 ? set_nonblocking(listen_fd) : 0;
}

static void conn_close(struct metrics_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->got = 0;
	c->sent = 0;
	buf_free(&c->out);
}

void metrics_http_close(struct metrics_http *h)
{
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		conn_close(&h->conns[i]);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	h->listen_fd = -1;
}

size_t metrics_http_pollfds(const struct metrics_http *h, struct pollfd *fds)
{
	size_t n = 0;
	if (h->listen_fd < 0)
		return 0;
	fds[n++] = (struct pollfd){ .fd = h->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++) {
		const struct metrics_conn *c = &h->conns[i];
		if (c->fd >= 0)
			fds[n++] = (struct pollfd){ .fd = c->fd, .events = c->out.data ? POLLOUT : POLLIN };
	}
	return n;
}

int metrics_http_timeout_ms(const struct metrics_http *h, int max_ms)
{
	int64_t now = now_monotonic_ms();
	int64_t t = max_ms;
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && h->conns[i].deadline_ms - now < t)
			t = h->conns[i].deadline_ms - now;
	return t < 0 ? 0 : (int)t;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* The whole response into c->out: head, then the body unless HEAD. */
static void respond(struct metrics_conn *c, int status, const struct buf *body, bool head_only)
{
	size_t len = body ? body->len : 0;
	buf_reset(&c->out);
	if (buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: " CONTENT_TYPE "\r\n"
	               "Content-Length: %zu\r\n%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
	               status, reason(status), len, status == 405 ? "Allow: GET, HEAD\r\n" : "") ||
	    (!head_only && len && buf_append(&c->out, body->data, len)))
		buf_free(&c->out); /* out of memory: closed without an answer */
	c->sent = 0;
}

/* The head is in (or too large): parse the request line and answer. */
static void handle(struct metrics_http *h, struct metrics_conn *c, bool too_large)
{
	struct buf body = BUF_INIT;
	char method[8], target[256];
	int status = 400;
	bool head_only = false;
	if (too_large) {
		status = 431;
	} else if (sscanf(c->head, "%7s %255s HTTP/1.%*1[01]", method, target) == 2 &&
	           target[0] == '/') {
		head_only = strcmp(method, "HEAD") == 0;
		target[strcspn(target, "?")] = '\0';
		if (strcmp(method, "GET") != 0 && !head_only)
			status = 405;
		else if ((status = h->handler(h->ctx, target, &body)) != 200)
			buf_reset(&body);
	}
	if (status != 200 && buf_printf(&body, "%d %s\n", status, reason(status)) != 0)
		buf_reset(&body);
	respond(c, status, &body, head_only);
	buf_free(&body);
	if (!c->out.data)
		conn_close(c);
}

static void read_some(struct metrics_http *h, struct metrics_conn *c)
{
	ssize_t n = recv(c->fd, c->head + c->got, METRICS_HTTP_MAX_HEAD - c->got, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->got += (size_t)n;
	c->head[c->got] = '\0';
	if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
		handle(h, c, false);
	else if (c->got == METRICS_HTTP_MAX_HEAD)
		handle(h, c, true);
}

static void write_some(struct metrics_conn *c)
{
	ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		c->sent += (size_t)n;
	if (n <= 0 || c->sent == c->out.len)
		conn_close(c);
}

static struct metrics_conn *free_conn(struct metrics_http *h)
{
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd < 0)
			return &h->conns[i];
	return NULL;
}

/* Takes every waiting connection: one beyond the limit gets a short 503
 * (best effort: the socket is non-blocking) and is closed at once. */
static void accept_all(struct metrics_http *h)
{
	for (;;) {
		int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct metrics_conn *c = free_conn(h);
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			                           "Content-Length: 0\r\nConnection: close\r\n\r\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0) {
				/* the client is gone or not reading: closed all the same */
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->got = 0;
		c->deadline_ms = now_monotonic_ms() + METRICS_HTTP_DEADLINE_MS;
	}
}

static struct metrics_conn *conn_of(struct metrics_http *h, int fd)
{
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd == fd)
			return &h->conns[i];
	return NULL;
}

void metrics_http_step(struct metrics_http *h, const struct pollfd *fds, size_t n)
{
	if (h->listen_fd < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == h->listen_fd) {
			accept_all(h);
			continue;
		}
		struct metrics_conn *c = conn_of(h, fds[i].fd);
		if (!c)
			continue;
		if (fds[i].revents & (POLLERR | POLLNVAL))
			conn_close(c);
		else if (c->out.data)
			write_some(c);
		else
			read_some(h, c);
	}
	int64_t now = now_monotonic_ms();
	for (size_t i = 0; i < METRICS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && now >= h->conns[i].deadline_ms)
			conn_close(&h->conns[i]);
}

/* --- the client ----------------------------------------------------------- */

static int connect_to(const char *spec, char *err, size_t err_len)
{
	struct timeval tv = { METRICS_HTTP_DEADLINE_MS / 1000, 0 };
	int fd = -1;
	if (has_prefix(spec, "unix:")) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(spec + 5) >= sizeof(sa.sun_path)) {
			snprintf(err, err_len, "socket path too long: %s", spec + 5);
			return -1;
		}
		memcpy(sa.sun_path, spec + 5, strlen(spec + 5) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			snprintf(err, err_len, "%s: %s", spec, strerror(errno));
			close(fd);
			return -1;
		}
	} else {
		char host[256];
		const char *port;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
		if (hostport_split(spec, host, sizeof(host), &port) != 0) {
			snprintf(err, err_len, "expected unix:/path or host:port, got %s", spec);
			return -1;
		}
		int gai = getaddrinfo(host, port, &hints, &res);
		if (gai != 0) {
			snprintf(err, err_len, "%s: %s", spec, gai_strerror(gai));
			return -1;
		}
		snprintf(err, err_len, "%s: no address", spec);
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
					snprintf(err, err_len, "%s: %s", spec, strerror(errno));
					close(fd);
					fd = -1;
				}
			}
		}
		freeaddrinfo(res);
	}
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

#define CLIENT_MAX_RESPONSE (4 * 1024 * 1024)

int metrics_http_get(const char *spec, const char *path, struct buf *body, char *err,
	size_t err_len)
{
	struct buf req = BUF_INIT, resp = BUF_INIT;
	char chunk[4096];
	int rc = -1, status = 0;
	int fd = connect_to(spec, err, err_len);
	if (fd < 0)
		return -1;
	if (buf_printf(&req, "GET %s HTTP/1.1\r\nHost: sgid-fcgi\r\nConnection: close\r\n\r\n", path) ||
	    send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) {
		snprintf(err, err_len, "%s: sending the request: %s", spec, strerror(errno));
		goto done;
	}
	ssize_t n;
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0 && resp.len < CLIENT_MAX_RESPONSE)
		if (buf_append(&resp, chunk, (size_t)n) != 0)
			break;
	const char *end = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
	if (n < 0 || !end || sscanf(resp.data, "HTTP/1.%*1[01] %d", &status) != 1) {
		snprintf(err, err_len, "%s: no HTTP answer%s%s", spec, n < 0 ? ": " : "",
		         n < 0 ? strerror(errno) : "");
		goto done;
	}
	if (status != 200) {
		snprintf(err, err_len, "%s%s: HTTP %d", spec, path, status);
		goto done;
	}
	rc = buf_append(body, end + 4, resp.len - (size_t)(end + 4 - resp.data));
done:
	close(fd);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}
