#include "supervisor.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "log.h"
#include "metrics_http.h"
#include "metrics_page.h"
#include "scoreboard.h"
#include "server.h"
#include "util.h"

#define LISTEN_BACKLOG 1024
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define FAST_EXIT_MS 2000   /* a worker that dies sooner counts as a crash loop */

/* --- listening socket -------------------------------------------------- */

static int open_unix(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* stale socket from an earlier run */
	mode_t old = umask(0117); /* srw-rw----: the web server's group may connect */
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, err_len, "bind/listen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_tcp(const char *spec, char *err, size_t err_len)
{
	char host[256];
	const char *port;
	if (hostport_split(spec, host, sizeof(host), &port) != 0) {
		snprintf(err, err_len, "expected unix:/path or host:port, got %s", spec);
		return -1;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, err_len, "%s: %s", spec, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
			break;
		snprintf(err, err_len, "bind/listen %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int listen_socket_open(const char *spec, char *err, size_t err_len)
{
	snprintf(err, err_len, "cannot listen on %s", spec);
	if (has_prefix(spec, "unix:"))
		return open_unix(spec + 5, err, err_len);
	return open_tcp(spec, err, err_len);
}

/* --- the pool ---------------------------------------------------------- */

struct worker {
	pid_t pid;              /* 0: free slot */
	int sb_range;           /* its threads' scoreboard slots: range * threads */
	unsigned generation;    /* config generation it was started with */
	int64_t started_ms;
	int retiring;           /* told to stop (reload or shutdown) */
};

struct pool {
	const struct supervisor_opts *opts;
	struct config *cfg;
	int listen_fd;
	unsigned generation;
	struct worker w[SUPERVISOR_MAX_WORKERS];
	unsigned fast_exits;     /* consecutive early deaths */
	int64_t next_spawn_ms;   /* backoff: no spawns before this */
	int stopping;
	unsigned threads;        /* request threads per worker */
	struct scoreboard *sb;   /* shared with the workers: the bulkhead */
	unsigned sb_ranges;      /* how many workers' slot ranges it holds */
	int signal_fd;           /* the pool's signals, read in the main loop */
	struct metrics_http metrics; /* the metrics listener, if any */
};

/* A scoreboard range no live worker uses (a reload runs two pools side by
 * side, and workers retiring from an earlier one may still finish
 * requests): -1 when all are taken; that worker then has no bulkhead. */
static int free_range(const struct pool *p)
{
	for (unsigned r = 0; r < p->sb_ranges; r++) {
		bool used = false;
		for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS && !used; i++)
			used = p->w[i].pid > 0 && p->w[i].sb_range == (int)r;
		if (!used)
			return (int)r;
	}
	return -1;
}

static sigset_t pool_signals;

/* Starts a worker with cfg into slot. */
static pid_t spawn_worker(struct pool *p, struct worker *slot, const struct config *cfg,
	unsigned generation)
{
	int range = free_range(p);
	pid_t pid = p->opts->fork_fn ? p->opts->fork_fn() : fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* the worker dies with the supervisor, never orphaned */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(0);
		/* the supervisor's sockets: a copy kept open here would hold a
		 * scrape's connection open after the supervisor closed it */
		close(p->signal_fd);
		metrics_http_close(&p->metrics);
		sigprocmask(SIG_UNBLOCK, &pool_signals, NULL);
		signal(SIGHUP, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		struct worker_opts wo = {
			.listen_fd = p->listen_fd, .max_requests = p->opts->max_requests,
			.threads = p->threads,
			.scoreboard = range >= 0 ? p->sb : NULL,
			.slot_base = range >= 0 ? (size_t)range * p->threads : 0,
		};
		if (range < 0)
			log_warn("supervisor: no free scoreboard range: this worker counts its own sgID calls");
		_exit(worker_main(cfg, &wo));
	}
	slot->sb_range = range;
	slot->pid = pid;
	slot->generation = generation;
	slot->started_ms = now_monotonic_ms();
	slot->retiring = 0;
	atomic_fetch_add(&p->sb->sup.workers_alive, 1);
	log_info("supervisor: worker %d started (generation %u)", (int)pid, generation);
	return pid;
}

static void retire(struct worker *w)
{
	w->retiring = 1;
	kill(w->pid, SIGTERM);
}

/* Starts workers for empty slots, unless backing off after crashes. */
static void fill_pool(struct pool *p)
{
	if (p->stopping || now_monotonic_ms() < p->next_spawn_ms)
		return;
	for (unsigned i = 0; i < p->opts->workers; i++)
		if (p->w[i].pid == 0 && spawn_worker(p, &p->w[i], p->cfg, p->generation) < 0)
			return;
}

static struct worker *find_worker(struct pool *p, pid_t pid)
{
	for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS; i++)
		if (p->w[i].pid == pid)
			return &p->w[i];
	return NULL;
}

static void reap(struct pool *p)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = find_worker(p, pid);
		if (!w)
			continue;
		/* a worker killed mid-request leaves its slots as they were */
		scoreboard_release_pid(p->sb, pid);
		atomic_fetch_sub(&p->sb->sup.workers_alive, 1);
		int64_t lived = now_monotonic_ms() - w->started_ms;
		int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (WIFSIGNALED(status))
			log_warn("supervisor: worker %d killed by signal %d after %lld ms", (int)pid,
			         WTERMSIG(status), (long long)lived);
		else
			log_info("supervisor: worker %d exited with status %d after %lld ms", (int)pid,
			         WEXITSTATUS(status), (long long)lived);
		if (!w->retiring && !p->stopping) {
			metrics_inc(&p->sb->sup.respawns, 1); /* fill_pool starts another */
			if (!clean && lived < FAST_EXIT_MS) {
				/* crash loop: back off exponentially, capped */
				p->fast_exits++;
				int64_t delay = BACKOFF_MIN_MS;
				for (unsigned k = 1; k < p->fast_exits && delay < BACKOFF_MAX_MS; k++)
					delay *= 2;
				if (delay > BACKOFF_MAX_MS)
					delay = BACKOFF_MAX_MS;
				p->next_spawn_ms = now_monotonic_ms() + delay;
				log_warn("supervisor: worker died early; next start in %lld ms", (long long)delay);
			} else {
				p->fast_exits = 0;
			}
		}
		w->pid = 0;
	}
}

