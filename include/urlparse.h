/* urlparse: strict parsers for the URLs in the configuration: absolute
 * http(s) URLs and their origins, host[:port] (IPv6 in brackets) and
 * REDIS_URL. Reasons for a refusal are static strings that never quote
 * the input. */
#ifndef SGID_URLPARSE_H
#define SGID_URLPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "cfg.h"

#define URL_MAX 2048

struct http_url {
	bool https;
	char host[256];   /* lower-case; IPv6 keeps its brackets */
	int port;         /* 0 when absent */
	const char *rest; /* path, query, fragment */
};

/* Absolute http:// or https:// URL without user information; 0, or -1
 * with *why. */
int url_parse_http(const char *s, struct http_url *u, const char **why);
/* scheme://host[:port], the default port dropped (WHATWG URL origin). */
int url_origin(const struct http_url *u, char *out, size_t cap);
/* localhost, 127.0.0.0/8 and [::1]: where plain http cannot be sniffed. */
bool url_is_loopback(const char *host);
/* "host[:port]" or "[v6][:port]" from s[0..n) into host (brackets kept
 * when keep_brackets); *port stays untouched when absent. 0 or -1. */
int url_parse_hostport(const char *s, size_t n, char *host, size_t cap, bool keep_brackets,
	int *port);

/* SGID_HTTPS_PROXY: http://, https:// or socks5h:// (the proxy resolves
 * names), optional percent-encoded user:password@, host[:port], nothing
 * after but an optional "/". 0, or -1 with *why. */
int url_check_proxy(const char *s, const char **why);

/* redis://[[user]:password@]host[:port][/db], the same with rediss://
 * (TLS: sets tls) or unix://[[user]:password@]/path/to.sock[?db=N]. 0 or
 * -1 with msg (never the password). Sets only unix_path, host (IPv6
 * without brackets), port (6379), user, password (both percent-decoded),
 * db (0..15) and tls; the timeouts and sentinels are left alone. */
int url_parse_redis(const char *url, struct redis_config *out, char *msg, size_t msg_len);

#endif
