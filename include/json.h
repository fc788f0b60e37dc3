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

/* Value accessors. */
const char *json_str(const json_value *v, size_t *len); /* NULL unless string */
int json_int64(const json_value *v, int64_t *out);      /* as json_get_int64 */
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

#endif
