/* trivial_fcgi: the transport rows of `make bench`. A FastCGI responder on
 * the same kind of socket and with the same process model as
 * sgid-fcgi --listen --workers N: one listening unix socket (backlog 1024), N
 * forked single-threaded workers, each in libfcgi's FCGX_Accept_r loop.
 *
 *   trivial_fcgi unix:PATH WORKERS                     the `transport` row
 *   trivial_fcgi unix:PATH WORKERS REDIS_UNIX_SOCKET   the `transport-redis` row
 *
 * Without a Redis socket a worker does nothing but answer a small JSON body.
 * With one, it also does the one thing every /api/auth-url and cached
 * /api/userinfo request of sgid-fcgi cannot avoid: one command to Redis and
 * its reply. It connects once (hiredis, unix socket, as sgid-fcgi does) and
 * per request sends
 *
 *     SET bench-trivial:<pid>:<n> <256-byte value> EX 300
 *
 * (about the size of sgid-fcgi's sealed login record and its HMAC key). No
 * parsing, no cryptography, no logging: the bound that the architecture
 * (nginx -> FastCGI worker -> Redis) itself sets for an endpoint with one
 * Redis round trip. <n> cycles through KEY_RING values per worker so Redis
 * memory stays bounded however long the load runs. A Redis error answers 503
 * and reconnects.
 *
 * SIGTERM / SIGINT stop the workers and remove the socket. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <hiredis/hiredis.h>

#define BACKLOG 1024 /* as src/supervisor.c */
#define MAX_WORKERS 64
#define KEY_RING 16384
#define VALUE_LEN 256

static const char ok_response[] = "Status: 200 OK\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 15\r\n"
                                  "\r\n"
                                  "{\"status\":\"ok\"}";
static const char down_response[] = "Status: 503 Service Unavailable\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Content-Length: 18\r\n"
                                    "\r\n"
                                    "{\"status\":\"down\"}\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int open_unix(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, BACKLOG) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The defaults of sgid-fcgi: REDIS_CONNECT_TIMEOUT_MS=500, REDIS_TIMEOUT_MS=1000. */
static redisContext *redis_connect(const char *sock)
{
	struct timeval ctv = { 0, 500 * 1000 }, tv = { 1, 0 };
	redisContext *c = redisConnectUnixWithTimeout(sock, ctv);
	if (c == NULL)
		return NULL;
	if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
		fprintf(stderr, "trivial_fcgi: redis %s: %s\n", sock, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* One SET ... EX; 0 when Redis answered +OK. */
static int redis_set(redisContext **c, const char *sock, const char *key, size_t klen,
	const char *val, size_t vlen)
{
	if (*c == NULL && (*c = redis_connect(sock)) == NULL)
		return -1;
	const char *argv[5] = { "SET", key, val, "EX", "300" };
	size_t lens[5] = { 3, klen, vlen, 2, 3 };
	redisReply *rep = redisCommandArgv(*c, 5, argv, lens);
	int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0;
	if (rep != NULL)
		freeReplyObject(rep);
	if (rep == NULL || (*c)->err != 0) {
		redisFree(*c);
		*c = NULL;
	}
	return ok ? 0 : -1;
}

/* redis_sock NULL: the transport row, answer and nothing else. */
static int worker(int fd, const char *redis_sock)
{
	char val[VALUE_LEN];
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (char)('a' + i % 26);
	redisContext *c = redis_sock ? redis_connect(redis_sock) : NULL;
	FCGX_Request r;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		return 1;
	unsigned long n = 0;
	long pid = (long)getpid();
	while (!stop) {
		if (FCGX_Accept_r(&r) < 0) {
			if (stop || errno == EINTR)
				continue;
			return 1;
		}
		bool ok = true;
		if (redis_sock) {
			char key[64];
			int klen = snprintf(key, sizeof(key), "bench-trivial:%ld:%lu", pid, n++ % KEY_RING);
			ok = redis_set(&c, redis_sock, key, (size_t)klen, val, sizeof(val)) == 0;
		}
		if (ok)
			FCGX_PutStr(ok_response, (int)sizeof(ok_response) - 1, r.out);
		else
			FCGX_PutStr(down_response, (int)sizeof(down_response) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	if (c != NULL)
		redisFree(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || strncmp(argv[1], "unix:", 5) != 0) {
		fprintf(stderr, "usage: trivial_fcgi unix:PATH WORKERS [REDIS_UNIX_SOCKET]\n");
		return 2;
	}
	const char *path = argv[1] + 5;
	int n = atoi(argv[2]);
	if (n < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "trivial_fcgi: WORKERS must be 1-%d\n", MAX_WORKERS);
		return 2;
	}
	int fd = open_unix(path);
	if (fd < 0) {
		fprintf(stderr, "trivial_fcgi: cannot listen on %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: accept() must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pid_t kids[MAX_WORKERS];
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(worker(fd, argc == 4 ? argv[3] : NULL));
		if (kids[i] < 0) {
			fprintf(stderr, "trivial_fcgi: fork: %s\n", strerror(errno));
			stop = 1;
			n = i;
			break;
		}
	}
	while (!stop)
		pause();
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGTERM);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	unlink(path);
	return 0;
}
