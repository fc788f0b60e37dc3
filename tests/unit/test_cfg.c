/* cfg: .env parsing, cfg_load validation and defaults, REDIS_URL forms,
 * private key input. Every test starts from an environment with none of
 * our variables and cleans up after itself. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "dotenv.h"
#include "harness.h"
#include "json.h"
#include "no_crypto.h"
#include "urlparse.h"
#include "util.h"

static const char *const all_vars[] = {
	"SGID_CLIENT_ID", "SGID_CLIENT_SECRET", "SGID_PRIVATE_KEY", "SGID_PRIVATE_KEY_FILE",
	"SGID_HOSTNAME", "SGID_REDIRECT_URI", "SGID_FRONTEND_HOST", "SGID_SCOPES",
	"SGID_HTTP_TIMEOUT_MS", "SGID_HTTP_CONNECT_TIMEOUT_MS", "SGID_HTTP_MAX_BODY", "SGID_CA_FILE",
	"SESSION_COOKIE_NAME", "COOKIE_SAMESITE", "COOKIE_SECURE", "LOGIN_TTL_SECONDS",
	"SESSION_TTL_SECONDS", "SESSION_IDLE_SECONDS", "SGID_CLOCK_SKEW_SECONDS",
	"SGID_JWKS_MIN_REFETCH_SECONDS", "SESSION_SECRET", "REDIS_URL", "REDIS_CONNECT_TIMEOUT_MS",
	"REDIS_TIMEOUT_MS", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_CLUSTER", "LOG_LEVEL",
	"SGID_CLIENT_SECRET_FILE", "SESSION_SECRET_FILE", "SGID_HTTPS_PROXY",
	"SGID_ALLOWED_RETURN_ORIGINS", "SGID_GATEWAY_ERROR_URL", "SGID_GATEWAY_HEADERS",
	"SGID_PRIVATE_KEY_PREVIOUS", "SGID_PRIVATE_KEY_PREVIOUS_FILE", "SGID_PARSE_DATA",
	"SESSION_SECRET_PREVIOUS", "SESSION_SECRET_PREVIOUS_FILE", "SESSION_MAX_PER_USER",
	"AUDIT_LOG", "TRUSTED_PROXIES", "REDIS_CLUSTER_ALLOWED_HOSTS", "REDIS_SENTINEL_ALLOWED_HOSTS",
	"REDIS_TLS_CA_FILE",
	"REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME", "REDIS_TLS_INSECURE_SKIP_VERIFY",
	"SESSION_ACCEPT_LEGACY_IDS", "SGID_ALLOWLISTS", "LOGIN_PROVIDER", "SINGPASS_CLIENT_ID",
	"SINGPASS_ISSUER", "SINGPASS_SCOPES", "SINGPASS_REDIRECT_URI", "SINGPASS_ACR_VALUES",
	"SINGPASS_AUTH_CONTEXT_TYPE", "SINGPASS_SIGNING_KEY_FILE", "SINGPASS_SIGNING_KEY_PREVIOUS_FILE",
	"SINGPASS_ENCRYPTION_KEY_FILE", "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE",
	"SINGPASS_SIGNING_KEY_ID", "SINGPASS_SIGNING_KEY_PREVIOUS_ID", "SINGPASS_ENCRYPTION_KEY_ID",
	"SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID",
};

#define SECRET "clientSecretValue-DO-NOT-LOG-0123456789"

static char *pem;          /* the vectors' PKCS#8 test key */
static char *pem_escaped;  /* the same on one line with literal \n */
static int load_key(void);

static void clear_env(void)
{
	for (size_t i = 0; i < ARRAY_LEN(all_vars); i++)
		unsetenv(all_vars[i]);
}

/* The smallest valid environment. */
static void base_env(void)
{
	clear_env();
	setenv("SGID_CLIENT_ID", "TESTCLIENT", 1);
	setenv("SGID_CLIENT_SECRET", SECRET, 1);
	setenv("SGID_PRIVATE_KEY", pem, 1);
}

static int load(struct config *c, struct cfg_error *e)
{
	return cfg_load(c, NULL, e);
}

#define SP_SECRET "sessionSecret-DO-NOT-LOG-0123456789abcdef"
#define SP_SIG_KEY "tests/vectors/test-ec-p256-key.pem"
#define SP_ENC_KEY "tests/vectors/test-ec-p256-sec1-key.pem"

/* The smallest valid LOGIN_PROVIDER=singpass environment: no sgID variable. */
static void singpass_env(void)
{
	clear_env();
	setenv("LOGIN_PROVIDER", "singpass", 1);
	setenv("SINGPASS_CLIENT_ID", "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL", 1);
	setenv("SINGPASS_REDIRECT_URI", "https://app.example.sg/api/redirect", 1);
	setenv("SESSION_SECRET", SP_SECRET, 1);
	setenv("SINGPASS_SIGNING_KEY_FILE", SP_SIG_KEY, 1);
	setenv("SINGPASS_ENCRYPTION_KEY_FILE", SP_ENC_KEY, 1);
}

/* Loads env() with one variable changed and expects failure naming var. */
static void expect_fail_in(void (*env)(void), const char *name, const char *value, const char *var)
{
	struct config c;
	struct cfg_error e;

	env();
	setenv(name, value, 1);
	int rc = load(&c, &e);
	CHECK_INT(rc, -1);
	CHECK_STR(e.var, var);
	CHECK(e.msg[0] != '\0');
	CHECK(strstr(e.msg, SECRET) == NULL);
	CHECK(strstr(e.msg, SP_SECRET) == NULL);
	if (strlen(value) >= 6)
		CHECK(strstr(e.msg, value) == NULL); /* values are never echoed */
	if (rc == 0)
		cfg_free(&c);
	clear_env();
}

static void expect_fail(const char *name, const char *value, const char *var)
{
	expect_fail_in(base_env, name, value, var);
}

static void expect_ok_in(void (*env)(void), const char *name, const char *value,
	struct config *c)
{
	struct cfg_error e;

	env();
	setenv(name, value, 1);
	int rc = load(c, &e);
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s=%s: %s: %s\n", name, value, e.var, e.msg);
		memset(c, 0, sizeof(*c));
	}
	clear_env();
}

static void expect_ok(const char *name, const char *value, struct config *c)
{
	expect_ok_in(base_env, name, value, c);
}

