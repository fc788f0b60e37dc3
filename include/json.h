/* json: the only json-c user. Bounded parsing and typed getters on an
 * opaque value type; plus a writer that escapes strings for output. */
#ifndef SGID_JSON_H
#define SGID_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

typedef struct json_value json_value;

enum json_kind { JSON_NULL, JSON_BOOL, JSON_INT, JSON_DOUBLE, JSON_STRING, JSON_ARRAY, JSON_OBJECT, JSON_KIND__MAX };

#define JSON_MAX_DEPTH 16

/* Parses exactly buf[0..len) (trailing garbage is an error). Returns NULL on
 * malformed input, depth over JSON_MAX_DEPTH, len over max_len, or embedded
 * NUL. The caller owns the result: json_free(). */
json_value *json_parse(const char *buf, size_t len, size_t max_len);
void json_free(json_value *v); /* NULL ok */

enum json_kind json_kind_of(const json_value *v); /* JSON_NULL for NULL */

/* Object member lookups. NULL/false when absent or of another kind. */
const json_value *json_get(const json_value *obj, const char *key);
bool json_has(const json_value *obj, const char *key);
/* String value and its length (may contain no NUL: rejected at parse). */
const char *json_get_str(const json_value *obj, const char *key, size_t *len);
/* Integer only: doubles, bools and strings are refused, and so are
 * INT64_MAX and INT64_MIN (json-c saturates out-of-range integers to them,
 * so they cannot be told apart). 0 ok, -1 otherwise. */
int json_get_int64(const json_value *obj, const char *key, int64_t *out);

/* A time in seconds that may carry a fraction (MockPass's iat is
 * Date.now()/1000): an integer as json_get_int64, or a finite number
 * within +-2^53, rounded down. 0 ok, -1 otherwise. */
int json_get_seconds(const json_value *obj, const char *key, int64_t *out);

/* Value accessors. */
const char *json_str(const json_value *v, size_t *len); /* NULL unless string */
int json_int64(const json_value *v, int64_t *out);      /* as json_get_int64 */
int json_seconds(const json_value *v, int64_t *out);    /* as json_get_seconds */
size_t json_array_len(const json_value *v);             /* 0 unless array */
const json_value *json_array_at(const json_value *v, size_t i);
size_t json_object_len(const json_value *v);            /* 0 unless object */
/* Calls fn for each member in document order; stops and returns fn's value
 * when it is non-zero. Returns 0 after the last member, -1 unless object. */
int json_object_foreach(const json_value *obj,
	int (*fn)(const char *key, const json_value *val, void *ud), void *ud);

/* Writer: appends a JSON string literal (with quotes). Escapes ", \, control
 * characters, and <, >, & (safe inside HTML); invalid UTF-8 bytes become
 * U+FFFD. 0 or -1 (allocation). */
int json_append_string(struct buf *out, const char *s, size_t len);

/* Appends v as compact JSON text (json-c's writer: numbers as parsed,
 * strings escaped for JSON only). 0 or -1. */
int json_append_value(struct buf *out, const json_value *v);

/* A string that may hold stringified JSON (sgID's array-valued MyInfo
 * fields; the SDK's parseData): when s starts with '[' and ends with ']',
 * or '{' and '}' (no trimming, as the SDK), and is strict JSON within
 * max_len and JSON_MAX_DEPTH - 1 levels (room for the object it is put
 * in), without a repeated key, a \u0000 or lone-surrogate escape, a raw
 * control character in a string, a number outside RFC 8259's grammar
 * (json-c takes 00, -01, 1., 1.e5, -.5), or an integer past 64 bits, it is
 * appended as that JSON, compact, numbers in their exact text, strings
 * escaped as json_append_string does; anything else as a string literal
 * (json_append_string). 0 or -1 (allocation). */
int json_append_embedded(struct buf *out, const char *s, size_t len, size_t max_len);

#endif
