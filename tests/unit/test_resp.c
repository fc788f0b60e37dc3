/* resp: header injection, cookies, serialisation, JSON errors. */
#include <limits.h>
#include <string.h>

#include "harness.h"
#include "json.h"
#include "resp.h"

static bool has_line(const struct response *r, const char *line)
{
	return strstr(buf_cstr(&r->headers), line) != NULL;
}

static int count_lines(const struct response *r, const char *prefix)
{
	int n = 0;
	const char *h = buf_cstr(&r->headers);
	size_t pl = strlen(prefix);
	for (const char *p = h; *p;) {
		if (strncmp(p, prefix, pl) == 0)
			n++;
		const char *e = strstr(p, "\r\n");
		if (!e)
			break;
		p = e + 2;
	}
	return n;
}

static void test_init_free(void)
{
	struct response r;
	resp_init(&r);
	CHECK_INT(r.status, 200);
	CHECK(!r.failed);
	CHECK_INT(r.headers.len, 0);
	resp_free(&r);
	resp_free(&r);
	resp_free(NULL);
}

static void test_status_text(void)
{
	CHECK_STR(resp_status_text(200), "OK");
	CHECK_STR(resp_status_text(302), "Found");
	CHECK_STR(resp_status_text(401), "Unauthorized");
	CHECK_STR(resp_status_text(405), "Method Not Allowed");
	CHECK_STR(resp_status_text(502), "Bad Gateway");
	CHECK_STR(resp_status_text(503), "Service Unavailable");
	CHECK_STR(resp_status_text(299), "Unknown");
}

static void test_header_ok(void)
{
	struct response r;
	resp_init(&r);
	CHECK_INT(resp_header(&r, "Cache-Control", "no-store"), 0);
	CHECK_INT(resp_header(&r, "X-Weird_Token!#$%&'*+.^`|~", "a\tb \x80\xff"), 0);
	CHECK_INT(resp_header(&r, "X-Empty", ""), 0);
	CHECK(!r.failed);
	CHECK_STR(buf_cstr(&r.headers),
		"Cache-Control: no-store\r\nX-Weird_Token!#$%&'*+.^`|~: a\tb \x80\xff\r\nX-Empty: \r\n");
	resp_free(&r);
}

static void test_header_injection(void)
{
	static const char *const bad_values[] = {
		"a\r\nSet-Cookie: evil=1", "a\nb", "a\rb", "\r\n", "a\x01", "a\x7f", "\x1b[31m",
	};
	static const char *const bad_names[] = {
		"", "Bad Name", "Bad:Name", "Bad\r\nName", "X-\"q\"", "X(y)", "X/y", "X\x80",
		"Status", "content-length",
	};
	struct response r;

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		resp_init(&r);
		CHECK_INT(resp_header(&r, "X-Test", bad_values[i]), -1);
		CHECK(r.failed);
		CHECK_INT(r.headers.len, 0);
		resp_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		resp_init(&r);
		CHECK_INT(resp_header(&r, bad_names[i], "v"), -1);
		CHECK(r.failed);
		resp_free(&r);
	}
	resp_init(&r);
	CHECK_INT(resp_header(&r, NULL, "v"), -1);
	CHECK_INT(resp_header(&r, "X", NULL), -1);
	CHECK(r.failed);
	resp_free(&r);
}

static void test_redirect(void)
{
	struct response r;
	resp_init(&r);
	resp_redirect(&r, "http://localhost:5173/logged-in");
	CHECK_INT(r.status, 302);
	CHECK(!r.failed);
	CHECK(has_line(&r, "Location: http://localhost:5173/logged-in\r\n"));
	CHECK_INT(r.body.len, 0);
	resp_free(&r);

	/* a location with CRLF must not split the response */
	resp_init(&r);
	resp_redirect(&r, "http://x/\r\nSet-Cookie: a=b");
	CHECK(r.failed);
	CHECK(!has_line(&r, "Set-Cookie"));
	resp_free(&r);
	resp_init(&r);
	resp_redirect(&r, NULL);
	CHECK(r.failed);
	resp_free(&r);
}

