/* audit: the line (fields, escaping, truncation), the client behind
 * trusted proxies, TRUSTED_PROXIES ranges, the sink: whole lines from
 * many threads, reopen after a rename, and write errors (a full disk, a
 * closed or stalled pipe) counted as dropped without blocking. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "harness.h"
#include "json.h"
#include "log.h"
#include "util.h"

static char dir[] = "/tmp/sgid-test-audit-XXXXXX";
static char path[128];

static const struct audit_peer peer = { "192.0.2.10", NULL, "Mozilla/5.0 (test)" };

static struct cidr_list ranges(const char *const *v, size_t n)
{
	struct cidr_list l = { .n = 0 };
	const char *why;
	for (size_t i = 0; i < n; i++)
		if (cidr_parse(v[i], strlen(v[i]), &l.v[l.n], &why) == 0)
			l.n++;
	return l;
}

/* Opens a fresh file as the audit log. */
static void open_file(const struct cidr_list *trusted)
{
	char err[256];
	unlink(path);
	CHECK_INT(audit_open(path, trusted, err, sizeof(err)), 0);
}

static char *read_log(void)
{
	char *s = harness_read_file(path, NULL);
	return s ? s : calloc(1, 1);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The first line as JSON (NULL when it is not one object). */
static json_value *first_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	return nl ? json_parse(s, (size_t)(nl - s), AUDIT_LINE_MAX) : NULL;
}

static bool stamp_ok(const char *t)
{
	/* 2026-12-04T23:10:00.123Z */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (!t || strlen(t) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
			return false;
	return true;
}

static void test_line(void)
{
	open_file(NULL);
	log_set_request_id("req-42");
	struct audit_record ok = { AUDIT_LOGIN_SUCCESS, "success", NULL, "u=abc123", NULL };
	audit_write(&ok, &peer);
	struct audit_record bad = { AUDIT_LOGIN_FAILURE, "failure", "state_mismatch", NULL, NULL };
	audit_write(&bad, &peer);
	log_set_request_id(NULL);
	char *s = read_log();
	CHECK_INT(count_lines(s), 2);
	json_value *j = first_line(s);
	CHECK(j != NULL);
	CHECK(stamp_ok(json_get_str(j, "time", NULL)));
	CHECK_STR(json_get_str(j, "event", NULL), "login_success");
	CHECK_STR(json_get_str(j, "outcome", NULL), "success");
	CHECK_STR(json_get_str(j, "sub", NULL), "u=abc123");
	CHECK_STR(json_get_str(j, "request_id", NULL), "req-42");
	CHECK_STR(json_get_str(j, "client", NULL), "192.0.2.10");
	CHECK_STR(json_get_str(j, "user_agent", NULL), "Mozilla/5.0 (test)");
	CHECK(!json_has(j, "cause"));
	json_free(j);
	j = first_line(strchr(s, '\n') + 1);
	CHECK_STR(json_get_str(j, "event", NULL), "login_failure");
	CHECK_STR(json_get_str(j, "cause", NULL), "state_mismatch");
	CHECK(!json_has(j, "sub"));
	json_free(j);
	free(s);
}

static void test_escaping_and_truncation(void)
{
	char ua[2000];
	struct audit_record r = { AUDIT_LOGOUT, "success", NULL, "\"}\n{\"event\":\"forged", NULL };
	struct buf line = BUF_INIT;

	/* quotes, a newline, controls, HTML and an invalid UTF-8 byte */
	struct audit_peer p = { "198.51.100.7", NULL, "a\"b\\c\nd\r\x01<script>\xff" };
	CHECK_INT(audit_format(&r, &p, &line), 0);
	CHECK_INT(count_lines(buf_cstr(&line)), 1);
	CHECK(line.data[line.len - 1] == '\n');
	for (size_t i = 0; i + 1 < line.len; i++)
		CHECK((unsigned char)line.data[i] >= 0x20 && line.data[i] != 0x7f);
	json_value *j = first_line(buf_cstr(&line));
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "sub", NULL), "\"}\n{\"event\":\"forged");
	CHECK_STR(json_get_str(j, "event", NULL), "logout");
	CHECK(!strstr(buf_cstr(&line), "<script>"));
	json_free(j);

	/* a long user agent keeps its first AUDIT_USER_AGENT_MAX bytes */
	memset(ua, 'A', sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = '\0';
	p.user_agent = ua;
	buf_reset(&line);
	CHECK_INT(audit_format(&r, &p, &line), 0);
	j = first_line(buf_cstr(&line));
	size_t n = 0;
	CHECK(json_get_str(j, "user_agent", &n) != NULL);
	CHECK_INT(n, AUDIT_USER_AGENT_MAX);
	json_free(j);

	/* the worst case: every byte of sub, agent and client escaped */
	char sub[600];
	memset(ua, 0x01, sizeof(ua) - 1);
	memset(sub, 0x02, sizeof(sub) - 1);
	sub[sizeof(sub) - 1] = '\0';
	r.sub = sub;
	/* and a rule's name at its longest (its caller lets only name bytes in) */
	char rule[AUDIT_RULE_MAX + 1];
	memset(rule, 'r', AUDIT_RULE_MAX);
	rule[AUDIT_RULE_MAX] = '\0';
	r.rule = rule;
	p.remote_addr = "\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03"
	                "\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03";
	log_set_request_id("rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
	buf_reset(&line);
	CHECK_INT(audit_format(&r, &p, &line), 0);
	log_set_request_id(NULL);
	CHECK(line.len < AUDIT_LINE_MAX);
	j = first_line(buf_cstr(&line));
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "rule", NULL), rule);
	json_free(j);
	buf_free(&line);
}

