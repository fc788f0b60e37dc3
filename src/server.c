/* Linux: accept4, epoll with EPOLLEXCLUSIVE. */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "crypto.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

volatile sig_atomic_t server_stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	server_stop_requested = 1;
}

void server_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocked accept() must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

void server_ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

int server_fd0_is_socket(void)
{
	struct stat st;
	return fstat(0, &st) == 0 && S_ISSOCK(st.st_mode);
}

static const char *param(FCGX_Request *r, const char *name)
{
	return FCGX_GetParam(name, r->envp);
}

void server_set_request_id(char **envp)
{
	const char *id = FCGX_GetParam("REQUEST_ID", envp);
	if (id && *id) {
		log_set_request_id(id);
		return;
	}
	uint8_t raw[8];
	char hex[17];
	if (crypto_random(raw, sizeof(raw)) != 0)
		memset(raw, 0, sizeof(raw));
	hex_encode(raw, sizeof(raw), hex);
	log_set_request_id(hex);
}

/* Reads and discards a request body (no endpoint uses one). -1 when it
 * is larger than SERVER_MAX_BODY. */
static int drain_body(FCGX_Request *r)
{
	const char *cl = param(r, "CONTENT_LENGTH");
	if (!cl || !*cl)
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	if (errno || *end || n > SERVER_MAX_BODY)
		return -1;
	char scratch[4096];
	while (n > 0) {
		int want = n > sizeof(scratch) ? (int)sizeof(scratch) : (int)n;
		int got = FCGX_GetStr(scratch, want, r->in);
		if (got <= 0)
			break;
		n -= (unsigned long long)got;
	}
	return 0;
}

static void handle_one(struct app *a, FCGX_Request *r)
{
	int64_t start = now_monotonic_ms();
	struct response res;
	struct buf out = BUF_INIT;
	struct handled info = { "-" };
	char path[SERVER_MAX_PATH];

	server_set_request_id(r->envp);
	resp_init(&res);
	const char *method = param(r, "REQUEST_METHOD");
	const char *script = param(r, "SCRIPT_NAME");
	const char *pinfo = param(r, "PATH_INFO");
	const char *query = param(r, "QUERY_STRING");
	/* Route on SCRIPT_NAME + PATH_INFO: nginx and lighttpd split differently. */
	int n = snprintf(path, sizeof(path), "%s%s", script ? script : "", pinfo ? pinfo : "");
	if (!method)
		method = "GET";

	if (n < 0 || (size_t)n >= sizeof(path)) {
		resp_json_error(&res, 414, "uri_too_long", "request path too long");
	} else if (drain_body(r) != 0) {
		resp_json_error(&res, 413, "payload_too_large", "request body too large");
	} else {
		struct request req = {
			.method = method, .path = path, .query = query ? query : "",
			.cookie = param(r, "HTTP_COOKIE"), .origin = param(r, "HTTP_ORIGIN"),
			.ac_request_method = param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
		};
		api_handle(a, &req, &res, &info);
	}
	if (res.failed) {
		log_error("response refused (bad header or out of memory): sending 500");
		resp_reset(&res);
		resp_text(&res, 500, "Internal Server Error");
	}
	bool head = strcmp(method, "HEAD") == 0;
	if (resp_serialize(&res, &out) == 0) {
		/* HEAD: headers (with the real Content-Length) but no body */
		size_t len = head ? out.len - res.body.len : out.len;
		if (FCGX_PutStr(out.data, (int)len, r->out) < 0)
			log_warn("client went away before the response was written");
	}
	log_info("%s %s route=%s status=%d ms=%lld", method, n > 0 && (size_t)n < sizeof(path) ? path : "-",
	         info.route, res.status, (long long)(now_monotonic_ms() - start));
	log_set_request_id(NULL);
	buf_free(&out);
	resp_free(&res);
}