static void test_bodies(void)
{
	struct response r;
	resp_init(&r);
	resp_text(&r, 401, "Unauthorized");
	CHECK_INT(r.status, 401);
	CHECK_STR(buf_cstr(&r.body), "Unauthorized");
	CHECK(has_line(&r, "Content-Type: text/plain; charset=utf-8\r\n"));
	/* the last body setter wins, with one Content-Type */
	resp_json(&r, 200, "{\"a\":1}", 7);
	CHECK_INT(r.status, 200);
	CHECK_STR(buf_cstr(&r.body), "{\"a\":1}");
	CHECK_INT(count_lines(&r, "Content-Type:"), 1);
	CHECK(has_line(&r, "Content-Type: application/json\r\n"));
	/* other headers survive */
	resp_header(&r, "Vary", "Origin");
	resp_text(&r, 500, "x");
	CHECK(has_line(&r, "Vary: Origin\r\n"));
	CHECK_INT(count_lines(&r, "Content-Type:"), 1);
	resp_redirect(&r, "/x");
	CHECK_INT(count_lines(&r, "Content-Type:"), 0);
	CHECK_INT(r.body.len, 0);
	resp_redirect(&r, "/y");
	CHECK_INT(count_lines(&r, "Location:"), 1);
	CHECK(has_line(&r, "Vary: Origin\r\n"));
	CHECK(!r.failed);
	resp_free(&r);
}

static void test_json_error(void)
{
	struct response r;
	resp_init(&r);
	resp_json_error(&r, 400, "bad_request", "say \"hi\"\n\x01</script><b>&");
	CHECK_INT(r.status, 400);
	CHECK(!r.failed);
	CHECK(has_line(&r, "Content-Type: application/json\r\n"));
	const char *body = buf_cstr(&r.body);
	CHECK(strstr(body, "</script>") == NULL);
	CHECK(strchr(body, '<') == NULL);
	CHECK(strchr(body, '\n') == NULL);
	CHECK(strchr(body, '\x01') == NULL);
	CHECK(strstr(body, "\\\"hi\\\"") != NULL);
	CHECK(strstr(body, "\\u0001") != NULL);
	CHECK(strncmp(body, "{\"error\":\"bad_request\",\"message\":\"", 34) == 0);
	/* and it is JSON that says what we meant */
	json_value *v = json_parse(r.body.data, r.body.len, 4096);
	CHECK(v != NULL);
	CHECK_STR(json_get_str(v, "error", NULL), "bad_request");
	CHECK_STR(json_get_str(v, "message", NULL), "say \"hi\"\n\x01</script><b>&");
	json_free(v);

	resp_json_error(&r, 503, "session_store_unavailable", NULL);
	CHECK_INT(r.status, 503);
	CHECK_STR(buf_cstr(&r.body), "{\"error\":\"session_store_unavailable\",\"message\":\"\"}");
	resp_free(&r);
}

static const struct cookie_opts lax = {"exampleAppSession", false, SAMESITE_LAX, "/"};

static void test_cookie_lax(void)
{
	struct response r;
	resp_init(&r);
	CHECK_INT(resp_set_cookie(&r, &lax, "abc-_123", 300), 0);
	CHECK_STR(buf_cstr(&r.headers),
		"Set-Cookie: exampleAppSession=abc-_123; Path=/; HttpOnly; SameSite=Lax; Max-Age=300\r\n");
	resp_reset(&r);
	CHECK_INT(r.headers.len, 0);
	/* a session cookie: no Max-Age */
	CHECK_INT(resp_set_cookie(&r, &lax, "v", -1), 0);
	CHECK_STR(buf_cstr(&r.headers),
		"Set-Cookie: exampleAppSession=v; Path=/; HttpOnly; SameSite=Lax\r\n");
	resp_reset(&r);
	CHECK_INT(resp_set_cookie(&r, &lax, "v", 0), 0);
	CHECK(has_line(&r, "; Max-Age=0\r\n"));
	resp_free(&r);
}

static void test_cookie_secure_strict_none(void)
{
	struct response r;
	struct cookie_opts c = lax;

	resp_init(&r);
	c.secure = true;
	c.samesite = SAMESITE_STRICT;
	CHECK_INT(resp_set_cookie(&r, &c, "v", 3600), 0);
	CHECK_STR(buf_cstr(&r.headers),
		"Set-Cookie: exampleAppSession=v; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=3600\r\n");
	resp_reset(&r);

	/* None without secure still gets Secure */
	c.secure = false;
	c.samesite = SAMESITE_NONE;
	CHECK_INT(resp_set_cookie(&r, &c, "v", 60), 0);
	CHECK_STR(buf_cstr(&r.headers),
		"Set-Cookie: exampleAppSession=v; Path=/; HttpOnly; SameSite=None; Secure; Max-Age=60\r\n");
	resp_reset(&r);

	/* NULL path means "/" */
	c.path = NULL;
	c.samesite = SAMESITE_LAX;
	CHECK_INT(resp_set_cookie(&r, &c, "v", -1), 0);
	CHECK(has_line(&r, "; Path=/; "));
	resp_free(&r);
}

