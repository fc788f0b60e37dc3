/* The provider seam: api.c drives whatever provider the thread has through
 * struct provider alone. A fake provider (its own ops table, no network)
 * stands in for sgID and Singpass and records what the handlers asked of
 * it: the bulkhead around an authorize that calls the provider, the
 * answers to a full bulkhead and to a provider that fails (nothing sealed,
 * no cookie, no session ended), a callback that brings the profile at
 * once (no profile call) and one that does not (the gateway's profile call
 * inside the bulkhead, the SPA's at its first /api/userinfo), the secret
 * authorize keeps in the attempt cookie coming back to the callback, and
 * GET /api/jwks: the provider's keys, cacheable, or 404 for sgID, which
 * publishes none. The in-memory store (mem_store.h) stands in for Redis. */
#include "api.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "log.h"
#include "mem_store.h"
#include "provider_impl.h"
#include "util.h"

#define FRONTEND "http://localhost:5173"
#define COOKIE "exampleAppSession"
#define FAKE_URL "https://op.example/authorize?client_id=c&request_uri=urn:fake:"
#define FAKE_AT "AT.fake-provider-token.NEVER-SHOWN-77d1"
#define FAKE_JWKS "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"rp-sig-1\",\"use\":\"sig\"}]}"

static struct config cfg;
static struct app app;
static struct mem_store mem;
static struct response res;
static struct scoreboard *sb;

/* The store records whether the thread still held a bulkhead place when
 * it stored a new session (after the provider is done with). */
static int in_bulkhead_at_set = -1;

static enum store_err hook_index_add(struct store *s, const char *idx, const char *key,
	const void *val, size_t len, int ttl, long long expires_ms, long long now_ms, int max,
	int idx_ttl, int *evicted)
{
	in_bulkhead_at_set = scoreboard_sgid_count(sb);
	return mem_index_add(s, idx, key, val, len, ttl, expires_ms, now_ms, max, idx_ttl, evicted);
}

static const struct store_ops hook_ops = {
	.set = mem_set, .get = mem_get, .getdel = mem_getdel, .del = mem_del,
	.ping = mem_ping, .probe_write = mem_probe_write, .destroy = mem_destroy,
	.index_add = hook_index_add, .index_del = mem_index_del,
	.index_move = mem_index_move, .index_scan = mem_index_scan,
};
static struct store mstore = { &hook_ops, &mem, "", NULL };
static char tmpdir[40];
static struct provider sgid_provider; /* the thread's own, kept aside */

/* ---- the fake provider ------------------------------------------------------ */

struct fake {
	bool calls_provider;            /* authorize_calls_provider */
	enum provider_err authorize_rc;
	enum login_outcome callback_rc;
	bool callback_gives_profile;
	bool callback_no_sub;           /* "ok" with no user: a provider's bug */
	enum provider_err profile_rc;
	int authorizes, callbacks, profiles, jwks;
	int in_bulkhead_at_authorize;   /* scoreboard_sgid_count() seen inside */
	int in_bulkhead_at_profile;
	char state[64];                 /* the last attempt's */
	uint8_t secret[64];             /* what authorize keeps for the callback */
	uint8_t seen_secret[64];        /* what the callback got back */
	size_t seen_secret_len;
	char seen_code[64];
};
static struct fake fk;

static enum provider_err fake_authorize(struct provider *p, struct session *login, struct buf *url)
{
	fk.authorizes++;
	fk.in_bulkhead_at_authorize = scoreboard_sgid_count(sb);
	if (fk.authorize_rc != PROVIDER_OK) {
		provider_set_err(p, "fake: the provider refused the pushed request");
		return fk.authorize_rc;
	}
	snprintf(login->state, sizeof(login->state), "fake-state-%d-%lld", fk.authorizes,
	         (long long)now_unix());
	snprintf(login->nonce, sizeof(login->nonce), "fake-nonce-%d", fk.authorizes);
	memcpy(login->provider_secret, fk.secret, sizeof(fk.secret));
	login->provider_secret_len = sizeof(fk.secret);
	memcpy(fk.state, login->state, sizeof(fk.state));
	return buf_printf(url, FAKE_URL "%d", fk.authorizes) == 0 ? PROVIDER_OK : PROVIDER_ERR_INTERNAL;
}

