/* Fuzz target: the json-c wrapper (json_parse and every accessor) and the
 * string writer json_append_string.
 *
 * Input: a JSON document. Properties:
 *  - json_parse refuses NUL bytes and inputs over max_len;
 *  - a parsed document nests at most JSON_MAX_DEPTH containers deep, and
 *    every accessor agrees with json_kind_of: getters of another kind give
 *    NULL/-1/0; json_get finds every member json_object_foreach visits;
 *    json_object_len counts them; json_array_at stops at json_array_len;
 *  - json_append_string, applied to the raw input and to every string in
 *    the document: the output is a JSON string literal that parses back,
 *    is plain ASCII-safe for HTML (no raw <, >, &, controls), is valid
 *    UTF-8, and when the input is valid UTF-8 without NUL it decodes to
 *    exactly the input;
 *  - json_append_embedded (SGID_PARSE_DATA) on the raw input: either exactly
 *    json_append_string's literal, or JSON (only for input json_parse
 *    takes, starting with [ or {) with no raw specials or controls, valid
 *    UTF-8, that parses again inside an object, as the profile holds it. */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"

#define FUZZ_JSON_MAX (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_string_roundtrip(const char *s, size_t len)
{
	struct buf out = BUF_INIT;

	FUZZ_ASSERT(json_append_string(&out, s, len) == 0);
	FUZZ_ASSERT(out.len >= 2 && out.data[0] == '"' && out.data[out.len - 1] == '"');
	/* safe inside HTML and a header-free body: no raw specials or controls */
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];
		FUZZ_ASSERT(c >= 0x20 && c != 0x7f && c != '<' && c != '>' && c != '&');
	}
	FUZZ_ASSERT(fuzz_utf8_valid((const uint8_t *)out.data, out.len));

	json_value *v = json_parse(out.data, out.len, out.len);
	FUZZ_ASSERT(v != NULL);
	FUZZ_ASSERT(json_kind_of(v) == JSON_STRING);
	size_t got_len = 0;
	const char *got = json_str(v, &got_len);
	bool has_nul = memchr(s, '\0', len) != NULL;
	if (has_nul) {
		FUZZ_ASSERT(got == NULL); /* \u0000 is refused by json_str */
	} else {
		FUZZ_ASSERT(got != NULL);
		FUZZ_ASSERT(fuzz_utf8_valid((const uint8_t *)got, got_len));
		if (fuzz_utf8_valid((const uint8_t *)s, len))
			FUZZ_ASSERT(got_len == len && memcmp(got, s, len) == 0);
		else
			FUZZ_ASSERT(got_len != len || memcmp(got, s, len) != 0);
	}
	json_free(v);
	buf_free(&out);
}

static void check_embedded(const char *s, size_t len)
{
	struct buf out = BUF_INIT, lit = BUF_INIT, doc = BUF_INIT;

	FUZZ_ASSERT(json_append_embedded(&out, s, len, FUZZ_JSON_MAX) == 0);
	FUZZ_ASSERT(json_append_string(&lit, s, len) == 0);
	if (!(out.len == lit.len && memcmp(out.data, lit.data, lit.len) == 0)) {
		FUZZ_ASSERT(len >= 2 && (s[0] == '[' || s[0] == '{'));
		json_value *in = json_parse(s, len, FUZZ_JSON_MAX);
		FUZZ_ASSERT(in != NULL);
		json_free(in);
		for (size_t i = 0; i < out.len; i++) {
			unsigned char c = (unsigned char)out.data[i];
			FUZZ_ASSERT(c >= 0x20 && c != 0x7f && c != '<' && c != '>' && c != '&');
		}
		FUZZ_ASSERT(fuzz_utf8_valid((const uint8_t *)out.data, out.len));
		FUZZ_REQUIRE(buf_append_str(&doc, "{\"f\":") == 0 && buf_append(&doc, out.data, out.len) == 0 &&
		             buf_append_char(&doc, '}') == 0);
		json_value *v = json_parse(doc.data, doc.len, doc.len);
		FUZZ_ASSERT(v != NULL);
		json_free(v);
	}
	buf_free(&out);
	buf_free(&lit);
	buf_free(&doc);
}

struct walk {
	size_t depth;
	size_t members;
	const json_value *obj;
};

static void walk(const json_value *v, size_t depth);