static char *write_temp(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/sgid-test-cfg-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

/* ---- .env ---- */

struct pairs {
	char keys[16][64];
	char vals[16][4096];
	int n;
};

static int collect(const char *key, const char *val, void *ud)
{
	struct pairs *p = ud;
	if (p->n >= 16)
		return 1;
	snprintf(p->keys[p->n], sizeof(p->keys[0]), "%s", key);
	snprintf(p->vals[p->n], sizeof(p->vals[0]), "%s", val);
	p->n++;
	return 0;
}

static int parse(const char *text, struct pairs *p, int *line)
{
	memset(p, 0, sizeof(*p));
	return dotenv_parse(text, strlen(text), collect, p, line);
}

static void test_dotenv_basic(void)
{
	static struct pairs p;
	int line = -1;
	const char *text =
		"# a comment\n"
		"\n"
		"   \t\n"
		"A=1\n"
		"export B=two words  \n"
		"C = spaced\n"
		"D=value # trailing comment\n"
		"E=no#comment\n"
		"F=\n"
		"  # indented comment\n"
		"G=last";
	CHECK_INT(parse(text, &p, &line), 0);
	CHECK_INT(line, 0);
	CHECK_INT(p.n, 7);
	CHECK_STR(p.keys[0], "A");
	CHECK_STR(p.vals[0], "1");
	CHECK_STR(p.keys[1], "B");
	CHECK_STR(p.vals[1], "two words");
	CHECK_STR(p.keys[2], "C");
	CHECK_STR(p.vals[2], "spaced");
	CHECK_STR(p.vals[3], "value");
	CHECK_STR(p.vals[4], "no#comment");
	CHECK_STR(p.keys[5], "F");
	CHECK_STR(p.vals[5], "");
	CHECK_STR(p.keys[6], "G");
	CHECK_STR(p.vals[6], "last");
	CHECK_INT(parse("", &p, &line), 0);
	CHECK_INT(p.n, 0);
	CHECK_INT(parse("\xef\xbb\xbf" "BOM=1\n", &p, &line), 0);
	CHECK_STR(p.keys[0], "BOM");
	CHECK_INT(parse("A=1\n\xef\xbb\xbf" "B=2\n", &p, &line), -1); /* only at the start */
	CHECK_INT(line, 2);
}

static void test_dotenv_quotes(void)
{
	static struct pairs p;
	int line;
	const char *text =
		"A=\"double # not a comment\"  # a comment\n"
		"B='single \\n $X \"q\"'\n"
		"C=\"esc \\\"q\\\" back\\\\slash nl\\nend \\t kept\"\n"
		"D=\"multi\n"
		"line\r\n"
		"value\"\n"
		"E=''\n"
		"F=\"\"\n"
		"export G='a\n"
		"b'\n"
		"H=after\r\n";
	CHECK_INT(parse(text, &p, &line), 0);
	CHECK_INT(p.n, 8);
	CHECK_STR(p.vals[0], "double # not a comment");
	CHECK_STR(p.vals[1], "single \\n $X \"q\"");
	CHECK_STR(p.vals[2], "esc \"q\" back\\slash nl\nend \\t kept");
	CHECK_STR(p.vals[3], "multi\nline\nvalue");
	CHECK_STR(p.vals[4], "");
	CHECK_STR(p.vals[5], "");
	CHECK_STR(p.keys[6], "G");
	CHECK_STR(p.vals[6], "a\nb");
	CHECK_STR(p.keys[7], "H");
	CHECK_STR(p.vals[7], "after");
}

static void test_dotenv_pem(void)
{
	/* a PEM in double quotes, as python-dotenv users write it */
	static struct pairs p;
	int line;
	CHECK_INT(parse("K=\"-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n-----END PRIVATE KEY-----\"\nN=1\n",
		&p, &line), 0);
	CHECK_INT(p.n, 2);
	CHECK_STR(p.vals[0], "-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n-----END PRIVATE KEY-----");
	/* and on one line with escaped newlines */
	CHECK_INT(parse("K=\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\"", &p, &line), 0);
	CHECK_STR(p.vals[0], "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");
}

static void test_dotenv_malformed(void)
{
	static struct pairs p;
	static const struct {
		const char *text;
		int line;
	} bad[] = {
		{"NOEQUALS\n", 1},
		{"A=1\nB\n", 2},
		{"A=1\n\n=value\n", 3},
		{"1A=x\n", 1},
		{"A-B=x\n", 1},
		{"A=\"unterminated\nB=2\n", 1},
		{"A='unterminated\n", 1},
		{"A=\"x\" junk\n", 1},
		{"A=ok\nB=bad\x01value\n", 2},
		{"export\n", 1},
		{"A=1\rB=2\n", 1},
		{"A=\"x\"\"y\"\n", 1},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int line = 0;
		CHECK_INT(parse(bad[i].text, &p, &line), -1);
		CHECK_INT(line, bad[i].line);
	}
	/* an embedded NUL */
	int line = 0;
	memset(&p, 0, sizeof(p));
	CHECK_INT(dotenv_parse("A=1\nB=x\0y\n", 10, collect, &p, &line), -1);
	CHECK_INT(line, 2);
	/* over-long keys */
	char key[300];
	memset(key, 'K', 200);
	strcpy(key + 200, "=1\n");
	CHECK_INT(parse(key, &p, &line), -1);
	/* NULL line_no is fine */
	CHECK_INT(dotenv_parse("X\n", 2, collect, &p, NULL), -1);
}

static int stop_at_b(const char *key, const char *val, void *ud)
{
	(void)val;
	++*(int *)ud;
	return strcmp(key, "B") == 0 ? 7 : 0;
}

static void test_dotenv_stop(void)
{
	int calls = 0;
	const char *t = "A=1\nB=2\nC=3\n";
	CHECK_INT(dotenv_parse(t, strlen(t), stop_at_b, &calls, NULL), 7);
	CHECK_INT(calls, 2);
}

/* ---- cfg_load ---- */

static void test_defaults(void)
{
	struct config c;
	struct cfg_error e;

	base_env();
	int rc = load(&c, &e);
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s: %s\n", e.var, e.msg);
		return;
	}
	CHECK_STR(c.client_id, "TESTCLIENT");
	CHECK_STR(c.client_secret, SECRET);
	CHECK(c.private_key != NULL);
	CHECK_STR(c.hostname, "https://api.id.gov.sg");
	CHECK_STR(c.issuer, "https://api.id.gov.sg/v2");
	CHECK_STR(c.redirect_uri, "http://localhost:5001/api/redirect");
	CHECK_STR(c.frontend_origin, "http://localhost:5173");
	CHECK(!c.frontend_https);
	CHECK_STR(c.scopes, "openid myinfo.name");
	CHECK_INT(c.http_timeout_ms, 5000);
	CHECK_INT(c.http_connect_timeout_ms, 2000);
	CHECK_INT(c.http_max_body, 1024 * 1024);
	CHECK_STR(c.ca_file, "");
	CHECK_STR(c.cookie_name, "exampleAppSession");
	CHECK_INT(c.cookie_samesite, SAMESITE_LAX);
	CHECK(!c.cookie_secure);
	CHECK_INT(c.login_ttl, 300);
	CHECK_INT(c.session_ttl, 3600);
	CHECK_INT(c.session_idle_ttl, 3600);
	CHECK_INT(c.clock_skew, 60);
	CHECK_INT(c.jwks_refetch_interval, 60);
	uint8_t derived[32];
	static const char info[] = "sgid-fcgi session secret v1";
	CHECK(crypto_hkdf_sha256(SECRET, strlen(SECRET), "", 0, info, sizeof(info) - 1,
		derived, sizeof(derived)) == 0);
	CHECK(memcmp(c.session_secret, derived, sizeof(derived)) == 0);
	CHECK_STR(c.redis.unix_path, "");
	CHECK_STR(c.redis.host, "127.0.0.1");
	CHECK_INT(c.redis.port, 6379);
	CHECK_INT(c.redis.db, 0);
	CHECK_STR(c.redis.password, "");
	CHECK_INT(c.redis.connect_timeout_ms, 500);
	CHECK_INT(c.redis.command_timeout_ms, 1000);
	CHECK_INT(c.redis.n_sentinels, 0);
	CHECK_STR(c.redis.sentinel_master, "mymaster");
	CHECK_INT(c.log_level, LOG_LVL_INFO);
	/* gateway mode: rd may leave our origin for the frontend's only */
	CHECK_STR(c.redirect_origin, "http://localhost:5001");
	CHECK_INT(c.n_return_origins, 1);
	CHECK_STR(c.return_origins[0], "http://localhost:5173");
	CHECK_STR(c.gateway_error_url, "");
	CHECK_INT(c.n_gateway_headers, 0);

	/* the derived secret is deterministic (every worker must agree) */
	uint8_t first[32];
	memcpy(first, c.session_secret, 32);
	cfg_free(&c);
	CHECK(c.private_key == NULL);
	CHECK(c.client_secret[0] == '\0'); /* wiped */
	CHECK_INT(load(&c, &e), 0);
	CHECK(memcmp(first, c.session_secret, 32) == 0);
	cfg_free(&c);
	/* and depends on the client secret */
	setenv("SGID_CLIENT_SECRET", "another-secret", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(memcmp(first, c.session_secret, 32) != 0);
	cfg_free(&c);
	cfg_free(NULL);
	clear_env();
}

static void test_required(void)
{
	struct config c;
	struct cfg_error e;

	base_env();
	unsetenv("SGID_CLIENT_ID");
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_ID");
	CHECK(c.private_key == NULL);

	base_env();
	setenv("SGID_CLIENT_ID", "", 1); /* empty is unset */
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_ID");

	base_env();
	unsetenv("SGID_CLIENT_SECRET");
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET");

	base_env();
	unsetenv("SGID_PRIVATE_KEY");
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_PRIVATE_KEY");
	CHECK(strstr(e.msg, "SGID_PRIVATE_KEY_FILE") != NULL);

	expect_fail("SGID_CLIENT_SECRET", "bad\nsecret", "SGID_CLIENT_SECRET");
	expect_fail("SGID_CLIENT_ID", "bad\x01id", "SGID_CLIENT_ID");
	clear_env();
}

static void test_hostname(void)
{
	struct config c;

	expect_ok("SGID_HOSTNAME", "https://api-stg.id.gov.sg", &c);
	CHECK_STR(c.issuer, "https://api-stg.id.gov.sg/v2");
	cfg_free(&c);
	/* path and trailing slash dropped, as new URL(h).origin does */
	expect_ok("SGID_HOSTNAME", "https://api.id.gov.sg/", &c);
	CHECK_STR(c.hostname, "https://api.id.gov.sg");
	CHECK_STR(c.issuer, "https://api.id.gov.sg/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "HTTPS://API.ID.GOV.SG/v2/?x=1#f", &c);
	CHECK_STR(c.issuer, "https://api.id.gov.sg/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "https://idp.example:443", &c);
	CHECK_STR(c.issuer, "https://idp.example/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "https://idp.example:8443/", &c);
	CHECK_STR(c.issuer, "https://idp.example:8443/v2");
	cfg_free(&c);
	/* http only on loopback */
	expect_ok("SGID_HOSTNAME", "http://localhost:5156", &c);
	CHECK_STR(c.issuer, "http://localhost:5156/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "http://LocalHost:5156/", &c);
	CHECK_STR(c.issuer, "http://localhost:5156/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "http://127.0.0.1:5156", &c);
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "http://127.1.2.3", &c);
	CHECK_STR(c.issuer, "http://127.1.2.3/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "http://[::1]:5156", &c);
	CHECK_STR(c.issuer, "http://[::1]:5156/v2");
	cfg_free(&c);
	expect_ok("SGID_HOSTNAME", "http://localhost:80/", &c);
	CHECK_STR(c.issuer, "http://localhost/v2");
	cfg_free(&c);

	expect_fail("SGID_HOSTNAME", "http://api.id.gov.sg", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "http://10.0.0.1:5156", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "http://128.0.0.1", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "http://localhost.evil.com", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "http://127.0.0.1.evil.com", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "http://[::2]", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "ftp://api.id.gov.sg", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "api.id.gov.sg", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://user:pw@api.id.gov.sg", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://api.id.gov.sg:0", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://api.id.gov.sg:65536", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://api.id.gov.sg:", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://api.id gov.sg", "SGID_HOSTNAME");
	expect_fail("SGID_HOSTNAME", "https://[zz::1]", "SGID_HOSTNAME");
}

static void test_urls(void)
{
	struct config c;

	expect_ok("SGID_FRONTEND_HOST", "https://app.example.sg/some/path/", &c);
	CHECK_STR(c.frontend_origin, "https://app.example.sg");
	CHECK(c.frontend_https);
	CHECK(c.cookie_secure); /* default follows the frontend */
	cfg_free(&c);
	expect_ok("SGID_FRONTEND_HOST", "http://localhost:5173/", &c);
	CHECK_STR(c.frontend_origin, "http://localhost:5173");
	cfg_free(&c);
	expect_ok("SGID_REDIRECT_URI", "https://app.example.sg/api/redirect?x=1", &c);
	CHECK_STR(c.redirect_uri, "https://app.example.sg/api/redirect?x=1");
	cfg_free(&c);
	expect_fail("SGID_REDIRECT_URI", "/api/redirect", "SGID_REDIRECT_URI");
	expect_fail("SGID_REDIRECT_URI", "https://app.example.sg/cb#frag", "SGID_REDIRECT_URI");
	expect_fail("SGID_REDIRECT_URI", "javascript:alert(1)", "SGID_REDIRECT_URI");
	expect_fail("SGID_FRONTEND_HOST", "localhost:5173", "SGID_FRONTEND_HOST");
	expect_fail("SGID_FRONTEND_HOST", "https://a.example\r\nX: y", "SGID_FRONTEND_HOST");
}

static void test_gateway(void)
{
	struct config c;

	/* the default follows the frontend */
	expect_ok("SGID_FRONTEND_HOST", "https://App.Example.sg:443/spa/", &c);
	CHECK_INT(c.n_return_origins, 1);
	CHECK_STR(c.return_origins[0], "https://app.example.sg");
	cfg_free(&c);
	expect_ok("SGID_REDIRECT_URI", "https://API.example.sg:8443/api/redirect?x=1", &c);
	CHECK_STR(c.redirect_origin, "https://api.example.sg:8443");
	cfg_free(&c);

	/* origins: normalised (lower case, default port dropped), trimmed */
	expect_ok("SGID_ALLOWED_RETURN_ORIGINS",
	          " https://A.example , https://b.example:443,https://c.example:8443 ,http://localhost:3000,"
	          "http://127.0.0.1,http://[::1]:9000", &c);
	static const char *const want[] = { "https://a.example", "https://b.example",
		"https://c.example:8443", "http://localhost:3000", "http://127.0.0.1", "http://[::1]:9000" };
	CHECK_INT(c.n_return_origins, ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		CHECK_STR(c.return_origins[i], want[i]);
	cfg_free(&c);
	static const char *const bad_origins[] = {
		"https://a.example/", "https://a.example/path", "https://a.example?x", "https://a.example#f",
		"http://a.example", "a.example", "//a.example", "https://user@a.example",
		"https://a.example,", ",https://a.example", "https://a.example,,https://b.example",
		"javascript:alert(1)", "https://a.example:99999", "https://a example",
		"https://a.example\\@b", "ftp://a.example", "*", "https://*.example",
		"https://a.example,https://b.example,https://c.example,https://d.example,https://e.example,"
		"https://f.example,https://g.example,https://h.example,https://i.example,https://j.example,"
		"https://k.example,https://l.example,https://m.example,https://n.example,https://o.example,"
		"https://p.example,https://q.example",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_origins); i++)
		expect_fail("SGID_ALLOWED_RETURN_ORIGINS", bad_origins[i], "SGID_ALLOWED_RETURN_ORIGINS");

	/* the error page of a failed gateway login */
	expect_ok("SGID_GATEWAY_ERROR_URL", "https://portal.example.sg/login-failed?x=1", &c);
	CHECK_STR(c.gateway_error_url, "https://portal.example.sg/login-failed?x=1");
	cfg_free(&c);
	expect_ok("SGID_GATEWAY_ERROR_URL", "http://intranet.example/error", &c);
	cfg_free(&c);
	static const char *const bad_urls[] = {
		"/error", "portal.example/error", "javascript:alert(1)", "https://u:p@portal.example/",
		"https://portal.example/a b", "https://portal.example/\r\nX: y", "ftp://portal.example/",
		"//portal.example/error",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_urls); i++)
		expect_fail("SGID_GATEWAY_ERROR_URL", bad_urls[i], "SGID_GATEWAY_ERROR_URL");

	/* the fields that become headers */
	expect_ok("SGID_GATEWAY_HEADERS", "myinfo.name, myinfo.nric_number,a-b_C.9", &c);
	CHECK_INT(c.n_gateway_headers, 3);
	CHECK_STR(c.gateway_headers[0], "myinfo.name");
	CHECK_STR(c.gateway_headers[1], "myinfo.nric_number");
	CHECK_STR(c.gateway_headers[2], "a-b_C.9");
	cfg_free(&c);
	static const char *const bad_fields[] = {
		"myinfo name", "myinfo.name,", ",x", "a,,b", "x:y", "na\xc3\xafve", "a/b", "X-Sgid-Sub: x",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_fields); i++)
		expect_fail("SGID_GATEWAY_HEADERS", bad_fields[i], "SGID_GATEWAY_HEADERS");
	char many[40 * 4] = "";
	for (int i = 0; i < CFG_MAX_GATEWAY_HEADERS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sf%d", i ? "," : "", i);
	expect_fail("SGID_GATEWAY_HEADERS", many, "SGID_GATEWAY_HEADERS");
	char long_name[CFG_FIELD_NAME_LEN + 1];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	expect_fail("SGID_GATEWAY_HEADERS", long_name, "SGID_GATEWAY_HEADERS");
}

/* SGID_ALLOWLISTS: name=/path, each file read and parsed at load (so a
 * reload reads it again, and a bad one refuses the reload). */
static void test_allowlists(void)
{
	struct config c;
	char a[64], b[64], v[256];
	snprintf(a, sizeof(a), "%s", write_temp("# admins\nu=one\n  u=two\r\n"));
	snprintf(b, sizeof(b), "%s", write_temp(""));
	snprintf(v, sizeof(v), "admins=%s, ops-2=%s", a, b);
	expect_ok("SGID_ALLOWLISTS", v, &c);
	CHECK_INT(c.n_allowlists, 2);
	CHECK_STR(c.allowlists[0].name, "admins");
	CHECK_INT(c.allowlists[0].n, 2);
	CHECK(sublist_has(&c.allowlists[0], "u=two", 5));
	CHECK_STR(c.allowlists[1].name, "ops-2");
	CHECK_INT(c.allowlists[1].n, 0);
	cfg_free(&c);
	char bad_file[64];
	snprintf(bad_file, sizeof(bad_file), "%s", write_temp("u=one\nu two\n"));
	const char *const bad[] = { "admins", "=/x", "Admins=/x", "admins=relative/path",
		"admins=/nonexistent/sgid-allowlist", "twice", bad_file };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (bad[i] == bad_file)
			snprintf(v, sizeof(v), "admins=%s", bad_file);
		else if (strcmp(bad[i], "twice") == 0)
			snprintf(v, sizeof(v), "admins=%s,admins=%s", a, a);
		else
			snprintf(v, sizeof(v), "%s", bad[i]);
		expect_fail("SGID_ALLOWLISTS", v, "SGID_ALLOWLISTS");
	}
	unlink(a);
	unlink(b);
	unlink(bad_file);
}

static void test_scopes(void)
{
	struct config c;

	expect_ok("SGID_SCOPES", "  myinfo.name   openid myinfo.email ", &c);
	CHECK_STR(c.scopes, "myinfo.name openid myinfo.email");
	cfg_free(&c);
	expect_ok("SGID_SCOPES", "openid", &c);
	CHECK_STR(c.scopes, "openid");
	cfg_free(&c);
	expect_fail("SGID_SCOPES", "myinfo.name", "SGID_SCOPES");
	expect_fail("SGID_SCOPES", "openidx myinfo.name", "SGID_SCOPES");
	expect_fail("SGID_SCOPES", "openid\tmyinfo.name", "SGID_SCOPES");
	expect_fail("SGID_SCOPES", "openid my\"info", "SGID_SCOPES");
	expect_fail("SGID_SCOPES", "openid caf\xc3\xa9", "SGID_SCOPES");
}

static void test_numbers(void)
{
	struct config c;

	expect_ok("SGID_HTTP_TIMEOUT_MS", "3500", &c);
	CHECK_INT(c.http_timeout_ms, 3500);
	cfg_free(&c);
	expect_ok("LOGIN_TTL_SECONDS", "604800", &c);
	CHECK_INT(c.login_ttl, 604800);
	cfg_free(&c);
	expect_ok("SESSION_TTL_SECONDS", "7200", &c);
	CHECK_INT(c.session_idle_ttl, 7200); /* idle follows the absolute lifetime */
	cfg_free(&c);
	expect_ok("SESSION_IDLE_SECONDS", "900", &c);
	CHECK_INT(c.session_idle_ttl, 900);
	CHECK_INT(c.session_ttl, 3600);
	cfg_free(&c);
	expect_ok("SGID_CLOCK_SKEW_SECONDS", "0", &c);
	CHECK_INT(c.clock_skew, 0);
	cfg_free(&c);
	expect_ok("SGID_HTTP_MAX_BODY", "2097152", &c);
	CHECK_INT(c.http_max_body, 2097152);
	cfg_free(&c);
	expect_ok("REDIS_TIMEOUT_MS", "250", &c);
	CHECK_INT(c.redis.command_timeout_ms, 250);
	cfg_free(&c);

	expect_fail("SGID_HTTP_TIMEOUT_MS", "99", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_TIMEOUT_MS", "120001", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_TIMEOUT_MS", "5s", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_TIMEOUT_MS", "-5000", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_TIMEOUT_MS", " 5000", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_TIMEOUT_MS", "99999999999999999999", "SGID_HTTP_TIMEOUT_MS");
	expect_fail("SGID_HTTP_CONNECT_TIMEOUT_MS", "0", "SGID_HTTP_CONNECT_TIMEOUT_MS");
	expect_fail("LOGIN_TTL_SECONDS", "0", "LOGIN_TTL_SECONDS");
	expect_fail("SESSION_TTL_SECONDS", "604801", "SESSION_TTL_SECONDS");
	expect_fail("SESSION_IDLE_SECONDS", "7200", "SESSION_IDLE_SECONDS");
	expect_fail("REDIS_CONNECT_TIMEOUT_MS", "1", "REDIS_CONNECT_TIMEOUT_MS");
	expect_fail("SGID_HTTP_MAX_BODY", "1", "SGID_HTTP_MAX_BODY");

	/* the message says what is allowed */
	struct cfg_error e;
	base_env();
	setenv("LOGIN_TTL_SECONDS", "0", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK(strstr(e.msg, "1") != NULL && strstr(e.msg, "604800") != NULL);
	clear_env();
}

static void test_cookie_settings(void)
{
	struct config c;

	/* SameSite=None forces Secure, even over http and with COOKIE_SECURE=off */
	expect_ok("COOKIE_SAMESITE", "none", &c);
	CHECK_INT(c.cookie_samesite, SAMESITE_NONE);
	CHECK(c.cookie_secure);
	cfg_free(&c);
	base_env();
	setenv("COOKIE_SAMESITE", "None", 1);
	setenv("COOKIE_SECURE", "off", 1);
	struct cfg_error e;
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.cookie_secure);
	cfg_free(&c);
	clear_env();

	expect_ok("COOKIE_SAMESITE", "STRICT", &c);
	CHECK_INT(c.cookie_samesite, SAMESITE_STRICT);
	CHECK(!c.cookie_secure);
	cfg_free(&c);
	static const char *const yes[] = {"on", "true", "1", "TRUE", "yes"};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		expect_ok("COOKIE_SECURE", yes[i], &c);
		CHECK(c.cookie_secure);
		cfg_free(&c);
	}
	/* off wins over an https frontend */
	base_env();
	setenv("SGID_FRONTEND_HOST", "https://app.example.sg", 1);
	setenv("COOKIE_SECURE", "0", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(!c.cookie_secure);
	cfg_free(&c);
	clear_env();

	expect_ok("SESSION_COOKIE_NAME", "sid", &c);
	CHECK_STR(c.cookie_name, "sid");
	cfg_free(&c);
	expect_fail("COOKIE_SAMESITE", "lax;", "COOKIE_SAMESITE");
	expect_fail("COOKIE_SAMESITE", "Nonee", "COOKIE_SAMESITE");
	expect_fail("COOKIE_SECURE", "maybe", "COOKIE_SECURE");
	expect_fail("SESSION_COOKIE_NAME", "my session", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME", "a=b", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME", "a;b", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME", "__Host-sid", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME", "__host-sid", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME", "__SECURE-sid", "SESSION_COOKIE_NAME");
	expect_fail("SESSION_COOKIE_NAME",
		"a_cookie_name_that_is_much_longer_than_sixty_three_characters_in_total", "SESSION_COOKIE_NAME");
}

static void test_session_secret(void)
{
	struct config c;
	uint8_t want[32];
	const char *s = "0123456789abcdef0123456789abcdef";

	expect_ok("SESSION_SECRET", s, &c);
	CHECK(crypto_sha256(s, strlen(s), want) == 0);
	CHECK(memcmp(c.session_secret, want, 32) == 0);
	cfg_free(&c);
	expect_fail("SESSION_SECRET", "short-secret-value", "SESSION_SECRET");
	expect_fail("SESSION_SECRET", "0123456789abcdef0123456789abcde", "SESSION_SECRET");
}

static void test_session_secret_previous(void)
{
	struct config c;
	uint8_t want[32];
	const char *prev = "the secret before the rotation!!";

	expect_ok("SESSION_SECRET", "0123456789abcdef0123456789abcdef", &c);
	CHECK(!c.has_session_secret_previous);
	cfg_free(&c);
	/* with the derived default as the current secret too */
	expect_ok("SESSION_SECRET_PREVIOUS", prev, &c);
	CHECK(c.has_session_secret_previous);
	CHECK(crypto_sha256(prev, strlen(prev), want) == 0);
	CHECK(memcmp(c.session_secret_previous, want, 32) == 0);
	CHECK(memcmp(c.session_secret, want, 32) != 0);
	cfg_free(&c);
	expect_fail("SESSION_SECRET_PREVIOUS", "too-short-previous", "SESSION_SECRET_PREVIOUS");
	expect_fail("SESSION_SECRET_PREVIOUS_FILE", "/nonexistent/previous", "SESSION_SECRET_PREVIOUS_FILE");
}

static void test_session_max_per_user(void)
{
	struct config c;
	base_env();
	struct cfg_error e;
	CHECK_INT(load(&c, &e), 0);
	CHECK_INT(c.session_max_per_user, 20);
	cfg_free(&c);
	clear_env();
	expect_ok("SESSION_MAX_PER_USER", "1", &c);
	CHECK_INT(c.session_max_per_user, 1);
	cfg_free(&c);
	expect_fail("SESSION_MAX_PER_USER", "0", "SESSION_MAX_PER_USER");
	expect_fail("SESSION_MAX_PER_USER", "1001", "SESSION_MAX_PER_USER");
	expect_fail("SESSION_MAX_PER_USER", "many", "SESSION_MAX_PER_USER");
}

/* In a child without OpenSSL algorithms: no key is made from zeros, the
 * load fails naming the variable. */
static void no_crypto_session_secret(void)
{
	struct config c;
	struct cfg_error e;

	CHECK(load_key() == 0);
	if (!pem)
		return;
	base_env();
	setenv("SESSION_SECRET", "0123456789abcdef0123456789abcdef", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SESSION_SECRET");
	CHECK(strstr(e.msg, "SHA-256") != NULL);
	unsetenv("SESSION_SECRET");
	CHECK_INT(load(&c, &e), -1); /* derived from the client secret: HKDF fails */
	CHECK_STR(e.var, "SESSION_SECRET");
	clear_env();
}

static void test_session_secret_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_session_secret);
}

static void test_https_proxy(void)
{
	struct config c;
	static const char *const good[] = {
		"http://proxy.internal:3128", "https://[::1]:8443/", "socks5h://127.0.0.1:1080",
		"HTTP://user:p%40ss@proxy.internal:3128",
	};
	static const char *const bad[] = {
		"proxy.internal:3128", "ftp://proxy.internal", "socks5://proxy:1080",
		"http://proxy:3128/path", "http://proxy:99999", "http://us er:pw@proxy",
		"http://user:pw/x@proxy", "http://", "http://proxy:3128?x=1",
	};

	base_env();
	CHECK_INT(load(&c, NULL), 0);
	CHECK_STR(c.https_proxy, ""); /* unset: none */
	cfg_free(&c);
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		expect_ok("SGID_HTTPS_PROXY", good[i], &c);
		CHECK_STR(c.https_proxy, good[i]);
		cfg_free(&c);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_fail("SGID_HTTPS_PROXY", bad[i], "SGID_HTTPS_PROXY");
	/* the password is never in the message */
	struct cfg_error e;
	base_env();
	setenv("SGID_HTTPS_PROXY", "http://user:hunter2-secret@proxy:3128/x", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK(strstr(e.msg, "hunter2") == NULL);
	clear_env();
}

static void test_secret_files(void)
{
	struct config c;
	struct cfg_error e;
	char *path = write_temp(SECRET "\n");
	char spath[64];

	CHECK(path != NULL);
	if (!path)
		return;
	/* the client secret from a file (a systemd credential), newline dropped */
	base_env();
	unsetenv("SGID_CLIENT_SECRET");
	setenv("SGID_CLIENT_SECRET_FILE", path, 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK_STR(c.client_secret, SECRET);
	cfg_free(&c);
	/* both: refused, naming both */
	setenv("SGID_CLIENT_SECRET", SECRET, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET");
	CHECK(strstr(e.msg, "SGID_CLIENT_SECRET_FILE") != NULL);
	unsetenv("SGID_CLIENT_SECRET");
	/* unreadable, a directory, empty: errors naming the _FILE variable */
	setenv("SGID_CLIENT_SECRET_FILE", "/nonexistent/secret", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET_FILE");
	setenv("SGID_CLIENT_SECRET_FILE", "/tmp", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET_FILE");
	unlink(path);
	snprintf(spath, sizeof(spath), "%s", write_temp("\n"));
	setenv("SGID_CLIENT_SECRET_FILE", spath, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET_FILE");
	unlink(spath);
	/* larger than 4 KiB: refused, not cut */
	char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(spath, sizeof(spath), "%s", write_temp(big));
	setenv("SGID_CLIENT_SECRET_FILE", spath, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET_FILE");
	CHECK(strstr(e.msg, "KiB") != NULL);
	unlink(spath);

	/* SESSION_SECRET_FILE gives the same key as SESSION_SECRET */
	const char *ss = "0123456789abcdef0123456789abcdef";
	uint8_t want[32];
	CHECK(crypto_sha256(ss, strlen(ss), want) == 0);
	base_env();
	snprintf(spath, sizeof(spath), "%s", write_temp("0123456789abcdef0123456789abcdef\r\n"));
	setenv("SESSION_SECRET_FILE", spath, 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(memcmp(c.session_secret, want, 32) == 0);
	cfg_free(&c);
	setenv("SESSION_SECRET", ss, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SESSION_SECRET");
	unsetenv("SESSION_SECRET");
	unlink(spath);
	snprintf(spath, sizeof(spath), "%s", write_temp("too-short\n"));
	setenv("SESSION_SECRET_FILE", spath, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SESSION_SECRET_FILE");
	CHECK(strstr(e.msg, "too-short") == NULL);
	unlink(spath);
	clear_env();
}

static void test_log_level(void)
{
	struct config c;
	expect_ok("LOG_LEVEL", "debug", &c);
	CHECK_INT(c.log_level, LOG_LVL_DEBUG);
	cfg_free(&c);
	expect_ok("LOG_LEVEL", "Error", &c);
	CHECK_INT(c.log_level, LOG_LVL_ERROR);
	cfg_free(&c);
	expect_fail("LOG_LEVEL", "verbose", "LOG_LEVEL");
}

static void test_audit(void)
{
	struct config c;
	expect_ok("LOG_LEVEL", "info", &c); /* the defaults: stderr, no proxy trusted */
	CHECK_STR(c.audit_log, "stderr");
	CHECK_INT(c.trusted_proxies.n, 0);
	cfg_free(&c);
	expect_ok("AUDIT_LOG", "/var/log/sgid-fcgi/audit.log", &c);
	CHECK_STR(c.audit_log, "/var/log/sgid-fcgi/audit.log");
	cfg_free(&c);
	expect_ok("AUDIT_LOG", "off", &c);
	CHECK_STR(c.audit_log, "off");
	cfg_free(&c);
	expect_fail("AUDIT_LOG", "audit.log", "AUDIT_LOG");
	expect_fail("AUDIT_LOG", "syslog", "AUDIT_LOG");

	expect_ok("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1, fd00::/8", &c);
	CHECK_INT(c.trusted_proxies.n, 4);
	struct ip_addr a;
	CHECK_INT(ip_parse("10.200.0.1", 10, &a), 0);
	CHECK(cidr_list_contains(&c.trusted_proxies, &a));
	CHECK_INT(ip_parse("fd12::1", 7, &a), 0);
	CHECK(cidr_list_contains(&c.trusted_proxies, &a));
	CHECK_INT(ip_parse("11.0.0.1", 8, &a), 0);
	CHECK(!cidr_list_contains(&c.trusted_proxies, &a));
	cfg_free(&c);
	static const char *const bad[] = { "10.0.0.0/8,", "proxy.example", "10.0.0.1/8",
		"10.0.0.0/40", "::/200", "10.0.0.0/8,,127.0.0.1" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_fail("TRUSTED_PROXIES", bad[i], "TRUSTED_PROXIES");
	char many[33 * 12] = "";
	for (int i = 0; i < 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.%d.1", i ? "," : "", i);
	expect_fail("TRUSTED_PROXIES", many, "TRUSTED_PROXIES");
}

static void test_ca_file(void)
{
	struct config c;
	char *path = write_temp("not really a CA\n");
	CHECK(path != NULL);
	if (!path)
		return;
	expect_ok("SGID_CA_FILE", path, &c);
	CHECK_STR(c.ca_file, path);
	cfg_free(&c);
	unlink(path);
	expect_fail("SGID_CA_FILE", "/nonexistent/ca.pem", "SGID_CA_FILE");
}

static void check_endpoints(const struct redis_endpoint *got, size_t n,
	const struct redis_endpoint *want, size_t want_n)
{
	CHECK_INT(n, want_n);
	for (size_t i = 0; i < n && i < want_n; i++) {
		CHECK_STR(got[i].host, want[i].host);
		CHECK_INT(got[i].port, want[i].port);
	}
}

static void test_redis_env(void)
{
	struct config c;

	expect_ok("REDIS_URL", "redis://:p%40ss@redis.internal:6380/3", &c);
	CHECK_STR(c.redis.host, "redis.internal");
	CHECK_INT(c.redis.port, 6380);
	CHECK_INT(c.redis.db, 3);
	CHECK_STR(c.redis.password, "p@ss");
	CHECK_INT(c.redis.connect_timeout_ms, 500); /* untouched by the URL */
	cfg_free(&c);
	expect_ok("REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26380 ,[fd00::1]:5000,bare", &c);
	static const struct redis_endpoint want_s[] = {
		{ "10.0.0.1", 26379 }, { "sentinel-b", 26380 }, { "fd00::1", 5000 }, { "bare", 26379 },
	};
	check_endpoints(c.redis.sentinels, c.redis.n_sentinels, want_s, ARRAY_LEN(want_s));
	CHECK_STR(c.redis.sentinel_master, "mymaster");
	cfg_free(&c);
	expect_ok("REDIS_SENTINEL_MASTER", "sgid-primary", &c);
	CHECK_STR(c.redis.sentinel_master, "sgid-primary");
	cfg_free(&c);

	/* the password never reaches the message */
	expect_fail("REDIS_URL", "redis://:hunter2secret@host:99999/0", "REDIS_URL");
	expect_fail("REDIS_URL", "http://localhost:6379", "REDIS_URL");
	expect_fail("REDIS_SENTINELS", "a:1,,b:2", "REDIS_SENTINELS");
	expect_fail("REDIS_SENTINELS", "a:0", "REDIS_SENTINELS");
	expect_fail("REDIS_SENTINELS", "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1", "REDIS_SENTINELS");
	expect_fail("REDIS_SENTINEL_MASTER", "my master", "REDIS_SENTINEL_MASTER");

	/* Redis Cluster: seeds, port 6379 by default, at most 16 */
	expect_ok("REDIS_CLUSTER", "10.0.0.1:7000, node-b ,[fd00::2]:7001", &c);
	static const struct redis_endpoint want_c[] = {
		{ "10.0.0.1", 7000 }, { "node-b", 6379 }, { "fd00::2", 7001 },
	};
	check_endpoints(c.redis.cluster_seeds, c.redis.n_cluster_seeds, want_c, ARRAY_LEN(want_c));
	CHECK_INT(c.redis.n_sentinels, 0);
	cfg_free(&c);
	expect_ok("REDIS_URL", "redis://sgid:pw@ignored:1/0", &c);
	CHECK_INT(c.redis.n_cluster_seeds, 0);
	cfg_free(&c);
	expect_fail("REDIS_CLUSTER", "a:1,,b:2", "REDIS_CLUSTER");
	expect_fail("REDIS_CLUSTER", "a:70000", "REDIS_CLUSTER");
	expect_fail("REDIS_CLUSTER",
		"a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1,j:1,k:1,l:1,m:1,n:1,o:1,p:1,q:1", "REDIS_CLUSTER");
	/* exclusive with Sentinel; db 0 only */
	struct cfg_error e;
	base_env();
	setenv("REDIS_CLUSTER", "a:7000", 1);
	setenv("REDIS_SENTINELS", "s:26379", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER");
	CHECK(strstr(e.msg, "mutually exclusive") != NULL);
	unsetenv("REDIS_SENTINELS");
	setenv("REDIS_URL", "redis://:pw@h:1/2", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER");
	CHECK(strstr(e.msg, "db 2") != NULL);
	/* where redirects may go besides the seeds' hosts: names and ranges */
	setenv("REDIS_URL", "redis://:pw@h:1/0", 1);
	setenv("REDIS_CLUSTER_ALLOWED_HOSTS", "10.0.0.0/8, node-c.example ,fd00::/8,192.0.2.7", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK_INT(c.redis.n_allowed_names, 1);
	CHECK_STR(c.redis.allowed_names[0], "node-c.example");
	CHECK_INT(c.redis.allowed_nets.n, 3);
	cfg_free(&c);
	setenv("REDIS_CLUSTER_ALLOWED_HOSTS", "10.0.0.1/8", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER_ALLOWED_HOSTS");
	setenv("REDIS_CLUSTER_ALLOWED_HOSTS", "a,,b", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER_ALLOWED_HOSTS");
	setenv("REDIS_CLUSTER_ALLOWED_HOSTS", "bad_host!", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER_ALLOWED_HOSTS");
	unsetenv("REDIS_CLUSTER");
	setenv("REDIS_CLUSTER_ALLOWED_HOSTS", "10.0.0.0/8", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_CLUSTER_ALLOWED_HOSTS");
	clear_env();
	/* where a sentinel may send the client besides the sentinels' hosts:
	 * unset, anywhere (as before: a warning); set, only there */
	base_env();
	setenv("REDIS_SENTINELS", "s1:26379,s2:26379", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(!c.redis.sentinel_allowlist);
	cfg_free(&c);
	setenv("REDIS_SENTINEL_ALLOWED_HOSTS", "redis-a.example,10.1.2.0/24", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.redis.sentinel_allowlist);
	CHECK_INT(c.redis.n_allowed_names, 1);
	CHECK_STR(c.redis.allowed_names[0], "redis-a.example");
	CHECK_INT(c.redis.allowed_nets.n, 1);
	cfg_free(&c);
	setenv("REDIS_SENTINEL_ALLOWED_HOSTS", "bad_host!", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_SENTINEL_ALLOWED_HOSTS");
	unsetenv("REDIS_SENTINELS");
	setenv("REDIS_SENTINEL_ALLOWED_HOSTS", "redis-a.example", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_SENTINEL_ALLOWED_HOSTS");
	CHECK(strstr(e.msg, "REDIS_SENTINELS") != NULL);
	clear_env();

	/* rediss:// settings: files checked at start-up (PEM that parses, a
	 * key that matches), cert and key together, nothing TLS on a
	 * redis:// URL, insecure only by name. Certificates made for the run. */
	char dir[] = "/tmp/sgid-cfg-tls-XXXXXX", cmd[160], ca[96], cert[96], key[96], other_key[96];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd), "sh tests/tls/make-certs.sh %s", dir);
	CHECK_INT(system(cmd), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", dir);
	snprintf(key, sizeof(key), "%s/client.key", dir);
	snprintf(other_key, sizeof(other_key), "%s/server.key", dir);
	base_env();
	setenv("REDIS_URL", "rediss://:pw@cache.example:6380/0", 1);
	setenv("REDIS_TLS_CA_FILE", ca, 1);
	setenv("REDIS_TLS_CERT_FILE", cert, 1);
	setenv("REDIS_TLS_KEY_FILE", key, 1);
	setenv("REDIS_TLS_SERVER_NAME", "redis.internal", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.redis.tls && !c.redis.tls_insecure);
	CHECK_STR(c.redis.tls_ca_file, ca);
	CHECK_STR(c.redis.tls_key_file, key);
	CHECK_STR(c.redis.tls_server_name, "redis.internal");
	cfg_free(&c);
	setenv("REDIS_TLS_INSECURE_SKIP_VERIFY", "on", 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.redis.tls_insecure);
	cfg_free(&c);
	setenv("REDIS_TLS_INSECURE_SKIP_VERIFY", "maybe", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_INSECURE_SKIP_VERIFY");
	unsetenv("REDIS_TLS_INSECURE_SKIP_VERIFY");
	setenv("REDIS_TLS_KEY_FILE", other_key, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_KEY_FILE");
	CHECK(strstr(e.msg, "does not match") != NULL || strstr(e.msg, "mismatch") != NULL);
	printf("cfg: %s: %s\n", e.var, e.msg);
	unsetenv("REDIS_TLS_KEY_FILE");
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_KEY_FILE");
	unsetenv("REDIS_TLS_CERT_FILE");
	setenv("REDIS_TLS_CA_FILE", "/nonexistent/ca.pem", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_CA_FILE");
	snprintf(cmd, sizeof(cmd), "%s/ca.srl", dir); /* readable, no PEM */
	setenv("REDIS_TLS_CA_FILE", cmd, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_CA_FILE");
	CHECK(strstr(e.msg, "cannot read the CA file") != NULL);
	unsetenv("REDIS_TLS_CA_FILE");
	setenv("REDIS_TLS_SERVER_NAME", "bad name", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_SERVER_NAME");
	unsetenv("REDIS_TLS_SERVER_NAME");
	setenv("REDIS_URL", "redis://:pw@h:1/0", 1);
	setenv("REDIS_TLS_CA_FILE", ca, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "REDIS_TLS_CA_FILE");
	CHECK(strstr(e.msg, "rediss://") != NULL);
	clear_env();
	harness_remove_dir(dir);
}

/* ---- REDIS_URL parser ---- */

static int redis(const char *url, struct redis_config *r, char *msg)
{
	memset(r, 0x5a, sizeof(*r));
	r->connect_timeout_ms = 123;
	return url_parse_redis(url, r, msg, 200);
}

static void test_redis_url(void)
{
	struct redis_config r;
	char msg[200];

	CHECK_INT(redis("redis://127.0.0.1:6379/0", &r, msg), 0);
	CHECK_STR(r.host, "127.0.0.1");
	CHECK_INT(r.port, 6379);
	CHECK_INT(r.db, 0);
	CHECK_STR(r.unix_path, "");
	CHECK_STR(r.user, "");
	CHECK_STR(r.password, "");
	CHECK_INT(r.connect_timeout_ms, 123);

	CHECK_INT(redis("redis://localhost", &r, msg), 0);
	CHECK_STR(r.host, "localhost");
	CHECK_INT(r.port, 6379);
	CHECK_INT(r.db, 0);
	CHECK_INT(redis("REDIS://h/", &r, msg), 0);
	CHECK_INT(redis("redis://h/15", &r, msg), 0);
	CHECK_INT(r.db, 15);
	CHECK_INT(redis("redis://[::1]:7000/2", &r, msg), 0);
	CHECK_STR(r.host, "::1");
	CHECK_INT(r.port, 7000);
	CHECK_INT(r.db, 2);

	/* password only, user and password, percent-encoded */
	CHECK_INT(redis("redis://:secret@h:6380", &r, msg), 0);
	CHECK_STR(r.user, "");
	CHECK_STR(r.password, "secret");
	CHECK_INT(r.port, 6380);
	CHECK_INT(redis("redis://app:s%3Ac%2Fr%40t%25@h/1", &r, msg), 0);
	CHECK_STR(r.user, "app");
	CHECK_STR(r.password, "s:c/r@t%");
	CHECK_INT(r.db, 1);
	CHECK_INT(redis("redis://app:@h", &r, msg), 0);
	CHECK_STR(r.user, "app");
	CHECK_STR(r.password, "");
	CHECK_INT(redis("redis://:p@ss@h", &r, msg), 0); /* the last '@' ends the userinfo */
	CHECK_STR(r.password, "p@ss");
	CHECK_STR(r.host, "h");

	/* unix sockets */
	CHECK_INT(redis("unix:///run/redis/redis.sock", &r, msg), 0);
	CHECK_STR(r.unix_path, "/run/redis/redis.sock");
	CHECK_INT(r.db, 0);
	CHECK_STR(r.password, "");
	CHECK_INT(redis("unix:///tmp/r.sock?db=4", &r, msg), 0);
	CHECK_STR(r.unix_path, "/tmp/r.sock");
	CHECK_INT(r.db, 4);
	CHECK_INT(redis("unix://:pw%21@/tmp/r.sock?db=1", &r, msg), 0);
	CHECK_STR(r.password, "pw!");
	CHECK_STR(r.unix_path, "/tmp/r.sock");
	CHECK_INT(redis("unix://u:pw@/tmp/r.sock", &r, msg), 0);
	CHECK_STR(r.user, "u");

	/* rediss://: TLS, same syntax */
	CHECK_INT(redis("rediss://u:p%40ss@cache.example:6380/2", &r, msg), 0);
	CHECK(r.tls);
	CHECK_STR(r.host, "cache.example");
	CHECK_INT(r.port, 6380);
	CHECK_INT(r.db, 2);
	CHECK_STR(r.password, "p@ss");
	CHECK_INT(redis("redis://h", &r, msg), 0);
	CHECK(!r.tls);

	static const char *const bad[] = {
		"", "127.0.0.1:6379", "http://h", "rediss://", "rediss://h:0", "redis://", "redis://h:", "redis://h:0",
		"redis://h:65536", "redis://h:port", "redis://h:6379/16", "redis://h/-1", "redis://h/db",
		"redis://h/1/2", "redis://h?db=1", "redis://h#x", "redis://pw@h", "redis://:%zz@h",
		"redis://:%00@h", "redis://h h", "redis://[::1", "redis://[nothex]:1", "unix://", "unix://tmp/r.sock",
		"unix:///tmp/r.sock?db=16", "unix:///tmp/r.sock?db=", "unix:///tmp/r.sock?x=1",
		"unix:///tmp/r.sock?db=1&db=2", "unix:///tmp/r.sock?db=1&x=2", "unix://:pw/tmp/r.sock",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int rc = redis(bad[i], &r, msg);
		CHECK_INT(rc, -1);
		CHECK(msg[0] != '\0');
		if (rc == 0)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
	CHECK_INT(url_parse_redis(NULL, &r, msg, sizeof(msg)), -1);

	/* too long for the fixed fields */
	char url[400];
	snprintf(url, sizeof(url), "unix:///%0200d.sock", 0);
	CHECK_INT(redis(url, &r, msg), -1);
	snprintf(url, sizeof(url), "redis://:%0300d@h", 0);
	CHECK_INT(redis(url, &r, msg), -1);
	CHECK_STR(r.password, ""); /* nothing half-copied */
	CHECK(strstr(msg, "000000") == NULL);

	/* a password in a failing URL is not echoed */
	CHECK_INT(redis("redis://:topsecretpw@h:bad", &r, msg), -1);
	CHECK(strstr(msg, "topsecretpw") == NULL);
	CHECK_STR(r.password, "");
}

/* ---- private key ---- */

static void test_key_inline_and_file(void)
{
	struct config c;
	struct cfg_error e;

	/* one line with literal \n, as .env files and CI variables carry it */
	CHECK(strchr(pem_escaped, '\n') == NULL);
	expect_ok("SGID_PRIVATE_KEY", pem_escaped, &c);
	CHECK(c.private_key != NULL);
	if (c.private_key)
		CHECK_INT(crypto_pkey_bits(c.private_key), 2048);
	cfg_free(&c);

	/* from a file */
	char *path = write_temp(pem);
	CHECK(path != NULL);
	if (!path)
		return;
	base_env();
	unsetenv("SGID_PRIVATE_KEY");
	setenv("SGID_PRIVATE_KEY_FILE", path, 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.private_key != NULL);
	cfg_free(&c);

	/* both set: refused, naming both */
	setenv("SGID_PRIVATE_KEY", pem, 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_PRIVATE_KEY");
	CHECK(strstr(e.msg, "SGID_PRIVATE_KEY_FILE") != NULL);
	unlink(path);
	clear_env();

	base_env();
	unsetenv("SGID_PRIVATE_KEY");
	setenv("SGID_PRIVATE_KEY_FILE", "/nonexistent/key.pem", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_PRIVATE_KEY_FILE");
	setenv("SGID_PRIVATE_KEY_FILE", "/tmp", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SGID_PRIVATE_KEY_FILE");
	clear_env();

	/* garbage: refused at load time, without echoing it */
	expect_fail("SGID_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\\nnotakey\\n-----END PRIVATE KEY-----",
		"SGID_PRIVATE_KEY");
	expect_fail("SGID_PRIVATE_KEY", "Your private key", "SGID_PRIVATE_KEY");
}

/* The previous key of a rotation: optional, loaded and checked exactly as
 * the current one (inline or file, not both, garbage refused naming it). */
static void test_previous_key(void)
{
	struct config c;
	struct cfg_error e;
	size_t len = 0;
	char *second = harness_read_file("tests/fixtures/client-test-key-2.pem", &len);

	CHECK(second != NULL);
	if (!second)
		return;
	expect_ok("SGID_CLIENT_ID", "TESTCLIENT", &c);
	CHECK(c.private_key != NULL);
	CHECK(c.private_key_previous == NULL); /* unset: none */
	cfg_free(&c);

	/* the rotation: the new key current, the old one previous */
	base_env();
	setenv("SGID_PRIVATE_KEY", second, 1);
	setenv("SGID_PRIVATE_KEY_PREVIOUS", pem_escaped, 1);
	CHECK_INT(load(&c, &e), 0);
	CHECK(c.private_key_previous != NULL);
	CHECK(!crypto_pkey_same_public(c.private_key, c.private_key_previous));
	cfg_free(&c);
	CHECK(c.private_key_previous == NULL); /* cfg_free wipes */

	/* from a file, and both forms refused */
	char *path = write_temp(pem);
	CHECK(path != NULL);
	if (path) {
		base_env();
		setenv("SGID_PRIVATE_KEY", second, 1);
		setenv("SGID_PRIVATE_KEY_PREVIOUS_FILE", path, 1);
		CHECK_INT(load(&c, &e), 0);
		CHECK(c.private_key_previous != NULL);
		cfg_free(&c);
		setenv("SGID_PRIVATE_KEY_PREVIOUS", pem, 1);
		CHECK_INT(load(&c, &e), -1);
		CHECK_STR(e.var, "SGID_PRIVATE_KEY_PREVIOUS");
		CHECK(strstr(e.msg, "SGID_PRIVATE_KEY_PREVIOUS_FILE") != NULL);
		unlink(path);
		clear_env();
	}
	expect_fail("SGID_PRIVATE_KEY_PREVIOUS_FILE", "/nonexistent/key.pem", "SGID_PRIVATE_KEY_PREVIOUS_FILE");
	expect_fail("SGID_PRIVATE_KEY_PREVIOUS", "Your previous private key", "SGID_PRIVATE_KEY_PREVIOUS");
	expect_fail("SGID_PRIVATE_KEY_PREVIOUS",
		"-----BEGIN PRIVATE KEY-----\\nnotakey\\n-----END PRIVATE KEY-----", "SGID_PRIVATE_KEY_PREVIOUS");

	/* the same key twice loads (with a warning): the service still works */
	expect_ok("SGID_PRIVATE_KEY_PREVIOUS", pem_escaped, &c);
	CHECK(crypto_pkey_same_public(c.private_key, c.private_key_previous));
	cfg_free(&c);
	free(second);
}

static void test_parse_data(void)
{
	struct config c;

	expect_ok("SGID_CLIENT_ID", "TESTCLIENT", &c);
	CHECK(!c.parse_data); /* default off: values stay strings */
	cfg_free(&c);
	expect_ok("SGID_PARSE_DATA", "1", &c);
	CHECK(c.parse_data);
	cfg_free(&c);
	expect_ok("SGID_PARSE_DATA", "off", &c);
	CHECK(!c.parse_data);
	cfg_free(&c);
	expect_fail("SGID_PARSE_DATA", "json", "SGID_PARSE_DATA");
}

/* The upgrade's transition for session ids without a MAC: off unless set. */
static void test_accept_legacy_ids(void)
{
	struct config c;

	expect_ok("SGID_CLIENT_ID", "TESTCLIENT", &c);
	CHECK(!c.session_accept_legacy_ids);
	cfg_free(&c);
	expect_ok("SESSION_ACCEPT_LEGACY_IDS", "on", &c);
	CHECK(c.session_accept_legacy_ids);
	cfg_free(&c);
	expect_ok("SESSION_ACCEPT_LEGACY_IDS", "0", &c);
	CHECK(!c.session_accept_legacy_ids);
	cfg_free(&c);
	expect_fail("SESSION_ACCEPT_LEGACY_IDS", "yes-for-a-while", "SESSION_ACCEPT_LEGACY_IDS");
}

/* ---- .env through cfg_load ---- */

static void test_dotenv_file(void)
{
	struct config c;
	struct cfg_error e;
	struct buf text = BUF_INIT;

	clear_env();
	buf_printf(&text,
		"# sgid-fcgi test\n"
		"export SGID_CLIENT_ID=FILECLIENT\n"
		"SGID_CLIENT_SECRET='file-secret'\n"
		"SGID_PRIVATE_KEY=\"%s\"\n"
		"SGID_HOSTNAME=http://localhost:5156 # MockPass\n"
		"LOGIN_TTL_SECONDS=120\n"
		"COOKIE_SAMESITE=Strict\n",
		pem_escaped);
	char *path = write_temp(text.data);
	buf_free(&text);
	CHECK(path != NULL);
	if (!path)
		return;

	CHECK_INT(cfg_load(&c, path, &e), 0);
	CHECK_STR(c.client_id, "FILECLIENT");
	CHECK_STR(c.client_secret, "file-secret");
	CHECK_STR(c.issuer, "http://localhost:5156/v2");
	CHECK_INT(c.login_ttl, 120);
	CHECK_INT(c.cookie_samesite, SAMESITE_STRICT);
	CHECK(c.private_key != NULL);
	cfg_free(&c);
	/* the file never leaks into the environment */
	CHECK(getenv("SGID_CLIENT_SECRET") == NULL);

	/* the process environment wins */
	setenv("SGID_CLIENT_ID", "ENVCLIENT", 1);
	setenv("LOGIN_TTL_SECONDS", "60", 1);
	CHECK_INT(cfg_load(&c, path, &e), 0);
	CHECK_STR(c.client_id, "ENVCLIENT");
	CHECK_STR(c.client_secret, "file-secret");
	CHECK_INT(c.login_ttl, 60);
	cfg_free(&c);
	/* an empty environment value hides the file's (and is then unset) */
	setenv("SGID_CLIENT_SECRET", "", 1);
	CHECK_INT(cfg_load(&c, path, &e), -1);
	CHECK_STR(e.var, "SGID_CLIENT_SECRET");
	clear_env();
	unlink(path);

	/* a missing file is skipped; NULL is skipped */
	base_env();
	CHECK_INT(cfg_load(&c, "/nonexistent/.env", &e), 0);
	cfg_free(&c);
	clear_env();

	/* a malformed file is an error naming the line */
	path = write_temp("A=1\nthis is not an assignment\n");
	base_env();
	CHECK_INT(cfg_load(&c, path, &e), -1);
	CHECK_STR(e.var, ".env");
	CHECK(strstr(e.msg, "line 2") != NULL);
	unlink(path);
	/* a directory is not a .env file */
	CHECK_INT(cfg_load(&c, "/tmp", &e), -1);
	CHECK_STR(e.var, ".env");
	clear_env();
}

static int load_key(void)
{
	size_t len;
	char *text = harness_read_file("tests/vectors/sgid-test-vectors.json", &len);
	json_value *v = text ? json_parse(text, len, 1 << 20) : NULL;
	const char *k = json_get_str(v, "client_private_key_pkcs8_pem", &len);
	if (k) {
		struct buf esc = BUF_INIT;
		pem = strdup(k);
		for (size_t i = 0; i < len; i++)
			buf_append_str(&esc, k[i] == '\n' ? "\\n" : (char[]){k[i], 0});
		pem_escaped = strdup(buf_cstr(&esc));
		buf_free(&esc);
	}
	json_free(v);
	free(text);
	return pem && pem_escaped ? 0 : -1;
}


/* ---- LOGIN_PROVIDER=singpass ---- */

static void sp_fail(const char *name, const char *value, const char *var)
{
	expect_fail_in(singpass_env, name, value, var);
}

static void sp_ok(const char *name, const char *value, struct config *c)
{
	expect_ok_in(singpass_env, name, value, c);
}

static void test_login_provider(void)
{
	struct config c;

	expect_ok("SGID_CLIENT_ID", "TESTCLIENT", &c);
	CHECK_INT(c.login_provider, LOGIN_PROVIDER_SGID); /* the default */
	cfg_free(&c);
	expect_ok("LOGIN_PROVIDER", "sgid", &c);
	CHECK_INT(c.login_provider, LOGIN_PROVIDER_SGID);
	CHECK_STR(c.client_id, "TESTCLIENT");
	cfg_free(&c);
	expect_fail("LOGIN_PROVIDER", "Singpass", "LOGIN_PROVIDER");
	expect_fail("LOGIN_PROVIDER", "oidc", "LOGIN_PROVIDER");
	expect_fail("LOGIN_PROVIDER", "sgid,singpass", "LOGIN_PROVIDER");
	expect_fail("LOGIN_PROVIDER", "singpass ", "LOGIN_PROVIDER");
	/* sgID: the Singpass variables are ignored, even when wrong */
	expect_ok("SINGPASS_ISSUER", "ftp://nowhere", &c);
	CHECK_STR(c.singpass.issuer, "");
	cfg_free(&c);
	/* Singpass: the sgID ones are not required, and ignored when set */
	sp_ok("SGID_PRIVATE_KEY", "not a key at all", &c);
	CHECK_INT(c.login_provider, LOGIN_PROVIDER_SINGPASS);
	CHECK(c.private_key == NULL);
	CHECK_STR(c.client_id, "");
	cfg_free(&c);
	sp_ok("SGID_HOSTNAME", "ftp://nowhere", &c);
	cfg_free(&c);
	sp_ok("SGID_SCOPES", "no-openid", &c);
	CHECK_STR(c.scopes, "");
	cfg_free(&c);
}

static void test_singpass_defaults(void)
{
	struct config c;
	struct cfg_error e;
	uint8_t want[32];

	singpass_env();
	int rc = load(&c, &e);
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s: %s\n", e.var, e.msg);
		return;
	}
	const struct singpass_config *sp = &c.singpass;
	CHECK_INT(c.login_provider, LOGIN_PROVIDER_SINGPASS);
	CHECK_STR(sp->client_id, "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL");
	CHECK_STR(sp->issuer, "https://id.singpass.gov.sg/fapi");
	CHECK_STR(sp->scopes, "openid name");
	CHECK(!sp->myinfo);
	CHECK_STR(sp->redirect_uri, "https://app.example.sg/api/redirect");
	CHECK_STR(sp->acr_values, "");
	CHECK_STR(sp->auth_context_type, "APP_AUTHENTICATION_DEFAULT");
	CHECK_STR(sp->key_files[0], SP_SIG_KEY);
	CHECK_STR(sp->key_files[1], "");
	CHECK_STR(sp->key_files[2], SP_ENC_KEY);
	CHECK_STR(sp->key_files[3], "");
	for (int i = 0; i < CFG_SINGPASS_KEY_FILES; i++)
		CHECK_STR(sp->key_kids[i], "");
	/* a relative rd resolves against the Singpass redirect URI's origin */
	CHECK_STR(c.redirect_origin, "https://app.example.sg");
	/* the shared variables as for sgID */
	CHECK_STR(c.frontend_origin, "http://localhost:5173");
	CHECK_STR(c.cookie_name, "exampleAppSession");
	CHECK_INT(c.session_ttl, 3600);
	CHECK_STR(c.redis.host, "127.0.0.1");
	CHECK(crypto_sha256(SP_SECRET, strlen(SP_SECRET), want) == 0);
	CHECK(memcmp(c.session_secret, want, 32) == 0);
	/* nothing of sgID's */
	CHECK_STR(c.client_id, "");
	CHECK_STR(c.client_secret, "");
	CHECK_STR(c.issuer, "");
	CHECK_STR(c.redirect_uri, "");
	CHECK(c.private_key == NULL);
	cfg_free(&c);
	clear_env();
}

static void test_singpass_required(void)
{
	static const char *const required[] = { "SINGPASS_CLIENT_ID", "SINGPASS_REDIRECT_URI",
		"SINGPASS_SIGNING_KEY_FILE", "SINGPASS_ENCRYPTION_KEY_FILE", "SESSION_SECRET" };
	struct config c;
	struct cfg_error e;

	for (size_t i = 0; i < ARRAY_LEN(required); i++) {
		singpass_env();
		unsetenv(required[i]);
		CHECK_INT(load(&c, &e), -1);
		CHECK_STR(e.var, required[i]);
		CHECK(strstr(e.msg, "required") != NULL);
		singpass_env();
		setenv(required[i], "", 1); /* empty is unset */
		CHECK_INT(load(&c, &e), -1);
		CHECK_STR(e.var, required[i]);
	}
	/* no client secret to derive the session key from */
	singpass_env();
	unsetenv("SESSION_SECRET");
	CHECK_INT(load(&c, &e), -1);
	CHECK(strstr(e.msg, "SESSION_SECRET_FILE") != NULL);
	/* SESSION_SECRET_FILE will do */
	char *path = write_temp(SP_SECRET "\n");
	CHECK(path != NULL);
	if (path) {
		setenv("SESSION_SECRET_FILE", path, 1);
		CHECK_INT(load(&c, &e), 0);
		uint8_t want[32];
		CHECK(crypto_sha256(SP_SECRET, strlen(SP_SECRET), want) == 0);
		CHECK(memcmp(c.session_secret, want, 32) == 0);
		cfg_free(&c);
		unlink(path);
	}
	unsetenv("SESSION_SECRET_FILE");
	clear_env();
	sp_fail("SESSION_SECRET", "short-secret-value", "SESSION_SECRET");
	sp_fail("SINGPASS_CLIENT_ID", "with space", "SINGPASS_CLIENT_ID");
	sp_fail("SINGPASS_CLIENT_ID", "tab\tid", "SINGPASS_CLIENT_ID");
	sp_fail("SINGPASS_CLIENT_ID", "caf\xc3\xa9-client", "SINGPASS_CLIENT_ID");
	char longid[300];
	memset(longid, 'c', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	sp_fail("SINGPASS_CLIENT_ID", longid, "SINGPASS_CLIENT_ID");
}

static void test_singpass_issuer(void)
{
	static const struct { const char *in, *want; } ok[] = {
		{ "https://stg-id.singpass.gov.sg/fapi", "https://stg-id.singpass.gov.sg/fapi" },
		{ "https://stg-id.singpass.gov.sg/fapi/", "https://stg-id.singpass.gov.sg/fapi" },
		{ "https://stg-id.singpass.gov.sg/fapi//", "https://stg-id.singpass.gov.sg/fapi" },
		{ "HTTPS://ID.Singpass.GOV.SG:443/fapi", "https://id.singpass.gov.sg/fapi" },
		{ "https://idp.example:8443/Path/Kept", "https://idp.example:8443/Path/Kept" },
		{ "https://idp.example", "https://idp.example" },
		{ "https://idp.example/", "https://idp.example" },
		/* a local stand-in over plain http */
		{ "http://127.0.0.1:5157/fapi", "http://127.0.0.1:5157/fapi" },
		{ "http://[::1]:5157/fapi", "http://[::1]:5157/fapi" },
		{ "http://localhost:5156/singpass/v3/fapi", "http://localhost:5156/singpass/v3/fapi" },
	};
	struct config c;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		sp_ok("SINGPASS_ISSUER", ok[i].in, &c);
		CHECK_STR(c.singpass.issuer, ok[i].want);
		cfg_free(&c);
	}
	static const char *const bad[] = {
		"http://id.singpass.gov.sg/fapi", "http://10.0.0.1/fapi", "http://localhost.evil.com/fapi",
		"https://id.singpass.gov.sg/fapi?x=1", "https://id.singpass.gov.sg/fapi#frag",
		"https://id.singpass.gov.sg?fapi", "https://user:pw@id.singpass.gov.sg/fapi",
		"ftp://id.singpass.gov.sg/fapi", "id.singpass.gov.sg/fapi", "https://",
		"https://id.singpass.gov.sg/fa pi", "https://id.singpass.gov.sg:99999/fapi",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		sp_fail("SINGPASS_ISSUER", bad[i], "SINGPASS_ISSUER");
}

static void test_singpass_redirect_uri(void)
{
	/* kept exactly (Singpass compares it with the registered one); a
	 * relative rd resolves against its origin, SGID_REDIRECT_URI's plays
	 * no part */
	static const struct { const char *var, *in, *want_uri, *want_origin; } ok[] = {
		{ "SINGPASS_REDIRECT_URI", "https://App.example.sg:8443/cb/?x=1",
		  "https://App.example.sg:8443/cb/?x=1", "https://app.example.sg:8443" },
		{ "SINGPASS_REDIRECT_URI", "http://localhost:5001/api/redirect",
		  "http://localhost:5001/api/redirect", "http://localhost:5001" },
		{ "SINGPASS_REDIRECT_URI", "http://127.0.0.1:5001/api/redirect",
		  "http://127.0.0.1:5001/api/redirect", "http://127.0.0.1:5001" },
		{ "SGID_REDIRECT_URI", "https://other.example/cb",
		  "https://app.example.sg/api/redirect", "https://app.example.sg" },
	};
	static const char *const bad[] = { "http://app.example.sg/api/redirect",
		"https://app.example.sg/cb#frag", "/api/redirect", "sg.app://callback",
		"https://u:p@app.example.sg/cb" };
	struct config c;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		sp_ok(ok[i].var, ok[i].in, &c);
		CHECK_STR(c.singpass.redirect_uri, ok[i].want_uri);
		CHECK_STR(c.redirect_origin, ok[i].want_origin);
		cfg_free(&c);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		sp_fail("SINGPASS_REDIRECT_URI", bad[i], "SINGPASS_REDIRECT_URI");
}

/* Login scopes (openid, user.identity, name, email, mobileno) make a
 * Login app; any other scope is Myinfo's and makes a Myinfo app. */
static void test_singpass_scopes(void)
{
	static const struct { const char *in, *want; bool myinfo; } ok[] = {
		{ "openid", "openid", false },
		{ "  name   openid  ", "name openid", false },
		{ "openid user.identity name email mobileno", "openid user.identity name email mobileno", false },
		{ "openid uinfin name", "openid uinfin name", true },
		{ "openid name dob", "openid name dob", true },
		{ "openid uinfin", "openid uinfin", true },
	};
	struct config c;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		sp_ok("SINGPASS_SCOPES", ok[i].in, &c);
		CHECK_STR(c.singpass.scopes, ok[i].want);
		CHECK_INT(c.singpass.myinfo, ok[i].myinfo);
		/* a Myinfo app never sends the context type */
		CHECK_STR(c.singpass.auth_context_type, ok[i].myinfo ? "" : "APP_AUTHENTICATION_DEFAULT");
		cfg_free(&c);
	}
	static const char *const bad[] = { "name user.identity", "openidx name", "openid\tname",
		"openid na\"me", "openid caf\xc3\xa9" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		sp_fail("SINGPASS_SCOPES", bad[i], "SINGPASS_SCOPES");
}

static void test_singpass_acr_values(void)
{
	static const struct { const char *in, *want; } ok[] = {
		{ "urn:singpass:authentication:loa:2", "urn:singpass:authentication:loa:2" },
		{ " urn:singpass:authentication:loa:3  urn:singpass:authentication:loa:2 ",
		  "urn:singpass:authentication:loa:3 urn:singpass:authentication:loa:2" },
		{ "urn:singpass:authentication:loa:1", "urn:singpass:authentication:loa:1" },
	};
	struct config c;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		sp_ok("SINGPASS_ACR_VALUES", ok[i].in, &c);
		CHECK_STR(c.singpass.acr_values, ok[i].want);
		cfg_free(&c);
	}
	static const char *const bad[] = {
		"urn:singpass:authentication:loa:4", "urn:singpass:authentication:loa:x", "acr:loa:2",
		"urn:singpass:authentication:loa:22", "urn:singpass:authentication:loa:2,urn:singpass:authentication:loa:3",
		"urn:singpass:authentication:loa:2 urn:other:loa:3", "URN:SINGPASS:AUTHENTICATION:LOA:2",
		"urn:singpass:authentication:loa:2\t",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		sp_fail("SINGPASS_ACR_VALUES", bad[i], "SINGPASS_ACR_VALUES");
}

static void test_singpass_context_type(void)
{
	static const char *const ok[] = { "APP_AUTHENTICATION_DEFAULT", "APP_PAYMENT_DEFAULT",
		"APP_ACCOUNT_PASSWORD_CHANGE_DEFAULT", "APP_ACCOUNT_PASSWORD_RESET_DEFAULT",
		"APP_ACCOUNT_DETAILS_CHANGE_DEFAULT", "APP_ONBOARDING_DEFAULT", "BANK_CASA_OPENING",
		"CPF_WITHDRAWAL_1", "FI_LOAN", "TELCO_SIM_REGISTRATION" };
	struct config c;
	struct cfg_error e;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		sp_ok("SINGPASS_AUTH_CONTEXT_TYPE", ok[i], &c);
		CHECK_STR(c.singpass.auth_context_type, ok[i]);
		cfg_free(&c);
	}
	static const char *const bad[] = { "app_authentication_default", "APP_UNKNOWN_DEFAULT",
		"BANK_", "BANK_lower", "GOV_SOMETHING", "APP_AUTHENTICATION_DEFAULT ", "TELCO-SIM" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		sp_fail("SINGPASS_AUTH_CONTEXT_TYPE", bad[i], "SINGPASS_AUTH_CONTEXT_TYPE");
	/* Myinfo apps must not send it: setting it then is a mistake, named */
	singpass_env();
	setenv("SINGPASS_SCOPES", "openid uinfin", 1);
	setenv("SINGPASS_AUTH_CONTEXT_TYPE", "APP_AUTHENTICATION_DEFAULT", 1);
	CHECK_INT(load(&c, &e), -1);
	CHECK_STR(e.var, "SINGPASS_AUTH_CONTEXT_TYPE");
	CHECK(strstr(e.msg, "Myinfo") != NULL);
	clear_env();
}

static void test_singpass_key_vars(void)
{
	struct config c;
	struct cfg_error e;

	singpass_env();
	setenv("SINGPASS_SIGNING_KEY_PREVIOUS_FILE", "/etc/sgid-fcgi/old-sig.pem", 1);
	setenv("SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE", "/etc/sgid-fcgi/old-enc.pem", 1);
	setenv("SINGPASS_SIGNING_KEY_ID", "sig-2026", 1);
	setenv("SINGPASS_SIGNING_KEY_PREVIOUS_ID", "sig-2025", 1);
	setenv("SINGPASS_ENCRYPTION_KEY_ID", "enc-2026", 1);
	setenv("SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID", "enc-2025", 1);
	CHECK_INT(load(&c, &e), 0);
	static const char *const files[] = { SP_SIG_KEY, "/etc/sgid-fcgi/old-sig.pem", SP_ENC_KEY,
		"/etc/sgid-fcgi/old-enc.pem" };
	static const char *const kids[] = { "sig-2026", "sig-2025", "enc-2026", "enc-2025" };
	for (int i = 0; i < CFG_SINGPASS_KEY_FILES; i++) {
		CHECK_STR(c.singpass.key_files[i], files[i]);
		CHECK_STR(c.singpass.key_kids[i], kids[i]);
	}
	cfg_free(&c);
	clear_env();
	/* a kid for a key that is not there */
	sp_fail("SINGPASS_SIGNING_KEY_PREVIOUS_ID", "sig-2025", "SINGPASS_SIGNING_KEY_PREVIOUS_ID");
	sp_fail("SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID", "enc-2025", "SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID");
	char longv[600];
	memset(longv, 'k', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	sp_fail("SINGPASS_ENCRYPTION_KEY_ID", longv, "SINGPASS_ENCRYPTION_KEY_ID");
	sp_fail("SINGPASS_SIGNING_KEY_FILE", longv, "SINGPASS_SIGNING_KEY_FILE");
	/* the variable names the key loader reports */
	CHECK_STR(cfg_singpass_key_var(0, false), "SINGPASS_SIGNING_KEY_FILE");
	CHECK_STR(cfg_singpass_key_var(3, false), "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE");
	CHECK_STR(cfg_singpass_key_var(1, true), "SINGPASS_SIGNING_KEY_PREVIOUS_ID");
	CHECK_STR(cfg_singpass_key_var(2, true), "SINGPASS_ENCRYPTION_KEY_ID");
}

/* `sgid-fcgi jwks` reads the key variables alone: from a .env file too,
 * whatever LOGIN_PROVIDER says and with nothing else configured. */
static void test_singpass_keys_only(void)
{
	struct singpass_config sp;
	struct cfg_error e;
	char *path = write_temp("SINGPASS_SIGNING_KEY_FILE=/k/sig.pem\n"
		"SINGPASS_ENCRYPTION_KEY_FILE=/k/enc.pem\nSINGPASS_ENCRYPTION_KEY_ID=enc-1\n");
	char envpath[64];

	CHECK(path != NULL);
	if (!path)
		return;
	snprintf(envpath, sizeof(envpath), "%s", path);
	clear_env();
	CHECK_INT(cfg_load_singpass_keys(&sp, envpath, &e), 0);
	CHECK_STR(sp.key_files[0], "/k/sig.pem");
	CHECK_STR(sp.key_files[2], "/k/enc.pem");
	CHECK_STR(sp.key_kids[2], "enc-1");
	CHECK_STR(sp.key_files[1], "");
	setenv("SINGPASS_ENCRYPTION_KEY_FILE", "/env/enc.pem", 1); /* the environment wins */
	CHECK_INT(cfg_load_singpass_keys(&sp, envpath, &e), 0);
	CHECK_STR(sp.key_files[2], "/env/enc.pem");
	setenv("SINGPASS_SIGNING_KEY_FILE", "", 1); /* and "" unsets */
	CHECK_INT(cfg_load_singpass_keys(&sp, envpath, &e), -1);
	CHECK_STR(e.var, "SINGPASS_SIGNING_KEY_FILE");
	clear_env();
	CHECK_INT(cfg_load_singpass_keys(&sp, NULL, &e), -1);
	CHECK_STR(e.var, "SINGPASS_SIGNING_KEY_FILE");
	unlink(envpath);
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "test_cfg", no_crypto_session_secret);
	RUN(test_dotenv_basic);
	RUN(test_dotenv_quotes);
	RUN(test_dotenv_pem);
	RUN(test_dotenv_malformed);
	RUN(test_dotenv_stop);
	RUN(test_redis_url);
	if (load_key() != 0) {
		fprintf(stderr, "cannot read the test key from tests/vectors/sgid-test-vectors.json\n");
		CHECK(0);
		return harness_report("test_cfg");
	}
	/* cfg warns on stderr for SameSite=None + COOKIE_SECURE=off: keep it quiet */
	log_set_level(LOG_LVL_ERROR);
	RUN(test_defaults);
	RUN(test_required);
	RUN(test_hostname);
	RUN(test_urls);
	RUN(test_gateway);
	RUN(test_allowlists);
	RUN(test_scopes);
	RUN(test_numbers);
	RUN(test_cookie_settings);
	RUN(test_session_secret);
	RUN(test_session_secret_previous);
	RUN(test_session_max_per_user);
	RUN(test_session_secret_unavailable);
	RUN(test_log_level);
	RUN(test_https_proxy);
	RUN(test_secret_files);
	RUN(test_ca_file);
	RUN(test_audit);
	RUN(test_redis_env);
	RUN(test_key_inline_and_file);
	RUN(test_previous_key);
	RUN(test_parse_data);
	RUN(test_accept_legacy_ids);
	RUN(test_dotenv_file);
	RUN(test_login_provider);
	RUN(test_singpass_defaults);
	RUN(test_singpass_required);
	RUN(test_singpass_issuer);
	RUN(test_singpass_redirect_uri);
	RUN(test_singpass_scopes);
	RUN(test_singpass_acr_values);
	RUN(test_singpass_context_type);
	RUN(test_singpass_key_vars);
	RUN(test_singpass_keys_only);
	clear_env();
	free(pem);
	free(pem_escaped);
	return harness_report("test_cfg");
}
