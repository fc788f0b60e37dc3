/* Fuzz target: the Cookie header parser (http_parse_cookies), kv_count,
 * kv_get and binding the session cookie the way the handlers do.
 *
 * Input: a raw Cookie header value. Properties:
 *  - success: at most HTTP_MAX_PARAMS pairs; names non-empty, no ';' or
 *    '=' in a name, no ';' in a value, no raw C0/DEL anywhere, no blank
 *    around a name; lengths within limits and equal to strlen;
 *    kv_get returns the first pair of a name and kv_count counts them all;
 *  - the header holds no raw C0/DEL byte and is within the length limit;
 *  - failure: the list is empty;
 *  - a duplicated session cookie never binds (FIELD_INVALID). */
#include <string.h>

#include "fuzz.h"
#include "http.h"

#define SESSION_COOKIE "exampleAppSession"

static bool v_session_id(const char *v, size_t len)
{
	if (len != 43)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static const struct field_spec session_spec[] = {
	{ SESSION_COOKIE, true, 43, v_session_id },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_pair(const struct kv_list *l, const struct kv *kv)
{
	FUZZ_ASSERT(kv->key && kv->val);
	FUZZ_ASSERT(kv->key_len > 0 && kv->key_len <= HTTP_MAX_KEY_LEN);
	FUZZ_ASSERT(kv->val_len <= HTTP_MAX_VALUE_LEN);
	FUZZ_ASSERT(strlen(kv->key) == kv->key_len);
	FUZZ_ASSERT(strlen(kv->val) == kv->val_len);
	FUZZ_ASSERT(kv->key[0] != ' ' && kv->key[kv->key_len - 1] != ' ');
	FUZZ_ASSERT(strpbrk(kv->key, ";=") == NULL);
	FUZZ_ASSERT(strchr(kv->val, ';') == NULL);
	for (size_t i = 0; i < kv->key_len; i++)
		FUZZ_ASSERT((unsigned char)kv->key[i] >= 0x20 && kv->key[i] != 0x7f);
	for (size_t i = 0; i < kv->val_len; i++)
		FUZZ_ASSERT((unsigned char)kv->val[i] >= 0x20 && kv->val[i] != 0x7f);
	/* kv_get finds the first pair of this name */
	const struct kv *first = kv_get(l, kv->key);
	FUZZ_ASSERT(first != NULL && first <= kv && strcmp(first->key, kv->key) == 0);
	for (const struct kv *p = l->items; p < first; p++)
		FUZZ_ASSERT(strcmp(p->key, kv->key) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hdr = (const char *)data;
	struct kv_list l;

	memset(&l, 0x5a, sizeof(l));
	enum http_err e = http_parse_cookies(hdr, size, &l);
	FUZZ_ASSERT((unsigned)e < HTTP_ERR__MAX);
	if (size > HTTP_MAX_COOKIE_LEN)
		FUZZ_ASSERT(e == HTTP_ERR_TOO_LONG);
	if (e != HTTP_OK) {
		FUZZ_ASSERT(l.n == 0 && l.storage == NULL);
		FUZZ_ASSERT(kv_count(&l, SESSION_COOKIE) == 0);
		return 0;
	}
	for (size_t i = 0; i < size; i++)
		FUZZ_ASSERT(data[i] >= 0x20 && data[i] != 0x7f);
	FUZZ_ASSERT(l.n <= HTTP_MAX_PARAMS);
	/* each pair needs its own ';'-separated segment */
	FUZZ_ASSERT(l.n <= fuzz_count(hdr, size, ";") + 1);

	size_t total = 0;
	for (size_t i = 0; i < l.n; i++) {
		check_pair(&l, &l.items[i]);
		/* count each name once, at its first occurrence */
		if (kv_get(&l, l.items[i].key) == &l.items[i]) {
			size_t c = kv_count(&l, l.items[i].key);
			FUZZ_ASSERT(c >= 1);
			total += c;
		}
	}
	FUZZ_ASSERT(total == l.n);

	const struct kv *val[1];
	const char *bad = NULL;
	enum field_result r = http_bind_fields(&l, session_spec, 1, val, &bad);
	size_t n = kv_count(&l, SESSION_COOKIE);
	if (n == 0)
		FUZZ_ASSERT(r == FIELD_MISSING);
	else if (n > 1)
		FUZZ_ASSERT(r == FIELD_INVALID);
	if (r == FIELD_OK) {
		FUZZ_ASSERT(val[0] == kv_get(&l, SESSION_COOKIE));
		FUZZ_ASSERT(v_session_id(val[0]->val, val[0]->val_len));
		FUZZ_ASSERT(bad == NULL);
	} else {
		FUZZ_ASSERT(val[0] == NULL);
		FUZZ_ASSERT(bad != NULL && strcmp(bad, SESSION_COOKIE) == 0);
	}
	kv_list_free(&l);
	return 0;
}
