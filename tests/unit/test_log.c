/* log: line format, escaping, levels, request ids, errno, fingerprints. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "no_crypto.h"

/* Runs fn with stderr sent to a temp file; returns what was written. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/sgid-test-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	char *out;

	if (fd < 0 || saved < 0)
		return NULL;
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	out = harness_read_file(path, NULL);
	unlink(path);
	return out;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ " */
static bool stamp_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return false;
	}
	return true;
}

static void emit_info(void)
{
	log_set_request_id(NULL);
	log_info("hello %s %d", "world", 42);
}

static void test_format(void)
{
	char *out = capture(emit_info);
	char want[128];
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(stamp_ok(out));
	snprintf(want, sizeof(want), " level=info pid=%ld hello world 42\n", (long)getpid());
	CHECK_STR(out + 24, want);
	free(out);
}

static void emit_with_req(void)
{
	log_set_request_id("abc-123_x.y");
	log_warn("w");
	log_set_request_id("bad id\n<script>!");
	log_warn("x");
	log_set_request_id(NULL);
	log_warn("y");
}

static void test_request_id(void)
{
	char *out = capture(emit_with_req);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strstr(out, "level=warn pid=") != NULL);
	CHECK(strstr(out, " req=abc-123_x.y w\n") != NULL);
	CHECK(strstr(out, " req=badidscript x\n") != NULL);
	/* the third line has no req= */
	const char *last = strstr(out, " y\n");
	CHECK(last != NULL);
	if (last) {
		const char *line = last;
		while (line > out && line[-1] != '\n')
			line--;
		CHECK(strstr(line, "req=") == NULL);
	}
	free(out);

	char longid[200];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	log_set_request_id(longid);
	CHECK_INT(strlen(log_request_id()), 64);
	log_set_request_id(NULL);
	CHECK_STR(log_request_id(), "");
}

static void emit_hostile(void)
{
	log_error("user=%s", "evil\nlevel=info pid=1 forged\r\x1b[2J\x7f\\x0a caf\xc3\xa9");
}

static void test_escaping(void)
{
	char *out = capture(emit_hostile);
	CHECK(out != NULL);
	if (!out)
		return;
	/* one line, whatever the message held */
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	CHECK(strchr(out, '\r') == NULL);
	CHECK(strchr(out, '\x1b') == NULL);
	CHECK(strstr(out, "user=evil\\x0alevel=info pid=1 forged\\x0d\\x1b[2J\\x7f\\x5cx0a caf\\xc3\\xa9\n") != NULL);
	free(out);
}

static void emit_long(void)
{
	char big[10000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	char ctl[1500];
	memset(ctl, '\x01', sizeof(ctl) - 1);
	ctl[sizeof(ctl) - 1] = '\0';
	log_info("%s", ctl);
}

static void test_truncation(void)
{
	char *out = capture(emit_long);
	CHECK(out != NULL);
	if (!out)
		return;
	char *nl = strchr(out, '\n');
	CHECK(nl != NULL);
	if (!nl)
		goto done;
	/* at most one pipe-atomic write per line, ending in "..." */
	CHECK((size_t)(nl - out) + 1 <= 4096);
	CHECK(strncmp(nl - 3, "...", 3) == 0);
	char *nl2 = strchr(nl + 1, '\n');
	CHECK(nl2 != NULL);
	if (nl2) {
		CHECK((size_t)(nl2 - nl) <= 4096);
		CHECK(strncmp(nl2 - 3, "...", 3) == 0);
		/* escapes are never cut in half */
		CHECK(strncmp(nl2 - 7, "\\x01...", 7) == 0);
		CHECK(nl2[1] == '\0');
	}
done:
	free(out);
}

static void emit_levels(void)
{
	log_set_level(LOG_LVL_WARN);
	log_debug("d1");
	log_info("i1");
	log_warn("w1");
	log_error("e1");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("d2");
	log_set_level(LOG_LVL_INFO);
	log_debug("d3");
}

static void test_levels(void)
{
	char *out = capture(emit_levels);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strstr(out, "d1") == NULL);
	CHECK(strstr(out, "i1") == NULL);
	CHECK(strstr(out, "level=warn pid=") != NULL && strstr(out, " w1\n") != NULL);
	CHECK(strstr(out, "level=error pid=") != NULL && strstr(out, " e1\n") != NULL);
	CHECK(strstr(out, "level=debug pid=") != NULL && strstr(out, " d2\n") != NULL);
	CHECK(strstr(out, "d3") == NULL);
	free(out);
	CHECK_INT(log_get_level(), LOG_LVL_INFO);
	log_set_level(LOG_LVL__MAX); /* ignored */
	CHECK_INT(log_get_level(), LOG_LVL_INFO);

	CHECK_INT(log_level_parse("error"), LOG_LVL_ERROR);
	CHECK_INT(log_level_parse("warn"), LOG_LVL_WARN);
	CHECK_INT(log_level_parse("INFO"), LOG_LVL_INFO);
	CHECK_INT(log_level_parse("debug"), LOG_LVL_DEBUG);
	CHECK_INT(log_level_parse("verbose"), -1);
	CHECK_INT(log_level_parse(""), -1);
	CHECK_INT(log_level_parse(NULL), -1);
}

static void emit_errno(void)
{
	errno = ENOENT;
	log_error("x");
	CHECK_INT(errno, ENOENT);
	errno = EACCES;
	log_debug("filtered out");
	CHECK_INT(errno, EACCES);
}

static void test_errno(void)
{
	free(capture(emit_errno));
	/* a closed stderr: the write fails, errno still survives */
	int saved = dup(STDERR_FILENO);
	close(STDERR_FILENO);
	errno = EINTR;
	log_error("nowhere");
	CHECK_INT(errno, EINTR);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

static void test_fingerprint(void)
{
	char fp[9];
	/* SHA-256("abc") = ba7816bf... */
	log_fingerprint("abc", 3, fp);
	CHECK_STR(fp, "ba7816bf");
	/* SHA-256("") = e3b0c442... */
	log_fingerprint("", 0, fp);
	CHECK_STR(fp, "e3b0c442");
}

/* In a child without OpenSSL algorithms: a placeholder, never the prefix
 * of zeros (the same for every secret). */
static void no_crypto_fingerprint(void)
{
	char fp[9];
	log_fingerprint("abc", 3, fp);
	CHECK_STR(fp, LOG_FINGERPRINT_UNKNOWN);
	CHECK_STR(fp, "????????");
}

static void test_fingerprint_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_fingerprint);
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "test_log", no_crypto_fingerprint);
	RUN(test_format);
	RUN(test_request_id);
	RUN(test_escaping);
	RUN(test_truncation);
	RUN(test_levels);
	RUN(test_errno);
	RUN(test_fingerprint);
	RUN(test_fingerprint_unavailable);
	return harness_report("test_log");
}
