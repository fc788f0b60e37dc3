/* audit: the sink is one descriptor per process behind a read-write lock:
 * writers share it, a reopen (SIGHUP, logrotate) swaps it alone, so a
 * writer never writes to a descriptor closed (and its number reused)
 * under it. The descriptor is non-blocking: a pipe or FIFO that is full
 * refuses the line (EAGAIN) instead of holding the request thread. */
#define _GNU_SOURCE
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "util.h"

static const char *const event_names[] = {
	[AUDIT_LOGIN_SUCCESS] = "login_success",
	[AUDIT_LOGIN_FAILURE] = "login_failure",
	[AUDIT_LOGOUT] = "logout",
	[AUDIT_SESSION_EXPIRED] = "session_expired",
	[AUDIT_ACCESS_DENIED] = "access_denied",
};
_Static_assert(ARRAY_LEN(event_names) == AUDIT_EVENT__MAX, "event_names");

static struct {
	pthread_rwlock_t lock;       /* fd: read-held to write, write-held to swap */
	int fd;                      /* -1: off */
	bool own_fd;                 /* ours to close (not stderr) */
	char path[512];              /* "" unless a file */
	struct cidr_list trusted;    /* read-only while requests run */
} sink = { PTHREAD_RWLOCK_INITIALIZER, -1, false, "", { .n = 0 } };

static atomic_ulong dropped;
static _Atomic int64_t last_warn_ms = -AUDIT_WARN_INTERVAL_MS;

const char *audit_event_name(enum audit_event ev)
{
	return (unsigned)ev < AUDIT_EVENT__MAX ? event_names[ev] : "unknown";
}

/* A file (or FIFO) opened for append, non-blocking. */
static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
}

/* stderr as a descriptor of our own when it is a pipe (journald without
 * a socket, a process supervisor, `2>&1 | logger`): opening the pipe again
 * gives an open file description that can be non-blocking without making
 * the log's stderr (shared with the web server) non-blocking. A socket, a
 * file or a terminal: stderr itself (a socket can block as the log does). */
static int open_stderr(bool *own)
{
	struct stat st;
	*own = false;
	if (fstat(STDERR_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			*own = true;
			return fd;
		}
	}
	return STDERR_FILENO;
}

static void swap_fd(int fd, bool own, const char *path)
{
	pthread_rwlock_wrlock(&sink.lock);
	int old = sink.own_fd ? sink.fd : -1;
	sink.fd = fd;
	sink.own_fd = own;
	snprintf(sink.path, sizeof(sink.path), "%s", path);
	pthread_rwlock_unlock(&sink.lock);
	if (old >= 0)
		close(old);
}

int audit_open(const char *dest, const struct cidr_list *trusted, char *err, size_t err_len)
{
	int fd = -1;
	bool own = false;
	const char *path = "";

	if (!dest || strcmp(dest, "stderr") == 0) {
		fd = open_stderr(&own);
	} else if (strcmp(dest, "off") != 0) {
		if (dest[0] != '/' || strlen(dest) >= sizeof(sink.path)) {
			snprintf(err, err_len, "must be stderr, off or an absolute path under %zu bytes",
			         sizeof(sink.path));
			return -1;
		}
		fd = open_path(dest);
		if (fd < 0) {
			snprintf(err, err_len, "cannot open %s: %s", dest, strerror(errno));
			return -1;
		}
		own = true;
		path = dest;
	}
	/* before any request thread: nobody reads trusted yet */
	memset(&sink.trusted, 0, sizeof(sink.trusted));
	if (trusted)
		sink.trusted = *trusted;
	swap_fd(fd, own, path);
	return 0;
}

int audit_reopen(void)
{
	char path[sizeof(sink.path)];
	pthread_rwlock_rdlock(&sink.lock);
	memcpy(path, sink.path, sizeof(path));
	pthread_rwlock_unlock(&sink.lock);
	if (!path[0])
		return 0;
	int fd = open_path(path);
	if (fd < 0) {
		log_error("audit: reopening %s: %s (still writing to the old file)", path, strerror(errno));
		return -1;
	}
	swap_fd(fd, true, path);
	log_info("audit: %s reopened", path);
	return 0;
}

void audit_close(void)
{
	swap_fd(-1, false, "");
}

bool audit_enabled(void)
{
	pthread_rwlock_rdlock(&sink.lock);
	bool on = sink.fd >= 0;
	pthread_rwlock_unlock(&sink.lock);
	return on;
}

unsigned long audit_dropped(void)
{
	return atomic_load(&dropped);
}

/* --- the client address ---------------------------------------------- */

/* The last entry of list[0..*len), spaces trimmed; *len shrinks to what is
 * before its comma (0 after the first entry). */
