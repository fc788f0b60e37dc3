/* Fuzz target: the return URLs of gateway mode (returnurl_valid,
 * returnurl_resolve) and the gateway's header helpers on the same bytes
 * (gateway_accept_prefers_html, gateway_value_encode).
 *
 * Input: a candidate rd, also read as an Accept header and as a profile
 * value. Properties, each from a model written here:
 *  - an accepted rd is 1..1024 bytes of printable ASCII without space or
 *    backslash; decoded once it holds no control byte, backslash or %XX;
 *  - an accepted path has one leading '/', not "//" raw or decoded, and no
 *    "." or ".." segment; it resolves to the redirect origin + itself;
 *  - an accepted absolute URL is http(s), without '@' in its authority,
 *    of a listed origin (http only on loopback), and resolves to itself;
 *  - an Accept that prefers text/html names text/html;
 *  - an encoded value is printable ASCII whose every '%' starts an
 *    upper-case %XX, and decodes back to the value. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gateway.h"
#include "returnurl.h"

static struct config cfg;
static const char *const origins[] = {
	"https://allowed.example", "https://app.example:8443", "http://localhost:3000",
	"http://127.0.0.1:8080", "http://[::1]:9000",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
		snprintf(cfg.return_origins[i], sizeof(cfg.return_origins[i]), "%s", origins[i]);
	cfg.n_return_origins = sizeof(origins) / sizeof(origins[0]);
	snprintf(cfg.redirect_origin, sizeof(cfg.redirect_origin), "https://api.example");
	return 0;
}

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One percent-decoding; -1 on a bad escape. out has room for n + 1. */
static long model_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hexv((unsigned char)s[i + 1]), lo = hexv((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return (long)o;
}

static bool has_dot_segment(const char *s, size_t n)
{
	size_t end = 0;
	while (end < n && s[end] != '?' && s[end] != '#')
		end++;
	for (size_t i = 0; i < end; i++) {
		if (s[i] != '/')
			continue;
		size_t j = i + 1;
		while (j < end && s[j] != '/')
			j++;
		size_t len = j - i - 1;
		if ((len == 1 && s[i + 1] == '.') || (len == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
			return true;
	}
	return false;
}

/* The origin of an absolute http(s) URL as the model sees it, or false. */
static bool model_origin(const char *s, size_t n, char *out, size_t cap, bool *https, char *host,
	size_t hcap)
{
	size_t skip = strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
	if (!skip || n < skip)
		return false;
	*https = skip == 8;
	size_t a = skip, e = a;
	while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
		e++;
	if (memchr(s + a, '@', e - a))
		return false;
	size_t hn = e - a, pn = 0;
	const char *colon = NULL;
	if (hn && s[a] == '[') {
		const char *rb = memchr(s + a, ']', hn);
		if (!rb)
			return false;
		colon = rb + 1 < s + e ? rb + 1 : NULL;
	} else {
		colon = memchr(s + a, ':', hn);
	}
	if (colon) {
		pn = (size_t)(s + e - colon - 1);
		hn = (size_t)(colon - (s + a));
	}
	if (hn == 0 || hn >= hcap)
		return false;
	for (size_t i = 0; i < hn; i++)
		host[i] = (char)tolower((unsigned char)s[a + i]);
	host[hn] = '\0';
	long port = 0;
	for (size_t i = 0; colon && i < pn; i++)
		port = port * 10 + (colon[1 + i] - '0');
	bool def = !colon || port == (*https ? 443 : 80);
	int w = def ? snprintf(out, cap, "%s://%s", *https ? "https" : "http", host)
	            : snprintf(out, cap, "%s://%s:%ld", *https ? "https" : "http", host, port);
	return w > 0 && (size_t)w < cap;
}

static void check_rd(const char *s, size_t n)
{
	bool ok = returnurl_valid(s, n, &cfg, NULL);
	if (!ok)
		return;
	FUZZ_ASSERT(n >= 1 && n <= RETURNURL_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\');
	char *dec = malloc(n + 1);
	FUZZ_REQUIRE(dec != NULL);
	long dn = model_decode(s, n, dec);
	FUZZ_ASSERT(dn >= 0);
	for (long i = 0; i < dn; i++) {
		unsigned char c = (unsigned char)dec[i];
		FUZZ_ASSERT(c >= 0x20 && c != 0x7f && c != '\\');
		FUZZ_ASSERT(!(c == '%' && i + 2 < dn && hexv((unsigned char)dec[i + 1]) >= 0 &&
		              hexv((unsigned char)dec[i + 2]) >= 0));
	}
	struct buf r = BUF_INIT;
	FUZZ_ASSERT(returnurl_resolve(s, &cfg, &r) == 0);
	if (s[0] == '/') {
		FUZZ_ASSERT(n == 1 || s[1] != '/');
		FUZZ_ASSERT(dn == 1 || dec[1] != '/');
		FUZZ_ASSERT(!has_dot_segment(s, n) && !has_dot_segment(dec, (size_t)dn));
		FUZZ_ASSERT(r.len == strlen(cfg.redirect_origin) + n);
		FUZZ_ASSERT(strncmp(r.data, cfg.redirect_origin, strlen(cfg.redirect_origin)) == 0);
		FUZZ_ASSERT(memcmp(r.data + strlen(cfg.redirect_origin), s, n) == 0);
	} else {
		char origin[600], host[300];
		bool https = false, listed = false;
		FUZZ_ASSERT(model_origin(s, n, origin, sizeof(origin), &https, host, sizeof(host)));
		for (size_t i = 0; i < cfg.n_return_origins; i++)
			listed |= strcmp(origin, cfg.return_origins[i]) == 0;
		FUZZ_ASSERT(listed);
		FUZZ_ASSERT(https || strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
		            strcmp(host, "[::1]") == 0);
		FUZZ_ASSERT(r.len == n && memcmp(r.data, s, n) == 0);
	}
	buf_free(&r);
	free(dec);
}

static bool names_html(const char *s)
{
	for (const char *p = s; *p; p++)
		if (strncasecmp(p, "text/html", 9) == 0)
			return true;
	return false;
}

static void check_value(const char *s, size_t n)
{
	struct buf e = BUF_INIT;
	FUZZ_ASSERT(gateway_value_encode(s, n, &e) == 0);
	const char *p = buf_cstr(&e);
	for (size_t i = 0; i < e.len; i++) {
		FUZZ_ASSERT(p[i] >= 0x20 && p[i] <= 0x7e);
		if (p[i] == '%')
			FUZZ_ASSERT(i + 2 < e.len && isxdigit((unsigned char)p[i + 1]) &&
			            isxdigit((unsigned char)p[i + 2]) && !islower((unsigned char)p[i + 1]) &&
			            !islower((unsigned char)p[i + 2]));
	}
	char *back = malloc(e.len + 1);
	FUZZ_REQUIRE(back != NULL);
	long bn = model_decode(p, e.len, back);
	FUZZ_ASSERT(bn == (long)n && memcmp(back, s, n) == 0);
	free(back);
	buf_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	check_rd(s, size);
	if (gateway_accept_prefers_html(s))
		FUZZ_ASSERT(names_html(s));
	check_value(s, size);
	free(s);
	return 0;
}
