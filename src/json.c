/* The only json-c user. json_value is a json_object in disguise, so the
 * rest of the code never includes json-c headers. */
#include "json.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static struct json_object *jo(const json_value *v) { return (struct json_object *)(uintptr_t)v; }
static const json_value *jv(struct json_object *o) { return (const json_value *)o; }

static json_value *parse_depth(const char *buf, size_t len, size_t max_len, int depth)
{
	if (!buf || len == 0 || len > max_len || len > INT32_MAX || memchr(buf, '\0', len))
		return NULL;
	struct json_tokener *tok = json_tokener_new_ex(depth);
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

json_value *json_parse(const char *buf, size_t len, size_t max_len)
{
	return parse_depth(buf, len, max_len, JSON_MAX_DEPTH);
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

int json_seconds(const json_value *v, int64_t *out)
{
	if (json_kind_of(v) == JSON_INT)
		return json_int64(v, out);
	if (json_kind_of(v) != JSON_DOUBLE)
		return -1;
	double d = json_object_get_double(jo(v));
	/* NaN fails both comparisons; past 2^53 a double holds no fraction */
	if (!(d > -9007199254740992.0 && d < 9007199254740992.0))
		return -1;
	int64_t i = (int64_t)d;
	*out = (double)i > d ? i - 1 : i; /* floor */
	return 0;
}

int json_get_seconds(const json_value *obj, const char *key, int64_t *out)
{
	return json_seconds(json_get(obj, key), out);
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

int json_append_value(struct buf *out, const json_value *v)
{
	const char *s = json_object_to_json_string_ext(jo(v),
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? buf_append_str(out, s) : -1;
}

/* ---- stringified JSON (the SDK's parseData) ---- */

/* Members of every object in the tree. */
static size_t count_members(struct json_object *o)
{
	size_t n = 0;
	switch (json_object_get_type(o)) {
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			n += count_members(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		struct json_object_iterator it = json_object_iter_begin(o);
		struct json_object_iterator end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
			n += 1 + count_members(json_object_iter_peek_value(&it));
		break;
	}
	default:
		break;
	}
	return n;
}

static size_t digits(const char *p, size_t n, size_t i)
{
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	return i;
}

/* Whether p[0..n) is exactly a number of RFC 8259 section 6:
 * [ "-" ] ( "0" / digit1-9 *digit ) [ "." 1*digit ] [ ( "e" / "E" )
 * [ "-" / "+" ] 1*digit ]. json-c takes more even when strict (00, -01,
 * 1., 1.e5, -.5), which JSON.parse refuses. */
static bool number_strict(const char *p, size_t n)
{
	size_t i = 0, j;
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if ((j = digits(p, n, i)) > i)
		i = j;
	else
		return false;
	if (i < n && p[i] == '.') {
		if ((j = digits(p, n, i + 1)) == i + 1)
			return false;
		i = j;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if ((j = digits(p, n, i)) == i)
			return false;
		i = j;
	}
	return i == n;
}

/* An integer json-c holds exactly (it saturates past 64 bits); any number
 * with a fraction or exponent is a double, whose text json-c keeps. */
static bool number_fits(const char *p, size_t n)
{
	char tmp[32];
	if (memchr(p, '.', n) || memchr(p, 'e', n) || memchr(p, 'E', n))
		return true;
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	errno = 0;
	if (tmp[0] == '-')
		(void)strtoll(tmp, NULL, 10);
	else
		(void)strtoull(tmp, NULL, 10);
	return errno == 0;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= c - '0';
		else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return -1;
	}
	return v;
}

/* Length of the escape at p (p[0] == '\\'), 0 for one we refuse: \u0000
 * (json-c cuts a key there) and a lone surrogate (json-c would turn it into
 * U+FFFD: the text and the tree would disagree). */
static size_t escape_len(const char *p, size_t avail)
{
	if (avail < 2)
		return 0;
	if (p[1] != 'u')
		return 2;
	int cp = avail >= 6 ? hex4(p + 2) : -1;
	if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return 0;
	if (cp < 0xd800 || cp > 0xdbff)
		return 6;
	int lo = avail >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
	return lo >= 0xdc00 && lo <= 0xdfff ? 12 : 0;
}

/* Length of true, false or null at p; 0 for anything else. */
static size_t literal_len(const char *p, size_t avail)
{
	static const char *const lits[] = { "true", "false", "null" };
	for (size_t i = 0; i < ARRAY_LEN(lits); i++) {
		size_t n = strlen(lits[i]);
		if (avail >= n && memcmp(p, lits[i], n) == 0)
			return n;
	}
	return 0;
}

/* Writes text, which json-c has parsed, again without its whitespace and
 * with the characters json_append_string escapes escaped (<, >, &, DEL):
 * numbers keep their exact text. Counts the object members (one ':' each,
 * outside strings). 0; 1 to refuse the text (a raw control character in a
 * string, which JSON.parse refuses too, an escape above, a number outside
 * RFC 8259's grammar or one json-c cannot hold, NaN or Infinity, bad
 * UTF-8, anything else outside a string but { } [ ] , :); -1 on allocation
 * failure. */
static int rewrite_compact(const char *s, size_t len, struct buf *out, size_t *members)
{
	static const char hex[] = "0123456789abcdef";
	bool in_str = false;
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = 1;
		int rc = 0;
		if (!in_str && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			i++;
			continue;
		}
		if (!in_str && (c == '-' || (c >= '0' && c <= '9'))) {
			while (i + n < len && strchr("0123456789+-.eE", s[i + n]))
				n++;
			if (!number_strict(s + i, n) || !number_fits(s + i, n))
				return 1;
		} else if (c == '"') {
			in_str = !in_str;
		} else if (in_str && c == '\\') {
			if ((n = escape_len(s + i, len - i)) == 0)
				return 1;
		} else if (in_str && c < 0x20) {
			return 1;
		} else if (in_str && c >= 0x80) {
			/* json-c lets overlong forms through */
			if ((n = utf8_seq_len((const unsigned char *)s + i, len - i)) == 0)
				return 1;
		} else if (!in_str && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			/* json-c takes NaN and Infinity even when strict */
			if ((n = literal_len(s + i, len - i)) == 0)
				return 1;
		} else if (in_str && (c == '<' || c == '>' || c == '&' || c == 0x7f)) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			rc = buf_append(out, esc, sizeof(esc));
			n = 0;
		} else if (!in_str && c == ':') {
			(*members)++;
		} else if (!in_str && !memchr("{}[],", c, 5)) {
			/* json-c takes 'single-quoted' member names even when strict */
			return 1;
		}
		if (rc != 0 || (n && buf_append(out, s + i, n) != 0))
			return -1;
		i += n ? n : 1;
	}
	return 0;
}

int json_append_embedded(struct buf *out, const char *s, size_t len, size_t max_len)
{
	bool looks = len >= 2 && ((s[0] == '[' && s[len - 1] == ']') || (s[0] == '{' && s[len - 1] == '}'));
	json_value *v = looks ? parse_depth(s, len, max_len, JSON_MAX_DEPTH - 1) : NULL;
	size_t mark = out->len, members = 0;
	int rc = 1;

	if (v) {
		rc = rewrite_compact(s, len, out, &members);
		/* fewer members in the tree than in the text: a key repeated */
		if (rc == 0 && members != count_members(jo(v)))
			rc = 1;
		json_free(v);
	}
	if (rc == 0)
		return 0;
	if (out->len > mark) {
		secure_zero(out->data + mark, out->len - mark);
		out->len = mark;
		out->data[mark] = '\0';
	}
	return rc < 0 ? -1 : json_append_string(out, s, len);
}
