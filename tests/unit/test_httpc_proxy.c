/* httpc and proxies: only the configured proxy is used. With https_proxy,
 * http_proxy and ALL_PROXY in the environment pointing at a dead port, a
 * request without a configured proxy still goes direct; with one, it goes
 * to that proxy. A one-shot HTTP server on a loopback socket answers with
 * the request line it received. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "httpc.h"
#include "util.h"

#define DEAD_PROXY "http://127.0.0.1:9" /* discard: nothing listens */

/* Listens on 127.0.0.1, port chosen by the kernel; a child answers one
 * request with its request line as the body. */
static pid_t serve_once(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	pid_t pid = fork();
	if (pid != 0) {
		close(fd);
		return pid;
	}
	alarm(10);
	int c = accept(fd, NULL, NULL);
	char req[4096] = "", resp[4600];
	size_t n = 0;
	while (n < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
	}
	size_t line = strcspn(req, "\r\n");
	int len = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n%.*s", line, (int)line, req);
	if (write(c, resp, (size_t)len) != len)
		_exit(1);
	close(c);
	_exit(0);
}

static void set_env_proxies(void)
{
	static const char *const vars[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "ALL_PROXY",
		"all_proxy" };
	for (size_t i = 0; i < ARRAY_LEN(vars); i++)
		setenv(vars[i], DEAD_PROXY, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

/* The environment is effective: plain libcurl follows it to the dead port. */
static void test_env_proxy_would_be_used(void)
{
	int port = 0;
	pid_t srv = serve_once(&port);
	char url[64];
	CHECK(srv > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/plain", port);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
	FILE *sink = fopen("/dev/null", "w");
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	CURLcode rc = curl_easy_perform(c);
	CHECK_INT(rc, CURLE_COULDNT_CONNECT);
	curl_easy_cleanup(c);
	fclose(sink);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
}

/* A GET of path through httpc to the one-shot server, which is either the
 * target (direct) or the configured proxy of a request for another host;
 * want is the request line it saw. */
static void get_through(bool via_proxy, const char *path, const char *want)
{
	int port = 0;
	pid_t srv = serve_once(&port);
	char url[96], proxy[64];
	CHECK(srv > 0);
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "%s%s", via_proxy ? "http://sgid.example.invalid" : proxy, path);
	struct httpc_opts o = { .connect_timeout_ms = 2000, .total_timeout_ms = 3000,
		.proxy = via_proxy ? proxy : NULL };
	struct httpc *h = httpc_new(&o);
	struct httpc_response r = {0};
	CHECK(h != NULL);
	CHECK_INT(httpc_get(h, url, NULL, &r), HTTPC_OK);
	CHECK_STR(buf_cstr(&r.body), want);
	httpc_response_free(&r);
	httpc_free(h);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
}

static void test_no_proxy_configured_goes_direct(void)
{
	get_through(false, "/direct", "GET /direct HTTP/1.1");
}

static void test_configured_proxy_used(void)
{
	get_through(true, "/v2/x", "GET http://sgid.example.invalid/v2/x HTTP/1.1");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the server does */
	CHECK(httpc_global_init() == 0);
	set_env_proxies();
	RUN(test_env_proxy_would_be_used);
	RUN(test_no_proxy_configured_goes_direct);
	RUN(test_configured_proxy_used);
	curl_global_cleanup();
	return harness_report("test_httpc_proxy");
}