static void test_cookie_clear(void)
{
	struct response r;
	struct cookie_opts c = lax;
	resp_init(&r);
	CHECK_INT(resp_clear_cookie(&r, &c), 0);
	CHECK_STR(buf_cstr(&r.headers),
		"Set-Cookie: exampleAppSession=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; "
		"Expires=Thu, 01 Jan 1970 00:00:00 GMT\r\n");
	resp_reset(&r);
	c.samesite = SAMESITE_NONE;
	CHECK_INT(resp_clear_cookie(&r, &c), 0);
	CHECK(has_line(&r, "SameSite=None; Secure; Max-Age=0; Expires="));
	resp_free(&r);
}

static void test_cookie_refused(void)
{
	static const char *const bad_values[] = {
		"a b", "a;b", "a,b", "a\"b", "a\\b", "a\r\nX: y", "caf\xc3\xa9", "\x7f",
	};
	static const char *const bad_names[] = {"", "a b", "a=b", "a;b", "a\r\n", "a\"", "(x)"};
	struct response r;
	struct cookie_opts c = lax;

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		resp_init(&r);
		CHECK_INT(resp_set_cookie(&r, &c, bad_values[i], 1), -1);
		CHECK(r.failed);
		CHECK_INT(r.headers.len, 0);
		resp_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		resp_init(&r);
		c.name = bad_names[i];
		CHECK_INT(resp_set_cookie(&r, &c, "v", 1), -1);
		CHECK_INT(resp_clear_cookie(&r, &c), -1);
		CHECK(r.failed);
		resp_free(&r);
	}
	c = lax;
	resp_init(&r);
	c.path = "/a;Domain=evil";
	CHECK_INT(resp_set_cookie(&r, &c, "v", 1), -1);
	c.path = "/\r\n";
	CHECK_INT(resp_set_cookie(&r, &c, "v", 1), -1);
	c.path = "/";
	c.samesite = SAMESITE__MAX;
	CHECK_INT(resp_set_cookie(&r, &c, "v", 1), -1);
	c.samesite = SAMESITE_LAX;
	CHECK_INT(resp_set_cookie(&r, &c, NULL, 1), -1);
	CHECK_INT(resp_set_cookie(&r, NULL, "v", 1), -1);
	c.name = NULL;
	CHECK_INT(resp_set_cookie(&r, &c, "v", 1), -1);
	CHECK(r.failed);
	CHECK_INT(r.headers.len, 0);
	resp_free(&r);
}

static void test_serialize(void)
{
	struct response r;
	struct buf out = BUF_INIT;

	resp_init(&r);
	resp_header(&r, "Cache-Control", "no-store");
	resp_json(&r, 200, "{\"status\":\"ok\"}", 15);
	CHECK_INT(resp_serialize(&r, &out), 0);
	CHECK_STR(buf_cstr(&out),
		"Status: 200 OK\r\n"
		"Cache-Control: no-store\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 15\r\n"
		"\r\n"
		"{\"status\":\"ok\"}");
	buf_free(&out);

	/* empty body, no headers */
	resp_reset(&r);
	r.status = 204;
	CHECK_INT(resp_serialize(&r, &out), 0);
	CHECK_STR(buf_cstr(&out), "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n");
	buf_free(&out);

	/* a body with NUL bytes keeps its length */
	resp_reset(&r);
	resp_json(&r, 200, "a\0b", 3);
	CHECK_INT(resp_serialize(&r, &out), 0);
	CHECK(strstr(out.data, "Content-Length: 3\r\n\r\n") != NULL);
	CHECK(memcmp(out.data + out.len - 3, "a\0b", 3) == 0);
	buf_free(&out);

	/* appends to what is there */
	resp_reset(&r);
	buf_append_str(&out, "X");
	resp_text(&r, 401, "Unauthorized");
	CHECK_INT(resp_serialize(&r, &out), 0);
	CHECK(strncmp(out.data, "XStatus: 401 Unauthorized\r\n", 27) == 0);
	buf_free(&out);

	/* a failed response is not serialised */
	resp_reset(&r);
	resp_header(&r, "X", "a\nb");
	CHECK_INT(resp_serialize(&r, &out), -1);
	CHECK_INT(out.len, 0);
	resp_reset(&r);
	CHECK(!r.failed);
	r.status = 42;
	CHECK_INT(resp_serialize(&r, &out), -1);
	resp_free(&r);
	buf_free(&out);
}

