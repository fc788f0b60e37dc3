/* trivial_fcgi: the transport-limit row of `make bench`. A FastCGI responder
 * that does nothing but answer, on the same kind of socket and with the same
 * process model as sgid-fcgi --listen --workers N: one listening unix socket
 * (backlog 1024), N forked single-threaded workers, each in an
 * FCGX_Accept_r loop that writes one small JSON response per request.
 *
 *   trivial_fcgi unix:PATH WORKERS
 *
 * SIGTERM / SIGINT stop the workers and remove the socket. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define BACKLOG 1024 /* as src/supervisor.c */
#define MAX_WORKERS 64

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

static int worker(int fd)
{
	static const char resp[] = "Status: 200 OK\r\n"
	                           "Content-Type: application/json\r\n"
	                           "Content-Length: 15\r\n"
	                           "\r\n"
	                           "{\"status\":\"ok\"}";
	FCGX_Request r;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		return 1;
	while (!stop) {
		if (FCGX_Accept_r(&r) < 0) {
			if (stop || errno == EINTR)
				continue;
			return 1;
		}
		FCGX_PutStr(resp, (int)sizeof(resp) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strncmp(argv[1], "unix:", 5) != 0) {
		fprintf(stderr, "usage: trivial_fcgi unix:PATH WORKERS\n");
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
			_exit(worker(fd));
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
