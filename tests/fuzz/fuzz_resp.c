/* Fuzz target: response building (resp_header, resp_set_cookie,
 * resp_redirect, resp_json_error, resp_text) and resp_serialize.
 *
 * Input: up to three NUL-separated fields: a header name, a header value,
 * and a third string used as cookie value, Location and text body.
 * Properties:
 *  - resp_header accepts exactly the RFC 7230 token names other than
 *    Status and Content-Length, with values free of CR, LF and other
 *    controls (HTAB passes); when it accepts, the serialised response is
 *    exactly the status line, "name: value", Content-Length and the blank
 *    line: the value cannot start a header or end the head early; when it
 *    refuses, the response is marked failed and resp_serialize refuses it
 *    and leaves its output alone;
 *  - resp_set_cookie accepts exactly token names with cookie-octet values,
 *    and emits one Set-Cookie line with HttpOnly and SameSite;
 *  - resp_redirect gives a 302 with one Location only for a clean value;
 *  - resp_json_error's body is one JSON object whose "error" and "message"
 *    decode to the inputs (when they are UTF-8), with no raw '<'. */
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"
#include "resp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool model_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return false;
	}
	return true;
}

static bool model_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool model_cookie_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!(c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
		      (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)))
			return false;
	}
	return true;
}

/* The head of a serialised response: every line ends in CRLF, there is no
 * bare CR or LF, and the head ends at the first blank line. Returns the
 * number of header lines after the Status line. */
static size_t head_lines(const struct buf *out, size_t *head_len)
{
	const char *p = out->data;
	size_t lines = 0, i = 0;

	for (;;) {
		const char *crlf = strstr(p + i, "\r\n");
		FUZZ_ASSERT(crlf != NULL);
		size_t llen = (size_t)(crlf - (p + i));
		FUZZ_ASSERT(memchr(p + i, '\r', llen) == NULL && memchr(p + i, '\n', llen) == NULL);
		i += llen + 2;
		if (llen == 0)
			break;
		lines++;
	}
	*head_len = i;
	return lines - 1;
}

static void check_header(const char *name, const char *value)
{
	struct response r;
	struct buf out = BUF_INIT, want = BUF_INIT;

	resp_init(&r);
	int rc = resp_header(&r, name, value);
	bool ok = model_token(name) && strcasecmp(name, "Status") != 0 &&
		strcasecmp(name, "Content-Length") != 0 && model_value(value);
	FUZZ_ASSERT((rc == 0) == ok);
	FUZZ_ASSERT(buf_append_str(&out, "untouched") == 0);
	if (!ok) {
		FUZZ_ASSERT(r.failed);
		FUZZ_ASSERT(resp_serialize(&r, &out) == -1);
		FUZZ_ASSERT(strcmp(buf_cstr(&out), "untouched") == 0);
	} else {
		buf_reset(&out);
		FUZZ_ASSERT(resp_serialize(&r, &out) == 0);
		FUZZ_ASSERT(buf_printf(&want, "Status: 200 OK\r\n%s: %s\r\nContent-Length: 0\r\n\r\n",
			name, value) == 0);
		FUZZ_ASSERT(out.len == want.len && memcmp(out.data, want.data, want.len) == 0);
		size_t hl;
		FUZZ_ASSERT(head_lines(&out, &hl) == 2 && hl == out.len);
		FUZZ_ASSERT(strpbrk(value, "\r\n") == NULL);
	}
	resp_free(&r);
	buf_free(&out);
	buf_free(&want);
}