static enum login_outcome fake_callback(struct provider *p, const char *code, size_t code_len,
	const struct session *login, struct session *user)
{
	fk.callbacks++;
	snprintf(fk.seen_code, sizeof(fk.seen_code), "%.*s", (int)code_len, code);
	memcpy(fk.seen_secret, login->provider_secret, sizeof(fk.seen_secret));
	fk.seen_secret_len = login->provider_secret_len;
	if (fk.callback_rc != LOGIN_OK) {
		provider_set_err(p, "fake: the ID token's signature did not verify");
		return fk.callback_rc;
	}
	if (!fk.callback_no_sub)
		snprintf(user->sub, sizeof(user->sub), "fake-sub-%s", login->nonce);
	if (buf_append_str(&user->access_token, FAKE_AT) != 0 ||
	    (fk.callback_gives_profile && buf_append_str(&user->profile, "{\"name\":\"FROM CALLBACK\"}")))
		return LOGIN_INTERNAL;
	return LOGIN_OK;
}

static enum provider_err fake_profile(struct provider *p, struct session *user)
{
	fk.profiles++;
	fk.in_bulkhead_at_profile = scoreboard_sgid_count(sb);
	if (fk.profile_rc != PROVIDER_OK) {
		provider_set_err(p, "fake: userinfo answered 500");
		return fk.profile_rc;
	}
	return buf_append_str(&user->profile, "{\"name\":\"FROM PROFILE\"}") ? PROVIDER_ERR_INTERNAL
	                                                                     : PROVIDER_OK;
}

static int fake_jwks(struct provider *p, struct buf *out)
{
	(void)p;
	fk.jwks++;
	return buf_append_str(out, FAKE_JWKS);
}

static void fake_free(struct provider *p)
{
	p->impl = NULL;
}

static struct provider_ops fake_ops = {
	.name = "fake", .authorize = fake_authorize, .callback = fake_callback,
	.profile = fake_profile, .public_jwks = fake_jwks, .free = fake_free,
};

/* The thread's provider becomes the fake, set as f says. */
static void use_fake(const struct fake *f)
{
	fk = *f;
	for (size_t i = 0; i < sizeof(fk.secret); i++)
		fk.secret[i] = (uint8_t)(0xff - i * 3); /* zero bytes and high ones */
	fake_ops.authorize_calls_provider = fk.calls_provider;
	provider_free(&app.provider);
	app.provider.ops = &fake_ops;
	app.provider.impl = &fk;
	mem_destroy(&mstore);
	in_bulkhead_at_set = -1;
}

/* ---- calling the handlers ---------------------------------------------------- */

static char hv[8192];

static const char *header(const char *name)
{
	const char *p = res.headers.data, *end = p ? p + res.headers.len : NULL;
	size_t nl = strlen(name);
	while (p && p < end) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(hv, sizeof(hv), "%.*s", (int)(eol - v), v);
			return hv;
		}
		p = eol + 2;
	}
	return NULL;
}

static const char *last_route;

static void call(const char *method, const char *path, const char *query, const char *cookie)
{
	struct request req = { .method = method, .path = path, .query = query ? query : "",
	                       .cookie = cookie };
	struct handled info = { NULL };
	resp_free(&res);
	resp_init(&res);
	api_handle(&app, &req, &res, &info);
	last_route = info.route;
	CHECK(!res.failed);
	/* what the fake handed over never reaches an answer */
	CHECK(!res.body.data || !strstr(res.body.data, FAKE_AT));
	CHECK(!res.headers.data || !strstr(res.headers.data, FAKE_AT));
}

static const char *body(void)
{
	return buf_cstr(&res.body);
}

/* Our cookie's value in the last answer's Set-Cookie, "" when none. */
static const char *set_cookie(void)
{
	static char val[4096];
	const char *sc = header("Set-Cookie");
	val[0] = '\0';
	if (sc && strncmp(sc, COOKIE "=", strlen(COOKIE "=")) == 0)
		snprintf(val, sizeof(val), "%.*s", (int)strcspn(sc + strlen(COOKIE "="), ";"),
		         sc + strlen(COOKIE "="));
	return val;
}

static char cookie_buf[4200];
static const char *cookie_of(const char *val)
{
	snprintf(cookie_buf, sizeof(cookie_buf), COOKIE "=%s", val);
	return cookie_buf;
}

static bool redirects_to(const char *prefix)
{
	const char *loc = res.status == 302 ? header("Location") : NULL;
	return loc && strncmp(loc, prefix, strlen(prefix)) == 0;
}

