/* cfg: configuration from the environment and an optional .env file. The
 * file is never copied into the environment (children would inherit the
 * secrets); lookups try the environment first, then the file. Every value
 * is validated here, once, so the rest of the code trusts struct config.
 * Error messages name the variable and never quote a value. The SINGPASS_*
 * variables of LOGIN_PROVIDER=singpass are read in cfg_singpass.c. */
#include "cfg.h"
#include "cfg_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "dotenv.h"
#include "tls.h"
#include "urlparse.h"
#include "util.h"

#define DOTENV_MAX_BYTES (1024 * 1024)
#define DOTENV_MAX_VARS  512
#define KEY_FILE_MAX     (64 * 1024)
#define SECRET_FILE_MAX  (4 * 1024)
#define TTL_MAX          604800 /* one week */
#define TIMEOUT_MIN_MS   100
#define TIMEOUT_MAX_MS   120000
#define SESSION_SECRET_MIN 32
#define SENTINEL_PORT    26379

static const char session_secret_info[] = "sgid-fcgi session secret v1";

int cfg_fail(struct cfg_error *err, const char *var, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	snprintf(err->var, sizeof(err->var), "%s", var);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- variable lookup ---- */

struct env_pair {
	char *key;
	char *val;
};

struct envsrc {
	struct env_pair *v;
	size_t n, cap;
};

enum { ENV_ADD_NOMEM = 1, ENV_ADD_TOO_MANY = 2 };

static void envsrc_free(struct envsrc *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		secure_zero(e->v[i].val, strlen(e->v[i].val));
		free(e->v[i].key);
		free(e->v[i].val);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* dotenv callback: the last assignment of a key wins, as in python-dotenv. */
static int env_add(const char *key, const char *val, void *ud)
{
	struct envsrc *e = ud;
	char *v = strdup(val);

	if (!v)
		return ENV_ADD_NOMEM;
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->v[i].key, key) == 0) {
			secure_zero(e->v[i].val, strlen(e->v[i].val));
			free(e->v[i].val);
			e->v[i].val = v;
			return 0;
		}
	}
	if (e->n >= DOTENV_MAX_VARS) {
		free(v);
		return ENV_ADD_TOO_MANY;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct env_pair *p = realloc(e->v, cap * sizeof(*p));
		if (!p) {
			free(v);
			return ENV_ADD_NOMEM;
		}
		e->v = p;
		e->cap = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return ENV_ADD_NOMEM;
	}
	e->v[e->n].key = k;
	e->v[e->n].val = v;
	e->n++;
	return 0;
}

/* The environment wins, even when it sets a variable to "": an empty value
 * counts as unset, so `VAR= ./sgid-fcgi` switches off a file's setting. */
const char *cfg_getv(const struct envsrc *e, const char *name)
{
	const char *v = getenv(name);

	if (!v) {
		for (size_t i = e->n; i-- > 0;) {
			if (strcmp(e->v[i].key, name) == 0) {
				v = e->v[i].val;
				break;
			}
		}
	}
	return v && v[0] ? v : NULL;
}

static const char *file_strerror(int e, const char *too_big)
{
	if (e == EFBIG)
		return too_big;
	if (e == EINVAL)
		return "not a regular file";
	return strerror(e);
}

static int load_dotenv(struct envsrc *e, const char *path, struct cfg_error *err)
{
	struct buf text = BUF_INIT;
	int line = 0, rc;

	if (!path)
		return 0;
	if (file_read_all(path, DOTENV_MAX_BYTES, &text, NULL) != 0) {
		if (errno == ENOENT)
			return 0;
		return cfg_fail(err, ".env", "cannot read %s: %s", path,
			file_strerror(errno, "larger than 1 MiB"));
	}
	rc = dotenv_parse(text.data, text.len, env_add, e, &line);
	buf_free(&text);
	if (rc == -1)
		return cfg_fail(err, ".env", "%s: malformed line %d", path, line);
	if (rc == ENV_ADD_TOO_MANY)
		return cfg_fail(err, ".env", "%s: more than %d variables", path, DOTENV_MAX_VARS);
	if (rc != 0)
		return cfg_fail(err, ".env", "out of memory");
	return 0;
}

/* A secret given inline (VAR) or in a file (VAR_FILE: a systemd credential
 * under $CREDENTIALS_DIRECTORY, a container secret), so that it need not
 * sit in the environment (/proc/PID/environ). Exactly one of the two; the
 * file is read up to max bytes and one trailing newline (echo, editors) is
 * dropped. The value goes into out (wipe it with buf_free), whose data
 * stays NULL when neither is set; *var names the variable it came from. */
