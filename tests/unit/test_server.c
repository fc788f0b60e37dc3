/* server: the request id comes from the web server's REQUEST_ID FastCGI
 * parameter only, never from a header the client sent; a worker on a unix
 * socket takes the FastCGI role from the FCGI_BEGIN_REQUEST record (an
 * authorizer gets the gateway check whatever its path, and no body is
 * waited for) and hands nginx's SGID_ORIGINAL_* parameters and the Accept
 * and Sec-Fetch-Mode headers to /api/auth; REMOTE_ADDR, X-Forwarded-For
 * (every copy, one list) and User-Agent reach the audit log, and a SIGHUP (fd-0 mode: nobody
 * else reopens it) reopens AUDIT_LOG without stopping the worker. No Redis
 * is reached: the requests carry no session cookie. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "harness.h"
#include "log.h"
#include "server.h"
#include "supervisor.h"

static bool is_hex16(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static void test_request_id_from_server(void)
{
	char *envp[] = { "HTTP_X_REQUEST_ID=client-chosen", "REQUEST_ID=0f3a9c-nginx", NULL };
	server_set_request_id(envp);
	CHECK_STR(log_request_id(), "0f3a9c-nginx");
	log_set_request_id(NULL);
}

static void test_client_header_ignored(void)
{
	char *only_header[] = { "HTTP_X_REQUEST_ID=client-chosen", NULL };
	server_set_request_id(only_header);
	CHECK(strcmp(log_request_id(), "client-chosen") != 0);
	CHECK(is_hex16(log_request_id())); /* one of our own instead */
	char first[17];
	memcpy(first, log_request_id(), sizeof(first));
	char *none[] = { NULL };
	server_set_request_id(none);
	CHECK(is_hex16(log_request_id()));
	CHECK(strcmp(first, log_request_id()) != 0);
	char *empty[] = { "REQUEST_ID=", "HTTP_X_REQUEST_ID=client-chosen", NULL };
	server_set_request_id(empty);
	CHECK(is_hex16(log_request_id()));
	log_set_request_id(NULL);
}

static void test_request_id_sanitised(void)
{
	char *envp[] = { "REQUEST_ID=ab c\r\nlevel=error\"x", NULL };
	server_set_request_id(envp);
	CHECK_STR(log_request_id(), "abclevelerrorx");
	log_set_request_id(NULL);
}

/* Repeated X-Forwarded-For parameters are one list, in order. */
static void test_forwarded_for_joined(void)
{
	struct buf b = BUF_INIT;
	char *two[] = { "HTTP_X_FORWARDED_FOR=6.6.6.6", "REMOTE_ADDR=192.0.2.9",
		"HTTP_X_FORWARDED_FOR=203.0.113.5, 192.0.2.7", NULL };
	CHECK_INT(server_forwarded_for(two, &b), 0);
	CHECK_STR(buf_cstr(&b), "6.6.6.6, 203.0.113.5, 192.0.2.7");
	char *none[] = { "HTTP_X_FORWARDED_FORX=1.1.1.1", "X_HTTP_X_FORWARDED_FOR=1.1.1.1", NULL };
	CHECK_INT(server_forwarded_for(none, &b), 0);
	CHECK_INT(b.len, 0);
	/* past the limit the leftmost entries go, whole */
	static char big[SERVER_MAX_FORWARDED_FOR + 64];
	size_t n = (size_t)snprintf(big, sizeof(big), "HTTP_X_FORWARDED_FOR=");
	while (n + 9 < sizeof(big) - 1)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "6.6.6.6, ");
	char *huge[] = { big, "HTTP_X_FORWARDED_FOR=203.0.113.5", NULL };
	CHECK_INT(server_forwarded_for(huge, &b), 0);
	CHECK(b.len <= SERVER_MAX_FORWARDED_FOR && b.len > SERVER_MAX_FORWARDED_FOR - 16);
	CHECK(strncmp(b.data, "6.6.6.6", 7) == 0 || strncmp(b.data, " 6.6.6.6", 8) == 0);
	CHECK(b.len >= 11 && strcmp(b.data + b.len - 11, "203.0.113.5") == 0);
	buf_free(&b);
}

static char dir[] = "/tmp/sgid-test-srv-XXXXXX";
static char sock[128];