static void client_is(const struct cidr_list *t, const char *remote, const char *xff,
	const char *want)
{
	char got[IP_TEXT_MAX];
	audit_client(t, remote, xff, got);
	CHECK_STR(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "  remote %s, X-Forwarded-For %s\n", remote ? remote : "(null)",
		        xff ? xff : "(null)");
}

static void test_client(void)
{
	static const char *const proxies[] = { "10.0.0.0/8", "2001:db8:1::/48", "192.0.2.1" };
	struct cidr_list t = ranges(proxies, ARRAY_LEN(proxies));
	CHECK_INT(t.n, 3);

	/* not from a trusted proxy: X-Forwarded-For is the client's own word */
	client_is(&t, "203.0.113.5", "1.2.3.4", "203.0.113.5");
	client_is(NULL, "10.1.2.3", "1.2.3.4", "10.1.2.3");
	/* from a proxy: the right-most untrusted hop; what the client put on
	 * the left (spoofed) is never reached */
	client_is(&t, "10.1.2.3", "6.6.6.6, 198.51.100.9", "198.51.100.9");
	client_is(&t, "10.1.2.3", "6.6.6.6,198.51.100.9, 10.9.9.9", "198.51.100.9");
	client_is(&t, "192.0.2.1", " 198.51.100.9 ", "198.51.100.9");
	/* a chain of proxies only: the left-most of them */
	client_is(&t, "10.1.2.3", "10.4.4.4, 10.5.5.5", "10.4.4.4");
	/* no header, an empty one, junk: the last address seen */
	client_is(&t, "10.1.2.3", NULL, "10.1.2.3");
	client_is(&t, "10.1.2.3", "", "10.1.2.3");
	client_is(&t, "10.1.2.3", "6.6.6.6, <script>", "10.1.2.3");
	client_is(&t, "10.1.2.3", "6.6.6.6, unknown, 10.7.7.7", "10.7.7.7");
	/* IPv6, normalised; an IPv4-mapped peer matches the IPv4 range */
	client_is(&t, "2001:db8:1::7", "2001:DB8:2:0:0:0:0:1", "2001:db8:2::1");
	client_is(&t, "::ffff:10.1.2.3", "198.51.100.9", "198.51.100.9");
	client_is(&t, "2001:db8:2::7", "198.51.100.9", "2001:db8:2::7");
	/* 192.0.2.1 is a single host, not its /24 */
	client_is(&t, "192.0.2.2", "198.51.100.9", "192.0.2.2");
	/* no REMOTE_ADDR, or none that is an address */
	client_is(&t, NULL, "198.51.100.9", "-");
	client_is(&t, "unix:", "198.51.100.9", "unix:");
}

