/* gateway: the navigation rule (method, Sec-Fetch-Mode, Accept and its
 * q-values), header names of profile fields in both styles, the value
 * encoding, and the identity headers with the SGID_GATEWAY_HEADERS filter,
 * repeats and over-long values. */
#include <string.h>

#include "gateway.h"
#include "harness.h"
#include "http.h"
#include "util.h"

static void test_accept(void)
{
	static const char *const prefers[] = {
		"text/html",
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"TEXT/HTML", " text/html ; charset=utf-8 ", "text/html;q=0.5, */*;q=0.5",
		"*/*;q=0.1, text/html", "application/json;q=0.2,text/html;q=0.3",
		"text/html;q=1.000", "text/html;q=0.001", "text/html;Q=0.9, text/plain;q=0.8",
		"text/html;level=1;q=0.7, */*;q=0.6", "text/plain;q=bogus, text/html",
		",,text/html,,", "text/html, text/html;q=0",
	};
	static const char *const not_html[] = {
		"", "*/*", "application/json", "application/json, text/plain, */*",
		"text/*", "text/html;q=0", "text/html;q=0.0", "text/html;q=0.5, */*;q=0.6",
		"text/html;q=0.5, application/json", "text/html;q=2", "text/html;q=bogus",
		"text/html;q=1.5", "text/html;q=0.5000", "text/htmlx", "xtext/html",
		"text/html;q=0.9, text/plain", "image/webp,*/*", "text/html;q=-1",
		"text/html;q=", "text/plain;q=bogus, text/html;q=0.9",
	};
	for (size_t i = 0; i < ARRAY_LEN(prefers); i++) {
		bool ok = gateway_accept_prefers_html(prefers[i]);
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  not preferred: \"%s\"\n", prefers[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(not_html); i++) {
		bool ok = gateway_accept_prefers_html(not_html[i]);
		CHECK(!ok);
		if (ok)
			fprintf(stderr, "  preferred: \"%s\"\n", not_html[i]);
	}
	CHECK(!gateway_accept_prefers_html(NULL));
}

#define BROWSER_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

static void test_navigation(void)
{
	CHECK(gateway_is_navigation("GET", "text/html", NULL));
	CHECK(gateway_is_navigation("HEAD", "text/html", NULL));
	CHECK(gateway_is_navigation("GET", "*/*", "navigate"));
	CHECK(gateway_is_navigation("GET", NULL, "navigate"));
	CHECK(!gateway_is_navigation("GET", "*/*", NULL));
	CHECK(!gateway_is_navigation("GET", "*/*", "cors"));
	CHECK(!gateway_is_navigation("GET", "*/*", "no-cors"));
	CHECK(!gateway_is_navigation("GET", "*/*", "Navigate"));
	CHECK(!gateway_is_navigation("GET", NULL, NULL));
	/* Sec-Fetch-Mode, when sent, decides alone: a script's fetch may ask
	 * for text/html, and a navigation may send any Accept */
	static const char *const not_navigate[] = { "cors", "no-cors", "same-origin", "websocket",
		"", "Navigate", "navigate ", "navigation", "NAVIGATE" };
	for (size_t i = 0; i < ARRAY_LEN(not_navigate); i++) {
		CHECK(!gateway_is_navigation("GET", "text/html", not_navigate[i]));
		CHECK(!gateway_is_navigation("GET", BROWSER_ACCEPT, not_navigate[i]));
		CHECK(!gateway_is_navigation("HEAD", "text/html", not_navigate[i]));
	}
	CHECK(gateway_is_navigation("GET", "application/json", "navigate"));
	CHECK(gateway_is_navigation("HEAD", "", "navigate"));
	/* without it (older clients, curl), Accept decides */
	CHECK(gateway_is_navigation("GET", BROWSER_ACCEPT, NULL));
	CHECK(!gateway_is_navigation("GET", "application/json", NULL));
	CHECK(!gateway_is_navigation("POST", "text/html", "navigate"));
	CHECK(!gateway_is_navigation("OPTIONS", "text/html", "navigate"));
	CHECK(!gateway_is_navigation("get", "text/html", "navigate"));
	CHECK(!gateway_is_navigation(NULL, "text/html", "navigate"));
}

static const char *name_of(enum gateway_style st, const char *field)
{
	static struct buf b;
	buf_free(&b);
	return gateway_header_name(st, field, strlen(field), &b) == 0 ? buf_cstr(&b) : NULL;
}

static void test_names(void)
{
	CHECK_STR(name_of(GATEWAY_HEADERS, "sub"), "X-Sgid-Sub");
	CHECK_STR(name_of(GATEWAY_HEADERS, "myinfo.name"), "X-Sgid-Myinfo-Name");
	CHECK_STR(name_of(GATEWAY_HEADERS, "myinfo.nric_number"), "X-Sgid-Myinfo-Nric-Number");
	CHECK_STR(name_of(GATEWAY_HEADERS, "MYINFO.NAME"), "X-Sgid-Myinfo-Name");
	CHECK_STR(name_of(GATEWAY_HEADERS, "myInfo.dateOfBirth"), "X-Sgid-Myinfo-Dateofbirth");
	CHECK_STR(name_of(GATEWAY_HEADERS, "a-b_c.d9"), "X-Sgid-A-B-C-D9");
	CHECK_STR(name_of(GATEWAY_VARIABLES, "sub"), "Variable-SGID_SUB");
	CHECK_STR(name_of(GATEWAY_VARIABLES, "myinfo.name"), "Variable-SGID_MYINFO_NAME");
	CHECK_STR(name_of(GATEWAY_VARIABLES, "myinfo.nric_number"), "Variable-SGID_MYINFO_NRIC_NUMBER");
	CHECK_STR(name_of(GATEWAY_VARIABLES, "a-b.c"), "Variable-SGID_A_B_C");
	static const char *const bad[] = { "", "my info", "myinfo:name", "na\xc3\xafve", "a/b",
		"x\r\ny", "a=b", "(x)" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		CHECK(name_of(GATEWAY_HEADERS, bad[i]) == NULL);
		CHECK(name_of(GATEWAY_VARIABLES, bad[i]) == NULL);
	}
	char longest[CFG_FIELD_NAME_LEN];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	CHECK(name_of(GATEWAY_HEADERS, longest) != NULL);
	char too_long[CFG_FIELD_NAME_LEN + 1];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	CHECK(name_of(GATEWAY_HEADERS, too_long) == NULL);
	name_of(GATEWAY_HEADERS, ""); /* frees the static buffer */
}

static void test_values(void)
{
	struct buf b = BUF_INIT;
	CHECK_INT(gateway_value_encode("TAN AH KOW \"AK\" \xe9\x99\x88", 19, &b), 0);
	CHECK_STR(buf_cstr(&b), "TAN AH KOW \"AK\" %E9%99%88");
	buf_reset(&b);
	CHECK_INT(gateway_value_encode("100% ~ok", 8, &b), 0);
	CHECK_STR(buf_cstr(&b), "100%25 ~ok");
	buf_reset(&b);
	CHECK_INT(gateway_value_encode("a\r\nX: y\t\x7f\x01", 10, &b), 0);
	CHECK_STR(buf_cstr(&b), "a%0D%0AX: y%09%7F%01");
	buf_reset(&b);
	CHECK_INT(gateway_value_encode("a\0b", 3, &b), 0);
	CHECK_STR(buf_cstr(&b), "a%00b");
	buf_free(&b);
	CHECK_INT(gateway_value_encode("", 0, &b), 0);
	CHECK_STR(buf_cstr(&b), "");
	buf_free(&b);
}

static struct config cfg;
static struct response res;

static const char *hdr(const char *name)
{
	static char v[4096];
	size_t nl = strlen(name);
	const char *p = buf_cstr(&res.headers);
	while ((p = strstr(p, name)) != NULL) {
		if ((p == res.headers.data || p[-1] == '\n') && p[nl] == ':') {
			const char *s = p + nl + 2, *e = strstr(s, "\r\n");
			size_t n = (size_t)(e - s) < sizeof(v) ? (size_t)(e - s) : sizeof(v) - 1;
			memcpy(v, s, n);
			v[n] = '\0';
			return v;
		}
		p += nl;
	}
	return NULL;
}

static int count_lines(void)
{
	int n = 0;
	for (const char *p = buf_cstr(&res.headers); (p = strstr(p, "\r\n")); p += 2)
		n++;
	return n;
}

static int identity(enum gateway_style st, const char *sub, const char *profile, size_t *skipped)
{
	struct buf p = BUF_INIT;
	if (profile)
		buf_append_str(&p, profile);
	resp_free(&res);
	resp_init(&res);
	int rc = gateway_add_identity(&res, st, &cfg, sub, &p, skipped);
	buf_free(&p);
	return rc;
}

static void test_identity(void)
{
	size_t skipped = 99;
	memset(&cfg, 0, sizeof(cfg));
	static const char profile[] =
		"{\"myinfo.name\":\"TAN AH KOW \\\"AK\\\" \\u9648\",\"myinfo.nric_number\":\"S1234567D\","
		"\"myinfo.note\":\"100%\",\"sub\":\"forged\",\"myinfo_name\":\"repeat\","
		"\"bad name\":\"x\",\"MYINFO.NAME\":\"repeat too\"}";

	CHECK_INT(identity(GATEWAY_HEADERS, "u=sub-1", profile, &skipped), 0);
	CHECK(!res.failed);
	CHECK_STR(hdr("X-Sgid-Sub"), "u=sub-1");
	CHECK_STR(hdr("X-Sgid-Myinfo-Name"), "TAN AH KOW \"AK\" %E9%99%88");
	CHECK_STR(hdr("X-Sgid-Myinfo-Nric-Number"), "S1234567D");
	CHECK_STR(hdr("X-Sgid-Myinfo-Note"), "100%25");
	CHECK_INT(count_lines(), 4);
	CHECK_INT(skipped, 4); /* sub, myinfo_name, bad name, MYINFO.NAME */

	CHECK_INT(identity(GATEWAY_VARIABLES, "u=sub-1", profile, &skipped), 0);
	CHECK_STR(hdr("Variable-SGID_SUB"), "u=sub-1");
	CHECK_STR(hdr("Variable-SGID_MYINFO_NAME"), "TAN AH KOW \"AK\" %E9%99%88");
	CHECK_STR(hdr("Variable-SGID_MYINFO_NRIC_NUMBER"), "S1234567D");
	CHECK_INT(count_lines(), 4);

	/* the filter: listed fields only; the sub always */
	snprintf(cfg.gateway_headers[0], sizeof(cfg.gateway_headers[0]), "myinfo.nric_number");
	snprintf(cfg.gateway_headers[1], sizeof(cfg.gateway_headers[1]), "myinfo.absent");
	cfg.n_gateway_headers = 2;
	CHECK_INT(identity(GATEWAY_HEADERS, "u=sub-1", profile, &skipped), 0);
	CHECK_STR(hdr("X-Sgid-Sub"), "u=sub-1");
	CHECK_STR(hdr("X-Sgid-Myinfo-Nric-Number"), "S1234567D");
	CHECK(hdr("X-Sgid-Myinfo-Name") == NULL);
	CHECK_INT(count_lines(), 2);
	CHECK_INT(skipped, 0);
	cfg.n_gateway_headers = 0;

	/* no profile yet: the sub alone; a sub with odd bytes is encoded */
	CHECK_INT(identity(GATEWAY_HEADERS, "a\r\nb%", NULL, &skipped), 0);
	CHECK_STR(hdr("X-Sgid-Sub"), "a%0D%0Ab%25");
	CHECK_INT(count_lines(), 1);
	CHECK_INT(identity(GATEWAY_HEADERS, "s", "{}", &skipped), 0);
	CHECK_INT(count_lines(), 1);

	/* an over-long value is left out, its neighbours are not */
	static char big[GATEWAY_VALUE_MAX + 64];
	snprintf(big, sizeof(big), "{\"a\":\"%0*d\",\"b\":\"ok\"}", GATEWAY_VALUE_MAX + 1, 7);
	CHECK_INT(identity(GATEWAY_HEADERS, "s", big, &skipped), 0);
	CHECK(hdr("X-Sgid-A") == NULL);
	CHECK_STR(hdr("X-Sgid-B"), "ok");
	CHECK_INT(skipped, 1);
	snprintf(big, sizeof(big), "{\"a\":\"%0*d\"}", GATEWAY_VALUE_MAX, 7);
	CHECK_INT(identity(GATEWAY_HEADERS, "s", big, &skipped), 0);
	CHECK(hdr("X-Sgid-A") != NULL);

	/* arrays and objects (SGID_PARSE_DATA) as compact JSON text, encoded
	 * as any value; other non-strings are skipped; an unreadable profile
	 * is an error */
	CHECK_INT(identity(GATEWAY_HEADERS, "s", "{\"n\":1,\"o\":{},\"s\":\"v\",\"t\":true}", &skipped), 0);
	CHECK_STR(hdr("X-Sgid-S"), "v");
	CHECK_STR(hdr("X-Sgid-O"), "{}");
	CHECK_INT(skipped, 2);
	CHECK_INT(identity(GATEWAY_HEADERS, "s",
		"{\"a\":[{\"k\":\"100% \\u00e9\\r\\n\"},1e999,18446744073709551615]}", &skipped), 0);
	CHECK_STR(hdr("X-Sgid-A"), "[{\"k\":\"100%25 %C3%A9\\r\\n\"},1e999,18446744073709551615]");
	CHECK_INT(skipped, 0);
	CHECK_INT(identity(GATEWAY_HEADERS, "s", "not json", &skipped), -1);
	CHECK_INT(identity(GATEWAY_HEADERS, "s", "[\"x\"]", &skipped), -1);
	resp_free(&res);
}

/* A profile field whose header is one the gateway writes itself (the sub,
 * X-Sgid-Login, X-Sgid-App-Cookie, SGID_GATEWAY), in any spelling that
 * maps to it, is never given: it would pose as the gateway's own. */
static void test_own_names(void)
{
	size_t skipped = 0;
	memset(&cfg, 0, sizeof(cfg));
	static const char profile[] =
		"{\"login\":\"//evil.example/\",\"LOGIN\":\"x\",\"app-cookie\":\"session=stolen\","
		"\"app_cookie\":\"a=1\",\"App.Cookie\":\"b=2\",\"gateway\":\"1\",\"Sub\":\"forged\","
		"\"myinfo.name\":\"N\"}";
	CHECK_INT(identity(GATEWAY_HEADERS, "u=1", profile, &skipped), 0);
	CHECK_STR(hdr("X-Sgid-Sub"), "u=1");
	CHECK_STR(hdr("X-Sgid-Myinfo-Name"), "N");
	CHECK(hdr("X-Sgid-Login") == NULL);
	CHECK(hdr("X-Sgid-App-Cookie") == NULL);
	CHECK(hdr("X-Sgid-Gateway") == NULL);
	CHECK_INT(count_lines(), 2);
	CHECK_INT(skipped, 7);
	CHECK_INT(identity(GATEWAY_VARIABLES, "u=1", profile, &skipped), 0);
	CHECK_STR(hdr("Variable-SGID_SUB"), "u=1");
	CHECK(hdr("Variable-SGID_APP_COOKIE") == NULL);
	CHECK(hdr("Variable-SGID_GATEWAY") == NULL);
	CHECK(hdr("Variable-SGID_LOGIN") == NULL);
	CHECK_INT(count_lines(), 2);
	CHECK_INT(skipped, 7);
	/* listed in SGID_GATEWAY_HEADERS or not */
	snprintf(cfg.gateway_headers[0], sizeof(cfg.gateway_headers[0]), "app-cookie");
	snprintf(cfg.gateway_headers[1], sizeof(cfg.gateway_headers[1]), "login");
	cfg.n_gateway_headers = 2;
	CHECK_INT(identity(GATEWAY_HEADERS, "u=1", profile, &skipped), 0);
	CHECK_INT(count_lines(), 1);
	cfg.n_gateway_headers = 0;
	resp_free(&res);
}

/* The app's Cookie header: the session cookie gone, the rest as sent. */
static void test_app_cookie(void)
{
	static const struct {
		enum gateway_style st;
		const char *cookie, *want;   /* want NULL: no such header */
	} cases[] = {
		{ GATEWAY_HEADERS, "a=1; sid=x; b=2", "a=1; b=2" },
		{ GATEWAY_HEADERS, "sid=x", NULL },
		{ GATEWAY_HEADERS, NULL, NULL },
		{ GATEWAY_HEADERS, "mysid=1;  sid=2", "mysid=1" },
		{ GATEWAY_VARIABLES, "sid=x; a=1", "a=1" },
		{ GATEWAY_VARIABLES, "sid=x", NULL },
		{ GATEWAY_VARIABLES, NULL, NULL },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		bool vars = cases[i].st == GATEWAY_VARIABLES;
		resp_free(&res);
		resp_init(&res);
		CHECK_INT(gateway_add_app_cookie(&res, cases[i].st, cases[i].cookie, "sid"), 0);
		const char *got = hdr(vars ? "Variable-SGID_APP_COOKIE" : "X-Sgid-App-Cookie");
		if (cases[i].want)
			CHECK_STR(got, cases[i].want);
		else
			CHECK(got == NULL);
		/* the authorizer marks its 200, cookie or not: the script then
		 * clears the Cookie when no SGID_APP_COOKIE came */
		if (vars)
			CHECK_STR(hdr("Variable-SGID_GATEWAY"), "1");
		else
			CHECK(hdr("X-Sgid-Gateway") == NULL);
		CHECK_INT(count_lines(), (cases[i].want ? 1 : 0) + (vars ? 1 : 0));
	}
	/* a header too long to read: nothing of it, ours may be in it */
	static char big[HTTP_MAX_COOKIE_LEN + 16];
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "a=", 2);
	resp_free(&res);
	resp_init(&res);
	CHECK_INT(gateway_add_app_cookie(&res, GATEWAY_HEADERS, big, "sid"), 0);
	CHECK(hdr("X-Sgid-App-Cookie") == NULL);
	resp_free(&res);
}