static void test_helpers(void)
{
	CHECK(resp_is_token("exampleAppSession", 17));
	CHECK(!resp_is_token("", 0));
	CHECK(!resp_is_token("a b", 3));
	CHECK(resp_is_cookie_value("", 0));
	CHECK(resp_is_cookie_value("AZaz09-_.~!#$%&'()*+/:<=>?@[]^`{|}", 34));
	CHECK(!resp_is_cookie_value("a b", 3));
	CHECK_STR(resp_samesite_name(SAMESITE_NONE), "None");
	CHECK(resp_samesite_name(SAMESITE__MAX) == NULL);
}

/* The exact escaping, character class by character class. */
static void test_json_string_exact(void)
{
	static const struct { const char *in; size_t len; const char *out; } cases[] = {
		{ "", 0, "\"\"" },
		{ "plain ASCII 0-9 ~", 17, "\"plain ASCII 0-9 ~\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "\n\r\t", 3, "\"\\n\\r\\t\"" },
		{ "<>&", 3, "\"\\u003c\\u003e\\u0026\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"" },
		{ "x\0y", 3, "\"x\\u0000y\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"" },
		{ "bad \xff\xc3", 6, "\"bad \\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* a surrogate */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		CHECK(buf_append_str(&b, "pre:") == 0);
		CHECK(json_append_string(&b, cases[i].in, cases[i].len) == 0);
		CHECK(strncmp(buf_cstr(&b), "pre:", 4) == 0);
		CHECK_STR(buf_cstr(&b) + 4, cases[i].out);
		CHECK_INT(b.len, strlen(b.data));
		buf_free(&b);
	}
}

/* buf_printf: formatted in place when it fits, grown when it does not. */
static void test_buf_printf(void)
{
	struct buf b = BUF_INIT;
	CHECK(buf_printf(&b, "%s=%d", "n", 42) == 0);
	CHECK_STR(buf_cstr(&b), "n=42");
	size_t cap = b.cap;
	CHECK(buf_printf(&b, ";%s", "x") == 0); /* fits */
	CHECK_STR(buf_cstr(&b), "n=42;x");
	CHECK_INT(b.cap, cap);
	char big[300];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(buf_printf(&b, "[%s]", big) == 0); /* grows, and formats again */
	CHECK_INT(b.len, 6 + 2 + 299);
	CHECK(b.cap > cap);
	CHECK(strncmp(buf_cstr(&b), "n=42;x[zzz", 10) == 0);
	CHECK(b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
	/* exactly filling the spare room (the terminator's byte is not room) */
	struct buf c = BUF_INIT;
	CHECK(buf_reserve(&c, 10) == 0);
	size_t room = c.cap - 1;
	char fill[128];
	memset(fill, 'f', room);
	fill[room] = '\0';
	CHECK(buf_printf(&c, "%s", fill) == 0);
	CHECK_INT(c.len, room);
	CHECK(buf_printf(&c, "%c", 'g') == 0);
	CHECK_INT(c.len, room + 1);
	CHECK(c.data[room] == 'g' && c.data[room + 1] == '\0');
	buf_free(&c);
	buf_free(&b);

	/* the formatting-free appends */
	struct buf d = BUF_INIT;
	CHECK(buf_append_strs(&d, "a", "", "bc", NULL) == 0);
	CHECK(buf_append_int(&d, 0) == 0 && buf_append_int(&d, -7) == 0 &&
	      buf_append_int(&d, 1234567890123LL) == 0);
	CHECK_STR(buf_cstr(&d), "abc0-71234567890123");
	buf_reset(&d);
	CHECK(buf_append_int(&d, LLONG_MIN) == 0 && buf_append_char(&d, ' ') == 0 &&
	      buf_append_int(&d, LLONG_MAX) == 0);
	CHECK_STR(buf_cstr(&d), "-9223372036854775808 9223372036854775807");
	buf_free(&d);
}

int main(void)
{
	RUN(test_init_free);
	RUN(test_status_text);
	RUN(test_header_ok);
	RUN(test_header_injection);
	RUN(test_redirect);
	RUN(test_bodies);
	RUN(test_json_error);
	RUN(test_json_string_exact);
	RUN(test_buf_printf);
	RUN(test_cookie_lax);
	RUN(test_cookie_secure_strict_none);
	RUN(test_cookie_clear);
	RUN(test_cookie_refused);
	RUN(test_serialize);
	RUN(test_helpers);
	return harness_report("test_resp");
}