static void test_cidr_parse(void)
{
	static const char *const good[] = { "10.0.0.0/8", "0.0.0.0/0", "::/0", "::1", "127.0.0.1",
		"fd00::/8", "192.0.2.128/25", "2001:db8::/32", "192.0.2.1/32" };
	static const char *const bad[] = { "", "10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/",
		"10.0.0.0/-1", "10.0.0.0/8x", "example.com", "10.0.0", "1.2.3.4.5", "fe80::1%eth0",
		"10.0.0.0/08000", "::1/+1", "10.0.0.0 /8" };
	struct cidr c;
	const char *why;
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		why = NULL;
		CHECK_INT(cidr_parse(good[i], strlen(good[i]), &c, &why), 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		why = NULL;
		int rc = cidr_parse(bad[i], strlen(bad[i]), &c, &why);
		CHECK_INT(rc, -1);
		CHECK(why != NULL);
		if (rc != -1)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
}

/* One event written to whatever is open; true when it came back fast. */
/* An event that must be dropped (audit_write says so) within a second. */
static bool write_one_quickly(void)
{
	struct audit_record r = { AUDIT_LOGOUT, "success", NULL, NULL, NULL };
	int64_t t0 = now_monotonic_ms();
	bool written = audit_write(&r, &peer);
	return !written && now_monotonic_ms() - t0 < 1000;
}

static void test_dropped(void)
{
	char err[256], spec[64];
	int fds[2];

	/* a full disk */
	unsigned long d0 = audit_dropped();
	CHECK_INT(audit_open("/dev/full", NULL, err, sizeof(err)), 0);
	CHECK(write_one_quickly());
	CHECK_INT(audit_dropped(), d0 + 1);

	/* a pipe nobody reads any more (SIGPIPE is ignored, as in a worker) */
	CHECK_INT(pipe(fds), 0);
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d", fds[1]);
	CHECK_INT(audit_open(spec, NULL, err, sizeof(err)), 0);
	close(fds[0]);
	close(fds[1]);
	CHECK(write_one_quickly());
	CHECK_INT(audit_dropped(), d0 + 2);

	/* a pipe whose reader stalls: full, and the line is refused at once */
	CHECK_INT(pipe(fds), 0);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	while (write(fds[1], junk, sizeof(junk)) > 0)
		;
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d", fds[1]);
	CHECK_INT(audit_open(spec, NULL, err, sizeof(err)), 0);
	CHECK(write_one_quickly());
	CHECK_INT(audit_dropped(), d0 + 3);

	/* stderr as that stalled pipe: our own non-blocking description; the
	 * test's stderr stays blocking */
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	fcntl(STDERR_FILENO, F_SETFL, 0);
	CHECK_INT(audit_open("stderr", NULL, err, sizeof(err)), 0);
	log_set_level(LOG_LVL_ERROR); /* the drop warning would block on it */
	CHECK(write_one_quickly());
	log_set_level(LOG_LVL_INFO);
	CHECK_INT(audit_dropped(), d0 + 4);
	CHECK_INT(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);
	audit_close();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[0]);
	close(fds[1]);

	/* off: nothing written, nothing dropped */
	CHECK_INT(audit_open("off", NULL, err, sizeof(err)), 0);
	CHECK(!audit_enabled());
	struct audit_record off = { AUDIT_LOGOUT, "success", NULL, NULL, NULL };
	CHECK(audit_write(&off, &peer)); /* nothing to drop */
	CHECK_INT(audit_dropped(), d0 + 4);
}

static void test_bad_destination(void)
{
	char err[256];
	CHECK_INT(audit_open("audit.log", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "absolute") != NULL);
	CHECK_INT(audit_open("/nonexistent-dir/audit.log", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "cannot open") != NULL);
}

#define WRITERS 8
#define LINES_EACH 400

static void *writer(void *arg)
{
	char sub[64];
	char ua[AUDIT_USER_AGENT_MAX + 1];
	memset(ua, 'a' + (int)(intptr_t)arg, sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = '\0';
	struct audit_peer p = { "192.0.2.10", NULL, ua };
	for (int i = 0; i < LINES_EACH; i++) {
		snprintf(sub, sizeof(sub), "u=%d-%d", (int)(intptr_t)arg, i);
		struct audit_record r = { AUDIT_LOGIN_SUCCESS, "success", NULL, sub, NULL };
		audit_write(&r, &p);
	}
	return NULL;
}

static void test_concurrent_whole_lines(void)
{
	pthread_t t[WRITERS];
	open_file(NULL);
	unsigned long d0 = audit_dropped();
	for (intptr_t i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	/* a reopen in the middle: no line lost or torn */
	audit_reopen();
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(audit_dropped(), d0);
	char *s = read_log();
	CHECK_INT(count_lines(s), WRITERS * LINES_EACH);
	size_t bad = 0;
	for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		json_value *j = json_parse(line, (size_t)(nl - line), AUDIT_LINE_MAX);
		size_t ual = 0;
		const char *ua = json_get_str(j, "user_agent", &ual);
		/* one writer's agent throughout: no line mixes two writes */
		if (!j || !ua || ual != AUDIT_USER_AGENT_MAX)
			bad++;
		else
			for (size_t k = 0; k < ual; k++)
				bad += ua[k] != ua[0];
		json_free(j);
	}
	CHECK_INT(bad, 0);
	free(s);
}

static void test_reopen_after_rename(void)
{
	char moved[160];
	struct audit_record r = { AUDIT_LOGOUT, "success", NULL, "u=before", NULL };
	open_file(NULL);
	audit_write(&r, &peer);
	snprintf(moved, sizeof(moved), "%s.1", path);
	CHECK_INT(rename(path, moved), 0);
	r.sub = "u=between";
	audit_write(&r, &peer);   /* still to the moved file, as logrotate expects */
	CHECK_INT(audit_reopen(), 0);
	r.sub = "u=after";
	audit_write(&r, &peer);
	char *old = harness_read_file(moved, NULL), *cur = read_log();
	CHECK(old && strstr(old, "u=before") && strstr(old, "u=between") && !strstr(old, "u=after"));
	CHECK(cur && strstr(cur, "u=after") && count_lines(cur) == 1);
	free(old);
	free(cur);
	unlink(moved);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	RUN(test_line);
	RUN(test_escaping_and_truncation);
	RUN(test_client);
	RUN(test_cidr_parse);
	RUN(test_dropped);
	RUN(test_bad_destination);
	RUN(test_concurrent_whole_lines);
	RUN(test_reopen_after_rename);
	audit_close();
	harness_remove_dir(dir);
	return harness_report("test_audit");
}