static const char *pop_last(const char *list, size_t *len, size_t *elen)
{
	size_t end = *len, start = end;
	while (start > 0 && list[start - 1] != ',')
		start--;
	*len = start > 0 ? start - 1 : 0;
	while (start < end && (list[start] == ' ' || list[start] == '\t'))
		start++;
	while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
		end--;
	*elen = end - start;
	return list + start;
}

void audit_client(const struct cidr_list *trusted, const char *remote_addr,
	const char *forwarded_for, char out[IP_TEXT_MAX])
{
	struct ip_addr a;
	if (!remote_addr || ip_parse(remote_addr, strlen(remote_addr), &a) != 0) {
		/* not an address (a unix socket peer): kept as text, escaped later */
		snprintf(out, IP_TEXT_MAX, "%s", remote_addr && *remote_addr ? remote_addr : "-");
		return;
	}
	size_t left = forwarded_for ? strlen(forwarded_for) : 0;
	while (left > 0 && cidr_list_contains(trusted, &a)) {
		size_t elen;
		const char *e = pop_last(forwarded_for, &left, &elen);
		struct ip_addr hop;
		if (ip_parse(e, elen, &hop) != 0)
			break; /* not an address: the last one seen is the client */
		a = hop;
	}
	ip_format(&a, out);
}

/* --- the line ---------------------------------------------------------- */

static int add_field(struct buf *out, const char *name, const char *val, size_t max)
{
	if (!val)
		return 0;
	size_t len = strnlen(val, max);
	return buf_append_str(out, ",\"") || buf_append_str(out, name) ||
	       buf_append_str(out, "\":") || json_append_string(out, val, len);
}

int audit_format(const struct audit_record *r, const struct audit_peer *p, struct buf *out)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40] = "1970-01-01T00:00:00.000Z";
	char client[IP_TEXT_MAX];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm)) {
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	}
	audit_client(&sink.trusted, p->remote_addr, p->forwarded_for, client);
	const char *rid = log_request_id();
	/* every value is bounded, so the line stays under AUDIT_LINE_MAX even
	 * when each byte of sub, user agent and client is escaped as \uXXXX:
	 * 6 x (256 + 256 + 45) + outcome, cause, rule, request id (our own
	 * tokens, at most 32 + 32 + 64 + 64) + names and time: about 3.7 KB */
	if (buf_append_str(out, "{\"time\":\"") || buf_append_str(out, stamp) ||
	    buf_append_str(out, "\",\"event\":\"") ||
	    buf_append_str(out, audit_event_name(r->event)) || buf_append_char(out, '"') ||
	    add_field(out, "outcome", r->outcome, 32) || add_field(out, "cause", r->cause, 32) ||
	    add_field(out, "sub", r->sub, AUDIT_SUB_MAX) ||
	    add_field(out, "rule", r->rule, AUDIT_RULE_MAX) ||
	    add_field(out, "request_id", rid[0] ? rid : NULL, 64) ||
	    add_field(out, "client", client, IP_TEXT_MAX) ||
	    add_field(out, "user_agent", p->user_agent, AUDIT_USER_AGENT_MAX) ||
	    buf_append_str(out, "}\n"))
		return -1;
	return out->len < AUDIT_LINE_MAX ? 0 : -1;
}

static void count_drop(const char *why)
{
	unsigned long n = atomic_fetch_add(&dropped, 1) + 1;
	int64_t now = now_monotonic_ms(), last = atomic_load(&last_warn_ms);
	/* one warning per interval and process: a full disk must not turn
	 * every request into a log line too */
	if (now - last >= AUDIT_WARN_INTERVAL_MS &&
	    atomic_compare_exchange_strong(&last_warn_ms, &last, now))
		log_warn("audit: event dropped: %s (%lu dropped so far)", why, n);
}

bool audit_write(const struct audit_record *r, const struct audit_peer *p)
{
	struct buf line = BUF_INIT;
	int saved = errno;
	bool written = false;

	if (!audit_enabled())
		return true; /* off: not even the line is built */
	if (audit_format(r, p, &line) != 0) {
		count_drop("line could not be built");
		goto out;
	}
	pthread_rwlock_rdlock(&sink.lock);
	ssize_t w = -1;
	int e = 0;
	if (sink.fd >= 0) {
		do
			w = write(sink.fd, line.data, line.len);
		while (w < 0 && errno == EINTR);
		e = errno;
	} else {
		w = (ssize_t)line.len; /* turned off meanwhile */
	}
	pthread_rwlock_unlock(&sink.lock);
	if (w != (ssize_t)line.len)
		count_drop(w < 0 ? strerror(e) : "short write");
	else
		written = true;
out:
	buf_free(&line);
	errno = saved;
	return written;
}
