/* supervisor: a SIGHUP reload that cannot start all its new workers rolls
 * back (the old workers keep serving the old configuration, the log says
 * so), one that can replaces the pool. The pool runs in a child process
 * with real workers on a unix socket; its fork refuses one chosen call,
 * as fork(2) does with EAGAIN at a process limit. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "harness.h"
#include "supervisor.h"

#define WORKERS 2
#define FAILING_FORK (WORKERS + 2) /* the second new worker of the first reload */

static char dir[] = "/tmp/sgid-test-sup-XXXXXX";
static char sock[128], logpath[128];

static pid_t failing_fork(void)
{
	static int calls;
	if (++calls == FAILING_FORK) {
		errno = EAGAIN;
		return -1;
	}
	return fork();
}

static char *read_log(void)
{
	return harness_read_file(logpath, NULL);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Waits up to 10 s for the log to hold needle n times. */
static bool wait_log(const char *needle, int n)
{
	for (int i = 0; i < 200; i++) {
		char *log = read_log();
		int c = count(log, needle);
		free(log);
		if (c >= n)
			return true;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The pids the log says were started in generation gen. */
static int started_pids(unsigned gen, pid_t *out, int cap)
{
	char *log = read_log(), want[64];
	int n = 0;
	snprintf(want, sizeof(want), "started (generation %u)", gen);
	for (char *p = log; p && (p = strstr(p, "supervisor: worker ")) && n < cap; p++) {
		int pid;
		char line[256];
		size_t len = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (sscanf(line, "supervisor: worker %d started", &pid) == 1 && strstr(line, want))
			out[n++] = pid;
	}
	free(log);
	return n;
}

static bool gone(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return true;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool serves(const char *request_id)
{
	char rid[96], out[4096];
	snprintf(rid, sizeof(rid), "REQUEST_ID=%s", request_id);
	const char *params[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/no-such-thing",
		"QUERY_STRING=", "HTTP_X_REQUEST_ID=spoofed-by-client", rid, NULL };
	return fcgi_request(sock, params, out, sizeof(out), 5000) == 0 &&
	       strstr(out, "Status: 404") != NULL;
}

static pid_t start_pool(void)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	FILE *f = freopen(logpath, "w", stderr);
	if (!f)
		_exit(3);
	setvbuf(stderr, NULL, _IONBF, 0);
	struct config cfg;
	struct cfg_error err;
	if (cfg_load(&cfg, NULL, &err) != 0) {
		fprintf(stderr, "config: %s: %s\n", err.var, err.msg);
		_exit(2);
	}
	char listen[160];
	snprintf(listen, sizeof(listen), "unix:%s", sock);
	struct supervisor_opts so = { .listen = listen, .workers = WORKERS, .stop_timeout_s = 5,
		.env_file = NULL, .fork_fn = failing_fork };
	int rc = supervisor_run(&so, &cfg);
	cfg_free(&cfg);
	_exit(rc);
}

static void test_reload_rolls_back_then_completes(void)
{
	pid_t old[WORKERS], fresh[3 * WORKERS], sup = start_pool();
	CHECK(sup > 0);
	CHECK(wait_log("worker ready", WORKERS));
	CHECK_INT(started_pids(0, old, WORKERS), WORKERS);
	CHECK(serves("before-reload"));

	/* the first reload starts one new worker, the second fork fails */
	kill(sup, SIGHUP);
	CHECK(wait_log("reload failed: 1 of 2 new workers started", 1));
	char *log = read_log();
	CHECK(strstr(log, "old configuration kept (generation 0)") != NULL);
	CHECK(strstr(log, "configuration reloaded") == NULL);
	free(log);
	CHECK_INT(started_pids(1, fresh, 3 * WORKERS), 1);
	CHECK(gone(fresh[0]));                 /* the one that started is stopped */
	for (int i = 0; i < WORKERS; i++)
		CHECK(kill(old[i], 0) == 0);   /* the old ones were never told to stop */
	CHECK(serves("after-failed-reload"));
	for (int i = 0; i < WORKERS; i++)
		CHECK(kill(old[i], 0) == 0);

	/* the next reload can fork: a whole new pool, then the old retires */
	kill(sup, SIGHUP);
	CHECK(wait_log("configuration reloaded (generation 1, 2 workers replaced)", 1));
	CHECK_INT(started_pids(1, fresh, 3 * WORKERS), 1 + WORKERS);
	for (int i = 0; i < WORKERS; i++)
		CHECK(gone(old[i]));
	CHECK(serves("after-reload"));

	/* the request id in the log is the server's, never the client's */
	log = read_log();
	CHECK(strstr(log, "req=after-reload ") != NULL);
	CHECK(strstr(log, "spoofed-by-client") == NULL);
	free(log);

	kill(sup, SIGTERM);
	int status = -1;
	CHECK(waitpid(sup, &status, 0) == sup);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		CHECK(0);
		return harness_report("test_supervisor");
	}
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	fcgi_test_worker_env();
	RUN(test_reload_rolls_back_then_completes);
	char *log = read_log();
	if (harness_failed && log)
		fprintf(stderr, "--- supervisor log ---\n%s", log);
	free(log);
	harness_remove_dir(dir);
	return harness_report("test_supervisor");
}
