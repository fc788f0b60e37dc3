/* Fuzz target: the query-string parser (http_parse_query), declared-field
 * binding (http_bind_fields), strict percent-decoding and url_encode.
 *
 * Input: a raw QUERY_STRING. Properties:
 *  - success: at most HTTP_MAX_PARAMS pairs, non-empty keys, lengths within
 *    the limits and equal to strlen (no NUL survives decoding), no
 *    duplicated key, kv_get/kv_count agree with the list;
 *  - failure: the list is empty and owns nothing;
 *  - re-encoding the decoded pairs with url_encode and parsing again gives
 *    the same pairs (decode and encode are inverse);
 *  - http_bind_fields equals a model written from http.h's contract, and on
 *    failure binds nothing and names the failing field. */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "http.h"

static bool v_icecream(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '-'))
			return false;
	}
	return true;
}

static bool v_token(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '~'))
			return false;
	}
	return true;
}

/* The callback's fields, once with code/state required, once all optional. */
static const struct field_spec specs_required[] = {
	{ "icecream", false, 32, v_icecream },
	{ "code", true, 512, v_token },
	{ "state", true, 64, v_token },
	{ "error", false, 128, NULL },
	{ "nolimit", false, 0, NULL },
};
static const struct field_spec specs_optional[] = {
	{ "code", false, 512, v_token },
	{ "state", false, 64, v_token },
	{ "error", false, 128, v_token },
	{ "icecream", false, 32, v_icecream },
};
#define MAX_SPECS 5

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool list_is_empty(const struct kv_list *l)
{
	return l->n == 0 && l->storage == NULL;
}

static void check_list(const struct kv_list *l)
{
	FUZZ_ASSERT(l->n <= HTTP_MAX_PARAMS);
	for (size_t i = 0; i < l->n; i++) {
		const struct kv *kv = &l->items[i];
		FUZZ_ASSERT(kv->key && kv->val);
		FUZZ_ASSERT(kv->key_len > 0 && kv->key_len <= HTTP_MAX_KEY_LEN);
		FUZZ_ASSERT(kv->val_len <= HTTP_MAX_VALUE_LEN);
		FUZZ_ASSERT(strlen(kv->key) == kv->key_len);
		FUZZ_ASSERT(strlen(kv->val) == kv->val_len);
		FUZZ_ASSERT(kv_get(l, kv->key) == kv); /* no earlier duplicate */
		FUZZ_ASSERT(kv_count(l, kv->key) == 1);
	}
}

/* Model of http_bind_fields from its contract in http.h. */
static enum field_result model_bind(const struct kv_list *l, const struct field_spec *s,
	size_t n, size_t *bad_idx)
{
	for (size_t i = 0; i < n; i++) {
		const struct kv *first = NULL;
		size_t count = 0;
		enum field_result r = FIELD_OK;

		for (size_t j = 0; j < l->n; j++) {
			if (strcmp(l->items[j].key, s[i].name) == 0) {
				if (!first)
					first = &l->items[j];
				count++;
			}
		}
		if (!first)
			r = s[i].required ? FIELD_MISSING : FIELD_OK;
		else if (count > 1)
			r = FIELD_INVALID;
		else if (s[i].required && first->val_len == 0)
			r = FIELD_MISSING;
		else if (s[i].max_len && first->val_len > s[i].max_len)
			r = FIELD_INVALID;
		else if (s[i].valid && !s[i].valid(first->val, first->val_len))
			r = FIELD_INVALID;
		if (r != FIELD_OK) {
			*bad_idx = i;
			return r;
		}
	}
	return FIELD_OK;
}

static void check_bind(const struct kv_list *l, const struct field_spec *s, size_t n)
{
	const struct kv *vals[MAX_SPECS];
	const char *bad = "sentinel";
	size_t bad_idx = 0;

	memset(vals, 0xa5, sizeof(vals)); /* must all be overwritten */
	enum field_result got = http_bind_fields(l, s, n, vals, &bad);
	enum field_result want = model_bind(l, s, n, &bad_idx);
	FUZZ_ASSERT(got == want);
	if (got != FIELD_OK) {
		FUZZ_ASSERT(bad == s[bad_idx].name);
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT(vals[i] == NULL);
		return;
	}
	FUZZ_ASSERT(bad == NULL);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(vals[i] == kv_get(l, s[i].name));
		if (!vals[i]) {
			FUZZ_ASSERT(!s[i].required);
			continue;
		}
		size_t limit = s[i].max_len ? s[i].max_len : HTTP_MAX_VALUE_LEN;
		FUZZ_ASSERT(vals[i]->val_len <= limit);
		FUZZ_ASSERT(!s[i].required || vals[i]->val_len > 0);
		FUZZ_ASSERT(!s[i].valid || s[i].valid(vals[i]->val, vals[i]->val_len));
	}
}