/* A free slot past the pool size, for a worker beside the pool's. */
static struct worker *spare_slot(struct pool *p)
{
	for (unsigned k = p->opts->workers; k < SUPERVISOR_MAX_WORKERS; k++)
		if (p->w[k].pid == 0)
			return &p->w[k];
	return NULL;
}

/* SIGHUP: validate the new configuration first; a bad one keeps the
 * running pool. Then start a full pool of new workers beside the old one
 * before retiring any old worker, so the pool never shrinks and a reload
 * either completes or leaves everything as it was: when a start fails
 * (fork refused, no spare slot), the new workers already started are
 * stopped and the old ones, never told to stop, go on with the old
 * configuration. A half-reloaded pool would serve two configurations at
 * once, and the log could not say which. */
static void reload(struct pool *p)
{
	struct config next;
	struct cfg_error err;
	struct worker *fresh[SUPERVISOR_MAX_WORKERS];
	unsigned want = p->opts->workers, started = 0, gen = p->generation + 1;

	if (cfg_load(&next, p->opts->env_file, &err) != 0) {
		log_error("supervisor: reload refused, keeping the running configuration: %s: %s",
		          err.var, err.msg);
		metrics_inc(&p->sb->sup.reload_failures, 1);
		return;
	}
	while (started < want) {
		struct worker *slot = spare_slot(p);
		if (!slot || spawn_worker(p, slot, &next, gen) < 0)
			break;
		fresh[started++] = slot;
	}
	if (started < want) {
		for (unsigned i = 0; i < started; i++)
			retire(fresh[i]);
		log_error("supervisor: reload failed: %u of %u new workers started (stopped again); "
		          "old configuration kept (generation %u)", started, want, p->generation);
		cfg_free(&next); /* wipes the secrets */
		metrics_inc(&p->sb->sup.reload_failures, 1);
		return;
	}
	/* commit: the new workers take the pool's slots, the old ones retire
	 * from the spare slots the new ones leave */
	for (unsigned i = 0; i < want; i++) {
		struct worker old = p->w[i];
		p->w[i] = *fresh[i];
		*fresh[i] = old;
		if (old.pid > 0)
			retire(fresh[i]);
	}
	log_set_level(next.log_level);
	cfg_free(p->cfg);
	*p->cfg = next;
	secure_zero(&next, sizeof(next));
	p->generation = gen;
	p->fast_exits = 0;
	p->next_spawn_ms = 0;
	metrics_inc(&p->sb->sup.reloads, 1);
	log_info("supervisor: configuration reloaded (generation %u, %u workers replaced)",
	         p->generation, want);
}

