/* log: one line per event, written to stderr with a single write() so lines
 * from many workers sharing a pipe never interleave (a line is kept under
 * PIPE_BUF). Message bytes outside printable ASCII are escaped as \xNN, so a
 * hostile value cannot forge a line. errno survives every call. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "util.h"

#define LOG_LINE_MAX 4000 /* < PIPE_BUF (4096), so one write() is atomic */
#define LOG_MSG_MAX  2048 /* formatted message before escaping */
#define REQ_ID_MAX   64

static enum log_level cur_level = LOG_LVL_INFO;
static _Thread_local char req_id[REQ_ID_MAX + 1]; /* per request thread */

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};
_Static_assert(ARRAY_LEN(level_names) == LOG_LVL__MAX, "level_names out of step with enum log_level");

void log_set_level(enum log_level level)
{
	if ((unsigned)level < LOG_LVL__MAX)
		cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < LOG_LVL__MAX; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static bool is_id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

void log_set_request_id(const char *id)
{
	size_t n = 0;

	/* other characters are dropped, not escaped: the id must stay a token */
	for (; id && *id && n < REQ_ID_MAX; id++)
		if (is_id_char(*id))
			req_id[n++] = *id;
	req_id[n] = '\0';
}

const char *log_request_id(void)
{
	return req_id;
}

/* Appends c to line, escaped when it is not printable ASCII or is the
 * escape character itself. Returns false when it does not fit. */
static bool put_escaped(char *line, size_t *pos, size_t cap, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c >= 0x20 && c < 0x7f && c != '\\') {
		if (*pos + 1 > cap)
			return false;
		line[(*pos)++] = (char)c;
		return true;
	}
	if (*pos + 4 > cap)
		return false;
	line[(*pos)++] = '\\';
	line[(*pos)++] = 'x';
	line[(*pos)++] = hex[c >> 4];
	line[(*pos)++] = hex[c & 0xf];
	return true;
}

static size_t format_prefix(char *line, size_t cap, enum log_level level)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32] = "1970-01-01T00:00:00";
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (req_id[0])
		n = snprintf(line, cap, "%s.%03ldZ level=%s pid=%ld req=%s ", stamp,
			ts.tv_nsec / 1000000, level_names[level], (long)getpid(), req_id);
	else
		n = snprintf(line, cap, "%s.%03ldZ level=%s pid=%ld ", stamp,
			ts.tv_nsec / 1000000, level_names[level], (long)getpid());
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, line, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		line += w;
		len -= (size_t)w;
	}
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	char line[LOG_LINE_MAX];
	static const char cut[] = "...";
	size_t pos;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = snprintf(msg, sizeof(msg), "(log format error)");
	size_t mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	bool truncated = (size_t)n >= sizeof(msg);

	/* room for "..." and the newline is kept back */
	size_t cap = sizeof(line) - (sizeof(cut) - 1) - 1;
	pos = format_prefix(line, cap, level);
	for (size_t i = 0; i < mlen; i++) {
		if (!put_escaped(line, &pos, cap, (unsigned char)msg[i])) {
			truncated = true;
			break;
		}
	}
	if (truncated)
		for (size_t i = 0; i < sizeof(cut) - 1; i++)
			line[pos++] = cut[i];
	line[pos++] = '\n';
	write_line(line, pos);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if ((unsigned)level >= LOG_LVL__MAX)
		level = LOG_LVL_ERROR;
	if (level > cur_level || !fmt)
		goto out;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
out:
	errno = saved;
}

void log_fingerprint(const void *data, size_t len, char out[9])
{
	uint8_t md[32];

	/* the digest of a failed hash would be the same for every secret */
	if (crypto_sha256(data, len, md) != 0) {
		memcpy(out, LOG_FINGERPRINT_UNKNOWN, 9);
		return;
	}
	hex_encode(md, 4, out);
}
