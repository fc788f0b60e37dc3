/* A fake HTTP/1.1 server for the unit tests, forked by the test on a
 * loopback port: one process accepts, one child per connection serves any
 * number of keep-alive requests through the test's handler. Counters live
 * in shared memory (connections, requests, requests per registered path),
 * so the test process sees what the server got. fh_stop (registered with
 * atexit by the tests) kills the whole process group; every process also
 * dies with its parent (PDEATHSIG) and on an alarm. */
#ifndef SGID_TEST_FAKE_HTTP_H
#define SGID_TEST_FAKE_HTTP_H

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FH_MAX_PATHS 16
#define FH_REQ_MAX (1 << 17)   /* one request, head and body */

struct fh_shared {
	int conns;      /* connections accepted */
	int requests;   /* requests read */
	int untracked;  /* requests to a path not registered with fh_track */
	struct { char path[96]; int n; } paths[FH_MAX_PATHS];
	size_t n_paths; /* written before the fork only */
};

/* One request as read: pointers into the connection's buffer. */
struct fh_request {
	const char *method;   /* "GET", ... */
	const char *target;   /* the request target, query included */
	const char *path;     /* the target without its query */
	const char *query;    /* after '?', "" when none */
	const char *head;     /* the whole head, "\r\n\r\n" included */
	size_t head_len;
	const char *body;
	size_t body_len;
	const char *raw;      /* head and body */
	size_t raw_len;
};

/* Answers one request on fd. 0 keeps the connection, non-zero closes it. */
typedef int (*fh_handler)(int fd, const struct fh_request *rq);

static struct fh_shared *fh_sh;
static pid_t fh_pid = -1;         /* leads its own process group */
static int fh_port;
static fh_handler fh_serve;
static unsigned fh_alarm_s = 120; /* the server's own lifetime bound */

static inline void fh_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* memmem is a GNU extension; the build is plain POSIX. */
static inline const char *fh_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return hay;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

static inline int fh_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* "HTTP/1.1 <status>", Content-Length, the extra header lines (each ending
 * in CRLF, or NULL), then the body. */
static inline int fh_respond(int fd, const char *status, const char *extra, const void *body,
	size_t len)
{
	char head[2048];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n",
		status, len, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (fh_write_all(fd, head, (size_t)n) != 0)
		return -1;
	return len ? fh_write_all(fd, body, len) : 0;
}

/* The value of a request header (case-insensitive name), trimmed, copied
 * into out; 0 when found. */