/* The JSON body's "error" member is code. */
static bool json_error_is(const char *code)
{
	json_value *j = res.body.data ? json_parse(res.body.data, res.body.len, 1 << 16) : NULL;
	const char *e = j ? json_get_str(j, "error", NULL) : NULL;
	bool ok = e && strcmp(e, code) == 0;
	json_free(j);
	return ok;
}

/* ---- the tests ---------------------------------------------------------------- */

/* authorize_calls_provider: auth-url and /api/login hold a place in the
 * bulkhead around authorize; a full one turns the login away with 503 and
 * Retry-After before the provider is asked; an upstream failure is a 502,
 * an internal one a 500; none of them seals an attempt, sets a cookie or
 * ends the session the browser has. */
static void test_authorize_in_bulkhead(void)
{
	use_fake(&(struct fake){ .calls_provider = true });
	call("GET", "/api/auth-url", "icecream=Mango", NULL);
	CHECK_INT(res.status, 200);
	CHECK_INT(fk.authorizes, 1);
	CHECK_INT(fk.in_bulkhead_at_authorize, 1);
	CHECK_INT(scoreboard_sgid_count(sb), 0);     /* given back */
	CHECK(strstr(body(), "urn:fake:1") != NULL);
	CHECK(set_cookie()[0] != '\0');
	CHECK_INT(mem.calls, 0);                      /* an attempt costs the store nothing */

	/* a full bulkhead: another thread holds the one place */
	struct sb_slot_ref other = { .sb = sb, .index = 1 };
	CHECK(scoreboard_enter_sgid(other));
	unsigned long rejected = atomic_load(&sb->shm->rejected);
	static const char *const paths[] = { "/api/auth-url", "/api/login" };
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		call("GET", paths[i], i ? "rd=/app" : "", cookie_of("live-session-cookie-value"));
		CHECK_INT(res.status, 503);
		CHECK_STR(header("Retry-After"), "1");
		CHECK(json_error_is("over_capacity"));
		CHECK(header("Set-Cookie") == NULL);
		CHECK(header("Location") == NULL);
	}
	CHECK_INT(fk.authorizes, 1);                  /* the provider never asked */
	CHECK_INT((long)(atomic_load(&sb->shm->rejected) - rejected), 2);
	CHECK_INT(mem.calls, 0);                      /* no session ended either */
	scoreboard_leave_sgid(other);

	/* the provider fails: 502 (upstream), 500 (internal), nothing set */
	static const struct { enum provider_err e; int status; const char *error; } fails[] = {
		{ PROVIDER_ERR_UPSTREAM, 502, "provider_unavailable" },
		{ PROVIDER_ERR_INTERNAL, 500, "internal_error" },
	};
	for (size_t f = 0; f < ARRAY_LEN(fails); f++)
		for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
			fk.authorize_rc = fails[f].e;
			int before = fk.authorizes;
			call("GET", paths[i], i ? "rd=/app" : "", cookie_of("live-session-cookie-value"));
			CHECK_INT(res.status, fails[f].status);
			CHECK(json_error_is(fails[f].error));
			CHECK_INT(fk.authorizes, before + 1);
			CHECK_INT(scoreboard_sgid_count(sb), 0);
			CHECK(header("Set-Cookie") == NULL);
			CHECK(header("Location") == NULL);
			CHECK(header("Retry-After") == NULL);
			CHECK_INT(mem.calls, 0);
		}
}

/* A provider whose authorize is local work (sgID's) is never turned away
 * by a full bulkhead: auth-url still answers. */
