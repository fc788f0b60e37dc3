/* Fuzz target: the .env parser (dotenv_parse) and the Redis URL parser
 * (url_parse_redis).
 *
 * Input: .env text. The parser runs on it; the first line of the input and
 * every REDIS_URL value go to url_parse_redis. Properties:
 *  - every key handed to the callback matches [A-Za-z_][A-Za-z0-9_]*, and
 *    a value is never longer than the input;
 *  - on a malformed line the error names a line of the input;
 *  - a callback's non-zero return stops the parse at that pair and is
 *    returned, after the same pairs as the full parse;
 *  - the same text with CRLF line ends gives the same result and pairs;
 *  - a Redis URL that parses gives exactly one of a host or an absolute
 *    socket path, a port of 1..65535 and a db of 0..15; a URL rebuilt from
 *    the parsed fields parses to the same fields; a failure leaves no user
 *    or password behind and always explains itself in a terminated msg. */
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cfg.h"
#include "dotenv.h"
#include "fuzz.h"
#include "http.h"
#include "urlparse.h"

#define STOP_RC 7

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool terminated(const char *p, size_t n)
{
	return memchr(p, '\0', n) != NULL;
}

static void rebuild_and_compare(const struct redis_config *a);

static void check_redis_url(const char *url, int depth)
{
	struct redis_config r, r2;
	char msg[200], small[8];

	memset(&r, 0x41, sizeof(r)); /* the parser must set what it promises */
	r.unix_path[sizeof(r.unix_path) - 1] = '\0';
	r.host[sizeof(r.host) - 1] = '\0';
	memset(msg, 0x41, sizeof(msg));
	int rc = url_parse_redis(url, &r, msg, sizeof(msg));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	FUZZ_ASSERT(terminated(msg, sizeof(msg)));
	/* the same answer without room for a message, or with little room */
	memset(&r2, 0, sizeof(r2));
	FUZZ_ASSERT(url_parse_redis(url, &r2, NULL, 0) == rc);
	memset(small, 0x41, sizeof(small));
	FUZZ_ASSERT(url_parse_redis(url, &r2, small, sizeof(small)) == rc);
	FUZZ_ASSERT(terminated(small, sizeof(small)));
	if (rc != 0) {
		FUZZ_ASSERT(msg[0] != '\0');
		FUZZ_ASSERT(all_zero(r.user, sizeof(r.user)));
		FUZZ_ASSERT(all_zero(r.password, sizeof(r.password)));
		return;
	}
	FUZZ_ASSERT(msg[0] == '\0');
	FUZZ_ASSERT(terminated(r.unix_path, sizeof(r.unix_path)));
	FUZZ_ASSERT(terminated(r.host, sizeof(r.host)));
	FUZZ_ASSERT(terminated(r.user, sizeof(r.user)));
	FUZZ_ASSERT(terminated(r.password, sizeof(r.password)));
	FUZZ_ASSERT((r.unix_path[0] != '\0') != (r.host[0] != '\0'));
	FUZZ_ASSERT(r.unix_path[0] == '\0' || r.unix_path[0] == '/');
	FUZZ_ASSERT(r.port >= 1 && r.port <= 65535);
	FUZZ_ASSERT(r.db >= 0 && r.db <= 15);
	/* rediss:// is TCP with TLS; nothing else sets tls */
	FUZZ_ASSERT(r.tls == (strncasecmp(url, "rediss:", 7) == 0));
	FUZZ_ASSERT(!r.tls || r.host[0] != '\0');
	if (depth == 0)
		rebuild_and_compare(&r);
}

/* redis://[user:password@]host:port/db or unix://[user:password@]/path?db=N
 * from the parsed fields; must parse back to the same fields. */
