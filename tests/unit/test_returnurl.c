/* returnurl: the return URLs of gateway mode. Every hostile form an open
 * redirect is made of is refused (scheme-relative, backslashes, encoded
 * slashes, user information, look-alike hosts and ports, script and data
 * schemes, CR/LF, NUL, dot segments, double encoding, over-long values),
 * the honest ones pass, and paths resolve against the redirect URI's
 * origin. */
#include <string.h>

#include "harness.h"
#include "hostile_rd.h"
#include "returnurl.h"
#include "util.h"

static struct config cfg;

static void set_up(void)
{
	static const char *const origins[] = {
		"https://allowed.example", "https://app.example:8443", "http://localhost:3000",
		"http://127.0.0.1:8080", "http://[::1]:9000",
		/* listed, but plain http off loopback: the check refuses it anyway */
		"http://plain.example",
	};
	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < ARRAY_LEN(origins); i++)
		snprintf(cfg.return_origins[i], sizeof(cfg.return_origins[i]), "%s", origins[i]);
	cfg.n_return_origins = ARRAY_LEN(origins);
	snprintf(cfg.redirect_origin, sizeof(cfg.redirect_origin), "https://api.example");
}

static void test_hostile(void)
{
	const char *const *bad = hostile_rd();
	CHECK(hostile_rd_n >= 40);
	for (size_t i = 0; i < hostile_rd_n; i++) {
		const char *why = NULL;
		bool ok = returnurl_valid(bad[i], strlen(bad[i]), &cfg, &why);
		CHECK(!ok);
		if (ok)
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		CHECK(why != NULL && why[0] != '\0');
		if (why && strlen(bad[i]) >= 6)
			CHECK(strstr(why, bad[i]) == NULL); /* the value is never quoted */
	}
	/* a NUL inside the given length */
	CHECK(!returnurl_valid("/ok\0//evil", 10, &cfg, NULL));
	CHECK(!returnurl_valid(NULL, 0, &cfg, NULL));
	/* nothing is allowed off our origin with an empty list */
	struct config none = cfg;
	none.n_return_origins = 0;
	CHECK(!returnurl_valid("https://allowed.example/", 24, &none, NULL));
	CHECK(returnurl_valid("/ok", 3, &none, NULL));
}

static void test_accepted(void)
{
	static char longest[RETURNURL_MAX + 1];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[0] = '/';
	longest[sizeof(longest) - 1] = '\0';
	static const char *const good[] = {
		"/", "/app", "/app/", "/app/page?x=1&y=2#frag", "/a%2Fb", "/search?q=%E9%99%88",
		"/100%25", "/p?next=//evil.example", "/p?u=https://x.example/", "/a/.../b",
		"/.well-known/x", "/..a/b", "/a/b..", "/~user/<x>&\"q\"", "/a;b=c,d", "/a//b",
		"https://allowed.example", "https://allowed.example/", "https://allowed.example/x?y=1#z",
		"HTTPS://Allowed.Example/x", "https://allowed.example:443/x",
		"https://app.example:8443/p", "http://localhost:3000/cb", "http://LOCALHOST:3000",
		"http://127.0.0.1:8080/", "http://[::1]:9000/", "https://allowed.example#@x",
		longest,
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		const char *why = NULL;
		bool ok = returnurl_valid(good[i], strlen(good[i]), &cfg, &why);
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  refused: \"%s\" (%s)\n", good[i], why ? why : "?");
	}
	CHECK_INT(strlen(longest), RETURNURL_MAX);
	/* the length given counts, not the NUL */
	CHECK(returnurl_valid("/ok//evil", 3, &cfg, NULL));
}

static void test_resolve(void)
{
	struct buf b = BUF_INIT;
	CHECK_INT(returnurl_resolve("/app?x=1&y=%2F#f", &cfg, &b), 0);
	CHECK_STR(buf_cstr(&b), "https://api.example/app?x=1&y=%2F#f");
	buf_reset(&b);
	CHECK_INT(returnurl_resolve("/", &cfg, &b), 0);
	CHECK_STR(buf_cstr(&b), "https://api.example/");
	buf_reset(&b);
	CHECK_INT(returnurl_resolve("https://allowed.example/x", &cfg, &b), 0);
	CHECK_STR(buf_cstr(&b), "https://allowed.example/x");
	buf_free(&b);
}

int main(void)
{
	set_up();
	RUN(test_hostile);
	RUN(test_accepted);
	RUN(test_resolve);
	return harness_report("test_returnurl");
}
