/* gateway: identity headers, the navigation rule and what the apps behind
 * may not see (the session cookie, a client's X-Sgid-* header), kept out
 * of the handlers so they can be tested on their own. */
#include "gateway.h"

#include <string.h>
#include <strings.h>

#include "http.h"
#include "json.h"
#include "util.h"

/* ---- the navigation rule ------------------------------------------------ */

/* RFC 9110 12.4.2 qvalue in thousandths: "0" ["." 0*3DIGIT] or "1" ["."
 * 0*3"0"]; -1 when malformed. */
static int parse_q(const char *s, size_t n)
{
	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	int q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.' || n > 5)
		return -1;
	for (size_t i = 2, scale = 100; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * (int)scale;
	}
	return q > 1000 ? -1 : q;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* The q of one element "type/sub;p=v;q=0.8" (1000 without one). */
static int element_q(const char *params, size_t n, bool html)
{
	int q = 1000;
	while (n > 0) {
		const char *semi = memchr(params, ';', n);
		size_t pn = semi ? (size_t)(semi - params) : n;
		const char *p = params;
		size_t len = pn;
		trim(&p, &len);
		if (len >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			q = parse_q(p + 2, len - 2);
			if (q < 0)
				q = html ? 0 : 1000;
		}
		if (!semi)
			break;
		params = semi + 1;
		n -= pn + 1;
	}
	return q;
}

bool gateway_accept_prefers_html(const char *accept)
{
	int html_q = -1, other_q = -1;
	if (!accept)
		return false;
	for (const char *p = accept;;) {
		size_t n = strcspn(p, ",");
		const char *semi = memchr(p, ';', n);
		const char *type = p;
		size_t tn = semi ? (size_t)(semi - p) : n;
		trim(&type, &tn);
		if (tn > 0) {
			bool html = tn == 9 && strncasecmp(type, "text/html", 9) == 0;
			int q = semi ? element_q(semi + 1, n - (size_t)(semi - p) - 1, html) : 1000;
			int *best = html ? &html_q : &other_q;
			if (q > *best)
				*best = q;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	return html_q > 0 && other_q <= html_q;
}

bool gateway_is_navigation(const char *method, const char *accept, const char *sec_fetch_mode)
{
	if (!method || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
		return false;
	/* A browser that sends Sec-Fetch-Mode says what the request is: a
	 * script's fetch may ask for text/html too, and it wants the 401. */
	if (sec_fetch_mode)
		return strcmp(sec_fetch_mode, "navigate") == 0;
	return gateway_accept_prefers_html(accept);
}

/* ---- identity headers ---------------------------------------------------- */

static bool is_field_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int gateway_header_name(enum gateway_style st, const char *field, size_t len, struct buf *out)
{
	if (len == 0 || len >= CFG_FIELD_NAME_LEN)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_field_char(field[i]))
			return -1;
	bool vars = st == GATEWAY_VARIABLES;
	char sep = vars ? '_' : '-';
	if (buf_append_str(out, vars ? "Variable-SGID_" : "X-Sgid-") != 0 || buf_reserve(out, len) != 0)
		return -1;
	bool word_start = true;
	for (size_t i = 0; i < len; i++) {
		char c = field[i];
		if (c == '.' || c == '_' || c == '-') {
			c = sep;
			word_start = true;
		} else {
			c = vars || word_start ? upper(c) : lower(c);
			word_start = false;
		}
		out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* printable ASCII but '%', which must stay the escape's own */
static bool header_safe(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '%';
}

int gateway_value_encode(const char *v, size_t len, struct buf *out)
{
	return http_percent_encode(out, v, len, header_safe);
}

struct identity {
	struct response *res;
	enum gateway_style st;
	const struct config *cfg;
	struct buf seen;           /* "\nName\n" for every header given */
	size_t skipped;
	bool failed;
};

static bool listed(const struct config *cfg, const char *field)
{
	if (cfg->n_gateway_headers == 0)
		return true;
	for (size_t i = 0; i < cfg->n_gateway_headers; i++)
		if (strcmp(cfg->gateway_headers[i], field) == 0)
			return true;
	return false;
}

/* One header; names are built in one case per style, so a repeat is an
 * exact match (myinfo.name and myinfo_name, or a field named "sub"). */
static int add_one(struct identity *id, const char *field, size_t flen, const char *val,
	size_t vlen)
{
	struct buf name = BUF_INIT, value = BUF_INIT, key = BUF_INIT;
	int rc = 0;
	if (gateway_header_name(id->st, field, flen, &name) != 0) {
		id->skipped++;
		goto done;
	}
	if (buf_append_strs(&key, "\n", name.data, "\n", NULL) != 0 ||
	    gateway_value_encode(val, vlen, &value) != 0) {
		rc = -1;
		goto done;
	}
	if (value.len > GATEWAY_VALUE_MAX || (id->seen.data && strstr(id->seen.data, key.data))) {
		id->skipped++;
		goto done;
	}
	/* "\nA\n\nB\n": every name stands between two newlines of its own */
	if (buf_append(&id->seen, key.data, key.len) != 0 ||
	    resp_header(id->res, name.data, buf_cstr(&value)) != 0)
		rc = -1;
done:
	buf_free(&name);
	buf_free(&value);
	buf_free(&key);
	return rc;
}

/* A string as it is; an array or object (SGID_PARSE_DATA) as its compact
 * JSON text, so a header value is always text. */
static int add_field(const char *key, const json_value *val, void *ud)
{
	struct identity *id = ud;
	struct buf text = BUF_INIT;
	size_t vlen = 0;
	const char *v = json_str(val, &vlen);
	enum json_kind k = json_kind_of(val);
	int rc = 0;
	if (!listed(id->cfg, key))
		return 0;
	if (!v && (k == JSON_ARRAY || k == JSON_OBJECT)) {
		if (json_append_value(&text, val) != 0) {
			id->failed = true;
			return 1;
		}
		v = text.data;
		vlen = text.len;
	}
	if (!v)
		id->skipped++;
	else if (add_one(id, key, strlen(key), v, vlen) != 0)
		rc = 1;
	buf_free(&text);
	if (rc)
		id->failed = true;
	return rc;
}

/* The fields whose header the gateway writes itself (the sub aside, given
 * first): a profile field named so is a repeat, never given. */
static const char *const own_fields[] = {
	GATEWAY_FIELD_LOGIN, GATEWAY_FIELD_APP_COOKIE, GATEWAY_FIELD_MARK,
};

static int reserve_own(struct identity *id)
{
	for (size_t i = 0; i < ARRAY_LEN(own_fields); i++) {
		struct buf name = BUF_INIT;
		int rc = gateway_header_name(id->st, own_fields[i], strlen(own_fields[i]), &name) != 0 ||
		         buf_append_strs(&id->seen, "\n", name.data, "\n", NULL) != 0 ? -1 : 0;
		buf_free(&name);
		if (rc)
			return -1;
	}
	return 0;
}

int gateway_add_identity_parsed(struct response *res, enum gateway_style st,
	const struct config *cfg, const char *sub, const json_value *profile, size_t *skipped)
{
	struct identity id = { .res = res, .st = st, .cfg = cfg, .seen = BUF_INIT };
	int rc = -1;
	if (reserve_own(&id) != 0 || add_one(&id, GATEWAY_FIELD_SUB, strlen(GATEWAY_FIELD_SUB), sub,
	                                     strlen(sub)) != 0)
		goto done;
	if (profile && (json_object_foreach(profile, add_field, &id) != 0 || id.failed))
		goto done;
	rc = 0;
done:
	*skipped = id.skipped;
	buf_free(&id.seen);
	return rc;
}

int gateway_add_identity(struct response *res, enum gateway_style st, const struct config *cfg,
	const char *sub, const struct buf *profile, size_t *skipped)
{
	json_value *p = NULL;
	*skipped = 0;
	if (profile->len > 0 && !(p = json_parse(profile->data, profile->len, profile->len)))
		return -1;
	int rc = gateway_add_identity_parsed(res, st, cfg, sub, p, skipped);
	json_free(p);
	return rc;
}

/* ---- what the apps behind may not see ------------------------------------ */

/* One header of the gateway's own field f. */
static int add_own(struct response *res, enum gateway_style st, const char *f, const char *value)
{
	struct buf name = BUF_INIT;
	int rc = gateway_header_name(st, f, strlen(f), &name) != 0 ||
	         resp_header(res, name.data, value) != 0 ? -1 : 0;
	buf_free(&name);
	return rc;
}

int gateway_add_app_cookie(struct response *res, enum gateway_style st, const char *cookie,
	const char *session_cookie)
{
	struct buf rest = BUF_INIT;
	int rc = -1;
	/* a header too long to read keeps no cookie at all: ours may be in it */
	if (cookie && http_cookies_without(cookie, strlen(cookie), session_cookie, &rest) == HTTP_ERR_NOMEM)
		goto done;
	if (st == GATEWAY_VARIABLES && add_own(res, st, GATEWAY_FIELD_MARK, "1") != 0)
		goto done;
	if (rest.len > 0 && add_own(res, st, GATEWAY_FIELD_APP_COOKIE, rest.data) != 0)
		goto done;
	rc = 0;
done:
	buf_free(&rest);
	return rc;
}

bool gateway_is_client_identity(const char *param, size_t len)
{
	static const char prefix[] = "HTTP_X_SGID_";
	return len >= sizeof(prefix) - 1 && strncasecmp(param, prefix, sizeof(prefix) - 1) == 0;
}