static int member_cb(const char *key, const json_value *val, void *ud)
{
	struct walk *w = ud;

	FUZZ_ASSERT(key != NULL);
	w->members++;
	/* a visited member is found by name (json-c keeps one value per name) */
	FUZZ_ASSERT(json_has(w->obj, key));
	FUZZ_ASSERT(json_get(w->obj, key) == val);
	size_t l1 = 0, l2 = 0;
	const char *s1 = json_get_str(w->obj, key, &l1), *s2 = json_str(val, &l2);
	FUZZ_ASSERT(s1 == s2 && l1 == l2);
	int64_t i1 = 0, i2 = 0;
	int r1 = json_get_int64(w->obj, key, &i1), r2 = json_int64(val, &i2);
	FUZZ_ASSERT(r1 == r2 && (r1 != 0 || i1 == i2));
	walk(val, w->depth + 1);
	return 0;
}

static int stop_cb(const char *key, const json_value *val, void *ud)
{
	(void)key;
	(void)val;
	(*(int *)ud)++;
	return 7;
}

static void walk(const json_value *v, size_t depth)
{
	enum json_kind k = json_kind_of(v);
	size_t len = 0;
	int64_t i64;

	FUZZ_ASSERT((unsigned)k < JSON_KIND__MAX);
	FUZZ_ASSERT((v == NULL) == (k == JSON_NULL));
	/* getters of another kind refuse */
	const char *s = json_str(v, &len);
	FUZZ_ASSERT(s == NULL || k == JSON_STRING); /* NULL for a string holding \u0000 */
	/* integers only (out-of-range ones, saturated by json-c, may be refused) */
	FUZZ_ASSERT(json_int64(v, &i64) != 0 || k == JSON_INT);
	if (k != JSON_ARRAY) {
		FUZZ_ASSERT(json_array_len(v) == 0);
		FUZZ_ASSERT(json_array_at(v, 0) == NULL);
	}
	if (k != JSON_OBJECT) {
		FUZZ_ASSERT(json_object_len(v) == 0);
		FUZZ_ASSERT(json_get(v, "a") == NULL && !json_has(v, "a"));
		FUZZ_ASSERT(json_get_str(v, "a", NULL) == NULL);
		FUZZ_ASSERT(json_get_int64(v, "a", &i64) == -1);
		FUZZ_ASSERT(json_object_foreach(v, member_cb, NULL) == -1);
	}
	switch (k) {
	case JSON_STRING:
		if (s) {
			FUZZ_ASSERT(strlen(s) == len);
			check_string_roundtrip(s, len);
		}
		break;
	case JSON_ARRAY: {
		FUZZ_ASSERT(depth < JSON_MAX_DEPTH);
		size_t n = json_array_len(v);
		for (size_t i = 0; i < n; i++)
			walk(json_array_at(v, i), depth + 1);
		FUZZ_ASSERT(json_array_at(v, n) == NULL);
		FUZZ_ASSERT(json_array_at(v, (size_t)-1) == NULL);
		break;
	}
	case JSON_OBJECT: {
		FUZZ_ASSERT(depth < JSON_MAX_DEPTH);
		struct walk w = { depth, 0, v };
		FUZZ_ASSERT(json_object_foreach(v, member_cb, &w) == 0);
		FUZZ_ASSERT(w.members == json_object_len(v));
		int calls = 0;
		FUZZ_ASSERT(json_object_foreach(v, stop_cb, &calls) == (w.members ? 7 : 0));
		FUZZ_ASSERT(calls == (w.members ? 1 : 0));
		FUZZ_ASSERT(json_get(v, "") == NULL || json_has(v, ""));
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	json_value *v = json_parse(buf, size, FUZZ_JSON_MAX);
	if (memchr(data, '\0', size) || size > FUZZ_JSON_MAX || size == 0)
		FUZZ_ASSERT(v == NULL);
	if (v) {
		walk(v, 0);
		/* the same text with max_len one short is refused */
		FUZZ_ASSERT(json_parse(buf, size, size - 1) == NULL);
		/* trailing garbage is refused */
		char *more = malloc(size + 1);
		FUZZ_REQUIRE(more != NULL);
		memcpy(more, data, size);
		more[size] = 'x';
		json_value *w = json_parse(more, size + 1, FUZZ_JSON_MAX + 1);
		FUZZ_ASSERT(w == NULL);
		free(more);
	}
	json_free(v);
	json_free(NULL);
	if (size <= FUZZ_JSON_MAX) {
		check_string_roundtrip(buf, size);
		check_embedded(buf, size);
	}
	return 0;
}
