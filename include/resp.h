/* resp: an HTTP response under construction: status, headers (refusing
 * CR/LF/NUL and bad names), cookies, redirects, JSON bodies. Serialised as
 * a CGI response (Status: line) by resp_serialize. */
#ifndef SGID_RESP_H
#define SGID_RESP_H

#include <stdbool.h>
#include "buf.h"

enum samesite { SAMESITE_LAX, SAMESITE_STRICT, SAMESITE_NONE, SAMESITE__MAX };

struct cookie_opts {
	const char *name;
	bool secure;
	enum samesite samesite;
	const char *path;        /* "/" */
};

struct response {
	int status;
	struct buf headers;      /* "Name: value\r\n" lines */
	struct buf body;
	bool failed;             /* a header was refused or memory ran out:
	                            the server answers 500 instead */
};

void resp_init(struct response *r);
void resp_free(struct response *r); /* NULL ok */
/* Drops headers and body, keeps nothing but the allocation. */
void resp_reset(struct response *r);

const char *resp_status_text(int status);

/* Adds a header. Refuses (returns -1 and marks failed) names outside the
 * token charset and values with CR, LF, NUL or another control byte (HTAB
 * passes). "Status" and "Content-Length" are refused too: resp_serialize
 * writes them. */
int resp_header(struct response *r, const char *name, const char *value);
/* Body setters also set Content-Type (replacing an earlier one), so the
 * last call wins. json must already be valid JSON. */
void resp_json(struct response *r, int status, const char *json, size_t len);
/* {"error": code, "message": message}, both escaped. */
void resp_json_error(struct response *r, int status, const char *code, const char *message);
void resp_text(struct response *r, int status, const char *text);
/* 302 with Location (validated as a header value) and an empty body. */
void resp_redirect(struct response *r, const char *location);

/* Set-Cookie: name=value; Path=/; HttpOnly; SameSite=X[; Secure][; Max-Age=N].
 * value must be a cookie-octet string (we only ever send base64url ids).
 * max_age < 0 gives a session cookie. SameSite=None always adds Secure. */
int resp_set_cookie(struct response *r, const struct cookie_opts *c,
	const char *value, long max_age);
/* Expires the cookie (Max-Age=0 and an Expires in 1970). */
int resp_clear_cookie(struct response *r, const struct cookie_opts *c);

/* "Status: 200 OK\r\n" + headers + "Content-Length" + "\r\n" + body,
 * appended to out. -1 (out untouched) when r->failed, the status is not
 * three digits, or memory runs out: send a plain 500 then. */
int resp_serialize(const struct response *r, struct buf *out);

/* RFC 7230 token (header names, cookie names). */
bool resp_is_token(const char *s, size_t len);
/* RFC 6265 cookie-octets only (empty is allowed). */
bool resp_is_cookie_value(const char *s, size_t len);
/* "Lax", "Strict", "None"; NULL when out of range. */
const char *resp_samesite_name(enum samesite s);

#endif