static int get_secret(const struct envsrc *e, const char *name, const char *file_name,
	size_t max, struct buf *out, const char **var, struct cfg_error *err)
{
	const char *inl = cfg_getv(e, name), *path = cfg_getv(e, file_name);
	char too_big[48];

	*var = name;
	if (inl && path)
		return cfg_fail(err, name, "set only one of %s and %s", name, file_name);
	if (inl)
		return buf_append(out, inl, strlen(inl)) == 0 ? 0 : cfg_fail(err, name, "out of memory");
	if (!path)
		return 0;
	*var = file_name;
	if (file_read_all(path, max, out, NULL) != 0) {
		snprintf(too_big, sizeof(too_big), "larger than %zu KiB", max / 1024);
		return cfg_fail(err, file_name, "cannot read the file: %s", file_strerror(errno, too_big));
	}
	if (out->len > 0 && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
	if (out->len > 0 && out->data[out->len - 1] == '\r')
		out->data[--out->len] = '\0';
	if (out->len == 0 || memchr(out->data, '\0', out->len)) {
		buf_free(out);
		return cfg_fail(err, file_name, "the file is empty or holds a NUL byte");
	}
	return 0;
}

/* ---- value helpers ---- */

int cfg_copy_value(char *dst, size_t cap, const char *src, const char *var,
	struct cfg_error *err)
{
	size_t n = strlen(src);

	if (n >= cap)
		return cfg_fail(err, var, "too long (at most %zu characters)", cap - 1);
	memcpy(dst, src, n + 1);
	return 0;
}


static int get_number(const struct envsrc *e, const char *var, long def, long min, long max,
	long *out, struct cfg_error *err)
{
	const char *s = cfg_getv(e, var);

	*out = def;
	if (s && parse_decimal(s, min, max, out) != 0)
		return cfg_fail(err, var, "must be a whole number from %ld to %ld", min, max);
	return 0;
}

/* on/off/true/false/yes/no/1/0; -1 when none of them. */
int cfg_parse_bool(const char *s)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* ---- the variables ---- */

static int load_client(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char id_var[] = "SGID_CLIENT_ID", secret_var[] = "SGID_CLIENT_SECRET";
	const char *id = cfg_getv(e, id_var), *var;
	struct buf secret = BUF_INIT;
	int rc = -1;

	if (cfg->login_provider != LOGIN_PROVIDER_SGID)
		return 0;
	if (!id)
		return cfg_fail(err, id_var, "is required");
	if (!is_printable_ascii(id, strlen(id)))
		return cfg_fail(err, id_var, "must be printable ASCII");
	if (cfg_copy_value(cfg->client_id, sizeof(cfg->client_id), id, id_var, err) != 0)
		return -1;
	if (get_secret(e, secret_var, "SGID_CLIENT_SECRET_FILE", SECRET_FILE_MAX, &secret, &var, err) != 0)
		goto fail;
	if (!secret.data)
		cfg_fail(err, secret_var, "is required (or SGID_CLIENT_SECRET_FILE)");
	else if (!is_printable_ascii(secret.data, secret.len))
		cfg_fail(err, var, "must be printable ASCII");
	else
		rc = cfg_copy_value(cfg->client_secret, sizeof(cfg->client_secret), secret.data, var, err);
fail:
	buf_free(&secret); /* wipes */
	return rc;
}

static int load_hostname(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SGID_HOSTNAME";
	const char *v = cfg_getv(e, var), *why;
	struct http_url u;

	if (cfg->login_provider != LOGIN_PROVIDER_SGID)
		return 0;
	if (!v)
		v = "https://api.id.gov.sg";
	if (url_parse_http(v, &u, &why) != 0)
		return cfg_fail(err, var, "%s", why);
	if (!u.https && !url_is_loopback(u.host))
		return cfg_fail(err, var, "must use https:// (http:// only for localhost, 127.0.0.0/8 or [::1])");
	/* TS SDK: issuer = new URL(hostname).origin + "/v2" */
	if (url_origin(&u, cfg->hostname, sizeof(cfg->hostname)) != 0 ||
	    (size_t)snprintf(cfg->issuer, sizeof(cfg->issuer), "%s/v2", cfg->hostname) >= sizeof(cfg->issuer))
		return cfg_fail(err, var, "too long");
	return 0;
}

static int load_urls(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v, *why;
	struct http_url u;

	if (cfg->login_provider != LOGIN_PROVIDER_SGID)
		goto frontend; /* the redirect URI is SINGPASS_REDIRECT_URI's */
	v = cfg_getv(e, "SGID_REDIRECT_URI");
	if (!v)
		v = "http://localhost:5001/api/redirect";
	if (url_parse_http(v, &u, &why) != 0)
		return cfg_fail(err, "SGID_REDIRECT_URI", "%s", why);
	if (strchr(u.rest, '#'))
		return cfg_fail(err, "SGID_REDIRECT_URI", "must not contain a fragment (RFC 6749 3.1.2)");
	if (cfg_copy_value(cfg->redirect_uri, sizeof(cfg->redirect_uri), v, "SGID_REDIRECT_URI", err) != 0)
		return -1;
	if (url_origin(&u, cfg->redirect_origin, sizeof(cfg->redirect_origin)) != 0)
		return cfg_fail(err, "SGID_REDIRECT_URI", "too long");
frontend:
	v = cfg_getv(e, "SGID_FRONTEND_HOST");
	if (!v)
		v = "http://localhost:5173";
	if (url_parse_http(v, &u, &why) != 0)
		return cfg_fail(err, "SGID_FRONTEND_HOST", "%s", why);
	if (url_origin(&u, cfg->frontend_origin, sizeof(cfg->frontend_origin)) != 0)
		return cfg_fail(err, "SGID_FRONTEND_HOST", "too long");
	cfg->frontend_https = u.https;
	return 0;
}

/* RFC 6749 3.3 scope-token: %x21 / %x23-5B / %x5D-7E */
static bool is_scope_char(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int cfg_join_tokens(const char *var, const char *v, char *out, size_t cap, bool *has_openid,
	struct cfg_error *err)
{
	size_t o = 0;

	*has_openid = false;
	for (const char *p = v; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t n = 0;
		while (p[n] && p[n] != ' ') {
			if (!is_scope_char((unsigned char)p[n]))
				return cfg_fail(err, var, "must be printable ASCII tokens separated by spaces");
			n++;
		}
		if (str_eq_n(p, n, "openid"))
			*has_openid = true;
		if (o + n + 2 > cap)
			return cfg_fail(err, var, "too long");
		if (o)
			out[o++] = ' ';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return 0;
}

static int load_scopes(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SGID_SCOPES";
	const char *v = cfg_getv(e, var);
	bool openid;

	if (cfg->login_provider != LOGIN_PROVIDER_SGID)
		return 0;
	if (cfg_join_tokens(var, v ? v : "openid myinfo.name", cfg->scopes, sizeof(cfg->scopes),
	                    &openid, err) != 0)
		return -1;
	if (!openid)
		return cfg_fail(err, var, "must include \"openid\"");
	return 0;
}

static int load_numbers(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const struct {
		const char *var;
		int def, min, max;
		int *dst;
	} ints[] = {
		{"SGID_HTTP_TIMEOUT_MS", 5000, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &cfg->http_timeout_ms},
		{"SGID_HTTP_CONNECT_TIMEOUT_MS", 2000, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &cfg->http_connect_timeout_ms},
		{"LOGIN_TTL_SECONDS", 300, 1, TTL_MAX, &cfg->login_ttl},
		{"SESSION_TTL_SECONDS", 3600, 1, TTL_MAX, &cfg->session_ttl},
		{"SGID_CLOCK_SKEW_SECONDS", 60, 0, 600, &cfg->clock_skew},
		{"SGID_JWKS_MIN_REFETCH_SECONDS", 60, 1, 86400, &cfg->jwks_refetch_interval},
		{"REDIS_CONNECT_TIMEOUT_MS", 500, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &cfg->redis.connect_timeout_ms},
		{"REDIS_TIMEOUT_MS", 1000, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &cfg->redis.command_timeout_ms},
		{"SGID_MAX_INFLIGHT", 0, 0, 1000000, &cfg->max_inflight},
		{"SGID_INFLIGHT_WAIT_MS", 250, 0, 10000, &cfg->inflight_wait_ms},
		{"SESSION_MAX_PER_USER", 20, 1, 1000, &cfg->session_max_per_user},
	};
	long v;

	for (size_t i = 0; i < ARRAY_LEN(ints); i++) {
		if (get_number(e, ints[i].var, ints[i].def, ints[i].min, ints[i].max, &v, err) != 0)
			return -1;
		*ints[i].dst = (int)v;
	}
	/* idle time defaults to, and cannot exceed, the absolute lifetime */
	if (get_number(e, "SESSION_IDLE_SECONDS", cfg->session_ttl, 1, TTL_MAX, &v, err) != 0)
		return -1;
	cfg->session_idle_ttl = (int)v;
	if (cfg->session_idle_ttl > cfg->session_ttl)
		return cfg_fail(err, "SESSION_IDLE_SECONDS", "must not exceed SESSION_TTL_SECONDS");
	if (get_number(e, "SGID_HTTP_MAX_BODY", 1024 * 1024, 4096, 64L * 1024 * 1024, &v, err) != 0)
		return -1;
	cfg->http_max_body = (size_t)v;
	return 0;
}

static int load_ca_file(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = cfg_getv(e, "SGID_CA_FILE");

	if (!v)
		return 0;
	if (cfg_copy_value(cfg->ca_file, sizeof(cfg->ca_file), v, "SGID_CA_FILE", err) != 0)
		return -1;
	/* fail at start-up, not at the first login */
	if (access(cfg->ca_file, R_OK) != 0)
		return cfg_fail(err, "SGID_CA_FILE", "cannot read the file: %s", strerror(errno));
	return 0;
}

/* Only this variable chooses a proxy: libcurl's own reading of
 * https_proxy, ALL_PROXY and friends is switched off in httpc. */
static int load_proxy(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SGID_HTTPS_PROXY";
	const char *v = cfg_getv(e, var), *why;

	if (!v)
		return 0;
	if (url_check_proxy(v, &why) != 0)
		return cfg_fail(err, var, "%s", why);
	return cfg_copy_value(cfg->https_proxy, sizeof(cfg->https_proxy), v, var, err);
}

static int load_cookie(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v;
	int secure;

	v = cfg_getv(e, "SESSION_COOKIE_NAME");
	if (!v)
		v = "exampleAppSession";
	if (!resp_is_token(v, strlen(v)))
		return cfg_fail(err, "SESSION_COOKIE_NAME", "must be a cookie name (RFC 6265 token)");
	if (cfg_copy_value(cfg->cookie_name, sizeof(cfg->cookie_name), v, "SESSION_COOKIE_NAME", err) != 0)
		return -1;

	cfg->cookie_samesite = SAMESITE_LAX;
	if ((v = cfg_getv(e, "COOKIE_SAMESITE"))) {
		enum samesite s = SAMESITE__MAX;
		for (int i = 0; i < SAMESITE__MAX; i++)
			if (strcasecmp(v, resp_samesite_name((enum samesite)i)) == 0)
				s = (enum samesite)i;
		if (s == SAMESITE__MAX)
			return cfg_fail(err, "COOKIE_SAMESITE", "must be Lax, Strict or None");
		cfg->cookie_samesite = s;
	}

	secure = cfg->frontend_https;
	if ((v = cfg_getv(e, "COOKIE_SECURE")) && (secure = cfg_parse_bool(v)) < 0)
		return cfg_fail(err, "COOKIE_SECURE", "must be on, off, true, false, 1 or 0");
	if (cfg->cookie_samesite == SAMESITE_NONE && !secure) {
		/* browsers drop SameSite=None cookies that are not Secure */
		if (v)
			log_warn("COOKIE_SECURE=off ignored: COOKIE_SAMESITE=None requires Secure");
		secure = 1;
	}
	cfg->cookie_secure = secure != 0;
	/* RFC 6265bis cookie prefixes are refused by browsers without Secure */
	/* browsers match these prefixes in any case (RFC 6265bis) */
	if (!cfg->cookie_secure && (strncasecmp(cfg->cookie_name, "__Host-", 7) == 0 ||
	    strncasecmp(cfg->cookie_name, "__Secure-", 9) == 0))
		return cfg_fail(err, "SESSION_COOKIE_NAME", "a __Host- or __Secure- name needs COOKIE_SECURE=on");
	return 0;
}

/* SESSION_SECRET or SESSION_SECRET_PREVIOUS (or their _FILE): >= 32
 * characters, hashed into a key. 1 when set, 0 when unset, -1 on error. */
static int load_secret_key(const struct envsrc *e, const char *name, const char *file_name,
	uint8_t key[32], struct cfg_error *err)
{
	struct buf v = BUF_INIT;
	const char *var;
	int rc = -1;

	if (get_secret(e, name, file_name, SECRET_FILE_MAX, &v, &var, err) != 0)
		return -1;
	if (!v.data)
		return 0;
	if (v.len < SESSION_SECRET_MIN)
		cfg_fail(err, var, "must be at least %d characters", SESSION_SECRET_MIN);
	else if (crypto_sha256(v.data, v.len, key) != 0)
		cfg_fail(err, var, "cannot hash it into a key (SHA-256 unavailable)");
	else
		rc = 1;
	buf_free(&v); /* wipes */
	return rc;
}

static int load_session_secret(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	int set = load_secret_key(e, "SESSION_SECRET", "SESSION_SECRET_FILE", cfg->session_secret, err);
	if (set < 0)
		return -1;
	if (!set && cfg->login_provider != LOGIN_PROVIDER_SGID)
		return cfg_fail(err, "SESSION_SECRET", "is required with LOGIN_PROVIDER=singpass (or "
			"SESSION_SECRET_FILE): there is no client secret to derive it from");
	/* deterministic, so every worker on every host derives the same key */
	if (!set) {
		if (crypto_hkdf_sha256(cfg->client_secret, strlen(cfg->client_secret), "", 0,
		    session_secret_info, sizeof(session_secret_info) - 1,
		    cfg->session_secret, sizeof(cfg->session_secret)) != 0)
			return cfg_fail(err, "SESSION_SECRET", "cannot derive a key from SGID_CLIENT_SECRET");
		log_warn("SESSION_SECRET unset: the session key is derived from SGID_CLIENT_SECRET, "
		         "so rotating the client secret logs everyone out");
	}
	/* the secret before the last rotation: its sessions and attempts still open */
	set = load_secret_key(e, "SESSION_SECRET_PREVIOUS", "SESSION_SECRET_PREVIOUS_FILE",
	                      cfg->session_secret_previous, err);
	if (set < 0)
		return -1;
	cfg->has_session_secret_previous = set == 1;
	if (set && memcmp(cfg->session_secret, cfg->session_secret_previous, 32) == 0)
		log_warn("SESSION_SECRET_PREVIOUS equals the current session secret: it is ignored");
	/* the upgrade's transition: cookies issued before ids carried a MAC */
	const char *v = cfg_getv(e, "SESSION_ACCEPT_LEGACY_IDS");
	int on = 0;
	if (v && (on = cfg_parse_bool(v)) < 0)
		return cfg_fail(err, "SESSION_ACCEPT_LEGACY_IDS", "must be on, off, true, false, 1 or 0");
	cfg->session_accept_legacy_ids = on == 1;
	if (on == 1)
		log_warn("SESSION_ACCEPT_LEGACY_IDS on: session ids without a MAC reach Redis and the "
		         "audit log; turn it off SESSION_TTL_SECONDS after the upgrade");
	return 0;
}

/* A comma-separated list: fn gets each entry trimmed of spaces (an empty
 * one too: fn refuses it) and its index; the first non-zero return stops
 * the walk and is returned. */
static int for_each_entry(const char *v, int (*fn)(const char *s, size_t n, size_t i, void *ctx),
	void *ctx)
{
	for (size_t i = 0;; i++) {
		size_t n = strcspn(v, ","), s = 0;
		while (s < n && v[s] == ' ')
			s++;
		while (n > s && v[n - 1] == ' ')
			n--;
		int rc = fn(v + s, n - s, i, ctx);
		if (rc != 0)
			return rc;
		v += strcspn(v, ",");
		if (!*v)
			return 0;
		v++;
	}
}

struct list_ctx {
	struct config *cfg;
	struct cfg_error *err;
	const char *var;
};

/* A list of "host:port" entries into a fixed array of endpoints. */
struct endpoint_list {
	struct list_ctx c;
	struct redis_endpoint *eps;
	size_t max;
	size_t *n;
	int default_port;
	const char *what;            /* "sentinels", "seed nodes" */
};

static int add_endpoint(const char *s, size_t n, size_t i, void *ctx)
{
	struct endpoint_list *l = ctx;
	if (i >= l->max)
		return cfg_fail(l->c.err, l->c.var, "at most %zu %s", l->max, l->what);
	struct redis_endpoint *ep = &l->eps[i];
	ep->port = l->default_port;
	if (url_parse_hostport(s, n, ep->host, sizeof(ep->host), false, &ep->port) != 0)
		return cfg_fail(l->c.err, l->c.var, "entry %zu is not host:port", i + 1);
	*l->n = i + 1;
	return 0;
}

static int load_endpoints(const struct envsrc *e, struct endpoint_list *l)
{
	const char *v = cfg_getv(e, l->c.var);
	*l->n = 0;
	return v ? for_each_entry(v, add_endpoint, l) : 0;
}

static int load_sentinels(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct endpoint_list l = { { cfg, err, "REDIS_SENTINELS" }, cfg->redis.sentinels,
		CFG_MAX_SENTINELS, &cfg->redis.n_sentinels, SENTINEL_PORT, "sentinels" };
	return load_endpoints(e, &l);
}

/* Redis Cluster: seeds only (the slot map comes from the nodes), port 6379
 * by default; one database per cluster, so db 0. */
static int load_cluster(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct endpoint_list l = { { cfg, err, "REDIS_CLUSTER" }, cfg->redis.cluster_seeds,
		CFG_MAX_CLUSTER_SEEDS, &cfg->redis.n_cluster_seeds, 6379, "seed nodes" };
	if (load_endpoints(e, &l) != 0)
		return -1;
	if (cfg->redis.n_cluster_seeds == 0)
		return 0;
	if (cfg->redis.n_sentinels > 0)
		return cfg_fail(err, "REDIS_CLUSTER", "REDIS_CLUSTER and REDIS_SENTINELS are mutually exclusive: set one");
	if (cfg->redis.db != 0)
		return cfg_fail(err, "REDIS_CLUSTER", "a cluster has only database 0: REDIS_URL must not select db %d", cfg->redis.db);
	return 0;
}

/* REDIS_CLUSTER_ALLOWED_HOSTS, REDIS_SENTINEL_ALLOWED_HOSTS: an address
 * or range (cidr.h), else a host name of letters, digits, dots and dashes. */
static int add_allowed_host(const char *s, size_t n, size_t i, void *ctx)
{
	struct list_ctx *c = ctx;
	struct redis_config *rc = &c->cfg->redis;
	struct ip_addr ip;
	const char *why;
	(void)i;
	if (memchr(s, '/', n) || memchr(s, ':', n) || ip_parse(s, n, &ip) == 0) {
		if (rc->allowed_nets.n >= CIDR_MAX_RANGES)
			return cfg_fail(c->err, c->var, "at most %d address ranges", CIDR_MAX_RANGES);
		if (cidr_parse(s, n, &rc->allowed_nets.v[rc->allowed_nets.n], &why) != 0)
			return cfg_fail(c->err, c->var, "entry %zu %s", i + 1, why);
		rc->allowed_nets.n++;
		return 0;
	}
	if (rc->n_allowed_names >= CFG_MAX_ALLOWED_HOSTS)
		return cfg_fail(c->err, c->var, "at most %d host names", CFG_MAX_ALLOWED_HOSTS);
	if (n == 0 || n >= sizeof(rc->allowed_names[0]) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") < n)
		return cfg_fail(c->err, c->var, "entry %zu is not a host name, address or range", i + 1);
	memcpy(rc->allowed_names[rc->n_allowed_names], s, n);
	rc->allowed_names[rc->n_allowed_names++][n] = '\0';
	return 0;
}

static int load_allowed_hosts(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct list_ctx c = { cfg, err, "REDIS_CLUSTER_ALLOWED_HOSTS" };
	struct list_ctx s = { cfg, err, "REDIS_SENTINEL_ALLOWED_HOSTS" };
	const char *v = cfg_getv(e, c.var), *sv = cfg_getv(e, s.var);
	cfg->redis.n_allowed_names = 0;
	cfg->redis.allowed_nets.n = 0;
	cfg->redis.sentinel_allowlist = false;
	if (v && cfg->redis.n_cluster_seeds == 0)
		return cfg_fail(err, c.var, "is for Redis Cluster only: set REDIS_CLUSTER too");
	if (sv && cfg->redis.n_sentinels == 0)
		return cfg_fail(err, s.var, "is for Redis Sentinel only: set REDIS_SENTINELS too");
	if (cfg->redis.n_sentinels > 0 && !sv)
		log_warn("REDIS_SENTINELS without REDIS_SENTINEL_ALLOWED_HOSTS: the client connects "
		         "(and sends the Redis password) to whatever master a sentinel names");
	if (sv) {
		cfg->redis.sentinel_allowlist = true;
		return for_each_entry(sv, add_allowed_host, &s);
	}
	return v ? for_each_entry(v, add_allowed_host, &c) : 0;
}

/* A readable file for a REDIS_TLS_* variable, checked at start-up. */
static int load_tls_file(const struct envsrc *e, const char *var, char *out, size_t cap,
	struct cfg_error *err)
{
	const char *v = cfg_getv(e, var);
	out[0] = '\0';
	if (!v)
		return 0;
	if (cfg_copy_value(out, cap, v, var, err) != 0)
		return -1;
	if (access(out, R_OK) != 0)
		return cfg_fail(err, var, "cannot read the file: %s", strerror(errno));
	return 0;
}

/* rediss:// settings; any of them with a redis:// or unix:// URL is a
 * mistake worth stopping for (the operator meant TLS). */
static int load_redis_tls(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char insecure_var[] = "REDIS_TLS_INSECURE_SKIP_VERIFY";
	static const char *const vars[] = { "REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE",
		"REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME", insecure_var };
	struct redis_config *rc = &cfg->redis;
	const char *v;
	int on = 0;
	if (!rc->tls) {
		for (size_t i = 0; i < ARRAY_LEN(vars); i++)
			if (cfg_getv(e, vars[i]))
				return cfg_fail(err, vars[i], "needs a rediss:// REDIS_URL");
		return 0;
	}
	if (load_tls_file(e, "REDIS_TLS_CA_FILE", rc->tls_ca_file, sizeof(rc->tls_ca_file), err) ||
	    load_tls_file(e, "REDIS_TLS_CERT_FILE", rc->tls_cert_file, sizeof(rc->tls_cert_file), err) ||
	    load_tls_file(e, "REDIS_TLS_KEY_FILE", rc->tls_key_file, sizeof(rc->tls_key_file), err))
		return -1;
	if (!rc->tls_cert_file[0] != !rc->tls_key_file[0])
		return cfg_fail(err, rc->tls_cert_file[0] ? "REDIS_TLS_KEY_FILE" : "REDIS_TLS_CERT_FILE",
			"REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together");
	if ((v = cfg_getv(e, "REDIS_TLS_SERVER_NAME"))) {
		if (!*v || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:*") <
		    strlen(v))
			return cfg_fail(err, "REDIS_TLS_SERVER_NAME", "must be a host name or address");
		if (cfg_copy_value(rc->tls_server_name, sizeof(rc->tls_server_name), v,
		               "REDIS_TLS_SERVER_NAME", err) != 0)
			return -1;
	}
	/* PEM that does not parse, a key for another certificate: now, not
	 * at the first connection */
	char why[160];
	struct tls_client_config tc = { rc->tls_ca_file, rc->tls_cert_file, rc->tls_key_file, false };
	struct tls_client *probe = tls_client_new(&tc, why, sizeof(why));
	if (!probe)
		return cfg_fail(err, strstr(why, "REDIS_TLS_KEY_FILE") ? "REDIS_TLS_KEY_FILE"
			: strstr(why, "REDIS_TLS_CERT_FILE") ? "REDIS_TLS_CERT_FILE" : "REDIS_TLS_CA_FILE",
			"%s", why);
	tls_client_free(probe);
	if ((v = cfg_getv(e, insecure_var)) && (on = cfg_parse_bool(v)) < 0)
		return cfg_fail(err, insecure_var, "must be on or off");
	rc->tls_insecure = on == 1;
	if (rc->tls_insecure)
		log_warn("%s=on: the Redis server's certificate is NOT verified; anyone on the path "
			"can read the sessions and the Redis password", insecure_var);
	return 0;
}

static int load_redis(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = cfg_getv(e, "REDIS_URL");
	char msg[200];

	if (!v)
		v = "redis://127.0.0.1:6379/0";
	if (url_parse_redis(v, &cfg->redis, msg, sizeof(msg)) != 0)
		return cfg_fail(err, "REDIS_URL", "%s", msg);
	if (load_sentinels(cfg, e, err) != 0 || load_cluster(cfg, e, err) != 0 ||
	    load_allowed_hosts(cfg, e, err) != 0 || load_redis_tls(cfg, e, err) != 0)
		return -1;
	v = cfg_getv(e, "REDIS_SENTINEL_MASTER");
	if (!v)
		v = "mymaster";
	if (!resp_is_token(v, strlen(v)))
		return cfg_fail(err, "REDIS_SENTINEL_MASTER", "must be a name without spaces or controls");
	return cfg_copy_value(cfg->redis.sentinel_master, sizeof(cfg->redis.sentinel_master), v,
		"REDIS_SENTINEL_MASTER", err);
}

/* ---- gateway mode ---- */

/* An exact origin, scheme://host[:port] and nothing after: the return URLs
 * (rd) allowed off our own origin. http:// only for loopback hosts, as the
 * rd check itself says. */
static int add_return_origin(const char *s, size_t n, size_t i, void *ctx)
{
	struct list_ctx *c = ctx;
	char entry[URL_MAX + 1];
	struct http_url u;
	const char *why;

	if (i >= CFG_MAX_RETURN_ORIGINS)
		return cfg_fail(c->err, c->var, "at most %d origins", CFG_MAX_RETURN_ORIGINS);
	if (n == 0 || n > URL_MAX)
		return cfg_fail(c->err, c->var, "entry %zu is empty or too long", i + 1);
	memcpy(entry, s, n);
	entry[n] = '\0';
	if (url_parse_http(entry, &u, &why) != 0)
		return cfg_fail(c->err, c->var, "entry %zu %s", i + 1, why);
	if (u.rest[0])
		return cfg_fail(c->err, c->var, "entry %zu must be an origin: no path, query or fragment", i + 1);
	if (!u.https && !url_is_loopback(u.host))
		return cfg_fail(c->err, c->var, "entry %zu must use https:// (http:// only for loopback hosts)", i + 1);
	if (url_origin(&u, c->cfg->return_origins[i], CFG_ORIGIN_LEN) != 0)
		return cfg_fail(c->err, c->var, "entry %zu is too long", i + 1);
	c->cfg->n_return_origins = i + 1;
	return 0;
}

/* A profile field name as sgID spells them (myinfo.nric_number): it
 * becomes part of a header name, so letters, digits, '.', '_', '-'. */
static int add_gateway_header(const char *s, size_t n, size_t i, void *ctx)
{
	struct list_ctx *c = ctx;
	if (i >= CFG_MAX_GATEWAY_HEADERS)
		return cfg_fail(c->err, c->var, "at most %d fields", CFG_MAX_GATEWAY_HEADERS);
	if (n == 0 || n >= CFG_FIELD_NAME_LEN)
		return cfg_fail(c->err, c->var, "entry %zu is empty or too long", i + 1);
	for (size_t k = 0; k < n; k++) {
		char ch = s[k];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return cfg_fail(c->err, c->var, "entry %zu: field names are letters, digits, '.', '_' or '-'", i + 1);
	}
	memcpy(c->cfg->gateway_headers[i], s, n);
	c->cfg->gateway_headers[i][n] = '\0';
	c->cfg->n_gateway_headers = i + 1;
	return 0;
}

/* "name=/path/to/file": the file read now, one sub a line (sublist). */
static int add_allowlist(const char *s, size_t n, size_t i, void *ctx)
{
	struct list_ctx *c = ctx;
	const char *eq = memchr(s, '=', n);
	char path[1024], why[96];
	struct buf text = BUF_INIT;
	if (i >= CFG_MAX_ALLOWLISTS)
		return cfg_fail(c->err, c->var, "at most %d lists", CFG_MAX_ALLOWLISTS);
	if (!eq || !sublist_name_valid(s, (size_t)(eq - s)))
		return cfg_fail(c->err, c->var, "entry %zu: name=/path/file, the name 1-%d of a-z, 0-9, '_', '-'",
		            i + 1, SUBLIST_NAME_LEN - 1);
	size_t nlen = (size_t)(eq - s), plen = n - nlen - 1;
	for (size_t k = 0; k < i; k++)
		if (strlen(c->cfg->allowlists[k].name) == nlen &&
		    memcmp(c->cfg->allowlists[k].name, s, nlen) == 0)
			return cfg_fail(c->err, c->var, "entry %zu: the name is listed twice", i + 1);
	if (plen == 0 || plen >= sizeof(path) || eq[1] != '/')
		return cfg_fail(c->err, c->var, "entry %zu: the file is an absolute path", i + 1);
	memcpy(path, eq + 1, plen);
	path[plen] = '\0';
	struct sublist *l = &c->cfg->allowlists[i];
	memcpy(l->name, s, nlen);
	l->name[nlen] = '\0';
	if (file_read_all(path, CFG_ALLOWLIST_FILE_MAX, &text, NULL) != 0)
		return cfg_fail(c->err, c->var, "list %s: cannot read the file: %s", l->name,
		            file_strerror(errno, "larger than 1 MiB"));
	int rc = sublist_parse(text.data ? text.data : "", text.len, l, why, sizeof(why));
	buf_free(&text);
	if (rc != 0)
		return cfg_fail(c->err, c->var, "list %s: %s", l->name, why);
	c->cfg->n_allowlists = i + 1;
	return 0;
}

static int load_gateway(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct list_ctx c = { cfg, err, "SGID_ALLOWED_RETURN_ORIGINS" };
	const char *v = cfg_getv(e, c.var), *why;
	struct http_url u;

	if (v) {
		if (for_each_entry(v, add_return_origin, &c) != 0)
			return -1;
	} else {
		memcpy(cfg->return_origins[0], cfg->frontend_origin, sizeof(cfg->frontend_origin));
		cfg->n_return_origins = 1;
	}
	c.var = "SGID_GATEWAY_HEADERS";
	if ((v = cfg_getv(e, c.var)) && for_each_entry(v, add_gateway_header, &c) != 0)
		return -1;
	c.var = "SGID_ALLOWLISTS";
	if ((v = cfg_getv(e, c.var)) && *v && for_each_entry(v, add_allowlist, &c) != 0)
		return -1;
	if ((v = cfg_getv(e, "SGID_GATEWAY_ERROR_URL"))) {
		if (url_parse_http(v, &u, &why) != 0)
			return cfg_fail(err, "SGID_GATEWAY_ERROR_URL", "%s", why);
		if (cfg_copy_value(cfg->gateway_error_url, sizeof(cfg->gateway_error_url), v,
		               "SGID_GATEWAY_ERROR_URL", err) != 0)
			return -1;
	}
	return 0;
}

/* The SDK's parseData, opt-in: the examples hand the SPA strings. */
static int load_parse_data(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = cfg_getv(e, "SGID_PARSE_DATA");
	int on = 0;

	if (v && (on = cfg_parse_bool(v)) < 0)
		return cfg_fail(err, "SGID_PARSE_DATA", "must be on, off, true, false, 1 or 0");
	cfg->parse_data = on == 1;
	return 0;
}

static int load_log_level(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = cfg_getv(e, "LOG_LEVEL");
	int lvl = LOG_LVL_INFO;

	if (v && (lvl = log_level_parse(v)) < 0)
		return cfg_fail(err, "LOG_LEVEL", "must be error, warn, info or debug");
	cfg->log_level = (enum log_level)lvl;
	return 0;
}

/* ---- audit log ---- */

static int add_trusted_proxy(const char *s, size_t n, size_t i, void *ctx)
{
	struct list_ctx *c = ctx;
	const char *why;
	if (i >= CIDR_MAX_RANGES)
		return cfg_fail(c->err, c->var, "at most %d ranges", CIDR_MAX_RANGES);
	if (cidr_parse(s, n, &c->cfg->trusted_proxies.v[i], &why) != 0)
		return cfg_fail(c->err, c->var, "entry %zu %s", i + 1, why);
	c->cfg->trusted_proxies.n = i + 1;
	return 0;
}

static int load_audit(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct list_ctx c = { cfg, err, "TRUSTED_PROXIES" };
	const char *v = cfg_getv(e, "AUDIT_LOG");

	if (!v)
		v = "stderr";
	if (strcmp(v, "stderr") != 0 && strcmp(v, "off") != 0 && v[0] != '/')
		return cfg_fail(err, "AUDIT_LOG", "must be stderr, off or an absolute file path");
	if (cfg_copy_value(cfg->audit_log, sizeof(cfg->audit_log), v, "AUDIT_LOG", err) != 0)
		return -1;
	v = cfg_getv(e, c.var);
	return v ? for_each_entry(v, add_trusted_proxy, &c) : 0;
}

/* One RSA private key from VAR or VAR_FILE into *out (NULL when neither
 * is set); loaded at start-up so a bad key stops the service before any
 * login. */
static int load_key(const struct envsrc *e, const char *name, const char *file_name,
	crypto_pkey **out, struct cfg_error *err)
{
	struct buf pem = BUF_INIT;
	const char *var;
	char why[160] = "";

	*out = NULL;
	if (get_secret(e, name, file_name, KEY_FILE_MAX, &pem, &var, err) != 0)
		return -1;
	if (!pem.data)
		return 0;
	*out = crypto_private_key_load(pem.data, pem.len, why, sizeof(why));
	buf_free(&pem); /* wipes the PEM */
	if (!*out)
		return cfg_fail(err, var, "not a usable RSA private key: %s", why[0] ? why : "unknown reason");
	return 0;
}

/* The current key, required, and the previous one of a key rotation,
 * optional: userinfo that sgID still encrypts to the old key opens. */
static int load_private_key(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	if (cfg->login_provider != LOGIN_PROVIDER_SGID)
		return 0;
	if (load_key(e, "SGID_PRIVATE_KEY", "SGID_PRIVATE_KEY_FILE", &cfg->private_key, err) != 0)
		return -1;
	if (!cfg->private_key)
		return cfg_fail(err, "SGID_PRIVATE_KEY", "is required (or SGID_PRIVATE_KEY_FILE)");
	if (load_key(e, "SGID_PRIVATE_KEY_PREVIOUS", "SGID_PRIVATE_KEY_PREVIOUS_FILE",
	             &cfg->private_key_previous, err) != 0)
		return -1;
	if (crypto_pkey_same_public(cfg->private_key, cfg->private_key_previous))
		log_warn("SGID_PRIVATE_KEY_PREVIOUS is the same key as SGID_PRIVATE_KEY: "
		         "a rotation needs the new key as SGID_PRIVATE_KEY and the old one as previous");
	return 0;
}

/* The variables of the provider this instance does not serve are ignored;
 * a warning says so, since a provider set wrongly is the likely cause. */
static void warn_ignored(const struct envsrc *e, const char *const *vars, size_t n,
	const char *provider)
{
	for (size_t i = 0; i < n; i++)
		if (cfg_getv(e, vars[i]))
			log_warn("%s is ignored: LOGIN_PROVIDER is %s", vars[i], provider);
}

/* LOGIN_PROVIDER first: it decides which variables are required. */
static int load_provider(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char *const sgid_only[] = { "SGID_CLIENT_ID", "SGID_CLIENT_SECRET",
		"SGID_CLIENT_SECRET_FILE", "SGID_PRIVATE_KEY", "SGID_PRIVATE_KEY_FILE",
		"SGID_PRIVATE_KEY_PREVIOUS", "SGID_PRIVATE_KEY_PREVIOUS_FILE", "SGID_HOSTNAME",
		"SGID_REDIRECT_URI", "SGID_SCOPES" };
	static const char *const singpass_only[] = { "SINGPASS_CLIENT_ID", "SINGPASS_ISSUER",
		"SINGPASS_REDIRECT_URI", "SINGPASS_SCOPES", "SINGPASS_SIGNING_KEY_FILE",
		"SINGPASS_ENCRYPTION_KEY_FILE" };
	const char *v = cfg_getv(e, "LOGIN_PROVIDER");

	if (!v || strcmp(v, "sgid") == 0) {
		cfg->login_provider = LOGIN_PROVIDER_SGID;
		warn_ignored(e, singpass_only, ARRAY_LEN(singpass_only), "sgid");
		return 0;
	}
	if (strcmp(v, "singpass") != 0)
		return cfg_fail(err, "LOGIN_PROVIDER", "must be sgid or singpass");
	cfg->login_provider = LOGIN_PROVIDER_SINGPASS;
	warn_ignored(e, sgid_only, ARRAY_LEN(sgid_only), "singpass");
	return cfg_load_singpass(cfg, e, err);
}

int cfg_load(struct config *cfg, const char *dotenv_path, struct cfg_error *err)
{
	static int (*const steps[])(struct config *, const struct envsrc *, struct cfg_error *) = {
		load_provider, load_client, load_hostname, load_urls, load_gateway, load_scopes, load_numbers,
		load_ca_file, load_proxy, load_cookie, load_session_secret, load_redis, load_log_level,
		load_parse_data, load_audit, load_private_key,
	};
	struct envsrc env = {0};

	memset(cfg, 0, sizeof(*cfg));
	if (err)
		memset(err, 0, sizeof(*err));
	if (load_dotenv(&env, dotenv_path, err) != 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_LEN(steps); i++)
		if (steps[i](cfg, &env, err) != 0)
			goto fail;
	envsrc_free(&env);
	return 0;
fail:
	envsrc_free(&env);
	cfg_free(cfg);
	return -1;
}

int cfg_load_singpass_keys(struct singpass_config *sp, const char *dotenv_path,
	struct cfg_error *err)
{
	struct envsrc env = {0};
	int rc;

	memset(sp, 0, sizeof(*sp));
	if (err)
		memset(err, 0, sizeof(*err));
	rc = load_dotenv(&env, dotenv_path, err) == 0 ? cfg_singpass_keys(sp, &env, err) : -1;
	envsrc_free(&env);
	return rc;
}

void cfg_free(struct config *cfg)
{
	if (!cfg)
		return;
	crypto_pkey_free(cfg->private_key);
	crypto_pkey_free(cfg->private_key_previous);
	for (size_t i = 0; i < CFG_MAX_ALLOWLISTS; i++)
		sublist_free(&cfg->allowlists[i]);
	secure_zero(cfg, sizeof(*cfg));
}
