/* urlparse: the URL forms the configuration accepts (http(s) URLs and
 * origins, host:port lists, REDIS_URL), parsed strictly. Errors are short
 * static reasons that never quote the input (it may hold a password). */
#include "urlparse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "util.h"

static void str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool is_host_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static int parse_host(const char *s, size_t n, char *host, size_t cap, bool keep_brackets)
{
	if (n == 0)
		return -1;
	if (s[0] == '[') {
		char a6[64];
		struct in6_addr in6;
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(a6))
			return -1;
		memcpy(a6, s + 1, n - 2);
		a6[n - 2] = '\0';
		if (inet_pton(AF_INET6, a6, &in6) != 1)
			return -1;
		if (!keep_brackets) {
			s++;
			n -= 2;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (!is_host_char(s[i]))
				return -1;
	}
	if (n >= cap)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int url_parse_hostport(const char *s, size_t n, char *host, size_t cap, bool keep_brackets,
	int *port)
{
	const char *colon;
	size_t hn = n;
	long p;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return -1;
		hn = (size_t)(rb - s) + 1;
		colon = hn < n ? s + hn : NULL;
		if (colon && *colon != ':')
			return -1;
	} else {
		colon = memchr(s, ':', n);
		if (colon)
			hn = (size_t)(colon - s);
	}
	if (parse_host(s, hn, host, cap, keep_brackets) != 0)
		return -1;
	if (colon) {
		char digits[8];
		size_t dn = n - hn - 1;
		if (dn == 0 || dn >= sizeof(digits))
			return -1;
		memcpy(digits, colon + 1, dn);
		digits[dn] = '\0';
		if (parse_decimal(digits, 1, 65535, &p) != 0)
			return -1;
		*port = (int)p;
	}
	return 0;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int url_parse_http(const char *s, struct http_url *u, const char **why)
{
	size_t len = strlen(s), skip;

	memset(u, 0, sizeof(*u));
	*why = "must be an absolute http:// or https:// URL";
	if (len > URL_MAX || !is_printable_ascii(s, len) || strchr(s, ' '))
		return -1;
	if (has_prefix_ci(s, "https://")) {
		u->https = true;
		skip = 8;
	} else if (has_prefix_ci(s, "http://")) {
		skip = 7;
	} else {
		return -1;
	}
	const char *auth = s + skip;
	size_t an = strcspn(auth, "/?#");
	if (memchr(auth, '@', an)) {
		*why = "must not contain user information";
		return -1;
	}
	if (url_parse_hostport(auth, an, u->host, sizeof(u->host), true, &u->port) != 0) {
		*why = "has a bad host or port";
		return -1;
	}
	str_lower(u->host);
	u->rest = auth + an;
	return 0;
}

bool url_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 &&
		       memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	}
	return false;
}

int url_origin(const struct http_url *u, char *out, size_t cap)
{
	const char *scheme = u->https ? "https" : "http";
	int def = u->https ? 443 : 80;
	int n;

	if (u->port && u->port != def)
		n = snprintf(out, cap, "%s://%s:%d", scheme, u->host, u->port);
	else
		n = snprintf(out, cap, "%s://%s", scheme, u->host);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* RFC 3986 userinfo: unreserved, pct-encoded, sub-delims and ':' */
static bool is_userinfo_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-._~%!$&'()*+,;=:", c) != NULL;
}

