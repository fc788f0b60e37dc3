/* resp: builds a CGI response. Every header goes through one validator,
 * so nothing a caller passes can split the response; any refusal marks the
 * response failed and the server answers 500 instead. */
#include "resp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "util.h"

void resp_init(struct response *r)
{
	r->status = 200;
	r->headers = (struct buf)BUF_INIT;
	r->body = (struct buf)BUF_INIT;
	r->failed = false;
}

void resp_free(struct response *r)
{
	if (!r)
		return;
	buf_free(&r->headers);
	buf_free(&r->body);
	r->status = 200;
	r->failed = false;
}

void resp_reset(struct response *r)
{
	buf_reset(&r->headers);
	buf_reset(&r->body);
	r->status = 200;
	r->failed = false;
}

static const struct {
	int code;
	const char *text;
} status_texts[] = {
	{200, "OK"}, {204, "No Content"}, {301, "Moved Permanently"}, {302, "Found"},
	{303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
	{400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
	{404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"},
	{413, "Content Too Large"}, {414, "URI Too Long"}, {429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
	{501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
	{504, "Gateway Timeout"},
};

const char *resp_status_text(int status)
{
	for (size_t i = 0; i < ARRAY_LEN(status_texts); i++)
		if (status_texts[i].code == status)
			return status_texts[i].text;
	return "Unknown";
}

/* RFC 7230 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool resp_is_token(const char *s, size_t len)
{
	if (!s || len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

/* field-content: no CR, LF or other controls; HTAB and obs-text pass. */
static bool is_header_value(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

/* Headers resp_serialize writes itself: a second copy would be ambiguous. */
static bool is_reserved_header(const char *name)
{
	return strcasecmp(name, "Status") == 0 || strcasecmp(name, "Content-Length") == 0;
}

static int refuse(struct response *r)
{
	r->failed = true;
	return -1;
}

int resp_header(struct response *r, const char *name, const char *value)
{
	if (!name || !value || !resp_is_token(name, strlen(name)) ||
	    is_reserved_header(name) || !is_header_value(value))
		return refuse(r);
	if (buf_append_str(&r->headers, name) != 0 || buf_append(&r->headers, ": ", 2) != 0 ||
	    buf_append_str(&r->headers, value) != 0 || buf_append(&r->headers, "\r\n", 2) != 0)
		return refuse(r);
	return 0;
}

/* Removes every "name: ..." line, so body setters can be called again. */
static void header_remove(struct response *r, const char *name)
{
	size_t nlen = strlen(name), i = 0;
	struct buf *h = &r->headers;

	while (i < h->len) {
		char *line = h->data + i;
		char *end = strstr(line, "\r\n");
		size_t llen = end ? (size_t)(end - line) + 2 : h->len - i;
		if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			memmove(line, line + llen, h->len - i - llen + 1);
			h->len -= llen;
		} else {
			i += llen;
		}
	}
}

static void set_body(struct response *r, int status, const char *type,
	const void *data, size_t len)
{
	r->status = status;
	buf_reset(&r->body);
	header_remove(r, "Content-Type");
	if (type)
		resp_header(r, "Content-Type", type);
	if (len && buf_append(&r->body, data, len) != 0)
		r->failed = true;
}

void resp_json(struct response *r, int status, const char *json, size_t len)
{
	set_body(r, status, "application/json", json, json ? len : 0);
}

void resp_json_error(struct response *r, int status, const char *code, const char *message)
{
	struct buf b = BUF_INIT;

	if (!code)
		code = "";
	if (!message)
		message = "";
	if (buf_append_str(&b, "{\"error\":") != 0 ||
	    json_append_string(&b, code, strlen(code)) != 0 ||
	    buf_append_str(&b, ",\"message\":") != 0 ||
	    json_append_string(&b, message, strlen(message)) != 0 ||
	    buf_append_char(&b, '}') != 0) {
		r->status = status;
		r->failed = true;
		goto out;
	}
	resp_json(r, status, b.data, b.len);
out:
	buf_free(&b);
}

void resp_text(struct response *r, int status, const char *text)
{
	set_body(r, status, "text/plain; charset=utf-8", text, text ? strlen(text) : 0);
}

void resp_redirect(struct response *r, const char *location)
{
	set_body(r, 302, NULL, NULL, 0);
	header_remove(r, "Location");
	resp_header(r, "Location", location);
}

/* RFC 6265 cookie-octet */
static bool is_cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
	       (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

bool resp_is_cookie_value(const char *s, size_t len)
{
	if (!s)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_cookie_octet((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 6265 path-value: any CHAR but CTLs and ';' */
static bool is_cookie_path(const char *s)
{
	if (!s[0])
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == ';')
			return false;
	return true;
}

static const char *const samesite_names[] = {
	[SAMESITE_LAX] = "Lax",
	[SAMESITE_STRICT] = "Strict",
	[SAMESITE_NONE] = "None",
};
_Static_assert(ARRAY_LEN(samesite_names) == SAMESITE__MAX, "samesite_names out of step");

const char *resp_samesite_name(enum samesite s)
{
	return (unsigned)s < SAMESITE__MAX ? samesite_names[s] : NULL;
}

/* clear: value empty, Max-Age=0 and an Expires in the past for old UAs. */
static int add_cookie(struct response *r, const struct cookie_opts *c,
	const char *value, long max_age, bool clear)
{
	struct buf b = BUF_INIT;
	const char *path;
	int rc = -1;

	if (!c || !c->name || !value || (unsigned)c->samesite >= SAMESITE__MAX)
		goto fail;
	path = c->path ? c->path : "/";
	if (!resp_is_token(c->name, strlen(c->name)) ||
	    !resp_is_cookie_value(value, strlen(value)) || !is_cookie_path(path))
		goto fail;
	/* browsers drop SameSite=None without Secure */
	bool secure = c->secure || c->samesite == SAMESITE_NONE;
	if (buf_append_strs(&b, c->name, "=", value, "; Path=", path, "; HttpOnly; SameSite=",
	                    samesite_names[c->samesite], NULL) != 0)
		goto fail;
	if (secure && buf_append_str(&b, "; Secure") != 0)
		goto fail;
	if (clear) {
		if (buf_append_str(&b, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT") != 0)
			goto fail;
	} else if (max_age >= 0 && (buf_append_str(&b, "; Max-Age=") != 0 ||
	                            buf_append_int(&b, max_age) != 0)) {
		goto fail;
	}
	rc = resp_header(r, "Set-Cookie", b.data);
	buf_free(&b);
	return rc;
fail:
	buf_free(&b);
	return refuse(r);
}

int resp_set_cookie(struct response *r, const struct cookie_opts *c,
	const char *value, long max_age)
{
	return add_cookie(r, c, value, max_age, false);
}

int resp_clear_cookie(struct response *r, const struct cookie_opts *c)
{
	return add_cookie(r, c, "", -1, true);
}

int resp_serialize(const struct response *r, struct buf *out)
{
	const char *text = resp_status_text(r->status);

	/* a refused header means the response is not what the handler meant */
	if (r->failed || r->status < 100 || r->status > 999)
		return -1;
	/* reserved up front (the numbers take at most 3 and 20 digits), so out is
	 * untouched on failure and the appends cannot fail */
	if (buf_reserve(out, sizeof("Status: 999 \r\n") + strlen(text) + r->headers.len +
	                sizeof("Content-Length: \r\n\r\n") + 20 + r->body.len) != 0)
		return -1;
	buf_append_str(out, "Status: ");
	buf_append_int(out, r->status);
	buf_append_strs(out, " ", text, "\r\n", NULL);
	buf_append(out, r->headers.data, r->headers.len);
	buf_append_str(out, "Content-Length: ");
	buf_append_int(out, (long long)r->body.len);
	buf_append_str(out, "\r\n\r\n");
	buf_append(out, r->body.data, r->body.len);
	return 0;
}
