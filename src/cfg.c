/* cfg: configuration from the environment and an optional .env file. The
 * file is never copied into the environment (children would inherit the
 * secrets); lookups try the environment first, then the file. Every value
 * is validated here, once, so the rest of the code trusts struct config.
 * Error messages name the variable and never quote a value. */
#include "cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "util.h"

#define DOTENV_MAX_BYTES (1024 * 1024)
#define DOTENV_MAX_VARS  512
#define DOTENV_KEY_MAX   128
#define KEY_FILE_MAX     (64 * 1024)
#define URL_MAX          2048
#define TTL_MAX          604800 /* one week */
#define TIMEOUT_MIN_MS   100
#define TIMEOUT_MAX_MS   120000
#define SESSION_SECRET_MIN 32
#define SENTINEL_PORT    26379

static const char session_secret_info[] = "sgid-fcgi session secret v1";

static int fail(struct cfg_error *err, const char *var, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cfg_error *err, const char *var, const char *fmt, ...)
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

/* ---- .env parsing ---- */

struct dotenv_cur {
	const char *p, *end;
	int line;
};

static bool at_end(const struct dotenv_cur *c)
{
	return c->p >= c->end;
}

static void skip_blank(struct dotenv_cur *c)
{
	while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* "\n", "\r\n" or the end of the text; consumes it. */
static bool take_eol(struct dotenv_cur *c)
{
	if (at_end(c))
		return true;
	if (*c->p == '\n') {
		c->p++;
		c->line++;
		return true;
	}
	if (*c->p == '\r' && c->end - c->p >= 2 && c->p[1] == '\n') {
		c->p += 2;
		c->line++;
		return true;
	}
	return false;
}

static void skip_line(struct dotenv_cur *c)
{
	while (!at_end(c) && *c->p != '\n')
		c->p++;
	take_eol(c);
}

static bool is_key_char(char ch, bool first)
{
	if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_')
		return true;
	return !first && ch >= '0' && ch <= '9';
}

static int parse_key(struct dotenv_cur *c, char key[DOTENV_KEY_MAX])
{
	size_t n = 0;

	if (at_end(c) || !is_key_char(*c->p, true))
		return -1;
	while (!at_end(c) && is_key_char(*c->p, false)) {
		if (n + 1 >= DOTENV_KEY_MAX)
			return -1;
		key[n++] = *c->p++;
	}
	key[n] = '\0';
	return 0;
}

/* Quoted value, possibly over several lines. Double quotes understand
 * \n, \" and \\ (other escapes stay as written); single quotes are literal. */
static int parse_quoted(struct dotenv_cur *c, struct buf *val)
{
	char q = *c->p++;
	int rc = 0;

	while (rc == 0) {
		if (at_end(c) || *c->p == '\0')
			return -1;
		char ch = *c->p;
		if (ch == q) {
			c->p++;
			return 0;
		}
		if (ch == '\r' && c->end - c->p >= 2 && c->p[1] == '\n') {
			c->p++;
			continue; /* CRLF files give the same value as LF ones */
		}
		if (ch == '\n')
			c->line++;
		if (q == '"' && ch == '\\' && c->end - c->p >= 2) {
			char nx = c->p[1];
			if (nx == 'n' || nx == '"' || nx == '\\') {
				rc = buf_append_char(val, nx == 'n' ? '\n' : nx);
				c->p += 2;
				continue;
			}
		}
		rc = buf_append_char(val, ch);
		c->p++;
	}
	return -1;
}

/* Unquoted: up to the end of the line or a '#' after a blank; trailing
 * blanks dropped. after_blank says the value was preceded by blanks. */
static int parse_bare(struct dotenv_cur *c, struct buf *val, bool after_blank)
{
	bool blank = after_blank;

	while (!at_end(c) && *c->p != '\n' && !(*c->p == '\r' && c->end - c->p >= 2 && c->p[1] == '\n')) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '#' && blank)
			break;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return -1;
		if (buf_append_char(val, (char)ch) != 0)
			return -1;
		blank = ch == ' ' || ch == '\t';
		c->p++;
	}
	while (val->len > 0 && (val->data[val->len - 1] == ' ' || val->data[val->len - 1] == '\t'))
		val->data[--val->len] = '\0';
	while (!at_end(c) && *c->p != '\n' && *c->p != '\r')
		c->p++; /* the comment */
	return 0;
}

