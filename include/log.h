/* log: one line per event to stderr (the web server or journald collects
 * it). Control characters in messages are escaped, errno is preserved.
 * Never pass tokens, codes, cookies, secrets or keys: log a short hash
 * (log_fingerprint) instead. */
#ifndef SGID_LOG_H
#define SGID_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL__MAX };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" (any case) -> level; -1 when unknown. */
int log_level_parse(const char *name);
/* Request id attached to every line until cleared (NULL clears). The value
 * is copied and sanitised (at most 64 chars of [A-Za-z0-9._-]). */
void log_set_request_id(const char *id);
/* The current request id; "" when none. */
const char *log_request_id(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line is at most ~4000 bytes (one atomic write to a pipe); longer
 * messages end in "...". Bytes outside 0x20..0x7e, and the backslash, are
 * written as \xNN. */
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* First 8 hex chars of SHA-256(data): safe to log in place of a secret;
 * LOG_FINGERPRINT_UNKNOWN when hashing fails. */
#define LOG_FINGERPRINT_UNKNOWN "????????"
void log_fingerprint(const void *data, size_t len, char out[9]);

#endif
