/* httpc: the only libcurl user. One handle per request thread, reused so
 * its TLS connection to sgID stays alive; the threads of a process share
 * DNS and TLS sessions (a new connection resumes instead of a full
 * handshake) through one httpc_share; connect and total timeouts; a cap on
 * the response size; TLS verification always on; only 200 is success. */
#ifndef SGID_HTTPC_H
#define SGID_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

enum httpc_err {
	HTTPC_OK,
	HTTPC_ERR_CONNECT,   /* DNS, refused, unreachable */
	HTTPC_ERR_TIMEOUT,
	HTTPC_ERR_TLS,
	HTTPC_ERR_TOO_LARGE, /* body over max_body */
	HTTPC_ERR_STATUS,    /* completed with a status other than 200 */
	HTTPC_ERR_IO,        /* anything else from the transfer */
	HTTPC_ERR_NOMEM,
	HTTPC_ERR__MAX
};
const char *httpc_strerror(enum httpc_err err);

/* A timeout or max_body of 0 (or less) takes the default: 2000 ms,
 * 5000 ms, 1 MiB. A NULL or "" user_agent gives "sgid-fcgi/<version>". */
struct httpc_opts {
	long connect_timeout_ms;
	long total_timeout_ms;
	size_t max_body;
	const char *ca_file;     /* NULL or "": system store */
	const char *proxy;       /* NULL or "": none, whatever the environment's
	                            https_proxy, ALL_PROXY, ... say */
	const char *user_agent;
	struct httpc_share *share; /* NULL: nothing shared; not owned */
};

/* DNS and TLS-session caches for the threads of a process, behind a lock
 * per kind of data. Connections are not shared: libcurl does not support
 * sharing them between concurrent threads, so each thread keeps its own. */
struct httpc_share;
struct httpc_share *httpc_share_new(void);
void httpc_share_free(struct httpc_share *s); /* NULL ok; after every handle */

/* Zero it (or httpc_response_init) before first use; each request empties
 * it first. On HTTPC_OK and HTTPC_ERR_STATUS, status and body are filled
 * (an error body is cut at max_body); on other errors the body is empty. */
#define HTTPC_NONCE_MAX 512    /* a DPoP-Nonce header kept (RFC 9449 §8) */
struct httpc_response {
	long status;
	struct buf body;             /* capped at max_body */
	char www_authenticate[512];  /* the WWW-Authenticate header, if any */
	char dpop_nonce[HTTPC_NONCE_MAX + 1]; /* the DPoP-Nonce header when it
	                                is 1..HTTPC_NONCE_MAX printable
	                                characters, else "" */
};

struct httpc;
/* Process-wide init (curl_global_init); call once before workers serve. */
int httpc_global_init(void);
struct httpc *httpc_new(const struct httpc_opts *opts);
void httpc_free(struct httpc *h); /* NULL ok */

/* GET with Accept: application/json; bearer (NULL for none) becomes
 * "Authorization: Bearer <token>" (refused, HTTPC_ERR_IO, unless
 * printable ASCII). Redirects are not followed: a 3xx is HTTPC_ERR_STATUS. */
enum httpc_err httpc_get(struct httpc *h, const char *url, const char *bearer,
	struct httpc_response *resp);
/* POST application/x-www-form-urlencoded body. */
enum httpc_err httpc_post_form(struct httpc *h, const char *url, const char *body,
	size_t len, struct httpc_response *resp);
/* A request with the headers of a DPoP-bound client (RFC 9449): form
 * NULL is a GET, else a POST of form_len bytes; auth_scheme + auth_token
 * become "Authorization: <scheme> <token>" and dpop a "DPoP: <proof>"
 * header (each refused, HTTPC_ERR_IO, unless printable ASCII); accept NULL
 * is "application/json"; created_ok makes 201 a success too (PAR);
 * timeout_ms > 0 shortens this request's total timeout (a caller's
 * remaining budget; never lengthens it), 0 keeps the handle's. */
struct httpc_request {
	const char *url;
	const char *form;
	size_t form_len;
	const char *auth_scheme;
	const char *auth_token;
	const char *dpop;
	const char *accept;
	bool created_ok;
	long timeout_ms;
};
enum httpc_err httpc_send(struct httpc *h, const struct httpc_request *rq,
	struct httpc_response *resp);
void httpc_response_init(struct httpc_response *r);
void httpc_response_free(struct httpc_response *r); /* NULL ok; reusable */
/* Detail of the last failure (curl's message), never request content. */
const char *httpc_errstr(const struct httpc *h);

#endif