static void check_cookie(const char *name, const char *value, uint8_t flags)
{
	struct response r;
	struct buf out = BUF_INIT;
	struct cookie_opts c = { .name = name, .secure = flags & 1,
		.samesite = (enum samesite)((flags >> 1) % 3), .path = NULL };

	resp_init(&r);
	int rc = resp_set_cookie(&r, &c, value, (flags & 8) ? -1 : 3600);
	bool ok = model_token(name) && model_cookie_value(value);
	FUZZ_ASSERT((rc == 0) == ok);
	if (ok) {
		FUZZ_ASSERT(resp_serialize(&r, &out) == 0);
		size_t hl;
		FUZZ_ASSERT(head_lines(&out, &hl) == 2 && hl == out.len);
		FUZZ_ASSERT(fuzz_count(out.data, out.len, "Set-Cookie: ") == 1);
		FUZZ_ASSERT(strstr(out.data, "; HttpOnly; SameSite=") != NULL);
		if (c.samesite == SAMESITE_NONE || c.secure)
			FUZZ_ASSERT(strstr(out.data, "; Secure") != NULL);
	} else {
		FUZZ_ASSERT(r.failed && resp_serialize(&r, &out) == -1 && out.len == 0);
	}
	resp_free(&r);
	buf_free(&out);
	/* clearing accepts exactly the token names */
	resp_init(&r);
	FUZZ_ASSERT((resp_clear_cookie(&r, &c) == 0) == model_token(name));
	resp_free(&r);
}

static void check_redirect(const char *loc)
{
	struct response r;
	struct buf out = BUF_INIT;

	resp_init(&r);
	resp_redirect(&r, loc);
	FUZZ_ASSERT(r.status == 302);
	if (!model_value(loc)) {
		FUZZ_ASSERT(r.failed && resp_serialize(&r, &out) == -1);
	} else {
		FUZZ_ASSERT(resp_serialize(&r, &out) == 0);
		size_t hl;
		FUZZ_ASSERT(head_lines(&out, &hl) == 2 && hl == out.len);
		FUZZ_ASSERT(strncmp(out.data, "Status: 302 Found\r\nLocation: ", 29) == 0);
	}
	resp_free(&r);
	buf_free(&out);
}

static void check_json_member(const json_value *obj, const char *key, const char *want)
{
	size_t len = 0;
	const char *got = json_get_str(obj, key, &len);

	FUZZ_ASSERT(got != NULL);
	if (fuzz_utf8_valid((const uint8_t *)want, strlen(want)))
		FUZZ_ASSERT(len == strlen(want) && memcmp(got, want, len) == 0);
}

static void check_json_error(const char *code, const char *message, const char *text)
{
	struct response r;
	struct buf out = BUF_INIT;

	resp_init(&r);
	resp_text(&r, 500, text);
	resp_json_error(&r, 400, code, message);
	FUZZ_ASSERT(!r.failed && r.status == 400);
	FUZZ_ASSERT(fuzz_count(r.headers.data, r.headers.len, "Content-Type:") == 1);
	FUZZ_ASSERT(strstr(r.headers.data, "Content-Type: application/json\r\n") != NULL);
	FUZZ_ASSERT(memchr(r.body.data, '<', r.body.len) == NULL);
	json_value *v = json_parse(r.body.data, r.body.len, r.body.len);
	FUZZ_ASSERT(json_kind_of(v) == JSON_OBJECT && json_object_len(v) == 2);
	check_json_member(v, "error", code);
	check_json_member(v, "message", message);
	json_free(v);
	FUZZ_ASSERT(resp_serialize(&r, &out) == 0);
	size_t hl;
	FUZZ_ASSERT(head_lines(&out, &hl) == 2);
	FUZZ_ASSERT(out.len - hl == r.body.len);
	resp_free(&r);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_strndup(data, size);
	const char *f[3] = { "X-Fuzz", "", "" };
	size_t nf = 0;

	/* split at NULs: the copy is NUL-terminated, so fields are C strings */
	for (const char *p = copy; nf < 3 && p <= copy + size; p += strlen(p) + 1)
		f[nf++] = p;
	check_header(f[0], f[1]);
	check_cookie(f[0], f[2], size ? data[0] : 0);
	check_redirect(f[2]);
	check_json_error(f[0], f[1], f[2]);
	free(copy);
	return 0;
}
