/* The only json-c user. json_value is a json_object in disguise, so the
 * rest of the code never includes json-c headers. */
#include "json.h"

#include <json-c/json.h>
#include <string.h>

#include "util.h"

static struct json_object *jo(const json_value *v) { return (struct json_object *)(uintptr_t)v; }
static const json_value *jv(struct json_object *o) { return (const json_value *)o; }

json_value *json_parse(const char *buf, size_t len, size_t max_len)
{
	if (!buf || len == 0 || len > max_len || len > INT32_MAX || memchr(buf, '\0', len))
		return NULL;
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success || !o || end != len) {
		json_object_put(o);
		return NULL;
	}
	return (json_value *)o;
}

/* Zeroes every string in the tree before json-c frees it: parsed documents
 * carry tokens and keys (the userinfo block key, the token response). */
static void wipe_strings(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string: {
		char *s = (char *)(uintptr_t)json_object_get_string(o);
		secure_zero(s, (size_t)json_object_get_string_len(o));
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			wipe_strings(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		struct json_object_iterator it = json_object_iter_begin(o);
		struct json_object_iterator end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
			wipe_strings(json_object_iter_peek_value(&it));
		break;
	}
	default:
		break;
	}
}

void json_free(json_value *v)
{
	if (!v)
		return;
	/* wiped before the put, whatever the reference count: nothing here
	 * takes a reference of its own (json_object_get), so this put is
	 * always the last and no tree still in use is wiped */
	wipe_strings(jo(v));
	json_object_put(jo(v));
}

enum json_kind json_kind_of(const json_value *v)
{
	if (!v)
		return JSON_NULL;
	switch (json_object_get_type(jo(v))) {
	case json_type_boolean: return JSON_BOOL;
	case json_type_int: return JSON_INT;
	case json_type_double: return JSON_DOUBLE;
	case json_type_string: return JSON_STRING;
	case json_type_array: return JSON_ARRAY;
	case json_type_object: return JSON_OBJECT;
	case json_type_null: default: return JSON_NULL;
	}
}

const json_value *json_get(const json_value *obj, const char *key)
{
	struct json_object *member = NULL;
	if (json_kind_of(obj) != JSON_OBJECT)
		return NULL;
	if (!json_object_object_get_ex(jo(obj), key, &member))
		return NULL;
	return jv(member);
}

bool json_has(const json_value *obj, const char *key)
{
	return json_kind_of(obj) == JSON_OBJECT && json_object_object_get_ex(jo(obj), key, NULL);
}

const char *json_str(const json_value *v, size_t *len)
{
	if (json_kind_of(v) != JSON_STRING)
		return NULL;
	const char *s = json_object_get_string(jo(v));
	size_t n = (size_t)json_object_get_string_len(jo(v));
	if (!s || memchr(s, '\0', n)) /* a \u0000 escape: refuse */
		return NULL;
	if (len)
		*len = n;
	return s;
}

const char *json_get_str(const json_value *obj, const char *key, size_t *len)
{
	return json_str(json_get(obj, key), len);
}

int json_int64(const json_value *v, int64_t *out)
{
	if (json_kind_of(v) != JSON_INT)
		return -1;
	/* json-c saturates out-of-range integers to INT64_MAX/MIN: a claim
	 * like exp=1e20 must not read as "never expires", so both are refused. */
	int64_t i = json_object_get_int64(jo(v));
	if (i == INT64_MAX || i == INT64_MIN)
		return -1;
	*out = i;
	return 0;
}

int json_get_int64(const json_value *obj, const char *key, int64_t *out)
{
	return json_int64(json_get(obj, key), out);
}

size_t json_array_len(const json_value *v)
{
	return json_kind_of(v) == JSON_ARRAY ? json_object_array_length(jo(v)) : 0;
}

const json_value *json_array_at(const json_value *v, size_t i)
{
	if (i >= json_array_len(v))
		return NULL;
	return jv(json_object_array_get_idx(jo(v), i));
}

size_t json_object_len(const json_value *v)
{
	return json_kind_of(v) == JSON_OBJECT ? (size_t)json_object_object_length(jo(v)) : 0;
}

int json_object_foreach(const json_value *obj,
	int (*fn)(const char *key, const json_value *val, void *ud), void *ud)
{
	if (json_kind_of(obj) != JSON_OBJECT)
		return -1;
	struct json_object_iterator it = json_object_iter_begin(jo(obj));
	struct json_object_iterator end = json_object_iter_end(jo(obj));
	while (!json_object_iter_equal(&it, &end)) {
		int rc = fn(json_object_iter_peek_name(&it), jv(json_object_iter_peek_value(&it)), ud);
		if (rc)
			return rc;
		json_object_iter_next(&it);
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
	else return 0;
	if (avail < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* Characters that go out as they are: printable ASCII except the quote, the
 * backslash and the HTML-significant <, > and & (escaped so a response can
 * never be read as markup). */
static bool json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

int json_append_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	if (buf_reserve(out, len + 2) != 0 || buf_append_char(out, '"') != 0)
		return -1;
	size_t i = 0;
	while (i < len) {
		size_t run = i;
		while (run < len && json_plain(p[run]))
			run++;
		if (run > i && buf_append(out, p + i, run - i) != 0)
			return -1;
		if (run == len)
			break;
		i = run;
		unsigned char c = p[i];
		int rc = 0;
		size_t n = 1;
		if (c >= 0x80) {
			n = utf8_seq_len(p + i, len - i);
			if (n == 0) {
				rc = buf_append_str(out, "\\ufffd");
				n = 1;
			} else {
				rc = buf_append(out, p + i, n);
			}
		} else if (c == '"') {
			rc = buf_append_str(out, "\\\"");
		} else if (c == '\\') {
			rc = buf_append_str(out, "\\\\");
		} else if (c == '\n') {
			rc = buf_append_str(out, "\\n");
		} else if (c == '\r') {
			rc = buf_append_str(out, "\\r");
		} else if (c == '\t') {
			rc = buf_append_str(out, "\\t");
		} else { /* other controls, DEL, <, >, & */
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			rc = buf_append(out, esc, sizeof(esc));
		}
		if (rc)
			return -1;
		i += n;
	}
	return buf_append_char(out, '"');
}
