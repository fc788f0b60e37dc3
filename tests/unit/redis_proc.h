/* Real redis-server processes a unit test owns: spawned with output to a
 * log in the test's temp dir, killed at exit whatever happens, waited on
 * until they accept connections; and a plain admin connection for
 * setting up scenarios. Shared by test_store and test_redis_tls. */
#ifndef SGID_TEST_REDIS_PROC_H
#define SGID_TEST_REDIS_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "util.h"

static char tmpdir[32];
static char sock_path[96];
static pid_t redis_pid = -1;     /* the unix-socket instance */
static pid_t children[16];
static size_t n_children;

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline void forget_child(pid_t pid)
{
	for (size_t i = 0; i < n_children; i++)
		if (children[i] == pid)
			children[i] = -1;
}

static inline void kill_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	forget_child(pid);
}

static inline void cleanup(void)
{
	for (size_t i = 0; i < n_children; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	n_children = 0;
	if (!tmpdir[0])
		return;
	harness_remove_dir(tmpdir);
}

/* fork + exec with output to a log in tmpdir; dies with us. */
static inline pid_t spawn(char *const argv[], const char *log_name)
{
	if (n_children == ARRAY_LEN(children))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char log[256];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(log, sizeof(log), "%s/%s", tmpdir, log_name);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		children[n_children++] = pid;
	return pid;
}

static inline int try_connect(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, sa, len);
	close(fd);
	return rc;
}

/* Polls until the server accepts connections (5 s at most). */
static inline int wait_ready(pid_t pid, const char *unix_path, int port)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in in = { .sin_family = AF_INET };
	if (unix_path)
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", unix_path);
	in.sin_port = htons((uint16_t)port);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 250; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			forget_child(pid);
			return -1;
		}
		int rc = unix_path ? try_connect((struct sockaddr *)&un, sizeof(un))
			: try_connect((struct sockaddr *)&in, sizeof(in));
		if (rc == 0)
			return 0;
		sleep_ms(20);
	}
	return -1;
}

static inline int free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(in.sin_port);
}

static inline int start_unix_redis(void)
{
	char *argv[] = { "redis-server", "--port", "0", "--unixsocket", sock_path,
		"--save", "", "--appendonly", "no", "--dir", tmpdir,
		"--enable-debug-command", "local", NULL };
	redis_pid = spawn(argv, "redis-unix.log");
	if (redis_pid < 0 || wait_ready(redis_pid, sock_path, 0) != 0) {
		fprintf(stderr, "cannot start redis-server on %s\n", sock_path);
		return -1;
	}
	return 0;
}

static inline pid_t start_tcp_redis(int port, int master_port)
{
	char p[16], mp[16], log[32];
	snprintf(p, sizeof(p), "%d", port);
	snprintf(mp, sizeof(mp), "%d", master_port);
	snprintf(log, sizeof(log), "redis-%d.log", port);
	char *argv[] = { "redis-server", "--port", p, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", tmpdir,
		master_port ? "--replicaof" : NULL, "127.0.0.1", mp, NULL };
	pid_t pid = spawn(argv, log);
	if (pid < 0 || wait_ready(pid, NULL, port) != 0)
		return -1;
	return pid;
}

/* A second, plain connection for setting up scenarios. */
static inline redisContext *admin_unix(void)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectUnixWithTimeout(sock_path, tv);
	if (c && !c->err)
		redisSetTimeout(c, tv);
	return c;
}

static inline redisContext *admin_tcp(int port)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (c && !c->err)
		redisSetTimeout(c, tv);
	return c;
}

/* Runs an admin command; returns 0 unless the reply is missing or an error. */
static inline int admin_argv(redisContext *c, int argc, const char **argv)
{
	if (!c || c->err)
		return -1;
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int rc = (r && r->type != REDIS_REPLY_ERROR) ? 0 : -1;
	if (r)
		freeReplyObject(r);
	return rc;
}

#define ADMIN(c, ...) admin_argv((c), (int)ARRAY_LEN(((const char *[]){ __VA_ARGS__ })), \
	(const char *[]){ __VA_ARGS__ })

static inline long long admin_int(redisContext *c, int argc, const char **argv)
{
	if (!c || c->err)
		return -1000;
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	long long v = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1000;
	if (r)
		freeReplyObject(r);
	return v;
}

#endif