static void test_local_authorize_ignores_bulkhead(void)
{
	use_fake(&(struct fake){ .calls_provider = false });
	struct sb_slot_ref other = { .sb = sb, .index = 1 };
	CHECK(scoreboard_enter_sgid(other));
	call("GET", "/api/auth-url", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK_INT(fk.authorizes, 1);
	CHECK_INT(fk.in_bulkhead_at_authorize, 1);    /* the other thread's place only */
	CHECK(set_cookie()[0] != '\0');
	scoreboard_leave_sgid(other);
}

/* The callback of an SPA login: the code and the attempt's provider
 * secret reach the provider; a callback without the profile leaves it for
 * the first /api/userinfo (one profile call, then cached); one that
 * brings it needs no profile call at all. */
static void test_spa_callback(void)
{
	for (int gives = 0; gives < 2; gives++) {
		use_fake(&(struct fake){ .calls_provider = true, .callback_gives_profile = gives });
		call("GET", "/api/auth-url", NULL, NULL);
		CHECK_INT(res.status, 200);
		char attempt[4096], q[256], sess[256];
		snprintf(attempt, sizeof(attempt), "%s", set_cookie());
		/* the secret is sealed, not readable in the cookie */
		snprintf(q, sizeof(q), "code=the-code-%d&state=%s", gives, fk.state);
		call("GET", "/api/redirect", q, cookie_of(attempt));
		CHECK(redirects_to(FRONTEND "/logged-in"));
		CHECK_INT(in_bulkhead_at_set, 0);         /* the place given back first */
		CHECK_INT(fk.callbacks, 1);
		CHECK_INT(scoreboard_sgid_count(sb), 0);
		CHECK_STR(fk.seen_code, gives ? "the-code-1" : "the-code-0");
		CHECK_INT(fk.seen_secret_len, sizeof(fk.secret));
		CHECK(memcmp(fk.seen_secret, fk.secret, sizeof(fk.secret)) == 0);
		CHECK_INT(fk.profiles, 0);                /* an SPA login asks later */
		snprintf(sess, sizeof(sess), "%s", set_cookie());
		CHECK(strlen(sess) == SESSION_ID_LEN);
		call("GET", "/api/userinfo", NULL, cookie_of(sess));
		CHECK_INT(res.status, 200);
		CHECK(strstr(body(), gives ? "FROM CALLBACK" : "FROM PROFILE") != NULL);
		CHECK_INT(fk.profiles, gives ? 0 : 1);
		if (!gives)
			CHECK_INT(fk.in_bulkhead_at_profile, 1);
		call("GET", "/api/userinfo", NULL, cookie_of(sess));
		CHECK_INT(res.status, 200);
		CHECK_INT(fk.profiles, gives ? 0 : 1);   /* cached in the session */
	}
}

/* A gateway login: the profile is fetched before the session exists,
 * inside the bulkhead, unless the callback brought it; a provider that
 * fails ends on the error page with the outcome it gave, no session. */
static void test_gateway_callback(void)
{
	for (int gives = 0; gives < 2; gives++) {
		use_fake(&(struct fake){ .calls_provider = true, .callback_gives_profile = gives });
		call("GET", "/api/login", "rd=/app/page", NULL);
		CHECK(redirects_to(FAKE_URL "1"));
		char attempt[4096], q[256];
		snprintf(attempt, sizeof(attempt), "%s", set_cookie());
		snprintf(q, sizeof(q), "code=gw-code&state=%s", fk.state);
		call("GET", "/api/redirect", q, cookie_of(attempt));
		CHECK(res.status == 302 && header("Location") && strstr(header("Location"), "/app/page"));
		CHECK_INT(in_bulkhead_at_set, 0);         /* the place given back first */
		CHECK_INT(fk.callbacks, 1);
		CHECK_INT(fk.profiles, gives ? 0 : 1);
		if (!gives)
			CHECK_INT(fk.in_bulkhead_at_profile, 1);
		CHECK_INT(scoreboard_sgid_count(sb), 0);
		CHECK(fk.seen_secret_len == sizeof(fk.secret) &&
		      memcmp(fk.seen_secret, fk.secret, sizeof(fk.secret)) == 0);
		/* the gateway check hands the profile on */
		char sess[256];
		snprintf(sess, sizeof(sess), "%s", set_cookie());
		call("GET", "/api/auth", NULL, cookie_of(sess));
		CHECK_INT(res.status, 200);
		CHECK(header("X-Sgid-Sub") && strncmp(header("X-Sgid-Sub"), "fake-sub-", 9) == 0);
	}
	/* the provider's failures: its outcome, the error page, no session */
	static const struct { enum login_outcome cb; enum provider_err pr; bool no_sub; } fails[] = {
		{ LOGIN_ID_TOKEN_SIGNATURE, PROVIDER_OK, false },
		{ LOGIN_OK, PROVIDER_ERR_UPSTREAM, false },
		{ LOGIN_OK, PROVIDER_OK, true },
	};
	for (size_t i = 0; i < ARRAY_LEN(fails); i++) {
		use_fake(&(struct fake){ .calls_provider = true, .callback_rc = fails[i].cb,
		                         .profile_rc = fails[i].pr, .callback_no_sub = fails[i].no_sub });
		call("GET", "/api/login", "rd=/app", NULL);
		char attempt[4096], q[256];
		snprintf(attempt, sizeof(attempt), "%s", set_cookie());
		snprintf(q, sizeof(q), "code=c&state=%s", fk.state);
		call("GET", "/api/redirect", q, cookie_of(attempt));
		CHECK(redirects_to(FRONTEND "/error"));
		CHECK_INT(fk.callbacks, 1);
		CHECK_INT(fk.profiles, fails[i].cb == LOGIN_OK && !fails[i].no_sub ? 1 : 0);
		CHECK_INT(scoreboard_sgid_count(sb), 0);
		CHECK(strlen(set_cookie()) != SESSION_ID_LEN);
		CHECK_INT(mem_count(&mem), 1);           /* the spent attempt's marker only */
	}
}

/* RFC 9207: a provider with an issuer (Singpass's) has a callback's iss,
 * when sent, equal to it: another (a mix-up) ends on the error page before
 * the code reaches the provider, on an error callback too; no iss is
 * accepted; a provider without one (sgID) ignores it. */
static void test_callback_iss(void)
{
	static const struct { const char *issuer, *iss, *extra; bool ok; } cases[] = {
		{ "https://op.example/fapi", "https%3A%2F%2Fop.example%2Ffapi", "", true },
		{ "https://op.example/fapi", NULL, "", true },
		{ "https://op.example/fapi", "https%3A%2F%2Fevil.example%2Ffapi", "", false },
		{ "https://op.example/fapi", "https%3A%2F%2Fop.example%2Ffapi%2F", "", false },
		{ "https://op.example/fapi", "https%3A%2F%2Fevil.example%2Ffapi", "&error=access_denied",
		  false },
		{ NULL, "https%3A%2F%2Fevil.example%2Ffapi", "", true },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		use_fake(&(struct fake){ .calls_provider = true, .callback_gives_profile = true });
		app.provider.issuer = cases[i].issuer;
		call("GET", "/api/auth-url", NULL, NULL);
		char attempt[4096], q[512];
		snprintf(attempt, sizeof(attempt), "%s", set_cookie());
		snprintf(q, sizeof(q), "code=c&state=%s%s%s%s", fk.state, cases[i].iss ? "&iss=" : "",
		         cases[i].iss ? cases[i].iss : "", cases[i].extra);
		call("GET", "/api/redirect", q, cookie_of(attempt));
		CHECK(redirects_to(FRONTEND) && strstr(header("Location"), cases[i].ok ? "/logged-in"
		                                                                      : "/error"));
		CHECK_INT(fk.callbacks, cases[i].ok ? 1 : 0);
		CHECK_INT(strlen(set_cookie()) == SESSION_ID_LEN, cases[i].ok);
		app.provider.issuer = NULL;
	}
}

/* GET /api/jwks: the provider's public keys, cacheable for an hour; HEAD
 * as GET, POST refused; a provider with none (sgID) has no such route. */
static void test_jwks_route(void)
{
	use_fake(&(struct fake){ 0 });
	call("GET", "/api/jwks", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK_STR(body(), FAKE_JWKS);
	CHECK(header("Content-Type") && strncmp(header("Content-Type"), "application/json", 16) == 0);
	CHECK_STR(header("Cache-Control"), "public, max-age=3600");
	CHECK_STR(last_route, "jwks");
	call("HEAD", "/api/jwks", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK_STR(header("Cache-Control"), "public, max-age=3600");
	call("POST", "/api/jwks", NULL, NULL);
	CHECK_INT(res.status, 405);
	CHECK_STR(header("Cache-Control"), "no-store");
	CHECK_INT(fk.jwks, 2);
	/* every other answer stays no-store */
	call("GET", "/api/auth-url", NULL, NULL);
	CHECK_STR(header("Cache-Control"), "no-store");

	/* sgID: 404 as any unknown path, for every method */
	provider_free(&app.provider);
	app.provider = sgid_provider;
	memset(&sgid_provider, 0, sizeof(sgid_provider));
	static const char *const methods[] = { "GET", "HEAD", "OPTIONS", "POST" };
	for (size_t i = 0; i < ARRAY_LEN(methods); i++) {
		call(methods[i], "/api/jwks", NULL, NULL);
		CHECK_INT(res.status, 404);
		CHECK(json_error_is("not_found"));
		CHECK_STR(header("Cache-Control"), "no-store");
		CHECK_STR(last_route, "-");
	}
	CHECK_INT(fk.jwks, 2);
}

/* The dispatch: a provider this build lacks fails with a clear reason. */
static void test_dispatch(void)
{
	struct config c = cfg;
	struct provider p;
	c.login_provider = (enum login_provider)7;
	CHECK_INT(provider_init(&p, &c, NULL, NULL), -1);
	CHECK_STR(p.errstr, "LOGIN_PROVIDER=unknown: not built");
	CHECK(p.ops == NULL);
	provider_free(&p);
	/* its shared state is empty, and the threads' init says why */
	struct provider_shared *none = provider_shared_new(&c);
	CHECK(none != NULL);
	CHECK_INT(provider_init(&p, &c, NULL, none), -1);
	CHECK_STR(p.errstr, "LOGIN_PROVIDER=unknown: not built");
	provider_free(&p);
	provider_shared_free(none);
	/* sgID, with its shared state and without */
	struct provider_shared *ps = provider_shared_new(&cfg);
	CHECK(ps != NULL);
	CHECK_INT(provider_init(&p, &cfg, NULL, ps), 0);
	CHECK(p.ops && strcmp(p.ops->name, "sgid") == 0 && !p.ops->authorize_calls_provider &&
	      p.ops->public_jwks == NULL);
	CHECK(provider_shared_state(&p) != NULL);
	provider_free(&p);
	CHECK_INT(provider_init(&p, &cfg, NULL, NULL), 0);
	CHECK(provider_shared_state(&p) == NULL);
	provider_free(&p);
	provider_shared_free(ps);
	provider_shared_free(NULL);
}

static void cleanup(void)
{
	resp_free(&res);
	provider_free(&sgid_provider);
	if (app.cfg) {
		app.store = NULL; /* mstore is static */
		app_free(&app);
	}
	mem_destroy(&mstore);
	scoreboard_free(sb);
	cfg_free(&cfg);
	if (tmpdir[0])
		harness_remove_dir(tmpdir);
}

static int setup(void)
{
	static const char *const unset[] = { "SESSION_SECRET", "REDIS_URL", "REDIS_SENTINELS",
		"SGID_REDIRECT_URI", "SESSION_COOKIE_NAME", "COOKIE_SAMESITE", "COOKIE_SECURE",
		"SGID_GATEWAY_ERROR_URL", "SGID_GATEWAY_HEADERS", "SGID_PRIVATE_KEY", "LOGIN_PROVIDER" };
	for (size_t i = 0; i < ARRAY_LEN(unset); i++)
		unsetenv(unset[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgid-provider-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		return -1;
	}
	/* nothing listens there: the fake provider makes no call */
	setenv("SGID_HOSTNAME", "http://127.0.0.1:9", 1);
	setenv("SGID_CLIENT_ID", "fake-client-id", 1);
	setenv("SGID_CLIENT_SECRET", "client-secret-NEVER-SHOWN-2b8e", 1);
	setenv("SGID_PRIVATE_KEY_FILE", "tests/fixtures/client-test-key.pem", 1);
	setenv("SGID_FRONTEND_HOST", FRONTEND, 1);
	struct cfg_error err;
	if (cfg_load(&cfg, NULL, &err) != 0) {
		fprintf(stderr, "config: %s: %s\n", err.var, err.msg);
		return -1;
	}
	log_set_level(LOG_LVL_ERROR);
	sb = scoreboard_create(2, 1, 20);
	if (!sb || httpc_global_init() != 0 || app_init(&app, &cfg, NULL) != 0)
		return -1;
	store_free(app.store);
	app.store = &mstore;
	app.sessions.store = &mstore;
	app.slot = (struct sb_slot_ref){ .sb = sb, .index = 0 };
	return 0;
}

int main(void)
{
	atexit(cleanup);
	if (setup() != 0) {
		CHECK(!"set-up");
		return harness_report("test_provider");
	}
	RUN(test_dispatch);
	/* sgID's provider is kept aside for the 404 of /api/jwks */
	sgid_provider = app.provider;
	memset(&app.provider, 0, sizeof(app.provider));
	RUN(test_authorize_in_bulkhead);
	RUN(test_local_authorize_ignores_bulkhead);
	RUN(test_spa_callback);
	RUN(test_gateway_callback);
	RUN(test_callback_iss);
	RUN(test_jwks_route);
	return harness_report("test_provider");
}