static inline int fh_header(const struct fh_request *rq, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = rq->head, *end = rq->head + rq->head_len;
	while (p < end) {
		const char *eol = fh_find(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t vl = (size_t)(eol - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= cap)
				return -1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

/* Registers a path whose requests are counted (before fh_start). */
static inline void fh_track(const char *path)
{
	if (fh_sh && fh_sh->n_paths < FH_MAX_PATHS) {
		snprintf(fh_sh->paths[fh_sh->n_paths].path, sizeof(fh_sh->paths[0].path), "%s", path);
		fh_sh->n_paths++;
	}
}

static inline int fh_conns(void)
{
	return __atomic_load_n(&fh_sh->conns, __ATOMIC_SEQ_CST);
}

static inline int fh_requests(void)
{
	return __atomic_load_n(&fh_sh->requests, __ATOMIC_SEQ_CST);
}

/* Requests received for a registered path; -1 for a path not registered. */
static inline int fh_count(const char *path)
{
	for (size_t i = 0; i < fh_sh->n_paths; i++)
		if (strcmp(fh_sh->paths[i].path, path) == 0)
			return __atomic_load_n(&fh_sh->paths[i].n, __ATOMIC_SEQ_CST);
	return -1;
}

static inline void fh_note(const char *path)
{
	__atomic_add_fetch(&fh_sh->requests, 1, __ATOMIC_SEQ_CST);
	for (size_t i = 0; i < fh_sh->n_paths; i++)
		if (strcmp(fh_sh->paths[i].path, path) == 0) {
			__atomic_add_fetch(&fh_sh->paths[i].n, 1, __ATOMIC_SEQ_CST);
			return;
		}
	__atomic_add_fetch(&fh_sh->untracked, 1, __ATOMIC_SEQ_CST);
}

static inline size_t fh_content_length(const char *head, size_t hlen)
{
	static const char name[] = "\r\ncontent-length:";
	for (size_t i = 0; i + sizeof(name) - 1 < hlen; i++)
		if (strncasecmp(head + i, name, sizeof(name) - 1) == 0)
			return (size_t)strtoul(head + i + sizeof(name) - 1, NULL, 10);
	return 0;
}

/* One connection, any number of requests (keep-alive). */
static inline void fh_serve_conn(int fd)
{
	static char req[FH_REQ_MAX + 1];
	size_t have = 0;
	for (;;) {
		const char *end = NULL;
		while (!(end = fh_find(req, have, "\r\n\r\n", 4))) {
			if (have == FH_REQ_MAX)
				return;
			ssize_t r = read(fd, req + have, FH_REQ_MAX - have);
			if (r <= 0)
				return;
			have += (size_t)r;
			/* a TLS ClientHello: answer in plain HTTP, as a real
			 * plain-text server would */
			if (req[0] == 0x16) {
				fh_respond(fd, "400 Bad Request", "Connection: close\r\n", "", 0);
				return;
			}
		}
		size_t hlen = (size_t)(end + 4 - req);
		size_t blen = fh_content_length(req, hlen);
		if (blen > FH_REQ_MAX - hlen)
			return;
		while (have < hlen + blen) {
			ssize_t r = read(fd, req + have, FH_REQ_MAX - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		size_t total = hlen + blen;
		char method[16] = "", target[1024] = "", path[1024];
		char saved = req[total];
		req[total] = '\0';
		if (sscanf(req, "%15s %1023s", method, target) != 2)
			return;
		memcpy(path, target, sizeof(path));
		char *q = strchr(path, '?');
		if (q)
			*q = '\0';
		struct fh_request rq = {
			.method = method, .target = target, .path = path,
			.query = q ? target + (q - path) + 1 : "",
			.head = req, .head_len = hlen, .body = req + hlen, .body_len = blen,
			.raw = req, .raw_len = total,
		};
		fh_note(path);
		int stop = fh_serve(fd, &rq);
		req[total] = saved;
		if (stop)
			return;
		memmove(req, req + total, have - total);
		have -= total;
	}
}

static inline void fh_server_main(int lfd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGCHLD, SIG_IGN); /* reap connection handlers */
	alarm(fh_alarm_s);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		__atomic_add_fetch(&fh_sh->conns, 1, __ATOMIC_SEQ_CST);
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(fh_alarm_s < 30 ? fh_alarm_s : 30);
			close(lfd);
			fh_serve_conn(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}

static inline int fh_listen_loopback(int backlog, int *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(in.sin_port);
	return fd;
}

/* A port nothing listens on (just closed). */
static inline int fh_free_port(void)
{
	int port = -1;
	int fd = fh_listen_loopback(1, &port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Maps the counters; call fh_track after this, fh_start after that. */
static inline int fh_init(void)
{
	if (fh_sh)
		return 0;
	void *p = mmap(NULL, sizeof(*fh_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	fh_sh = p;
	return 0;
}

/* Forks the server on 127.0.0.1:fh_port with handler h. */
static inline int fh_start(fh_handler h)
{
	if (fh_init() != 0)
		return -1;
	fh_serve = h;
	int lfd = fh_listen_loopback(64, &fh_port);
	if (lfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(lfd);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		fh_server_main(lfd);
		_exit(0);
	}
	setpgid(pid, pid);
	fh_pid = pid;
	close(lfd);
	return 0;
}

/* Kills the server and its connection handlers; safe to call twice. */
static inline void fh_stop(void)
{
	if (fh_pid > 0) {
		kill(-fh_pid, SIGKILL);
		kill(fh_pid, SIGKILL);
		waitpid(fh_pid, NULL, 0);
		fh_pid = -1;
	}
}

/* http://127.0.0.1:<port><path> in a static buffer. */
static inline const char *fh_url(const char *path)
{
	static char u[512];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", fh_port, path);
	return u;
}

#endif
