/* buf: growable byte buffers. Always NUL-terminated so text users can
 * pass data to C string APIs; len never counts the terminator. */
#ifndef SGID_BUF_H
#define SGID_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;   /* NULL until first append; then NUL-terminated */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* All return 0 on success, -1 on allocation failure (buffer unchanged). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
/* The formatting-free appends of the request path (vsnprintf costs several
 * thousand instructions a call): strings up to a NULL, and a decimal. */
int buf_append_strs(struct buf *b, ...) __attribute__((sentinel));
int buf_append_int(struct buf *b, long long v);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Keeps the allocation, empties the content. */
void buf_reset(struct buf *b);
/* Overwrites the content with zeroes before freeing (buffers hold secrets). */
void buf_free(struct buf *b);
/* Returns "" for an empty, never-allocated buffer. */
const char *buf_cstr(const struct buf *b);

#endif
