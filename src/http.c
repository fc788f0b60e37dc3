/* http: query strings into bounded kv lists, our cookies out of a Cookie
 * header. The input
 * is hostile: every length and count is checked before it is used, and
 * nothing here exits or logs. */
#include "http.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const http_errstr[] = {
	[HTTP_OK] = "ok",
	[HTTP_ERR_TOO_LONG] = "input, key or value too long",
	[HTTP_ERR_TOO_MANY] = "too many parameters",
	[HTTP_ERR_BAD_ENCODING] = "bad percent-encoding or forbidden byte",
	[HTTP_ERR_NUL] = "NUL byte",
	[HTTP_ERR_DUPLICATE] = "duplicated parameter",
	[HTTP_ERR_EMPTY_KEY] = "empty name",
	[HTTP_ERR_NOMEM] = "out of memory",
};
_Static_assert(ARRAY_LEN(http_errstr) == HTTP_ERR__MAX, "http_errstr out of step with enum http_err");

const char *http_strerror(enum http_err err)
{
	if ((unsigned)err >= HTTP_ERR__MAX || !http_errstr[err])
		return "unknown error";
	return http_errstr[err];
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Raw bytes we never accept: NUL, C0 controls and DEL. */
static enum http_err check_raw(unsigned char c)
{
	if (c == '\0')
		return HTTP_ERR_NUL;
	if (c < 0x20 || c == 0x7f)
		return HTTP_ERR_BAD_ENCODING;
	return HTTP_OK;
}

enum http_err http_percent_decode(const char *in, size_t len, bool plus_is_space,
	char *out, size_t *out_len)
{
	size_t o = 0;
	enum http_err e;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if ((e = check_raw(c)) != HTTP_OK)
			return e;
		if (c == '%') {
			/* exactly two hex digits must follow */
			if (len - i < 3)
				return HTTP_ERR_BAD_ENCODING;
			int hi = hexval((unsigned char)in[i + 1]);
			int lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return HTTP_ERR_BAD_ENCODING;
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				return HTTP_ERR_NUL;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_len = o;
	return HTTP_OK;
}

static void kv_list_clear(struct kv_list *l)
{
	memset(l, 0, sizeof(*l));
}

void kv_list_free(struct kv_list *l)
{
	if (!l)
		return;
	free(l->storage);
	kv_list_clear(l);
}

/* Decoded output never outgrows its input, so one block of len bytes plus
 * two terminators per pair (one pair past the limit is decoded before it
 * is refused) holds every key and value. */
static enum http_err list_alloc(struct kv_list *l, size_t len)
{
	kv_list_clear(l);
	l->storage = malloc(len + 2 * (HTTP_MAX_PARAMS + 1) + 1);
	return l->storage ? HTTP_OK : HTTP_ERR_NOMEM;
}

/* Appends one pair whose decoded key and value already sit in storage. */
static enum http_err list_push(struct kv_list *l, const char *k, size_t klen,
	const char *v, size_t vlen)
{
	if (klen == 0)
		return HTTP_ERR_EMPTY_KEY;
	if (klen > HTTP_MAX_KEY_LEN || vlen > HTTP_MAX_VALUE_LEN)
		return HTTP_ERR_TOO_LONG;
	if (l->n >= HTTP_MAX_PARAMS)
		return HTTP_ERR_TOO_MANY;
	struct kv *kv = &l->items[l->n++];
	kv->key = k;
	kv->key_len = klen;
	kv->val = v;
	kv->val_len = vlen;
	return HTTP_OK;
}

/* The one splitter of query strings and Cookie headers: feeds every
 * non-empty segment of in[0..len) between seps to fn, stopping at its first
 * error. */
typedef enum http_err (*segment_fn)(void *ctx, const char *seg, size_t n);
static enum http_err for_each_segment(const char *in, size_t len, char sep, segment_fn fn,
	void *ctx)
{
	size_t start = 0;
	enum http_err e;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && in[i] != sep)
			continue;
		if (i > start && (e = fn(ctx, in + start, i - start)) != HTTP_OK)
			return e;
		start = i + 1;
	}
	return HTTP_OK;
}

