/* Linux: accept4, epoll with EPOLLEXCLUSIVE. */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <fcntl.h>
#include <malloc.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"
#include "gateway.h"
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

/* Any parameter carrying a client's X-Sgid-* header, every copy looked at. */
static bool has_identity_header(FCGX_Request *r)
{
	for (char **e = r->envp; e && *e; e++)
		if (gateway_is_client_identity(*e, strcspn(*e, "=")))
			return true;
	return false;
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

int server_forwarded_for(char **envp, struct buf *out)
{
	static const char name[] = "HTTP_X_FORWARDED_FOR=";
	buf_reset(out);
	for (char **e = envp; e && *e; e++) {
		if (strncmp(*e, name, sizeof(name) - 1) != 0)
			continue;
		const char *v = *e + sizeof(name) - 1;
		if ((out->len && buf_append_str(out, ", ")) || buf_append_str(out, v))
			return -1;
	}
	if (out->len > SERVER_MAX_FORWARDED_FOR) {
		const char *cut = memchr(out->data + out->len - SERVER_MAX_FORWARDED_FOR, ',',
		                         SERVER_MAX_FORWARDED_FOR);
		size_t keep = cut ? out->len - (size_t)(cut + 1 - out->data) : 0;
		memmove(out->data, out->data + out->len - keep, keep);
		out->len = keep;
		out->data[keep] = '\0';
	}
	return 0;
}

/* name sent twice or more with different values. */
static bool param_conflict(char **envp, const char *name)
{
	size_t n = strlen(name);
	const char *first = NULL;
	for (char **e = envp; e && *e; e++) {
		if (strncmp(*e, name, n) != 0 || (*e)[n] != '=')
			continue;
		if (!first)
			first = *e + n + 1;
		else if (strcmp(first, *e + n + 1) != 0)
			return true;
	}
	return false;
}

bool server_gateway_params_conflict(char **envp)
{
	return param_conflict(envp, "SGID_GATEWAY_SCOPE") || param_conflict(envp, "SGID_REQUIRE") ||
	       param_conflict(envp, "SGID_REQUIRE_NAME");
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
	int64_t start_us = metrics_now_us();
	struct response res;
	struct buf out = BUF_INIT, xff = BUF_INIT;
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

	/* The role from the FCGI_BEGIN_REQUEST record (libfcgi also puts it
	 * first in envp as FCGI_ROLE); an authorizer gets no body (FastCGI 1.0
	 * section 6.3), so none is read. */
	bool authorizer = r->role == FCGI_AUTHORIZER;
	if (n < 0 || (size_t)n >= sizeof(path)) {
		resp_json_error(&res, 414, "uri_too_long", "request path too long");
	} else if (!authorizer && drain_body(r) != 0) {
		resp_json_error(&res, 413, "payload_too_large", "request body too large");
	} else if (server_forwarded_for(r->envp, &xff) != 0) {
		resp_text(&res, 500, "Internal Server Error");
	} else {
		struct request req = {
			.role = authorizer ? REQUEST_AUTHORIZER : REQUEST_RESPONDER,
			.method = method, .path = path, .query = query ? query : "",
			.cookie = param(r, "HTTP_COOKIE"), .origin = param(r, "HTTP_ORIGIN"),
			.ac_request_method = param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
			.accept = param(r, "HTTP_ACCEPT"), .sec_fetch_mode = param(r, "HTTP_SEC_FETCH_MODE"),
			.sec_fetch_site = param(r, "HTTP_SEC_FETCH_SITE"),
			.gateway_scope = param(r, "SGID_GATEWAY_SCOPE"),
			.require = param(r, "SGID_REQUIRE"), .require_name = param(r, "SGID_REQUIRE_NAME"),
			.upgrade = param(r, "HTTP_UPGRADE"),
			.identity_header_sent = has_identity_header(r),
			.gateway_params_conflict = server_gateway_params_conflict(r->envp),
			.request_uri = param(r, "REQUEST_URI"),
			.original_uri = param(r, "SGID_ORIGINAL_URI"),
			.original_method = param(r, "SGID_ORIGINAL_METHOD"),
			.remote_addr = param(r, "REMOTE_ADDR"),
			.x_forwarded_for = xff.len ? buf_cstr(&xff) : NULL,
			.user_agent = param(r, "HTTP_USER_AGENT"),
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
	int64_t took_us = metrics_now_us() - start_us;
	metrics_count_request(a->metrics, info.route, res.status, took_us);
	log_info("%s %s route=%s status=%d ms=%lld", method, n > 0 && (size_t)n < sizeof(path) ? path : "-",
	         info.route, res.status, (long long)(took_us / 1000));
	log_set_request_id(NULL);
	buf_free(&out);
	buf_free(&xff);
	resp_free(&res);
}

/* We accept connections ourselves: so each gets read/write timeouts before
 * libfcgi reads the request from it (FCGX_Accept_r takes a connection
 * already in ipcFd; keepConnection stops its opening Finish from closing
 * it). The request threads of a process wait in ONE epoll set, where
 * epoll_wait queues its waiters last in, first out: a connection wakes the
 * thread that went idle last, whose stack, heap and Redis connection are
 * still in the cache (a set per thread woke them in turn, coldest first).
 * The listening socket is in the set with EPOLLEXCLUSIVE, so a connection
 * wakes one process of a pool, not all; level-triggered, so a connection
 * that one thread was told of and did not take is still announced to the
 * next (edge-triggered lost the connections of a stopping worker). It is
 * non-blocking: a thread that loses the race for a connection gets EAGAIN.
 * The set also holds the worker's stop eventfd (level-triggered, never
 * read): once it is written, every idle thread wakes in turn and leaves,
 * a busy one when its request is done. Stop signals go to the worker's
 * main thread only. */
struct acceptor {
	int listen_fd;
	int epoll_fd;
};

static bool transient_accept_error(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO ||
	       e == ECONNRESET || e == ETIMEDOUT || e == EPIPE || e == EMFILE || e == ENFILE;
}

static int acceptor_open(struct acceptor *acc, int listen_fd, int stop_fd)
{
	acc->listen_fd = listen_fd;
	acc->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (acc->epoll_fd < 0)
		return -1;
	struct epoll_event stop = { .events = EPOLLIN, .data.fd = stop_fd };
	if (epoll_ctl(acc->epoll_fd, EPOLL_CTL_ADD, stop_fd, &stop) != 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd };
	if (epoll_ctl(acc->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
		return 0;
	ev.events = EPOLLIN; /* kernels before 4.5: every idle worker wakes */
	return epoll_ctl(acc->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
}

/* Returns 1 with a connection in r, 0 to look at the stop flag again, -1 on
 * a fatal error. A connection announced with the stop is still taken: it
 * was accepted by the kernel on our listening socket, and a stopping
 * worker serves what it took. */
static int wait_and_accept(const struct acceptor *acc, FCGX_Request *r)
{
	struct epoll_event ev[2];
	int n = epoll_wait(acc->epoll_fd, ev, 2, -1);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	bool readable = false;
	for (int i = 0; i < n; i++)
		readable = readable || ev[i].data.fd == acc->listen_fd;
	if (!readable)
		return 0; /* the stop eventfd */
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

/* Threads free to take new requests. Quick requests (auth-url, a cached
 * userinfo, health) only use the CPU, and more of them at once than a few
 * per core cost more each (cache, scheduler: 2 x 160 threads spent 28%
 * more CPU per auth-url than 2 x 8), so at most `free_max` threads of a
 * process accept; the others stand by, each on a condition variable of its
 * own, in a stack. A thread that starts waiting on the provider (the bulkhead
 * admitted it) calls the one that stood by last (its stack, heap and
 * connections are the warmest; a shared condition variable woke the
 * coldest, and every thread's memory in turn) to take its place, and one
 * too many after such a wait stands by again once its request is done:
 * a slow provider holds threads, never the quick requests. */
struct request_thread;
struct free_threads {
	pthread_mutex_t lock;              /* guards the plain fields */
	unsigned free_max;
	atomic_uint active;                /* threads not on standby */
	atomic_uint in_sgid;               /* of those, waiting on sgID */
	struct request_thread *standby;    /* the last to stand by first */
};

/* The process: read-only after start but for the atomics, the stop eventfd,
 * which any thread may write, and the free threads behind their lock. */
struct worker_shared {
	const struct worker_opts *opts;
	int stop_fd;                       /* eventfd */
	struct acceptor acc;               /* one epoll set for all threads */
	struct free_threads free;
	struct sb_wait_hook on_sgid;       /* calls the two below */
	atomic_bool stop;
	atomic_ulong served;
	atomic_int failed;                 /* a thread hit a fatal error */
};

/* One request thread: everything it touches per request is here. */
struct request_thread {
	pthread_t tid;
	bool started;
	struct worker_shared *w;
	struct app app;
	bool app_ready;
	FCGX_Request req;
	bool req_ready;
	/* standing by, behind w->free.lock: */
	pthread_cond_t wake;
	bool wake_ready;
	bool called;
	struct request_thread *below;
};

/* Wakes every idle thread: those in epoll_wait by the eventfd, those on
 * standby by their condition variable. */
static void request_stop(struct worker_shared *w)
{
	atomic_store(&w->stop, true);
	uint64_t one = 1;
	if (write(w->stop_fd, &one, sizeof(one)) < 0) {
		/* the counter is non-zero already: the threads are waking */
	}
	pthread_mutex_lock(&w->free.lock);
	for (struct request_thread *t = w->free.standby; t; t = t->below)
		pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&w->free.lock);
}

/* The bulkhead admitted a provider call: the thread that stood by last
 * takes this one's place among the free threads. */
static void sgid_wait_begins(void *ctx)
{
	struct free_threads *f = ctx;
	pthread_mutex_lock(&f->lock);
	unsigned in_sgid = atomic_fetch_add(&f->in_sgid, 1) + 1;
	struct request_thread *next = f->standby;
	if (next && atomic_load(&f->active) - in_sgid < f->free_max) {
		f->standby = next->below;
		next->called = true;
		atomic_fetch_add(&f->active, 1);
		pthread_cond_signal(&next->wake);
	}
	pthread_mutex_unlock(&f->lock);
}

static void sgid_wait_ends(void *ctx)
{
	struct free_threads *f = ctx;
	atomic_fetch_sub(&f->in_sgid, 1);
}

/* Before taking a new request: a thread one too many stands by until it is
 * called (true) or the worker stops (false). Two atomic loads otherwise. */
static bool stand_by_if_spare(struct worker_shared *w, struct request_thread *t)
{
	struct free_threads *f = &w->free;
	if (atomic_load(&f->active) - atomic_load(&f->in_sgid) <= f->free_max)
		return true;
	bool go = true;
	pthread_mutex_lock(&f->lock);
	if (atomic_load(&f->active) - atomic_load(&f->in_sgid) > f->free_max) {
		atomic_fetch_sub(&f->active, 1);
		t->called = false;
		t->below = f->standby;
		f->standby = t;
		while (!t->called && !atomic_load(&w->stop))
			pthread_cond_wait(&t->wake, &f->lock);
		go = t->called; /* else stopping: left on the stack, nobody calls */
	}
	pthread_mutex_unlock(&f->lock);
	return go;
}

static void *request_thread_main(void *arg)
{
	struct request_thread *t = arg;
	struct worker_shared *w = t->w;
	const struct worker_opts *o = w->opts;

	scoreboard_set(t->app.slot, SLOT_IDLE);
	while (!atomic_load(&w->stop)) {
		if (t->req.ipcFd < 0) {
			if (!stand_by_if_spare(w, t))
				break;
			int got = wait_and_accept(&w->acc, &t->req);
			if (got < 0) {
				log_error("accept failed: %s", strerror(errno));
				atomic_store(&w->failed, 1);
				request_stop(w);
				break;
			}
			if (got == 0)
				continue;
		}
		int arc = FCGX_Accept_r(&t->req);
		if (arc < 0) {
			/* a peer that broke off or stalled (timeout): next one */
			if (arc == -9999 || transient_accept_error(-arc))
				continue;
			log_error("FastCGI accept failed: %s", strerror(-arc));
			atomic_store(&w->failed, 1);
			request_stop(w);
			break;
		}
		scoreboard_set(t->app.slot, SLOT_BUSY);
		handle_one(&t->app, &t->req);
		FCGX_Finish_r(&t->req);
		scoreboard_set(t->app.slot, SLOT_IDLE);
		unsigned long n = atomic_fetch_add(&w->served, 1) + 1;
		if (o->max_requests && n == o->max_requests) {
			log_info("served %lu requests: exiting for recycling", n);
			request_stop(w);
		}
	}
	return NULL;
}

static void threads_stop(struct worker_shared *w, struct request_thread *t, unsigned n)
{
	request_stop(w);
	/* all joined first: a running thread may still call any standby one */
	for (unsigned i = 0; i < n; i++)
		if (t[i].started)
			pthread_join(t[i].tid, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (t[i].req_ready)
			FCGX_Free(&t[i].req, 1);
		if (t[i].wake_ready)
			pthread_cond_destroy(&t[i].wake);
		if (t[i].app_ready)
			app_free(&t[i].app);
	}
}

/* Waits for a stop signal (SIGTERM, SIGINT, SIGQUIT) or a thread's stop.
 * SIGHUP reopens the audit log (logrotate moved it): under spawn-fcgi it
 * is sent to us; under the supervisor a reload starts new workers, which
 * open it afresh, and a SIGHUP sent to a worker itself is taken here too
 * (ignored but blocked, it stays pending for sigtimedwait). */
static void wait_for_stop(struct worker_shared *w, const sigset_t *stops)
{
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	while (!atomic_load(&w->stop) && !server_stop_requested) {
		int sig = sigtimedwait(stops, NULL, &tick);
		if (sig == SIGHUP) {
			audit_reopen();
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			server_stop_requested = 1;
			return;
		}
	}
}

int server_run(const struct config *cfg, const struct worker_opts *opts,
	const struct app_shared *shared)
{
	struct worker_shared w = { .opts = opts, .stop_fd = -1, .acc = { -1, -1 } };
	unsigned n = opts->threads ? opts->threads : 1;
	int rc = -1;
	sigset_t stops;

	atomic_init(&w.stop, false);
	atomic_init(&w.served, 0);
	atomic_init(&w.failed, 0);
	struct request_thread *t = calloc(n, sizeof(*t));
	if (!t) {
		log_error("out of memory for %u request threads", n);
		return -1;
	}
	pthread_mutex_init(&w.free.lock, NULL);
	w.free.free_max = n < SERVER_FREE_THREADS ? n : SERVER_FREE_THREADS;
	atomic_init(&w.free.active, n);
	atomic_init(&w.free.in_sgid, 0);
	w.on_sgid = (struct sb_wait_hook){ sgid_wait_begins, sgid_wait_ends, &w.free };
	/* the threads inherit this mask: stop signals reach the main thread only */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGQUIT);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);

	int fl = fcntl(opts->listen_fd, F_GETFL);
	w.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fl < 0 || fcntl(opts->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 || w.stop_fd < 0 ||
	    acceptor_open(&w.acc, opts->listen_fd, w.stop_fd) != 0) {
		log_error("listening socket: %s", strerror(errno));
		goto done;
	}
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		goto done;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SERVER_THREAD_STACK);
	unsigned ready = 0;
	for (; ready < n; ready++) {
		struct request_thread *rt = &t[ready];
		rt->w = &w;
		if (app_init(&rt->app, cfg, shared) != 0) {
			log_error("request thread %u: initialisation failed (out of memory, or as said above)", ready);
			break;
		}
		rt->app_ready = true;
		app_attach_slot(&rt->app,
		                (struct sb_slot_ref){ opts->scoreboard, opts->slot_base + ready, &w.on_sgid });
		if (opts->scoreboard && rt->app.slot.index < opts->scoreboard->n_slots)
			atomic_store(&opts->scoreboard->shm->slots[rt->app.slot.index].pid, (int)getpid());
		if (FCGX_InitRequest(&rt->req, opts->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
			log_error("request thread %u: FCGX_InitRequest failed", ready);
			break;
		}
		rt->req_ready = true;
		if (pthread_cond_init(&rt->wake, NULL) != 0) {
			log_error("request thread %u: pthread_cond_init failed", ready);
			break;
		}
		rt->wake_ready = true;
		int e = pthread_create(&rt->tid, &attr, request_thread_main, rt);
		if (e != 0) {
			log_error("request thread %u: %s", ready, strerror(e));
			break;
		}
		rt->started = true;
	}
	pthread_attr_destroy(&attr);
	if (ready == n) {
		log_info("worker ready: %u request threads, issuer %s", n, cfg->issuer);
		wait_for_stop(&w, &stops);
		rc = atomic_load(&w.failed) ? -1 : 0;
	}
	threads_stop(&w, t, n);
done:
	if (w.acc.epoll_fd >= 0)
		close(w.acc.epoll_fd);
	if (w.stop_fd >= 0)
		close(w.stop_fd);
	pthread_mutex_destroy(&w.free.lock);
	free(t);
	return rc;
}

int worker_main(const struct config *cfg, const struct worker_opts *opts)
{
	struct worker_opts o = *opts;
	struct provider_shared *ps = NULL;
	struct scoreboard *own_sb = NULL;
	int rc = 1;

	/* before any connection (Redis, the provider, the web server) exists */
	server_ignore_sigpipe();
	log_set_level(cfg->log_level);
	if (httpc_global_init() != 0) {
		log_error("libcurl initialisation failed");
		return 1;
	}
	if (o.threads == 0)
		o.threads = SERVER_DEFAULT_THREADS;
	/* glibc gives threads up to 8 malloc arenas per core, each with heaps
	 * of its own: with 64 threads that is most of a worker's memory. A few
	 * arenas serve a few cores as well. */
	mallopt(M_ARENA_MAX, SERVER_MALLOC_ARENAS);
	/* alone (spawn-fcgi, lighttpd, systemd): a bulkhead of our own */
	if (!o.scoreboard) {
		int max = cfg->max_inflight > 0 ? cfg->max_inflight : SERVER_DEFAULT_SGID_SHARE(o.threads);
		own_sb = scoreboard_create(o.threads, max > 0 ? max : 1, cfg->inflight_wait_ms);
		if (!own_sb) {
			log_error("scoreboard: out of memory");
			return 1;
		}
		o.scoreboard = own_sb;
		o.slot_base = 0;
	}
	struct httpc_share *share = httpc_share_new();
	ps = share ? provider_shared_new(cfg) : NULL;
	if (!ps) {
		log_error("worker initialisation failed (out of memory)");
		httpc_share_free(share);
		scoreboard_free(own_sb);
		return 1;
	}
	char why[600];
	if (audit_open(cfg->audit_log, &cfg->trusted_proxies, why, sizeof(why)) != 0) {
		log_error("AUDIT_LOG: %s", why);
		provider_shared_free(ps);
		httpc_share_free(share);
		scoreboard_free(own_sb);
		return 1;
	}
	server_install_signals();
	struct app_shared shared = { .http = share, .provider = ps };
	rc = server_run(cfg, &o, &shared) == 0 ? 0 : 1;
	log_info("worker stopping");
	audit_close();
	provider_shared_free(ps);
	httpc_share_free(share);
	scoreboard_free(own_sb);
	return rc;
}