static void shutdown_pool(struct pool *p)
{
	p->stopping = 1;
	for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS; i++)
		if (p->w[i].pid > 0)
			retire(&p->w[i]);
	int64_t deadline = now_monotonic_ms() + (int64_t)p->opts->stop_timeout_s * 1000;
	for (;;) {
		reap(p);
		unsigned left = 0;
		for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS; i++)
			left += p->w[i].pid > 0;
		if (left == 0)
			return;
		if (now_monotonic_ms() >= deadline) {
			log_warn("supervisor: %u worker(s) still busy after %d s: killing", left,
			         p->opts->stop_timeout_s);
			for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS; i++)
				if (p->w[i].pid > 0)
					kill(p->w[i].pid, SIGKILL);
			deadline = now_monotonic_ms() + 5000;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* The metrics listener's pages (metrics_page.h). */
static int serve_metrics(void *ctx, const char *path, struct buf *body)
{
	struct pool *p = ctx;
	if (strcmp(path, "/metrics") == 0)
		return metrics_page_render(p->sb, body) == 0 ? 200 : 500;
	if (strcmp(path, "/status") != 0)
		return 404;
	struct metrics_worker ws[SUPERVISOR_MAX_WORKERS];
	size_t n = 0;
	int64_t now = now_monotonic_ms();
	for (unsigned i = 0; i < SUPERVISOR_MAX_WORKERS; i++) {
		const struct worker *w = &p->w[i];
		if (w->pid <= 0)
			continue;
		ws[n++] = (struct metrics_worker){
			.pid = w->pid, .generation = w->generation, .up_s = (now - w->started_ms) / 1000,
			.slot_base = w->sb_range >= 0 ? (size_t)w->sb_range * p->threads : 0,
			.n_slots = w->sb_range >= 0 ? p->threads : 0, .retiring = w->retiring != 0,
		};
	}
	struct metrics_pool_view v = { p->sb, ws, n, p->generation, p->opts->listen };
	return metrics_status_render(&v, body) == 0 ? 200 : 500;
}

/* Every signal the signalfd holds. */
static void take_signals(struct pool *p)
{
	struct signalfd_siginfo si;
	while (read(p->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGHUP) {
			reload(p);
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			log_info("supervisor: signal %d: stopping, letting requests finish", sig);
			p->stopping = 1;
			/* new connections are refused at once instead of queueing
			 * behind workers that will not accept them */
			if (has_prefix(p->opts->listen, "unix:"))
				unlink(p->opts->listen + 5);
		} /* SIGCHLD: the loop reaps after every wake-up */
	}
}