int url_check_proxy(const char *s, const char **why)
{
	static const char *const schemes[] = { "http://", "https://", "socks5h://" };
	size_t len = strlen(s), skip = 0;
	char host[256];
	int port = 0;

	*why = "must be an http://, https:// or socks5h:// URL of printable ASCII";
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && !skip; i++)
		if (has_prefix_ci(s, schemes[i]))
			skip = strlen(schemes[i]);
	if (!skip || len > URL_MAX || !is_printable_ascii(s, len) || strchr(s, ' '))
		return -1;
	const char *auth = s + skip;
	size_t an = strcspn(auth, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < an; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (at) {
		*why = "has a bad user or password (percent-encode it)";
		for (const char *p = auth; p < at; p++)
			if (!is_userinfo_char(*p))
				return -1;
		an -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	*why = "has a bad host or port";
	if (url_parse_hostport(auth, an, host, sizeof(host), true, &port) != 0)
		return -1;
	*why = "must not have a path, query or fragment";
	if (auth[an] && strcmp(auth + an, "/") != 0)
		return -1;
	return 0;
}

/* ---- REDIS_URL ---- */

/* "[user]:password", each percent-decoded. */
static int redis_userinfo(const char *s, size_t n, struct redis_config *out, const char **why)
{
	char tmp[URL_MAX + 1];
	const char *colon = memchr(s, ':', n);
	size_t un, dn;

	*why = "user information must be [user]:password";
	if (!colon)
		return -1;
	un = (size_t)(colon - s);
	*why = "bad percent-encoding in the user or password";
	if (http_percent_decode(s, un, false, tmp, &dn) != HTTP_OK)
		return -1;
	*why = "user name too long";
	if (dn >= sizeof(out->user))
		return -1;
	memcpy(out->user, tmp, dn + 1);
	*why = "bad percent-encoding in the user or password";
	if (http_percent_decode(colon + 1, n - un - 1, false, tmp, &dn) != HTTP_OK)
		goto fail;
	*why = "password too long";
	if (dn >= sizeof(out->password))
		goto fail;
	memcpy(out->password, tmp, dn + 1);
	secure_zero(tmp, sizeof(tmp));
	return 0;
fail:
	secure_zero(tmp, sizeof(tmp));
	return -1;
}

static int redis_db(const char *s, int *db)
{
	long v;

	if (parse_decimal(s, 0, 15, &v) != 0)
		return -1;
	*db = (int)v;
	return 0;
}

/* host[:port][/db] after any user information */
static int redis_tcp(const char *s, struct redis_config *out, const char **why)
{
	const char *at = strrchr(s, '@');
	size_t hn;

	if (at) {
		if (redis_userinfo(s, (size_t)(at - s), out, why) != 0)
			return -1;
		s = at + 1;
	}
	*why = "query strings and fragments are not supported; use /db";
	if (strpbrk(s, "?#"))
		return -1;
	hn = strcspn(s, "/");
	*why = "bad host or port";
	if (url_parse_hostport(s, hn, out->host, sizeof(out->host), false, &out->port) != 0)
		return -1;
	if (s[hn] == '/' && s[hn + 1] != '\0') {
		*why = "database must be a number from 0 to 15";
		if (redis_db(s + hn + 1, &out->db) != 0)
			return -1;
	}
	return 0;
}

/* [userinfo@]/path[?db=N] */
static int redis_unix(const char *s, struct redis_config *out, const char **why)
{
	struct kv_list q;
	const struct kv *db;
	size_t pn;

	if (s[0] != '/') {
		const char *at = strstr(s, "@/");
		*why = "the socket path must be absolute";
		if (!at)
			return -1;
		if (redis_userinfo(s, (size_t)(at - s), out, why) != 0)
			return -1;
		s = at + 1;
	}
	pn = strcspn(s, "?#");
	*why = "socket path too long";
	if (pn >= sizeof(out->unix_path))
		return -1;
	*why = "fragments are not supported";
	if (s[pn] == '#')
		return -1;
	memcpy(out->unix_path, s, pn);
	out->unix_path[pn] = '\0';
	if (!s[pn])
		return 0;
	*why = "the only query parameter is db=N (0 to 15)";
	if (http_parse_query(s + pn + 1, strlen(s + pn + 1), &q) != HTTP_OK)
		return -1;
	db = kv_get(&q, "db");
	int rc = (!db || q.n != 1 || redis_db(db->val, &out->db) != 0) ? -1 : 0;
	kv_list_free(&q);
	return rc;
}

int url_parse_redis(const char *url, struct redis_config *out, char *msg, size_t msg_len)
{
	const char *why = "must start with redis:// or unix://";
	int rc = -1;

	out->unix_path[0] = '\0';
	out->host[0] = '\0';
	out->tls = false;
	out->port = 6379;
	out->db = 0;
	secure_zero(out->user, sizeof(out->user));
	secure_zero(out->password, sizeof(out->password));
	if (msg && msg_len)
		msg[0] = '\0';
	if (!url || strlen(url) > URL_MAX || !is_printable_ascii(url, strlen(url)) || strchr(url, ' '))
		why = "must be a URL of printable ASCII without spaces";
	else if (has_prefix_ci(url, "redis://"))
		rc = redis_tcp(url + 8, out, &why);
	else if (has_prefix_ci(url, "unix://"))
		rc = redis_unix(url + 7, out, &why);
	else if (has_prefix_ci(url, "rediss://")) {
		out->tls = true;
		rc = redis_tcp(url + 9, out, &why);
	}
	if (rc == 0)
		return 0;
	secure_zero(out->user, sizeof(out->user));
	secure_zero(out->password, sizeof(out->password));
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s", why);
	return -1;
}