/* A query being decoded into its list's storage. */
struct query_parse {
	struct kv_list *l;
	size_t used;
};

static enum http_err query_pair(void *ctx, const char *seg, size_t n)
{
	struct query_parse *qp = ctx;
	struct kv_list *l = qp->l;
	const char *eq = memchr(seg, '=', n);
	size_t kraw = eq ? (size_t)(eq - seg) : n;
	char *k = l->storage + qp->used;
	size_t klen, vlen;
	enum http_err e;

	if (kraw == 0)
		return HTTP_ERR_EMPTY_KEY;
	if ((e = http_percent_decode(seg, kraw, true, k, &klen)) != HTTP_OK)
		return e;
	char *v = k + klen + 1;
	if (eq) {
		e = http_percent_decode(eq + 1, n - kraw - 1, true, v, &vlen);
		if (e != HTTP_OK)
			return e;
	} else {
		v[0] = '\0';
		vlen = 0;
	}
	qp->used += klen + vlen + 2;
	if (kv_get(l, k))
		return HTTP_ERR_DUPLICATE;
	return list_push(l, k, klen, v, vlen);
}

enum http_err http_parse_query(const char *qs, size_t len, struct kv_list *out)
{
	kv_list_clear(out);
	if (len > HTTP_MAX_QUERY_LEN)
		return HTTP_ERR_TOO_LONG;
	if (len == 0)
		return HTTP_OK;
	enum http_err e = list_alloc(out, len);
	struct query_parse qp = { out, 0 };
	if (e == HTTP_OK && (e = for_each_segment(qs, len, '&', query_pair, &qp)) != HTTP_OK)
		kv_list_free(out); /* on error out is left empty */
	return e;
}

static bool is_ows(char c)
{
	return c == ' ';
}

static bool has_control(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (check_raw((unsigned char)p[i]) != HTTP_OK)
			return true;
	return false;
}

/* A Cookie header being read for one name. */
struct cookie_scan {
	const char *name;
	size_t name_len;
	struct own_cookies *out;
};