int supervisor_run(const struct supervisor_opts *opts, struct config *cfg)
{
	char err[256];
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return 1;
	p->opts = opts;
	p->cfg = cfg;
	if (opts->workers == 0 || opts->workers > SUPERVISOR_MAX_WORKERS / 2) {
		log_error("supervisor: --workers must be 1..%d", SUPERVISOR_MAX_WORKERS / 2);
		free(p);
		return 64;
	}
	p->listen_fd = listen_socket_open(opts->listen, err, sizeof(err));
	if (p->listen_fd < 0) {
		log_error("supervisor: %s", err);
		free(p);
		return 1;
	}
	if (httpc_global_init() != 0) {
		log_error("libcurl initialisation failed");
		free(p);
		return 1;
	}
	/* three pools' worth of ranges: the pool, a reload's new one, and
	 * workers still retiring from an earlier reload */
	unsigned threads = opts->threads ? opts->threads : SERVER_DEFAULT_THREADS;
	p->threads = threads;
	p->sb_ranges = 3 * opts->workers;
	int max = cfg->max_inflight > 0 ? cfg->max_inflight : SERVER_DEFAULT_SGID_SHARE(opts->workers * threads);
	p->sb = scoreboard_create((size_t)p->sb_ranges * threads, max > 0 ? max : 1,
	                          cfg->inflight_wait_ms);
	if (!p->sb) {
		log_error("supervisor: scoreboard: out of memory");
		close(p->listen_fd);
		free(p);
		return 1;
	}
	/* Signals are read synchronously from a signalfd: no handler races,
	 * and the loop can poll the metrics listener beside them. */
	sigemptyset(&pool_signals);
	sigaddset(&pool_signals, SIGCHLD);
	sigaddset(&pool_signals, SIGTERM);
	sigaddset(&pool_signals, SIGINT);
	sigaddset(&pool_signals, SIGQUIT);
	sigaddset(&pool_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &pool_signals, NULL);
	server_ignore_sigpipe();
	p->signal_fd = signalfd(-1, &pool_signals, SFD_NONBLOCK | SFD_CLOEXEC);
	int metrics_fd = -1;
	if (opts->metrics_listen &&
	    (metrics_fd = listen_socket_open(opts->metrics_listen, err, sizeof(err))) < 0)
		log_error("supervisor: metrics listener: %s", err);
	if (p->signal_fd < 0 || (opts->metrics_listen && metrics_fd < 0) ||
	    metrics_http_init(&p->metrics, metrics_fd, serve_metrics, p) != 0) {
		log_error("supervisor: cannot start: %s", strerror(errno));
		if (p->signal_fd >= 0)
			close(p->signal_fd);
		if (metrics_fd >= 0)
			close(metrics_fd);
		close(p->listen_fd);
		scoreboard_free(p->sb);
		free(p);
		return 1;
	}

	log_info("supervisor: listening on %s with %u workers x %u threads, at most %d in sgID calls",
	         opts->listen, opts->workers, threads, p->sb->max_sgid);
	if (opts->metrics_listen)
		log_info("supervisor: metrics on %s (/metrics, /status)", opts->metrics_listen);
	fill_pool(p);
	while (!p->stopping) {
		struct pollfd fds[2 + METRICS_HTTP_MAX_CONNS];
		fds[0] = (struct pollfd){ .fd = p->signal_fd, .events = POLLIN };
		size_t n = 1 + metrics_http_pollfds(&p->metrics, fds + 1);
		if (poll(fds, n, metrics_http_timeout_ms(&p->metrics, 200)) > 0 && fds[0].revents)
			take_signals(p);
		reap(p); /* also after a timeout: catches a coalesced SIGCHLD */
		metrics_http_step(&p->metrics, fds + 1, n - 1);
		fill_pool(p);
	}
	metrics_http_close(&p->metrics);
	if (opts->metrics_listen && has_prefix(opts->metrics_listen, "unix:"))
		unlink(opts->metrics_listen + 5);
	shutdown_pool(p);
	close(p->signal_fd);
	close(p->listen_fd);
	if (has_prefix(opts->listen, "unix:"))
		unlink(opts->listen + 5);
	log_info("supervisor: stopped");
	scoreboard_free(p->sb);
	free(p);
	return 0;
}