static pid_t start_worker(void)
{
	char err[160];
	char spec[160];
	snprintf(spec, sizeof(spec), "unix:%s", sock);
	int fd = listen_socket_open(spec, err, sizeof(err));
	if (fd < 0)
		return -1;
	pid_t pid = fork();
	if (pid != 0) {
		close(fd);
		return pid;
	}
	if (!freopen("/dev/null", "w", stderr))
		_exit(3);
	struct config cfg;
	struct cfg_error cerr;
	if (cfg_load(&cfg, NULL, &cerr) != 0)
		_exit(2);
	struct worker_opts o = { .listen_fd = fd, .threads = 2 };
	int rc = worker_main(&cfg, &o);
	cfg_free(&cfg);
	_exit(rc);
}

/* SIGTERM ends a worker cleanly: exit status 0. */
static void stop_worker(pid_t w)
{
	kill(w, SIGTERM);
	int status = -1;
	CHECK(waitpid(w, &status, 0) == w);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A worker whose audit log is PATH, behind a trusted proxy in 192.0.2.0/24. */
static pid_t start_audited_worker(const char *path)
{
	setenv("AUDIT_LOG", path, 1);
	setenv("TRUSTED_PROXIES", "192.0.2.0/24", 1);
	pid_t w = start_worker();
	unsetenv("AUDIT_LOG");
	unsetenv("TRUSTED_PROXIES");
	return w;
}

/* The socket listens before the fork: a worker still starting queues it. */
static bool ask(int role, const char *const *params, char *out, size_t cap)
{
	return fcgi_request_role(sock, role, params, out, cap, 3000) == 0;
}

static void test_roles(void)
{
	char out[8192];
	pid_t w = start_worker();
	CHECK(w > 0);
	if (w <= 0)
		return;
	/* an authorizer asked about a navigation: to the login, whatever the
	 * path; CONTENT_LENGTH without a stdin stream is not waited for */
	const char *nav[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/app/x", "REQUEST_URI=/app/x?y=1",
		"QUERY_STRING=y=1", "CONTENT_LENGTH=5", "HTTP_ACCEPT=text/html,*/*;q=0.8",
		"HTTP_ORIGIN=http://localhost:5173", NULL };
	CHECK(ask(FCGI_ROLE_AUTHORIZER, nav, out, sizeof(out)));
	CHECK(strstr(out, "Status: 302") == out);
	CHECK(strstr(out, "\r\nLocation: /api/login?rd=%2Fapp%2Fx%3Fy%3D1\r\n") != NULL);
	CHECK(strstr(out, "Access-Control") == NULL);
	CHECK(strstr(out, "Set-Cookie") == NULL);
	/* ... a fetch: 401; the path of one of our routes changes nothing */
	const char *fetch[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/logout", "REQUEST_URI=/api/logout",
		"HTTP_ACCEPT=*/*", "HTTP_SEC_FETCH_MODE=cors", NULL };
	CHECK(ask(FCGI_ROLE_AUTHORIZER, fetch, out, sizeof(out)));
	CHECK(strstr(out, "Status: 401") == out);
	CHECK(strstr(out, "Location:") == NULL);
	CHECK(strstr(out, "Set-Cookie") == NULL);
	/* a responder at /api/auth: nginx's parameters reach the check */
	const char *auth[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/auth", "SGID_ORIGINAL_URI=/app?a=1",
		"SGID_ORIGINAL_METHOD=GET", "HTTP_SEC_FETCH_MODE=navigate", "HTTP_ACCEPT=*/*", NULL };
	CHECK(ask(FCGI_ROLE_RESPONDER, auth, out, sizeof(out)));
	CHECK(strstr(out, "Status: 401") == out);
	CHECK(strstr(out, "\r\nX-Sgid-Login: /api/login?rd=%2Fapp%3Fa%3D1\r\n") != NULL);
	/* the role is the record's: a parameter naming another is no role */
	const char *spoof[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/app/x", "REQUEST_URI=/app/x",
		"FCGI_ROLE=AUTHORIZER", "HTTP_ACCEPT=text/html", NULL };
	CHECK(ask(FCGI_ROLE_RESPONDER, spoof, out, sizeof(out)));
	CHECK(strstr(out, "Status: 404") == out);
	stop_worker(w);
}

static int lines_in(const char *path)
{
	char *s = harness_read_file(path, NULL);
	if (!s)
		return -1;
	int n = 0;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static void test_sighup_reopens_audit(void)
{
	char path[160], moved[170], out[8192];
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(moved, sizeof(moved), "%s.1", path);
	pid_t w = start_audited_worker(path);
	CHECK(w > 0);
	if (w <= 0)
		return;
	/* a callback without an attempt: a login failure, no Redis */
	const char *cb[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/redirect", "QUERY_STRING=code=c&state=s",
		"REMOTE_ADDR=192.0.2.9", "HTTP_X_FORWARDED_FOR=6.6.6.6, 198.51.100.4",
		"HTTP_USER_AGENT=test-agent/1", NULL };
	CHECK(ask(FCGI_ROLE_RESPONDER, cb, out, sizeof(out)));
	CHECK(strstr(out, "Status: 302") == out);
	char *line = harness_read_file(path, NULL);
	CHECK(line && strstr(line, "\"event\":\"login_failure\"") &&
	      strstr(line, "\"cause\":\"attempt_expired\"") &&
	      strstr(line, "\"client\":\"198.51.100.4\"") && strstr(line, "\"user_agent\":\"test-agent/1\""));
	free(line);
	CHECK_INT(rename(path, moved), 0);
	CHECK_INT(kill(w, SIGHUP), 0);
	for (int i = 0; i < 60 && access(path, F_OK) != 0; i++)
		usleep(50 * 1000);
	CHECK_INT(access(path, F_OK), 0);
	CHECK(ask(FCGI_ROLE_RESPONDER, cb, out, sizeof(out))); /* the worker lives on */
	CHECK_INT(lines_in(path), 1);
	CHECK_INT(lines_in(moved), 1);
	stop_worker(w);
}

/* A load balancer that adds its own X-Forwarded-For line rather than
 * appending: nginx passes the client's forged line first, and the audit
 * log must name the address the balancer saw. */
static void test_repeated_forwarded_for(void)
{
	char path[160], out[8192];
	snprintf(path, sizeof(path), "%s/audit-xff.log", dir);
	pid_t w = start_audited_worker(path);
	CHECK(w > 0);
	if (w <= 0)
		return;
	const char *cb[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/redirect", "QUERY_STRING=code=c&state=s",
		"REMOTE_ADDR=192.0.2.9", "HTTP_X_FORWARDED_FOR=6.6.6.6",
		"HTTP_X_FORWARDED_FOR=203.0.113.5", NULL };
	CHECK(ask(FCGI_ROLE_RESPONDER, cb, out, sizeof(out)));
	char *line = harness_read_file(path, NULL);
	CHECK(line && strstr(line, "\"event\":\"login_failure\""));
	CHECK(line && strstr(line, "\"client\":\"203.0.113.5\""));
	CHECK(line && !strstr(line, "6.6.6.6"));
	free(line);
	stop_worker(w);
}

/* The status of a gateway check at /api/auth with two more parameters. */
static bool gateway_status_is(int role, const char *a, const char *b, const char *status)
{
	char out[8192];
	const char *params[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/auth",
		"SGID_ORIGINAL_URI=/app", "SGID_ORIGINAL_METHOD=GET", "HTTP_ACCEPT=*/*", a, b, NULL };
	return ask(role, params, out, sizeof(out)) && strstr(out, status) == out;
}

/* The gateway's own parameters come from the web server's config; one
 * sent twice with different values (a config that sets it in two places)
 * is ambiguous, and libfcgi would hand over the first: refused (500),
 * never read as the first one says (here "public": no login at all). */
static void test_repeated_gateway_params(void)
{
	pid_t w = start_worker();
	CHECK(w > 0);
	if (w <= 0)
		return;
	CHECK(gateway_status_is(FCGI_ROLE_RESPONDER, "SGID_GATEWAY_SCOPE=public",
	                        "SGID_GATEWAY_SCOPE=auth", "Status: 500"));
	CHECK(gateway_status_is(FCGI_ROLE_RESPONDER, "SGID_REQUIRE=", "SGID_REQUIRE=sub = \"u=1\"",
	                        "Status: 500"));
	CHECK(gateway_status_is(FCGI_ROLE_AUTHORIZER, "SGID_REQUIRE_NAME=a", "SGID_REQUIRE_NAME=b",
	                        "Status: 500"));
	/* the same value twice is no ambiguity: the public scope as usual */
	CHECK(gateway_status_is(FCGI_ROLE_RESPONDER, "SGID_GATEWAY_SCOPE=public",
	                        "SGID_GATEWAY_SCOPE=public", "Status: 200"));
	stop_worker(w);
}

int main(void)
{
	RUN(test_forwarded_for_joined);
	RUN(test_request_id_from_server);
	RUN(test_client_header_ignored);
	RUN(test_request_id_sanitised);
	if (!mkdtemp(dir)) {
		CHECK(0);
		return harness_report("test_server");
	}
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	fcgi_test_worker_env();
	RUN(test_roles);
	RUN(test_sighup_reopens_audit);
	RUN(test_repeated_forwarded_for);
	RUN(test_repeated_gateway_params);
	harness_remove_dir(dir);
	return harness_report("test_server");
}