/* One "KEY=VALUE" assignment, cursor after any "export ". */
static int parse_assignment(struct dotenv_cur *c, char key[DOTENV_KEY_MAX], struct buf *val)
{
	if (parse_key(c, key) != 0)
		return -1;
	skip_blank(c);
	if (at_end(c) || *c->p != '=')
		return -1;
	c->p++;
	const char *before = c->p;
	skip_blank(c);
	buf_reset(val);
	if (buf_append(val, "", 0) != 0) /* a value is never NULL */
		return -1;
	if (!at_end(c) && (*c->p == '"' || *c->p == '\'')) {
		if (parse_quoted(c, val) != 0)
			return -1;
		skip_blank(c);
		if (!at_end(c) && *c->p == '#')
			while (!at_end(c) && *c->p != '\n' && *c->p != '\r')
				c->p++;
	} else if (parse_bare(c, val, c->p != before) != 0) {
		return -1;
	}
	return take_eol(c) ? 0 : -1;
}

static bool take_export(struct dotenv_cur *c)
{
	static const char kw[] = "export";
	size_t n = sizeof(kw) - 1;

	if ((size_t)(c->end - c->p) > n && memcmp(c->p, kw, n) == 0 &&
	    (c->p[n] == ' ' || c->p[n] == '\t')) {
		c->p += n;
		skip_blank(c);
		return true;
	}
	return false;
}

int cfg_parse_dotenv(const char *text, size_t len,
	int (*fn)(const char *key, const char *val, void *ud), void *ud, int *line_no)
{
	struct dotenv_cur c = {text, text + len, 1};
	struct buf val = BUF_INIT;
	char key[DOTENV_KEY_MAX];
	int rc = 0, start = 1;

	if (line_no)
		*line_no = 0;
	/* editors on Windows start files with a UTF-8 BOM */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	while (!at_end(&c)) {
		skip_blank(&c);
		start = c.line;
		if (take_eol(&c))
			continue;
		if (*c.p == '#') {
			skip_line(&c);
			continue;
		}
		take_export(&c);
		if (parse_assignment(&c, key, &val) != 0)
			goto fail;
		if ((rc = fn(key, val.data, ud)) != 0)
			break;
	}
	buf_free(&val);
	return rc;
fail:
	if (line_no)
		*line_no = start;
	buf_free(&val);
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
static const char *getv(const struct envsrc *e, const char *name)
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

/* Whole regular file into out, at most max bytes. 0, or -1 with errno. */
static int read_file(const char *path, size_t max, struct buf *out)
{
	struct stat st;
	char chunk[4096];
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		if (out->len + (size_t)r > max) {
			errno = EFBIG;
			goto fail;
		}
		if (buf_append(out, chunk, (size_t)r) != 0) {
			errno = ENOMEM;
			goto fail;
		}
	}
	secure_zero(chunk, sizeof(chunk));
	close(fd);
	return buf_append(out, "", 0); /* never NULL, even when empty */
fail:
	saved = errno;
	secure_zero(chunk, sizeof(chunk));
	close(fd);
	buf_free(out);
	errno = saved;
	return -1;
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
	if (read_file(path, DOTENV_MAX_BYTES, &text) != 0) {
		if (errno == ENOENT)
			return 0;
		return fail(err, ".env", "cannot read %s: %s", path,
			file_strerror(errno, "larger than 1 MiB"));
	}
	rc = cfg_parse_dotenv(text.data, text.len, env_add, e, &line);
	buf_free(&text);
	if (rc == -1)
		return fail(err, ".env", "%s: malformed line %d", path, line);
	if (rc == ENV_ADD_TOO_MANY)
		return fail(err, ".env", "%s: more than %d variables", path, DOTENV_MAX_VARS);
	if (rc != 0)
		return fail(err, ".env", "out of memory");
	return 0;
}

/* ---- value helpers ---- */

static int copy_value(char *dst, size_t cap, const char *src, const char *var,
	struct cfg_error *err)
{
	size_t n = strlen(src);