/* Encodes the pairs again and checks they parse back to the same list. */
static void check_reencode(const struct kv_list *l)
{
	struct buf q = BUF_INIT;
	struct kv_list again;

	for (size_t i = 0; i < l->n; i++) {
		FUZZ_ASSERT(i == 0 || buf_append_char(&q, '&') == 0);
		FUZZ_ASSERT(url_encode(&q, l->items[i].key, l->items[i].key_len) == 0);
		FUZZ_ASSERT(buf_append_char(&q, '=') == 0);
		FUZZ_ASSERT(url_encode(&q, l->items[i].val, l->items[i].val_len) == 0);
	}
	for (size_t i = 0; i < q.len; i++) {
		unsigned char c = (unsigned char)q.data[i];
		/* only unreserved characters, '%', '=' and '&' */
		FUZZ_ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			strchr("-._~%=&", c));
	}
	if (q.len <= HTTP_MAX_QUERY_LEN) {
		FUZZ_ASSERT(http_parse_query(q.data, q.len, &again) == HTTP_OK);
		FUZZ_ASSERT(again.n == l->n);
		for (size_t i = 0; i < l->n; i++) {
			FUZZ_ASSERT(again.items[i].key_len == l->items[i].key_len);
			FUZZ_ASSERT(again.items[i].val_len == l->items[i].val_len);
			FUZZ_ASSERT(memcmp(again.items[i].key, l->items[i].key, l->items[i].key_len) == 0);
			FUZZ_ASSERT(memcmp(again.items[i].val, l->items[i].val, l->items[i].val_len) == 0);
		}
		kv_list_free(&again);
	}
	buf_free(&q);
}

/* The decoder on its own, and url_encode as its inverse. */
static void check_decode(const char *in, size_t len, bool plus)
{
	char *out = malloc(len + 1);
	size_t olen = (size_t)-1;

	FUZZ_REQUIRE(out != NULL);
	enum http_err e = http_percent_decode(in, len, plus, out, &olen);
	if (e == HTTP_OK) {
		FUZZ_ASSERT(olen <= len);
		FUZZ_ASSERT(out[olen] == '\0');
		FUZZ_ASSERT(memchr(out, '\0', olen) == NULL);
		/* no raw C0/DEL/NUL in the input, and every '%' had two hex digits */
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)in[i];
			FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
		}
		struct buf enc = BUF_INIT;
		FUZZ_ASSERT(url_encode(&enc, out, olen) == 0);
		char *back = malloc(enc.len + 1);
		size_t blen = 0;
		FUZZ_REQUIRE(back != NULL);
		FUZZ_ASSERT(http_percent_decode(buf_cstr(&enc), enc.len, plus, back, &blen) == HTTP_OK);
		FUZZ_ASSERT(blen == olen && memcmp(back, out, olen) == 0);
		free(back);
		buf_free(&enc);
	} else {
		FUZZ_ASSERT(e == HTTP_ERR_NUL || e == HTTP_ERR_BAD_ENCODING);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *qs = (const char *)data;
	struct kv_list l;

	memset(&l, 0x5a, sizeof(l)); /* the parser must not rely on a cleared list */
	enum http_err e = http_parse_query(qs, size, &l);
	FUZZ_ASSERT((unsigned)e < HTTP_ERR__MAX);
	FUZZ_ASSERT(http_strerror(e) != NULL);
	if (size > HTTP_MAX_QUERY_LEN)
		FUZZ_ASSERT(e == HTTP_ERR_TOO_LONG);
	if (memchr(data, '\0', size))
		FUZZ_ASSERT(e != HTTP_OK);
	if (e != HTTP_OK) {
		FUZZ_ASSERT(list_is_empty(&l));
		FUZZ_ASSERT(kv_get(&l, "code") == NULL);
		/* binding an empty list: only required fields fail */
		check_bind(&l, specs_required, sizeof(specs_required) / sizeof(specs_required[0]));
	} else {
		check_list(&l);
		check_bind(&l, specs_required, sizeof(specs_required) / sizeof(specs_required[0]));
		check_bind(&l, specs_optional, sizeof(specs_optional) / sizeof(specs_optional[0]));
		check_reencode(&l);
	}
	kv_list_free(&l);
	FUZZ_ASSERT(list_is_empty(&l));
	kv_list_free(&l); /* twice is harmless */
	if (size <= HTTP_MAX_QUERY_LEN) {
		check_decode(qs, size, true);
		check_decode(qs, size, false);
	}
	return 0;
}
