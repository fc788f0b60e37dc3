/* Fuzz target: the gateway's access rules (authz_compile, authz_allows)
 * and the allowlist file's parser (sublist_parse).
 *
 * Input: "RULE\nPROFILE-JSON\nALLOWLIST-FILE..." (the first two lines; the
 * rest is the allowlist "ops"). Properties, from models written here:
 *  - a refused rule reports where, within the text, and gives no rule;
 *  - an accepted rule is at most AUTHZ_RULE_MAX bytes, holds no byte under
 *    0x20 but a tab, and decides the same twice (no state);
 *  - "(R) and (R)" decides as R, "(R) or sub = \"<sub>\"" allows, when they
 *    compile (nesting may pass the bound);
 *  - every line of an accepted allowlist, trimmed, not '#', is found in it,
 *    and "sub in @ops" allows exactly those subs. */
#include "authz.h"
#include "buf.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_lines(const struct sublist *l, const char *t, size_t n)
{
	for (size_t pos = 0; pos < n;) {
		const char *nl = memchr(t + pos, '\n', n - pos);
		size_t a = pos, b = nl ? (size_t)(nl - t) : n;
		pos = b + 1;
		while (a < b && (t[a] == ' ' || t[a] == '\t' || t[a] == '\r'))
			a++;
		while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t' || t[b - 1] == '\r'))
			b--;
		if (a < b && t[a] != '#')
			FUZZ_ASSERT(sublist_has(l, t + a, b - a));
	}
}

static bool decide(const char *text, size_t len, const struct sublist *lists, const char *sub,
	const json_value *p, bool *ok)
{
	struct authz_rule *r;
	size_t at;
	*ok = authz_compile(text, len, lists, 1, &r, &at) == AUTHZ_OK;
	bool d = *ok && authz_allows(r, sub, p);
	authz_rule_free(r);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl1 = memchr(s, '\n', size);
	size_t rule_len = nl1 ? (size_t)(nl1 - s) : size;
	const char *prof = nl1 ? nl1 + 1 : s + size;
	size_t rest = size - (size_t)(prof - s);
	const char *nl2 = memchr(prof, '\n', rest);
	size_t prof_len = nl2 ? (size_t)(nl2 - prof) : rest;
	const char *file = nl2 ? nl2 + 1 : prof + prof_len;
	size_t file_len = size - (size_t)(file - s);

	struct sublist lists[1] = { { .name = "ops" } };
	char err[128];
	bool listed = sublist_parse(file, file_len, &lists[0], err, sizeof(err)) == 0;
	if (listed)
		check_lines(&lists[0], file, file_len);
	else
		FUZZ_ASSERT(lists[0].n == 0 && lists[0].subs == NULL);

	json_value *p = json_parse(prof, prof_len, prof_len);
	const char *sub = listed && lists[0].n > 0 ? lists[0].subs[0] : "u=fuzz";

	struct authz_rule *r = (struct authz_rule *)1;
	size_t at = SIZE_MAX;
	enum authz_err e = authz_compile(s, rule_len, lists, 1, &r, &at);
	if (e != AUTHZ_OK) {
		FUZZ_ASSERT(r == NULL && at <= rule_len);
		FUZZ_ASSERT(e > AUTHZ_OK && e < AUTHZ_ERR__MAX);
	} else {
		FUZZ_ASSERT(r != NULL && rule_len <= AUTHZ_RULE_MAX);
		for (size_t i = 0; i < rule_len; i++)
			FUZZ_ASSERT((unsigned char)s[i] >= 0x20 || s[i] == '\t');
		bool d = authz_allows(r, sub, p);
		FUZZ_ASSERT(d == authz_allows(r, sub, p));
		authz_rule_free(r);

		struct buf w = BUF_INIT;
		bool ok;
		FUZZ_REQUIRE(buf_append_str(&w, "(") == 0 && buf_append(&w, s, rule_len) == 0 &&
		             buf_append_str(&w, ") and (") == 0 && buf_append(&w, s, rule_len) == 0 &&
		             buf_append_str(&w, ")") == 0);
		bool d2 = decide(w.data, w.len, lists, sub, p, &ok);
		FUZZ_ASSERT(!ok || d2 == d);
		w.len = 0;
		FUZZ_REQUIRE(buf_append_str(&w, "(") == 0 && buf_append(&w, s, rule_len) == 0 &&
		             buf_append_str(&w, ") or sub = \"u=fuzz\"") == 0);
		d2 = decide(w.data, w.len, lists, "u=fuzz", p, &ok);
		FUZZ_ASSERT(!ok || d2);
		buf_free(&w);
	}
	if (listed) {
		bool ok;
		FUZZ_ASSERT(decide("sub in @ops", 11, lists, sub, p, &ok) == (lists[0].n > 0) && ok);
		FUZZ_ASSERT(!decide("sub in @ops", 11, lists, "", p, &ok));
	}
	json_free(p);
	sublist_free(&lists[0]);
	return 0;
}
