/* http: request parsing. Query strings into bounded key/value lists, our
 * cookies out of a shared Cookie header, strict percent-decoding, declared-field validation,
 * and percent-encoding for URLs we build. Never exits on input. */
#ifndef SGID_HTTP_H
#define SGID_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

/* Explicit limits: anything larger is refused with a 400. */
#define HTTP_MAX_QUERY_LEN   4096  /* bytes of QUERY_STRING */
#define HTTP_MAX_COOKIE_LEN  16384 /* bytes of the Cookie header we read */
#define HTTP_MAX_OWN_COOKIES 8     /* cookies of our name we consider */
#define HTTP_MAX_PARAMS      32    /* pairs in a query */
#define HTTP_MAX_KEY_LEN     128   /* bytes of one decoded key */
#define HTTP_MAX_VALUE_LEN   2048  /* bytes of one decoded value */

enum http_err {
	HTTP_OK,
	HTTP_ERR_TOO_LONG,     /* whole input, a key or a value over its limit */
	HTTP_ERR_TOO_MANY,     /* more than HTTP_MAX_PARAMS pairs */
	HTTP_ERR_BAD_ENCODING, /* bad %xx hex, or a byte not allowed here */
	HTTP_ERR_NUL,          /* %00 or a raw NUL */
	HTTP_ERR_DUPLICATE,    /* the same query key twice */
	HTTP_ERR_EMPTY_KEY,    /* "=v" or a cookie pair with no name */
	HTTP_ERR_NOMEM,
	HTTP_ERR__MAX
};
const char *http_strerror(enum http_err err);

struct kv {
	const char *key;  /* NUL-terminated, decoded */
	size_t key_len;
	const char *val;  /* NUL-terminated, decoded; "" when absent */
	size_t val_len;
};

struct kv_list {
	struct kv items[HTTP_MAX_PARAMS];
	size_t n;
	char *storage;    /* owns every key and value */
};

/* a=b&c=d with '+' as space and %XX decoding. Empty pairs ("&&") are
 * skipped; a duplicated key is HTTP_ERR_DUPLICATE. On error out is empty. */
enum http_err http_parse_query(const char *qs, size_t len, struct kv_list *out);
/* Our cookies in a Cookie header: pointers into the header, not copies. */
struct cookie_value {
	const char *val;  /* surrounding DQUOTEs removed; not NUL-terminated */
	size_t len;
};
struct own_cookies {
	struct cookie_value v[HTTP_MAX_OWN_COOKIES];
	size_t n;
	size_t foreign;   /* pairs of other names, skipped */
	size_t skipped;   /* pairs that do not parse, or ours past the limits */
};
/* RFC 6265 "name=value; name2=value2", read for the cookies named name
 * only: the header is shared with every other app on the domain, so what
 * is not ours never fails the request. Pairs are split on ';' and trimmed
 * of spaces; a pair without '=', with an empty name, or with a control
 * byte, and a value of ours over HTTP_MAX_VALUE_LEN, are skipped and
 * counted; so are cookies of our name past HTTP_MAX_OWN_COOKIES (browsers
 * send one per matching path or domain, in order). A header over
 * HTTP_MAX_COOKIE_LEN is not read at all (HTTP_ERR_TOO_LONG, out empty). */
enum http_err http_find_cookies(const char *hdr, size_t len, const char *name,
	struct own_cookies *out);
/* The Cookie header for the apps behind the gateway: hdr without any
 * cookie named name (ours, read as http_find_cookies reads it) and without
 * pairs holding a control byte, appended to out. Every other pair is copied
 * byte for byte, in order, with the ';' and spaces around it; a header with
 * nothing to remove is copied whole; what a removal leaves at either end (a
 * leading space, a trailing one) goes, and so do empty pairs before the
 * first one kept.
 * Over HTTP_MAX_COOKIE_LEN: HTTP_ERR_TOO_LONG, nothing appended. */
enum http_err http_cookies_without(const char *hdr, size_t len, const char *name, struct buf *out);
void kv_list_free(struct kv_list *l); /* NULL ok; leaves an empty list */

const struct kv *kv_get(const struct kv_list *l, const char *key);
size_t kv_count(const struct kv_list *l, const char *key);

/* Declared fields (kcgi style): handlers see only values that passed. */
struct field_spec {
	const char *name;
	bool required;
	size_t max_len;
	bool (*valid)(const char *val, size_t len); /* NULL: any value */
};
enum field_result { FIELD_OK, FIELD_MISSING, FIELD_INVALID };
/* Checks every spec against l. values[i] is the value for specs[i] or NULL
 * when absent and optional. On failure *bad names the field. Parameters
 * not declared are ignored. A required field with an empty value is
 * FIELD_MISSING; a name present twice is FIELD_INVALID; max_len 0
 * means no limit beyond HTTP_MAX_VALUE_LEN. On failure every values[i] is
 * NULL, so a handler never sees a partly bound set. */
enum field_result http_bind_fields(const struct kv_list *l,
	const struct field_spec *specs, size_t n,
	const struct kv *values[], const char **bad);

/* Strict percent-decoding of in[0..len) into out (room for len + 1 bytes;
 * NUL-terminated). '+' becomes a space when plus_is_space. Refuses %00 and
 * raw NUL (HTTP_ERR_NUL), bad or short %XX and raw C0/DEL bytes
 * (HTTP_ERR_BAD_ENCODING). Decoded control bytes other than NUL pass:
 * field validators decide. */
enum http_err http_percent_decode(const char *in, size_t len, bool plus_is_space,
	char *out, size_t *out_len);

/* Appends s with every byte keep() refuses as %XX (upper-case hex). 0, or
 * -1 with out untouched. */
int http_percent_encode(struct buf *out, const char *s, size_t len, bool (*keep)(unsigned char));
/* Appends s percent-encoded: everything except RFC 3986 unreserved
 * (A-Za-z0-9-._~) becomes %XX (upper-case hex). 0 or -1. */
int url_encode(struct buf *out, const char *s, size_t len);

#endif