static void trim_ows(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* The name of one "name=value" segment, trimmed: *eq is NULL for a segment
 * without '=' (RFC 6265bis: a nameless cookie, never ours). */
static void cookie_name(const char **seg, size_t *n, const char **eq, size_t *klen)
{
	trim_ows(seg, n);
	*eq = memchr(*seg, '=', *n);
	*klen = *eq ? (size_t)(*eq - *seg) : 0;
	while (*klen > 0 && is_ows((*seg)[*klen - 1]))
		(*klen)--;
}

static bool is_named(const char *seg, size_t klen, const char *name, size_t name_len)
{
	return klen == name_len && memcmp(seg, name, klen) == 0;
}

/* One "name=value" segment: ours is added, anything else counted; never
 * an error (what is not ours cannot fail the request). */
static enum http_err cookie_segment(void *ctx, const char *seg, size_t n)
{
	const struct cookie_scan *cs = ctx;
	struct own_cookies *out = cs->out;
	const char *eq;
	size_t klen;
	cookie_name(&seg, &n, &eq, &klen);
	if (n == 0)
		return HTTP_OK; /* "a=b; ; c=d" */
	if (!eq) {
		out->skipped++;
		return HTTP_OK;
	}
	size_t vlen = n - (size_t)(eq - seg) - 1;
	const char *vs = eq + 1;
	if (!is_named(seg, klen, cs->name, cs->name_len)) {
		if (klen == 0 || has_control(seg, n))
			out->skipped++;
		else
			out->foreign++;
		return HTTP_OK;
	}
	while (vlen > 0 && is_ows(vs[0])) {
		vs++;
		vlen--;
	}
	if (vlen >= 2 && vs[0] == '"' && vs[vlen - 1] == '"') {
		vs++;
		vlen -= 2;
	}
	if (vlen > HTTP_MAX_VALUE_LEN || has_control(vs, vlen) || out->n >= HTTP_MAX_OWN_COOKIES) {
		out->skipped++;
		return HTTP_OK;
	}
	out->v[out->n].val = vs;
	out->v[out->n].len = vlen;
	out->n++;
	return HTTP_OK;
}

enum http_err http_find_cookies(const char *hdr, size_t len, const char *name,
	struct own_cookies *out)
{
	memset(out, 0, sizeof(*out));
	if (len > HTTP_MAX_COOKIE_LEN)
		return HTTP_ERR_TOO_LONG;
	struct cookie_scan cs = { name, strlen(name), out };
	return for_each_segment(hdr, len, ';', cookie_segment, &cs);
}

enum http_err http_cookies_without(const char *hdr, size_t len, const char *name, struct buf *out)
{
	size_t name_len = strlen(name), start = 0, kept = 0, base = out->len;
	bool changed = false;
	if (len > HTTP_MAX_COOKIE_LEN)
		return HTTP_ERR_TOO_LONG;
	/* every segment, empty ones too: what stays is copied byte for byte */
	for (size_t i = 0; i <= len; i++) {
		if (i < len && hdr[i] != ';')
			continue;
		const char *seg = hdr + start, *name_at = seg, *eq;
		size_t n = i - start, nn = n, klen;
		start = i + 1;
		cookie_name(&name_at, &nn, &eq, &klen);
		if ((eq && is_named(name_at, klen, name, name_len)) || has_control(seg, n) ||
		    (kept == 0 && nn == 0)) {
			changed = true;
			continue;
		}
		if (kept == 0 && changed) /* the first one left: no leading space */
			trim_ows(&seg, &n);
		if ((kept++ > 0 && buf_append_char(out, ';') != 0) || buf_append(out, seg, n) != 0)
			return HTTP_ERR_NOMEM;
	}
	if (changed)
		while (out->len > base && is_ows(out->data[out->len - 1]))
			out->data[--out->len] = '\0';
	return HTTP_OK;
}

const struct kv *kv_get(const struct kv_list *l, const char *key)
{
	if (!l || !key)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return &l->items[i];
	return NULL;
}

size_t kv_count(const struct kv_list *l, const char *key)
{
	size_t c = 0;
	if (!l || !key)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			c++;
	return c;
}

static enum field_result bind_one(const struct kv_list *l, const struct field_spec *s,
	const struct kv **value)
{
	const struct kv *kv = kv_get(l, s->name);

	*value = NULL;
	if (!kv)
		return s->required ? FIELD_MISSING : FIELD_OK;
	/* a name twice: we cannot tell which one is meant */
	if (kv_count(l, s->name) > 1)
		return FIELD_INVALID;
	if (kv->val_len == 0 && s->required)
		return FIELD_MISSING;
	if (s->max_len > 0 && kv->val_len > s->max_len)
		return FIELD_INVALID;
	if (s->valid && !s->valid(kv->val, kv->val_len))
		return FIELD_INVALID;
	*value = kv;
	return FIELD_OK;
}

enum field_result http_bind_fields(const struct kv_list *l,
	const struct field_spec *specs, size_t n,
	const struct kv *values[], const char **bad)
{
	enum field_result r = FIELD_OK;

	if (bad)
		*bad = NULL;
	for (size_t i = 0; i < n; i++)
		values[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		if ((r = bind_one(l, &specs[i], &values[i])) != FIELD_OK) {
			if (bad)
				*bad = specs[i].name;
			goto fail;
		}
	}
	return FIELD_OK;
fail:
	/* a handler must not act on a partly bound set */
	for (size_t i = 0; i < n; i++)
		values[i] = NULL;
	return r;
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int http_percent_encode(struct buf *out, const char *s, size_t len, bool (*keep)(unsigned char))
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = 0;

	for (size_t i = 0; i < len; i++)
		need += keep((unsigned char)s[i]) ? 1 : 3;
	/* reserve up front so a failure leaves out untouched */
	if (buf_reserve(out, need) != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (keep(c)) {
			out->data[out->len++] = (char)c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = hex[c >> 4];
			out->data[out->len++] = hex[c & 0xf];
		}
	}
	if (out->data)
		out->data[out->len] = '\0';
	return 0;
}

int url_encode(struct buf *out, const char *s, size_t len)
{
	return http_percent_encode(out, s, len, is_unreserved);
}