static void rebuild_and_compare(const struct redis_config *a)
{
	struct buf u = BUF_INIT;
	struct redis_config b;
	char msg[200];

	if (a->user[0] && !a->password[0])
		return; /* "user:@" is not a form the contract promises */
	FUZZ_ASSERT(buf_append_str(&u, a->unix_path[0] ? "unix://" : a->tls ? "rediss://" : "redis://") == 0);
	if (a->password[0]) {
		FUZZ_ASSERT(url_encode(&u, a->user, strlen(a->user)) == 0);
		FUZZ_ASSERT(buf_append_char(&u, ':') == 0);
		FUZZ_ASSERT(url_encode(&u, a->password, strlen(a->password)) == 0);
		FUZZ_ASSERT(buf_append_char(&u, '@') == 0);
	}
	if (a->unix_path[0]) {
		FUZZ_ASSERT(buf_printf(&u, "%s?db=%d", a->unix_path, a->db) == 0);
	} else if (strchr(a->host, ':')) {
		FUZZ_ASSERT(buf_printf(&u, "[%s]:%d/%d", a->host, a->port, a->db) == 0);
	} else {
		FUZZ_ASSERT(buf_printf(&u, "%s:%d/%d", a->host, a->port, a->db) == 0);
	}
	memset(&b, 0, sizeof(b));
	if (url_parse_redis(u.data, &b, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "rebuilt URL refused: %s\n", msg);
		FUZZ_ASSERT(!"a URL rebuilt from parsed fields parses");
	}
	FUZZ_ASSERT(strcmp(a->unix_path, b.unix_path) == 0);
	FUZZ_ASSERT(strcmp(a->host, b.host) == 0);
	FUZZ_ASSERT(strcmp(a->user, b.user) == 0);
	FUZZ_ASSERT(strcmp(a->password, b.password) == 0);
	FUZZ_ASSERT(a->port == b.port && a->db == b.db && a->tls == b.tls);
	check_redis_url(u.data, 1);
	buf_free(&u);
}

struct collect {
	size_t in_len;
	size_t calls;
	size_t stop_at;     /* 0: never stop */
	struct buf pairs;   /* key NUL value NUL ... */
	bool check_urls;
};

static bool is_key(const char *k)
{
	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return false;
	for (const char *p = k + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static int on_pair(const char *key, const char *val, void *ud)
{
	struct collect *c = ud;

	FUZZ_ASSERT(key != NULL && val != NULL);
	FUZZ_ASSERT(is_key(key));
	FUZZ_ASSERT(strlen(key) < c->in_len);
	FUZZ_ASSERT(strlen(val) <= c->in_len);
	FUZZ_ASSERT(buf_append(&c->pairs, key, strlen(key) + 1) == 0);
	FUZZ_ASSERT(buf_append(&c->pairs, val, strlen(val) + 1) == 0);
	if (c->check_urls && strcmp(key, "REDIS_URL") == 0)
		check_redis_url(val, 0);
	c->calls++;
	return c->calls == c->stop_at ? STOP_RC : 0;
}

static int parse(const char *text, size_t len, size_t stop_at, bool urls, struct collect *c,
	int *line)
{
	memset(c, 0, sizeof(*c));
	c->in_len = len;
	c->stop_at = stop_at;
	c->check_urls = urls;
	*line = -12345;
	int rc = dotenv_parse(text, len, on_pair, c, line);
	FUZZ_ASSERT(rc == 0 || rc == -1 || (stop_at && rc == STOP_RC));
	return rc;
}

static bool same_prefix(const struct buf *a, const struct buf *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	return n == 0 || memcmp(a->data, b->data, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct collect full, part, crlf;
	int line, line2;

	int rc = parse(text, size, 0, true, &full, &line);
	if (rc == -1) {
		FUZZ_ASSERT(line >= 1 && (size_t)line <= fuzz_count(text, size, "\n") + 1);
	} else {
		FUZZ_ASSERT(rc == 0 && line == 0);
	}

	/* stopping at pair k returns the callback's value after k pairs */
	if (full.calls > 0) {
		size_t k = 1 + fuzz_hash(data, size) % full.calls;
		FUZZ_ASSERT(parse(text, size, k, false, &part, &line2) == STOP_RC);
		FUZZ_ASSERT(part.calls == k);
		FUZZ_ASSERT(part.pairs.len <= full.pairs.len && same_prefix(&part.pairs, &full.pairs));
		buf_free(&part.pairs);
	}

	/* CRLF reads as LF */
	if (size < 16384 && !memchr(data, '\r', size)) {
		struct buf t = BUF_INIT;
		for (size_t i = 0; i < size; i++) {
			if (data[i] == '\n')
				FUZZ_ASSERT(buf_append_char(&t, '\r') == 0);
			FUZZ_ASSERT(buf_append_char(&t, (char)data[i]) == 0);
		}
		int rc2 = parse(buf_cstr(&t), t.len, 0, false, &crlf, &line2);
		FUZZ_ASSERT(rc2 == rc);
		FUZZ_ASSERT(line2 == line);
		FUZZ_ASSERT(crlf.calls == full.calls);
		FUZZ_ASSERT(crlf.pairs.len == full.pairs.len && same_prefix(&crlf.pairs, &full.pairs));
		buf_free(&crlf.pairs);
		buf_free(&t);
	}
	buf_free(&full.pairs);

	/* the first line as a Redis URL */
	size_t n = 0;
	while (n < size && data[n] != '\n' && data[n] != '\0')
		n++;
	char *url = fuzz_strndup(data, n);
	check_redis_url(url, 0);
	free(url);
	return 0;
}