/* We accept connections ourselves: so each gets read/write timeouts before
 * libfcgi reads the request from it (FCGX_Accept_r takes a connection
 * already in ipcFd; keepConnection stops its opening Finish from closing
 * it), and so stop signals are delivered only while we wait here
 * (epoll_pwait with them unblocked): a signal can never interrupt a request
 * half read. Each worker waits in its own epoll set with EPOLLEXCLUSIVE, so
 * a new connection wakes one idle worker, not all of them; the listening
 * socket is non-blocking, so a worker that loses the race for a connection
 * (or libfcgi retrying an accept of its own after a broken request) gets
 * EAGAIN instead of blocking. */
struct acceptor {
	int listen_fd;
	int epoll_fd;
};

static bool transient_accept_error(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO ||
	       e == ECONNRESET || e == ETIMEDOUT || e == EPIPE || e == EMFILE || e == ENFILE;
}

static int acceptor_open(struct acceptor *acc, int listen_fd)
{
	acc->listen_fd = listen_fd;
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	acc->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (acc->epoll_fd < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	if (epoll_ctl(acc->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
		return 0;
	ev.events = EPOLLIN; /* kernels before 4.5: every idle worker wakes */
	return epoll_ctl(acc->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
}

/* Returns 1 with a connection in r, 0 to look at the stop flag again, -1 on
 * a fatal error. */
static int wait_and_accept(struct acceptor *acc, FCGX_Request *r, const sigset_t *waitmask)
{
	struct epoll_event ev;
	if (epoll_pwait(acc->epoll_fd, &ev, 1, -1, waitmask) < 0)
		return errno == EINTR ? 0 : -1;
	int fd = accept4(acc->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == EMFILE || e == ENFILE) { /* out of fds: do not spin */
			struct timespec pause = { 0, 100 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		errno = e;
		return transient_accept_error(e) ? 0 : -1;
	}
	struct timeval tv = { SERVER_IO_TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r->ipcFd = fd;
	r->keepConnection = 1;
	return 1;
}

int server_run(struct app *a, const struct server_opts *opts)
{
	FCGX_Request r;
	unsigned long served = 0;
	sigset_t stops, waitmask;

	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return -1;
	}
	if (FCGX_InitRequest(&r, opts->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("FCGX_InitRequest failed");
		return -1;
	}
	struct acceptor acc;
	if (acceptor_open(&acc, opts->listen_fd) != 0) {
		log_error("listening socket: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGQUIT);
	sigprocmask(SIG_BLOCK, &stops, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGQUIT);

	int rc = 0;
	while (!server_stop_requested) {
		if (r.ipcFd < 0) {
			int got = wait_and_accept(&acc, &r, &waitmask);
			if (got < 0) {
				log_error("accept failed: %s", strerror(errno));
				rc = -1;
				break;
			}
			if (got == 0)
				continue;
		}
		int arc = FCGX_Accept_r(&r);
		if (arc < 0) {
			/* a peer that broke off or stalled (timeout): next one */
			if (arc == -9999 || transient_accept_error(-arc))
				continue;
			log_error("FastCGI accept failed: %s", strerror(-arc));
			rc = -1;
			break;
		}
		handle_one(a, &r);
		FCGX_Finish_r(&r);
		if (opts->max_requests && ++served >= opts->max_requests) {
			log_info("served %lu requests: exiting for recycling", served);
			break;
		}
	}
	FCGX_Free(&r, 1);
	close(acc.epoll_fd);
	return rc;
}

int worker_main(const struct config *cfg, int listen_fd, unsigned long max_requests)
{
	struct app app;

	/* before any connection (Redis, sgID, the web server) exists */
	server_ignore_sigpipe();
	log_set_level(cfg->log_level);
	if (httpc_global_init() != 0) {
		log_error("libcurl initialisation failed");
		return 1;
	}
	if (app_init(&app, cfg) != 0) {
		log_error("worker initialisation failed (out of memory)");
		return 1;
	}
	server_install_signals();
	log_info("worker ready: issuer %s", cfg->issuer);
	struct server_opts so = { .listen_fd = listen_fd, .max_requests = max_requests };
	int rc = server_run(&app, &so);
	log_info("worker stopping");
	app_free(&app);
	return rc == 0 ? 0 : 1;
}
