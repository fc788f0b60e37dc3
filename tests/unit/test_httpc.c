/* httpc against the fake HTTP server of fake_http.h on a loopback port:
 * canned answers per path, including the broken ones a real server will
 * not give (stalls, resets, oversize bodies). For TLS, a real
 * `openssl s_server` with throw-away certificates. Every child is killed at
 * exit; every wait is bounded. */
#include "httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "harness.h"
#include "fake_http.h"
#include "util.h"

static pid_t tls_pid = -1;
static char tmpdir[32];

/* ---- the fake server's answers ------------------------------------------ */

static int answer(int fd, const struct fh_request *rq)
{
	const char *path = rq->target;
	if (strcmp(path, "/json") == 0) {
		fh_respond(fd, "200 OK", "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
	} else if (strcmp(path, "/echo") == 0) {
		fh_respond(fd, "200 OK", NULL, rq->raw, rq->raw_len);
	} else if (strcmp(path, "/status/401") == 0) {
		fh_respond(fd, "401 Unauthorized",
			"WWW-Authenticate:   Bearer error=\"invalid_token\"  \r\n"
			"WWW-Authenticate: Basic realm=\"second\"\r\n",
			"{\"error\":\"invalid_token\"}", 25);
	} else if (strcmp(path, "/www-long") == 0) {
		char extra[1200];
		memcpy(extra, "WWW-Authenticate: Bearer x=\"", 28);
		memset(extra + 28, 'a', 900);
		memcpy(extra + 928, "\"\r\n", 4);
		fh_respond(fd, "401 Unauthorized", extra, "", 0);
	} else if (strncmp(path, "/size/", 6) == 0 || strncmp(path, "/err/", 5) == 0) {
		bool err = path[1] == 'e';
		size_t n = strtoul(path + (err ? 5 : 6), NULL, 10);
		char *b = malloc(n ? n : 1);
		if (!b)
			return 1;
		memset(b, 'x', n);
		fh_respond(fd, err ? "500 Internal Server Error" : "200 OK", NULL, b, n);
		free(b);
	} else if (strcmp(path, "/chunked-big") == 0) {
		static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		char chunk[1100];
		memcpy(chunk, "400\r\n", 5);
		memset(chunk + 5, 'y', 1024);
		memcpy(chunk + 1029, "\r\n", 2);
		fh_write_all(fd, head, sizeof(head) - 1);
		for (int i = 0; i < 10; i++)
			if (fh_write_all(fd, chunk, 1031) != 0)
				return 1;
		fh_write_all(fd, "0\r\n\r\n", 5);
	} else if (strcmp(path, "/stall") == 0) {
		pause();
	} else if (strcmp(path, "/stall-body") == 0) {
		static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
		fh_write_all(fd, part, sizeof(part) - 1);
		pause();
	} else if (strcmp(path, "/reset") == 0) {
		static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
		char b[100];
		memset(b, 'r', sizeof(b));
		fh_write_all(fd, part, sizeof(part) - 1);
		fh_write_all(fd, b, sizeof(b));
		fh_sleep_ms(50);
		struct linger lg = { 1, 0 }; /* close with RST */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		return 1;
	} else if (strcmp(path, "/created") == 0) {
		fh_respond(fd, "201 Created", "DPoP-Nonce:  n-1_x.y~  \r\n", "{\"request_uri\":\"urn:x\"}", 24);
	} else if (strcmp(path, "/nonce-bad") == 0) {
		fh_respond(fd, "400 Bad Request", "DPoP-Nonce: two words\r\n", "{\"error\":\"use_dpop_nonce\"}", 26);
	} else if (strcmp(path, "/redirect") == 0) {
		fh_respond(fd, "302 Found", "Location: /json\r\n", "", 0);
	} else {
		fh_respond(fd, "404 Not Found", NULL, "nope", 4);
	}
	return 0;
}

static void stop_children(void)
{
	fh_stop();
	if (tls_pid > 0) {
		kill(tls_pid, SIGKILL);
		waitpid(tls_pid, NULL, 0);
		tls_pid = -1;
	}
	if (tmpdir[0]) {
		harness_remove_dir(tmpdir);
		tmpdir[0] = '\0';
	}
}

/* ---- helpers -------------------------------------------------------------- */

static const char *url(const char *path)
{
	return fh_url(path);
}

static struct httpc *client(long total_ms, size_t max_body)
{
	/* connect covers the TLS handshake and loading the CA store, which
	 * takes seconds under valgrind: never shorter than the total */
	struct httpc_opts o = {
		.connect_timeout_ms = total_ms,
		.total_timeout_ms = total_ms,
		.max_body = max_body,
		.ca_file = NULL,
		.user_agent = "sgid-test/1",
	};
	return httpc_new(&o);
}

static bool contains(const struct buf *b, const char *s)
{
	return b->data && fh_find(b->data, b->len, s, strlen(s)) != NULL;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_strerror(void)
{
	for (int i = 0; i < HTTPC_ERR__MAX; i++)
		CHECK(httpc_strerror((enum httpc_err)i)[0] != '\0');
	CHECK_STR(httpc_strerror(HTTPC_ERR__MAX), "unknown httpc error");
	httpc_free(NULL);
	httpc_response_free(NULL);
	CHECK_STR(httpc_errstr(NULL), "");
}

static void test_get_json(void)
{
	struct httpc *h = client(10000, 4096);
	struct httpc_response r;
	httpc_response_init(&r);
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_INT(r.status, 200);
	CHECK_STR(buf_cstr(&r.body), "{\"ok\":true}");
	CHECK_STR(r.www_authenticate, "");

	/* what went on the wire */
	CHECK_INT(httpc_get(h, url("/echo"), NULL, &r), HTTPC_OK);
	CHECK(contains(&r.body, "GET /echo HTTP/1.1\r\n"));
	CHECK(contains(&r.body, "\r\nAccept: application/json\r\n"));
	CHECK(contains(&r.body, "\r\nUser-Agent: sgid-test/1\r\n"));
	CHECK(!contains(&r.body, "Authorization"));
	CHECK(!contains(&r.body, "Content-Type"));

	/* an empty 200 body, and a response reused after free */
	CHECK_INT(httpc_get(h, url("/size/0"), NULL, &r), HTTPC_OK);
	CHECK_INT(r.body.len, 0);
	httpc_response_free(&r);
	CHECK_INT(httpc_get(h, url("/size/10"), NULL, &r), HTTPC_OK);
	CHECK_STR(buf_cstr(&r.body), "xxxxxxxxxx");
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_reuse(void)
{
	struct httpc *h = client(10000, 4096);
	struct httpc_response r = {0};
	int before = fh_conns();
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_INT(fh_conns() - before, 1);
	/* a POST (single-use code inside) never rides a reused connection,
	 * so libcurl can never silently re-send it ... */
	CHECK_INT(httpc_post_form(h, url("/echo"), "a=1", 3, &r), HTTPC_OK);
	CHECK_INT(fh_conns() - before, 2);
	/* ... and the GETs after it reuse what is pooled */
	CHECK_INT(httpc_get(h, url("/json"), "tok", &r), HTTPC_OK);
	/* an error status does not cost the connection either */
	CHECK_INT(httpc_get(h, url("/status/401"), NULL, &r), HTTPC_ERR_STATUS);
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_INT(fh_conns() - before, 2);

	/* a second client has its own connection */
	struct httpc *h2 = client(10000, 4096);
	CHECK_INT(httpc_get(h2, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_INT(fh_conns() - before, 3);
	httpc_free(h2);
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_status(void)
{
	struct httpc *h = client(10000, 4096);
	struct httpc_response r = {0};
	CHECK_INT(httpc_get(h, url("/status/401"), "tok", &r), HTTPC_ERR_STATUS);
	CHECK_INT(r.status, 401);
	CHECK_STR(buf_cstr(&r.body), "{\"error\":\"invalid_token\"}");
	/* the first one, trimmed */
	CHECK_STR(r.www_authenticate, "Bearer error=\"invalid_token\"");
	CHECK_STR(httpc_errstr(h), "HTTP status 401");

	/* the next response starts clean */
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_STR(r.www_authenticate, "");

	CHECK_INT(httpc_get(h, url("/www-long"), NULL, &r), HTTPC_ERR_STATUS);
	CHECK_INT(strlen(r.www_authenticate), sizeof(r.www_authenticate) - 1);
	CHECK(has_prefix(r.www_authenticate, "Bearer x=\"aaaa"));

	CHECK_INT(httpc_get(h, url("/nothing-here"), NULL, &r), HTTPC_ERR_STATUS);
	CHECK_INT(r.status, 404);
	CHECK_STR(buf_cstr(&r.body), "nope");

	/* redirects are not followed */
	CHECK_INT(httpc_get(h, url("/redirect"), NULL, &r), HTTPC_ERR_STATUS);
	CHECK_INT(r.status, 302);
	CHECK_INT(r.body.len, 0);
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_too_large(void)
{
	struct httpc *h = client(10000, 1024);
	struct httpc_response r = {0};
	CHECK_INT(httpc_get(h, url("/size/1024"), NULL, &r), HTTPC_OK);
	CHECK_INT(r.body.len, 1024);
	CHECK_INT(httpc_get(h, url("/size/1025"), NULL, &r), HTTPC_ERR_TOO_LARGE);
	CHECK_INT(r.body.len, 0);
	CHECK_STR(httpc_errstr(h), "response body over 1024 bytes");
	CHECK_INT(httpc_get(h, url("/size/100000"), NULL, &r), HTTPC_ERR_TOO_LARGE);
	CHECK_INT(httpc_get(h, url("/chunked-big"), NULL, &r), HTTPC_ERR_TOO_LARGE);
	CHECK_INT(r.body.len, 0);
	/* an oversize error body is cut, and the status still reported */
	CHECK_INT(httpc_get(h, url("/err/100000"), NULL, &r), HTTPC_ERR_STATUS);
	CHECK_INT(r.status, 500);
	CHECK_INT(r.body.len, 1024);
	/* and the handle works after the aborted transfers */
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_timeout(void)
{
	struct httpc *h = client(500, 4096);
	struct httpc_response r = {0};
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(httpc_get(h, url("/stall"), NULL, &r), HTTPC_ERR_TIMEOUT);
	int64_t dt = now_monotonic_ms() - t0;
	printf("httpc: stalled server timed out after %lld ms (total timeout 500; %s)\n",
		(long long)dt, httpc_errstr(h));
	CHECK(dt >= 450 && dt < 2000);

	t0 = now_monotonic_ms();
	CHECK_INT(httpc_get(h, url("/stall-body"), NULL, &r), HTTPC_ERR_TIMEOUT);
	dt = now_monotonic_ms() - t0;
	CHECK(dt >= 450 && dt < 2000);
	CHECK_INT(r.body.len, 0);
	httpc_response_free(&r);
	httpc_free(h);

	/* a request's own timeout_ms (a caller's remaining budget) shortens
	 * that request only; a longer one does not lengthen it */
	h = client(3000, 4096);
	struct httpc_request rq = { .url = url("/stall"), .timeout_ms = 300 };
	t0 = now_monotonic_ms();
	CHECK_INT(httpc_send(h, &rq, &r), HTTPC_ERR_TIMEOUT);
	dt = now_monotonic_ms() - t0;
	CHECK(dt >= 250 && dt < 1500);
	t0 = now_monotonic_ms();
	CHECK_INT(httpc_get(h, url("/stall"), NULL, &r), HTTPC_ERR_TIMEOUT);
	dt = now_monotonic_ms() - t0;
	CHECK(dt >= 2900);              /* the handle's 3000 ms again */
	httpc_free(h);
	h = client(500, 4096);
	rq.timeout_ms = 5000;
	t0 = now_monotonic_ms();
	CHECK_INT(httpc_send(h, &rq, &r), HTTPC_ERR_TIMEOUT);
	CHECK(now_monotonic_ms() - t0 < 2000);
	httpc_response_free(&r);
	httpc_free(h);

	/* connect timeout: a listener whose queue is full drops our SYN */
	int port, fillers[4];
	int lfd = fh_listen_loopback(0, &port);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (size_t i = 0; i < ARRAY_LEN(fillers); i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fillers[i] >= 0)
			(void)connect(fillers[i], (struct sockaddr *)&in, sizeof(in));
	}
	fh_sleep_ms(50);
	struct httpc_opts o = { .connect_timeout_ms = 300, .total_timeout_ms = 5000, .max_body = 100 };
	h = httpc_new(&o);
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", port);
	t0 = now_monotonic_ms();
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_ERR_TIMEOUT);
	dt = now_monotonic_ms() - t0;
	printf("httpc: silent host: connect timed out after %lld ms (connect timeout 300)\n",
		(long long)dt);
	CHECK(dt >= 250 && dt < 1200);
	httpc_free(h);
	for (size_t i = 0; i < ARRAY_LEN(fillers); i++)
		if (fillers[i] >= 0)
			close(fillers[i]);
	close(lfd);
}

static void test_refused_reset(void)
{
	struct httpc *h = client(10000, 4096);
	struct httpc_response r = {0};
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/json", fh_free_port());
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(httpc_post_form(h, u, "secret=abc123", 13, &r), HTTPC_ERR_CONNECT);
	CHECK(now_monotonic_ms() - t0 < 1000);
	CHECK(httpc_errstr(h)[0] != '\0');
	CHECK(strstr(httpc_errstr(h), "abc123") == NULL);

	CHECK_INT(httpc_get(h, url("/reset"), "bearer-secret", &r), HTTPC_ERR_IO);
	CHECK_INT(r.body.len, 0);
	CHECK(strstr(httpc_errstr(h), "bearer-secret") == NULL);
	printf("httpc: reset mid-body: %s\n", httpc_errstr(h));

	/* DNS failure is a connect failure */
	CHECK_INT(httpc_get(h, "http://no-such-host.invalid/", NULL, &r), HTTPC_ERR_CONNECT);

	/* only http and https */
	CHECK_INT(httpc_get(h, "file:///etc/passwd", NULL, &r), HTTPC_ERR_IO);
	CHECK_INT(r.body.len, 0);
	CHECK_INT(httpc_get(h, "ftp://127.0.0.1/", NULL, &r), HTTPC_ERR_IO);
	CHECK_INT(httpc_get(h, NULL, NULL, &r), HTTPC_ERR_IO);

	/* still usable */
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_post(void)
{
	struct httpc *h = client(10000, 8192);
	struct httpc_response r = {0};
	static const char body[] = "grant_type=authorization_code&code=a%20b\0tail&x=\xff";
	size_t blen = sizeof(body) - 1;
	char want[64];
	CHECK_INT(httpc_post_form(h, url("/echo"), body, blen, &r), HTTPC_OK);
	CHECK(contains(&r.body, "POST /echo HTTP/1.1\r\n"));
	CHECK(contains(&r.body, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", blen);
	CHECK(contains(&r.body, want));
	CHECK(contains(&r.body, "\r\nAccept: application/json\r\n"));
	CHECK(!contains(&r.body, "Expect"));
	/* the body arrives byte for byte, NUL included */
	CHECK(r.body.len > blen && memcmp(r.body.data + r.body.len - blen, body, blen) == 0);
	CHECK(r.body.len > blen + 4 && memcmp(r.body.data + r.body.len - blen - 4, "\r\n\r\n", 4) == 0);

	/* an empty form */
	CHECK_INT(httpc_post_form(h, url("/echo"), NULL, 0, &r), HTTPC_OK);
	CHECK(contains(&r.body, "POST /echo HTTP/1.1\r\n"));
	CHECK(contains(&r.body, "\r\nContent-Length: 0\r\n"));

	/* a GET after a POST is a plain GET */
	CHECK_INT(httpc_get(h, url("/echo"), NULL, &r), HTTPC_OK);
	CHECK(contains(&r.body, "GET /echo HTTP/1.1\r\n"));
	CHECK(!contains(&r.body, "Content-Type"));
	CHECK(!contains(&r.body, "Content-Length"));
	CHECK(!contains(&r.body, "grant_type"));
	httpc_response_free(&r);
	httpc_free(h);
}

static void test_bearer(void)
{
	struct httpc *h = client(10000, 8192);
	struct httpc_response r = {0};
	CHECK_INT(httpc_get(h, url("/echo"), "X", &r), HTTPC_OK);
	CHECK(contains(&r.body, "\r\nAuthorization: Bearer X\r\n"));
	CHECK_INT(httpc_get(h, url("/echo"), "eyJhbGciOi.J9-_x.y~+/=", &r), HTTPC_OK);
	CHECK(contains(&r.body, "\r\nAuthorization: Bearer eyJhbGciOi.J9-_x.y~+/=\r\n"));
	/* not carried over to the next request */
	CHECK_INT(httpc_get(h, url("/echo"), NULL, &r), HTTPC_OK);
	CHECK(!contains(&r.body, "Authorization"));
	/* a token that would break the header never leaves */
	int before = fh_conns();
	CHECK_INT(httpc_get(h, url("/echo"), "a\r\nX-Evil: 1", &r), HTTPC_ERR_IO);
	CHECK_INT(httpc_get(h, url("/echo"), "", &r), HTTPC_ERR_IO);
	CHECK(strstr(httpc_errstr(h), "Evil") == NULL);
	CHECK_INT(fh_conns(), before);
	httpc_response_free(&r);
	httpc_free(h);
}

/* httpc_send: the DPoP headers, 201 only when asked for, DPoP-Nonce kept
 * when it is one printable word. */
static void test_send_dpop(void)
{
	struct httpc *h = client(10000, 8192);
	struct httpc_response r = {0};
	struct httpc_request get = { .url = url("/echo"), .auth_scheme = "DPoP", .auth_token = "tok.en",
		.dpop = "ey.J0.eXA", .accept = "application/jwt" };
	CHECK_INT(httpc_send(h, &get, &r), HTTPC_OK);
	CHECK(contains(&r.body, "\r\nAuthorization: DPoP tok.en\r\n"));
	CHECK(contains(&r.body, "\r\nDPoP: ey.J0.eXA\r\n"));
	CHECK(contains(&r.body, "\r\nAccept: application/jwt\r\n"));
	CHECK(contains(&r.body, "GET /echo "));
	struct httpc_request post = { .url = url("/echo"), .form = "a=1", .form_len = 3, .dpop = "p.r.f" };
	CHECK_INT(httpc_send(h, &post, &r), HTTPC_OK);
	CHECK(contains(&r.body, "POST /echo "));
	CHECK(contains(&r.body, "\r\nDPoP: p.r.f\r\n"));
	CHECK(!contains(&r.body, "Authorization"));
	/* a header value that would end the line never leaves */
	int before = fh_conns();
	struct httpc_request evil = { .url = url("/echo"), .dpop = "a\r\nX-Evil: 1" };
	CHECK_INT(httpc_send(h, &evil, &r), HTTPC_ERR_IO);
	CHECK_INT(fh_conns(), before);
	/* 201: a success only for a request that says so */
	struct httpc_request par = { .url = url("/created"), .form = "", .created_ok = true };
	CHECK_INT(httpc_send(h, &par, &r), HTTPC_OK);
	CHECK_INT(r.status, 201);
	CHECK_STR(r.dpop_nonce, "n-1_x.y~");
	par.created_ok = false;
	CHECK_INT(httpc_send(h, &par, &r), HTTPC_ERR_STATUS);
	CHECK_STR(r.dpop_nonce, "n-1_x.y~");
	struct httpc_request bad = { .url = url("/nonce-bad"), .form = "" };
	CHECK_INT(httpc_send(h, &bad, &r), HTTPC_ERR_STATUS);
	CHECK_STR(r.dpop_nonce, "");
	/* not carried over */
	CHECK_INT(httpc_get(h, url("/json"), NULL, &r), HTTPC_OK);
	CHECK_STR(r.dpop_nonce, "");
	httpc_response_free(&r);
	httpc_free(h);
}

/* Runs a command to completion (bounded); 0 when it exits 0. */
static int run_cmd(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		alarm(20);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int make_cert(const char *name, const char *san)
{
	char key[96], crt[96], ext[160];
	snprintf(key, sizeof(key), "%s/%s.key", tmpdir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", tmpdir, name);
	snprintf(ext, sizeof(ext), "subjectAltName=%s", san);
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
		"-subj", "/CN=sgid-test", "-addext", ext, NULL };
	return run_cmd(argv);
}

static int start_tls_server(const char *name, int *port)
{
	char key[96], crt[96], acc[32];
	snprintf(key, sizeof(key), "%s/%s.key", tmpdir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", tmpdir, name);
	*port = fh_free_port();
	snprintf(acc, sizeof(acc), "127.0.0.1:%d", *port);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("openssl", "openssl", "s_server", "-accept", acc, "-cert", crt, "-key", key,
			"-www", "-quiet", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	tls_pid = pid;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 250; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			tls_pid = -1;
			return -1;
		}
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int rc = fd >= 0 ? connect(fd, (struct sockaddr *)&in, sizeof(in)) : -1;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			return 0;
		fh_sleep_ms(20);
	}
	return -1;
}

static void stop_tls_server(void)
{
	if (tls_pid > 0) {
		kill(tls_pid, SIGKILL);
		waitpid(tls_pid, NULL, 0);
		tls_pid = -1;
	}
}

static void test_tls(void)
{
	struct httpc_response r = {0};
	struct httpc *h = client(60000, 1 << 20);
	char u[96];

	/* TLS to a plain HTTP server */
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/json", fh_port);
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_ERR_TLS);
	httpc_free(h);

	int port;
	CHECK_INT(make_cert("good", "IP:127.0.0.1"), 0);
	CHECK_INT(make_cert("other", "DNS:other.example"), 0);

	CHECK_INT(start_tls_server("good", &port), 0);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", port);
	/* self-signed, not in the system store: refused */
	h = client(60000, 1 << 20);
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_ERR_TLS);
	printf("httpc: untrusted certificate: %s\n", httpc_errstr(h));
	httpc_free(h);
	/* trusted through ca_file: accepted (s_server -www answers 200) */
	char ca[96];
	snprintf(ca, sizeof(ca), "%s/good.crt", tmpdir);
	struct httpc_opts o = { .connect_timeout_ms = 60000, .total_timeout_ms = 60000,
		.max_body = 1 << 20, .ca_file = ca };
	h = httpc_new(&o);
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_OK);
	CHECK_INT(r.status, 200);
	httpc_free(h);
	/* a CA file that does not exist */
	o.ca_file = "/nonexistent/ca.pem";
	h = httpc_new(&o);
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_ERR_TLS);
	httpc_free(h);
	stop_tls_server();

	/* trusted certificate for another name: the host check refuses it */
	CHECK_INT(start_tls_server("other", &port), 0);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", port);
	snprintf(ca, sizeof(ca), "%s/other.crt", tmpdir);
	o.ca_file = ca;
	h = httpc_new(&o);
	CHECK_INT(httpc_get(h, u, NULL, &r), HTTPC_ERR_TLS);
	printf("httpc: wrong host name: %s\n", httpc_errstr(h));
	httpc_free(h);
	stop_tls_server();
	httpc_response_free(&r);
}

static void test_defaults(void)
{
	struct httpc_opts o = {0};
	struct httpc *h = httpc_new(&o);
	struct httpc_response r = {0};
	CHECK(h != NULL);
	CHECK(httpc_new(NULL) == NULL);
	if (!h)
		return;
	CHECK_INT(httpc_get(h, url("/echo"), NULL, &r), HTTPC_OK);
	CHECK(contains(&r.body, "\r\nUser-Agent: sgid-fcgi/"));
	httpc_response_free(&r);
	httpc_free(h);
}

int main(void)
{
	/* the fake servers are on loopback: no proxy in between */
	static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTPS_PROXY",
		"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
	for (size_t i = 0; i < ARRAY_LEN(proxies); i++)
		unsetenv(proxies[i]);
	signal(SIGPIPE, SIG_IGN); /* as the server does */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgid-httpc-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(stop_children);
	if (httpc_global_init() != 0 || fh_start(answer) != 0) {
		CHECK(!"set-up");
		return harness_report("test_httpc");
	}
	RUN(test_strerror);
	RUN(test_get_json);
	RUN(test_reuse);
	RUN(test_status);
	RUN(test_too_large);
	RUN(test_timeout);
	RUN(test_refused_reset);
	RUN(test_post);
	RUN(test_bearer);
	RUN(test_send_dpop);
	RUN(test_defaults);
	RUN(test_tls);
	return harness_report("test_httpc");
}