/* The FastCGI parameters of a client's X-Sgid-* header, as nginx and
 * lighttpd name them (HTTP_ + upper case, '-' as '_'). */
static void test_client_identity(void)
{
	static const char *const yes[] = {
		"HTTP_X_SGID_SUB=x", "HTTP_X_SGID_MYINFO_EMAIL=forged", "http_x_sgid_sub=x",
		"HTTP_X_SGID_=", "HTTP_X_SGID_LOGIN", "HTTP_X_SGID_APP_COOKIE=a=1",
	};
	static const char *const no[] = {
		"HTTP_X_SGIDSUB=x", "HTTP_SGID_SUB=x", "SGID_SUB=x", "HTTP_VARIABLE_SGID_SUB=x",
		"HTTP_X_SGI=x", "X_SGID_SUB=x", "SGID_ORIGINAL_URI=/HTTP_X_SGID_", "HTTP_COOKIE=HTTP_X_SGID_=1",
		"", "HTTP_X_SGID",
	};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		CHECK(gateway_is_client_identity(yes[i], strcspn(yes[i], "=")));
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		CHECK(!gateway_is_client_identity(no[i], strcspn(no[i], "=")));
}

int main(void)
{
	RUN(test_accept);
	RUN(test_navigation);
	RUN(test_names);
	RUN(test_values);
	RUN(test_identity);
	RUN(test_own_names);
	RUN(test_app_cookie);
	RUN(test_client_identity);
	return harness_report("test_gateway");
}