	if (n >= cap)
		return fail(err, var, "too long (at most %zu characters)", cap - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

/* Non-negative decimal within [min, max]; no sign, no blanks. */
static int parse_long(const char *s, long min, long max, long *out)
{
	long v = 0;

	if (!s[0] || strlen(s) > 12)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int get_long(const struct envsrc *e, const char *var, long def, long min, long max,
	long *out, struct cfg_error *err)
{
	const char *s = getv(e, var);

	*out = def;
	if (s && parse_long(s, min, max, out) != 0)
		return fail(err, var, "must be a whole number from %ld to %ld", min, max);
	return 0;
}

static int get_int(const struct envsrc *e, const char *var, int def, int min, int max,
	int *out, struct cfg_error *err)
{
	long v;

	if (get_long(e, var, def, min, max, &v, err) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* on/off/true/false/yes/no/1/0; -1 when none of them. */
static int parse_bool(const char *s)
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

static void str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool is_host_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* host or [IPv6] from s[0..n) into host (brackets kept when keep_brackets).
 * 0 or -1. */
static int parse_host(const char *s, size_t n, char *host, size_t cap, bool keep_brackets)
{
	if (n == 0)
		return -1;
	if (s[0] == '[') {
		char a6[64];
		struct in6_addr in6;
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(a6))
			return -1;
		memcpy(a6, s + 1, n - 2);
		a6[n - 2] = '\0';
		if (inet_pton(AF_INET6, a6, &in6) != 1)
			return -1;
		if (!keep_brackets) {
			s++;
			n -= 2;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (!is_host_char(s[i]))
				return -1;
	}
	if (n >= cap)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* "host[:port]" or "[v6][:port]"; *port stays untouched when absent. */
static int parse_hostport(const char *s, size_t n, char *host, size_t cap, bool keep_brackets,
	int *port)
{
	const char *colon;
	size_t hn = n;
	long p;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return -1;
		hn = (size_t)(rb - s) + 1;
		colon = hn < n ? s + hn : NULL;
		if (colon && *colon != ':')
			return -1;
	} else {
		colon = memchr(s, ':', n);
		if (colon)
			hn = (size_t)(colon - s);
	}
	if (parse_host(s, hn, host, cap, keep_brackets) != 0)
		return -1;
	if (colon) {
		char digits[8];
		size_t dn = n - hn - 1;
		if (dn == 0 || dn >= sizeof(digits))
			return -1;
		memcpy(digits, colon + 1, dn);
		digits[dn] = '\0';
		if (parse_long(digits, 1, 65535, &p) != 0)
			return -1;
		*port = (int)p;
	}
	return 0;
}

struct http_url {
	bool https;
	char host[256];   /* lower-case; IPv6 keeps its brackets */
	int port;         /* 0 when absent */
	const char *rest; /* path, query, fragment */
};

static bool has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Absolute http(s) URL without user information. */
static int parse_http_url(const char *s, struct http_url *u, const char **why)
{
	size_t len = strlen(s), skip;

	memset(u, 0, sizeof(*u));
	*why = "must be an absolute http:// or https:// URL";
	if (len > URL_MAX || !is_printable_ascii(s, len) || strchr(s, ' '))
		return -1;
	if (has_prefix_ci(s, "https://")) {
		u->https = true;
		skip = 8;
	} else if (has_prefix_ci(s, "http://")) {
		skip = 7;
	} else {
		return -1;
	}
	const char *auth = s + skip;
	size_t an = strcspn(auth, "/?#");
	if (memchr(auth, '@', an)) {
		*why = "must not contain user information";
		return -1;
	}
	if (parse_hostport(auth, an, u->host, sizeof(u->host), true, &u->port) != 0) {
		*why = "has a bad host or port";
		return -1;
	}
	str_lower(u->host);
	u->rest = auth + an;
	return 0;
}

/* localhost, 127.0.0.0/8 and [::1]: where plain http cannot be sniffed. */
static bool is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 &&
		       memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	}
	return false;
}

/* scheme://host[:port], the default port dropped (WHATWG URL origin). */
static int url_origin(const struct http_url *u, char *out, size_t cap)
{
	const char *scheme = u->https ? "https" : "http";
	int def = u->https ? 443 : 80;
	int n;

	if (u->port && u->port != def)
		n = snprintf(out, cap, "%s://%s:%d", scheme, u->host, u->port);
	else
		n = snprintf(out, cap, "%s://%s", scheme, u->host);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* ---- the variables ---- */

static int load_client(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const struct {
		const char *var;
		size_t off, cap;
	} vars[] = {
		{"SGID_CLIENT_ID", offsetof(struct config, client_id), sizeof(cfg->client_id)},
		{"SGID_CLIENT_SECRET", offsetof(struct config, client_secret), sizeof(cfg->client_secret)},
	};

	for (size_t i = 0; i < ARRAY_LEN(vars); i++) {
		const char *v = getv(e, vars[i].var);
		if (!v)
			return fail(err, vars[i].var, "is required");
		if (!is_printable_ascii(v, strlen(v)))
			return fail(err, vars[i].var, "must be printable ASCII");
		if (copy_value((char *)cfg + vars[i].off, vars[i].cap, v, vars[i].var, err) != 0)
			return -1;
	}
	return 0;
}

static int load_hostname(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SGID_HOSTNAME";
	const char *v = getv(e, var), *why;
	struct http_url u;

	if (!v)
		v = "https://api.id.gov.sg";
	if (parse_http_url(v, &u, &why) != 0)
		return fail(err, var, "%s", why);
	if (!u.https && !is_loopback(u.host))
		return fail(err, var, "must use https:// (http:// only for localhost, 127.0.0.0/8 or [::1])");
	/* TS SDK: issuer = new URL(hostname).origin + "/v2" */
	if (url_origin(&u, cfg->hostname, sizeof(cfg->hostname)) != 0 ||
	    (size_t)snprintf(cfg->issuer, sizeof(cfg->issuer), "%s/v2", cfg->hostname) >= sizeof(cfg->issuer))
		return fail(err, var, "too long");
	return 0;
}

static int load_urls(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v, *why;
	struct http_url u;

	v = getv(e, "SGID_REDIRECT_URI");
	if (!v)
		v = "http://localhost:5001/api/redirect";
	if (parse_http_url(v, &u, &why) != 0)
		return fail(err, "SGID_REDIRECT_URI", "%s", why);
	if (strchr(u.rest, '#'))
		return fail(err, "SGID_REDIRECT_URI", "must not contain a fragment (RFC 6749 3.1.2)");
	if (copy_value(cfg->redirect_uri, sizeof(cfg->redirect_uri), v, "SGID_REDIRECT_URI", err) != 0)
		return -1;

	v = getv(e, "SGID_FRONTEND_HOST");
	if (!v)
		v = "http://localhost:5173";
	if (parse_http_url(v, &u, &why) != 0)
		return fail(err, "SGID_FRONTEND_HOST", "%s", why);
	if (url_origin(&u, cfg->frontend_origin, sizeof(cfg->frontend_origin)) != 0)
		return fail(err, "SGID_FRONTEND_HOST", "too long");
	cfg->frontend_https = u.https;
	return 0;
}

/* RFC 6749 3.3 scope-token: %x21 / %x23-5B / %x5D-7E */
static bool is_scope_char(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* Space-separated tokens, re-joined with single spaces. */
static int load_scopes(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SGID_SCOPES";
	const char *v = getv(e, var);
	size_t o = 0;
	bool openid = false;

	if (!v)
		v = "openid myinfo.name";
	for (const char *p = v; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t n = 0;
		while (p[n] && p[n] != ' ') {
			if (!is_scope_char((unsigned char)p[n]))
				return fail(err, var, "scopes must be printable ASCII tokens separated by spaces");
			n++;
		}
		if (str_eq_n(p, n, "openid"))
			openid = true;
		if (o + n + 2 > sizeof(cfg->scopes))
			return fail(err, var, "too long");
		if (o)
			cfg->scopes[o++] = ' ';
		memcpy(cfg->scopes + o, p, n);
		o += n;
		p += n;
	}
	cfg->scopes[o] = '\0';
	if (!openid)
		return fail(err, var, "must include \"openid\"");
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
	};
	long body;

	for (size_t i = 0; i < ARRAY_LEN(ints); i++)
		if (get_int(e, ints[i].var, ints[i].def, ints[i].min, ints[i].max, ints[i].dst, err) != 0)
			return -1;
	/* idle time defaults to, and cannot exceed, the absolute lifetime */
	if (get_int(e, "SESSION_IDLE_SECONDS", cfg->session_ttl, 1, TTL_MAX,
	    &cfg->session_idle_ttl, err) != 0)
		return -1;
	if (cfg->session_idle_ttl > cfg->session_ttl)
		return fail(err, "SESSION_IDLE_SECONDS", "must not exceed SESSION_TTL_SECONDS");
	if (get_long(e, "SGID_HTTP_MAX_BODY", 1024 * 1024, 4096, 64L * 1024 * 1024, &body, err) != 0)
		return -1;
	cfg->http_max_body = (size_t)body;
	return 0;
}

static int load_ca_file(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = getv(e, "SGID_CA_FILE");

	if (!v)
		return 0;
	if (copy_value(cfg->ca_file, sizeof(cfg->ca_file), v, "SGID_CA_FILE", err) != 0)
		return -1;
	/* fail at start-up, not at the first login */
	if (access(cfg->ca_file, R_OK) != 0)
		return fail(err, "SGID_CA_FILE", "cannot read the file: %s", strerror(errno));
	return 0;
}

static int load_cookie(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v;
	int secure;

	v = getv(e, "SESSION_COOKIE_NAME");
	if (!v)
		v = "exampleAppSession";
	if (!resp_is_token(v, strlen(v)))
		return fail(err, "SESSION_COOKIE_NAME", "must be a cookie name (RFC 6265 token)");
	if (copy_value(cfg->cookie_name, sizeof(cfg->cookie_name), v, "SESSION_COOKIE_NAME", err) != 0)
		return -1;

	cfg->cookie_samesite = SAMESITE_LAX;
	if ((v = getv(e, "COOKIE_SAMESITE"))) {
		enum samesite s = SAMESITE__MAX;
		for (int i = 0; i < SAMESITE__MAX; i++)
			if (strcasecmp(v, resp_samesite_name((enum samesite)i)) == 0)
				s = (enum samesite)i;
		if (s == SAMESITE__MAX)
			return fail(err, "COOKIE_SAMESITE", "must be Lax, Strict or None");
		cfg->cookie_samesite = s;
	}

	secure = cfg->frontend_https;
	if ((v = getv(e, "COOKIE_SECURE")) && (secure = parse_bool(v)) < 0)
		return fail(err, "COOKIE_SECURE", "must be on, off, true, false, 1 or 0");
	if (cfg->cookie_samesite == SAMESITE_NONE && !secure) {
		/* browsers drop SameSite=None cookies that are not Secure */
		if (v)
			log_warn("COOKIE_SECURE=off ignored: COOKIE_SAMESITE=None requires Secure");
		secure = 1;
	}
	cfg->cookie_secure = secure != 0;
	/* RFC 6265bis cookie prefixes are refused by browsers without Secure */
	if (!cfg->cookie_secure && (has_prefix(cfg->cookie_name, "__Host-") ||
	    has_prefix(cfg->cookie_name, "__Secure-")))
		return fail(err, "SESSION_COOKIE_NAME", "a __Host- or __Secure- name needs COOKIE_SECURE=on");
	return 0;
}

static int load_session_secret(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = getv(e, "SESSION_SECRET");

	if (v) {
		if (strlen(v) < SESSION_SECRET_MIN)
			return fail(err, "SESSION_SECRET", "must be at least %d characters", SESSION_SECRET_MIN);
		if (crypto_sha256(v, strlen(v), cfg->session_secret) != 0)
			return fail(err, "SESSION_SECRET", "cannot hash it into a key (SHA-256 unavailable)");
		return 0;
	}
	/* deterministic, so every worker on every host derives the same key */
	if (crypto_hkdf_sha256(cfg->client_secret, strlen(cfg->client_secret), "", 0,
	    session_secret_info, sizeof(session_secret_info) - 1,
	    cfg->session_secret, sizeof(cfg->session_secret)) != 0)
		return fail(err, "SESSION_SECRET", "cannot derive a key from SGID_CLIENT_SECRET");
	return 0;
}

/* "host:port,host:port"; the port defaults to 26379. */
static int load_sentinels(struct redis_config *rc, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "REDIS_SENTINELS";
	const char *v = getv(e, var), *p;

	rc->n_sentinels = 0;
	if (!v)
		return 0;
	for (p = v;;) {
		size_t n = strcspn(p, ","), s = 0;
		while (s < n && p[s] == ' ')
			s++;
		while (n > s && p[n - 1] == ' ')
			n--;
		if (rc->n_sentinels >= CFG_MAX_SENTINELS)
			return fail(err, var, "at most %d sentinels", CFG_MAX_SENTINELS);
		struct redis_endpoint *ep = &rc->sentinels[rc->n_sentinels];
		ep->port = SENTINEL_PORT;
		if (parse_hostport(p + s, n - s, ep->host, sizeof(ep->host), false, &ep->port) != 0)
			return fail(err, var, "entry %zu is not host:port", rc->n_sentinels + 1);
		rc->n_sentinels++;
		p += strcspn(p, ",");
		if (!*p)
			break;
		p++;
	}
	return 0;
}

static int load_redis(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = getv(e, "REDIS_URL");
	char msg[200];

	if (!v)
		v = "redis://127.0.0.1:6379/0";
	if (cfg_parse_redis_url(v, &cfg->redis, msg, sizeof(msg)) != 0)
		return fail(err, "REDIS_URL", "%s", msg);
	if (load_sentinels(&cfg->redis, e, err) != 0)
		return -1;
	v = getv(e, "REDIS_SENTINEL_MASTER");
	if (!v)
		v = "mymaster";
	if (!resp_is_token(v, strlen(v)))
		return fail(err, "REDIS_SENTINEL_MASTER", "must be a name without spaces or controls");
	return copy_value(cfg->redis.sentinel_master, sizeof(cfg->redis.sentinel_master), v,
		"REDIS_SENTINEL_MASTER", err);
}

static int load_log_level(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *v = getv(e, "LOG_LEVEL");
	int lvl = LOG_LVL_INFO;

	if (v && (lvl = log_level_parse(v)) < 0)
		return fail(err, "LOG_LEVEL", "must be error, warn, info or debug");
	cfg->log_level = (enum log_level)lvl;
	return 0;
}

/* Loaded at start-up so a bad key stops the service before any login. */
static int load_private_key(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	const char *inl = getv(e, "SGID_PRIVATE_KEY"), *path = getv(e, "SGID_PRIVATE_KEY_FILE");
	const char *var = "SGID_PRIVATE_KEY", *pem = inl;
	struct buf file = BUF_INIT;
	char why[160] = "";
	int rc = -1;

	if (inl && path)
		return fail(err, "SGID_PRIVATE_KEY", "set only one of SGID_PRIVATE_KEY and SGID_PRIVATE_KEY_FILE");
	if (!inl && !path)
		return fail(err, "SGID_PRIVATE_KEY", "is required (or SGID_PRIVATE_KEY_FILE)");
	if (path) {
		var = "SGID_PRIVATE_KEY_FILE";
		if (read_file(path, KEY_FILE_MAX, &file) != 0) {
			fail(err, var, "cannot read the key file: %s",
				file_strerror(errno, "larger than 64 KiB"));
			goto fail;
		}
		pem = file.data;
	}
	cfg->private_key = crypto_private_key_load(pem, strlen(pem), why, sizeof(why));
	if (!cfg->private_key) {
		fail(err, var, "not a usable RSA private key: %s", why[0] ? why : "unknown reason");
		goto fail;
	}
	rc = 0;
fail:
	buf_free(&file); /* wipes the PEM */
	return rc;
}

int cfg_load(struct config *cfg, const char *dotenv_path, struct cfg_error *err)
{
	static int (*const steps[])(struct config *, const struct envsrc *, struct cfg_error *) = {
		load_client, load_hostname, load_urls, load_scopes, load_numbers, load_ca_file,
		load_cookie, load_session_secret, load_redis, load_log_level, load_private_key,
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

void cfg_free(struct config *cfg)
{
	if (!cfg)
		return;
	crypto_pkey_free(cfg->private_key);
	secure_zero(cfg, sizeof(*cfg));
}

/* ---- REDIS_URL ---- */

static int redis_fail(struct redis_config *out, char *msg, size_t msg_len, const char *why)
{
	secure_zero(out->user, sizeof(out->user));
	secure_zero(out->password, sizeof(out->password));
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s", why);
	return -1;
}

/* "[user]:password", each percent-decoded. */
static int redis_userinfo(const char *s, size_t n, struct redis_config *out, const char **why)
{
	char tmp[URL_MAX + 1];
	const char *colon = memchr(s, ':', n);
	size_t un, dn;

	*why = "user information must be [user]:password";
	if (!colon)
		return -1;
	un = (size_t)(colon - s);
	*why = "bad percent-encoding in the user or password";
	if (http_percent_decode(s, un, false, tmp, &dn) != HTTP_OK)
		return -1;
	*why = "user name too long";
	if (dn >= sizeof(out->user))
		return -1;
	memcpy(out->user, tmp, dn + 1);
	*why = "bad percent-encoding in the user or password";
	if (http_percent_decode(colon + 1, n - un - 1, false, tmp, &dn) != HTTP_OK)
		goto fail;
	*why = "password too long";
	if (dn >= sizeof(out->password))
		goto fail;
	memcpy(out->password, tmp, dn + 1);
	secure_zero(tmp, sizeof(tmp));
	return 0;
fail:
	secure_zero(tmp, sizeof(tmp));
	return -1;
}

static int redis_db(const char *s, int *db)
{
	long v;

	if (parse_long(s, 0, 15, &v) != 0)
		return -1;
	*db = (int)v;
	return 0;
}

/* host[:port][/db] after any user information */
static int redis_tcp(const char *s, struct redis_config *out, const char **why)
{
	const char *at = strrchr(s, '@');
	size_t hn;

	if (at) {
		if (redis_userinfo(s, (size_t)(at - s), out, why) != 0)
			return -1;
		s = at + 1;
	}
	*why = "query strings and fragments are not supported; use /db";
	if (strpbrk(s, "?#"))
		return -1;
	hn = strcspn(s, "/");
	*why = "bad host or port";
	if (parse_hostport(s, hn, out->host, sizeof(out->host), false, &out->port) != 0)
		return -1;
	if (s[hn] == '/' && s[hn + 1] != '\0') {
		*why = "database must be a number from 0 to 15";
		if (redis_db(s + hn + 1, &out->db) != 0)
			return -1;
	}
	return 0;
}

/* [userinfo@]/path[?db=N] */
static int redis_unix(const char *s, struct redis_config *out, const char **why)
{
	struct kv_list q;
	const struct kv *db;
	size_t pn;

	if (s[0] != '/') {
		const char *at = strstr(s, "@/");
		*why = "the socket path must be absolute";
		if (!at)
			return -1;
		if (redis_userinfo(s, (size_t)(at - s), out, why) != 0)
			return -1;
		s = at + 1;
	}
	pn = strcspn(s, "?#");
	*why = "socket path too long";
	if (pn >= sizeof(out->unix_path))
		return -1;
	*why = "fragments are not supported";
	if (s[pn] == '#')
		return -1;
	memcpy(out->unix_path, s, pn);
	out->unix_path[pn] = '\0';
	if (!s[pn])
		return 0;
	*why = "the only query parameter is db=N (0 to 15)";
	if (http_parse_query(s + pn + 1, strlen(s + pn + 1), &q) != HTTP_OK)
		return -1;
	db = kv_get(&q, "db");
	int rc = (!db || q.n != 1 || redis_db(db->val, &out->db) != 0) ? -1 : 0;
	kv_list_free(&q);
	return rc;
}

int cfg_parse_redis_url(const char *url, struct redis_config *out, char *msg, size_t msg_len)
{
	const char *why = "must start with redis:// or unix://";
	int rc;

	out->unix_path[0] = '\0';
	out->host[0] = '\0';
	out->port = 6379;
	out->db = 0;
	secure_zero(out->user, sizeof(out->user));
	secure_zero(out->password, sizeof(out->password));
	if (msg && msg_len)
		msg[0] = '\0';
	if (!url || strlen(url) > URL_MAX || !is_printable_ascii(url, strlen(url)) || strchr(url, ' '))
		return redis_fail(out, msg, msg_len, "must be a URL of printable ASCII without spaces");
	if (has_prefix_ci(url, "redis://"))
		rc = redis_tcp(url + 8, out, &why);
	else if (has_prefix_ci(url, "unix://"))
		rc = redis_unix(url + 7, out, &why);
	else if (has_prefix_ci(url, "rediss://"))
		rc = -1, why = "rediss:// (TLS) is not supported by this build";
	else
		rc = -1;
	if (rc != 0)
		return redis_fail(out, msg, msg_len, why);
	return 0;
}
