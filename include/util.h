/* util: small helpers shared by every module. OpenSSL-backed primitives
 * live in crypto.h; these are plain C. */
#ifndef SGID_UTIL_H
#define SGID_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic milliseconds, for durations and throttles. */
int64_t now_monotonic_ms(void);
/* Wall clock seconds, for token expiry. */
int64_t now_unix(void);
/* Wall clock milliseconds, for scores that order events within a second. */
int64_t now_unix_ms(void);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);

/* True when every byte of s[0..len) is printable ASCII (0x20..0x7e). */
bool is_printable_ascii(const char *s, size_t len);
/* True when s[0..len) is well-formed UTF-8 without NUL or C0/DEL controls
 * other than \t \n \r. */
bool is_clean_utf8(const char *s, size_t len);

/* Zero memory in a way the compiler cannot drop. */
void secure_zero(void *p, size_t len);

/* Case-sensitive compare of a (ptr,len) pair with a C string. */
bool str_eq_n(const char *s, size_t len, const char *lit);
bool has_prefix(const char *s, const char *prefix);

/* A non-negative decimal within [min, max] (no sign, no blanks, at most 12
 * digits) into *out; -1 otherwise. The one number parser of the
 * configuration. */
int parse_decimal(const char *s, long min, long max, long *out);

/* "host:port" or "[v6]:port": host (brackets removed) into host[cap], *port
 * pointing into spec; -1 when a part is missing or host is too long. */
int hostport_split(const char *spec, char *host, size_t cap, const char **port);

/* A whole regular file into out (appended; NUL-terminated, never NULL on
 * success, even when empty), at most max bytes, and its permission bits
 * into *mode (when mode is not NULL). 0, or -1 with errno (EINVAL: not a
 * regular file, EFBIG: over max) and out wiped. Key files pass through:
 * the read buffer is wiped. */
int file_read_all(const char *path, size_t max, struct buf *out, unsigned *mode);

#endif
