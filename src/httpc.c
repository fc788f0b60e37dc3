/* The only libcurl user. One easy handle per struct httpc for the life of
 * the worker: never curl_easy_reset, so the connection cache (and the TLS
 * sessions to sgID) survive between requests. The fixed options are set
 * once, in httpc_new; a request sets only its own (URL, method, body,
 * headers, callback data) and clears every pointer into its memory before
 * returning, so nothing depends on what the previous one left. */
#include "httpc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util.h"

#ifndef SGID_VERSION
#define SGID_VERSION "0"
#endif

#define DEFAULT_CONNECT_MS 2000L
#define DEFAULT_TOTAL_MS   5000L
#define DEFAULT_MAX_BODY   ((size_t)1 << 20)

static const char *const httpc_errors[] = {
	[HTTPC_OK] = "ok",
	[HTTPC_ERR_CONNECT] = "cannot connect",
	[HTTPC_ERR_TIMEOUT] = "timed out",
	[HTTPC_ERR_TLS] = "TLS failure",
	[HTTPC_ERR_TOO_LARGE] = "response too large",
	[HTTPC_ERR_STATUS] = "unexpected HTTP status",
	[HTTPC_ERR_IO] = "transfer failed",
	[HTTPC_ERR_NOMEM] = "out of memory",
};
_Static_assert(ARRAY_LEN(httpc_errors) == HTTPC_ERR__MAX, "httpc_errors out of sync");

const char *httpc_strerror(enum httpc_err err)
{
	if ((unsigned)err >= HTTPC_ERR__MAX)
		return "unknown httpc error";
	return httpc_errors[err];
}

struct httpc {
	CURL *curl;
	long connect_timeout_ms;
	long total_timeout_ms;
	size_t max_body;
	char *ca_file;                  /* NULL: system store */
	char *proxy;                    /* NULL: none; may hold a password */
	char *user_agent;
	char errbuf[CURL_ERROR_SIZE];   /* curl writes here on failure */
	char errstr[CURL_ERROR_SIZE + 32];
};

/* State of one transfer, seen by the callbacks. */
struct xfer {
	struct httpc *h;
	struct httpc_response *resp;
	bool created_ok;  /* 201 is a success status too */
	bool too_large;   /* a 200 body went over max_body */
	bool capped;      /* a non-200 body reached the cap: we stopped reading */
	bool nomem;
};

static void seterr(struct httpc *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void seterr(struct httpc *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->errstr, sizeof(h->errstr), fmt, ap);
	va_end(ap);
	/* curl's messages end with a newline at times; keep one clean line. */
	for (char *p = h->errstr; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	size_t n = strlen(h->errstr);
	while (n > 0 && h->errstr[n - 1] == ' ')
		h->errstr[--n] = '\0';
}

static long status_of(struct httpc *h)
{
	long code = 0;
	if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	return code;
}

static bool success_status(long status, bool created_ok)
{
	return status == 200 || (created_ok && status == 201);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct buf *b = &x->resp->body;
	size_t n = size * nmemb;
	size_t room = x->h->max_body - b->len;

	if (n > room) {
		/* An error body is only diagnostics: keep what fits and stop. */
		if (!success_status(status_of(x->h), x->created_ok)) {
			if (buf_append(b, ptr, room) != 0)
				x->nomem = true;
			else
				x->capped = true;
		} else {
			x->too_large = true;
		}
		return 0; /* aborts the transfer */
	}
	if (buf_append(b, ptr, n) != 0) {
		x->nomem = true;
		return 0;
	}
	return n;
}

/* Copies the value of header line buf (name included, nlen bytes) into
 * dst, trimmed, control characters blanked, cut to cap - 1 bytes. */
static void keep_header(const char *buf, size_t n, size_t nlen, char *dst, size_t cap)
{
	const char *v = buf + nlen, *end = buf + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t len = (size_t)(end - v);
	if (len >= cap)
		len = cap - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[len] = '\0';
}

/* Keeps the first WWW-Authenticate and DPoP-Nonce of the final response,
 * trimmed and bounded; a nonce too long or not printable is dropped. */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	static const char www[] = "WWW-Authenticate:", nonce[] = "DPoP-Nonce:";
	struct xfer *x = ud;
	struct httpc_response *r = x->resp;
	size_t n = size * nitems;

	/* A new status line (after 1xx) starts a new header block. */
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		r->www_authenticate[0] = '\0';
		r->dpop_nonce[0] = '\0';
		return n;
	}
	if (!r->www_authenticate[0] && n > sizeof(www) - 1 && strncasecmp(buf, www, sizeof(www) - 1) == 0)
		keep_header(buf, n, sizeof(www) - 1, r->www_authenticate, sizeof(r->www_authenticate));
	if (!r->dpop_nonce[0] && n > sizeof(nonce) - 1 &&
	    strncasecmp(buf, nonce, sizeof(nonce) - 1) == 0) {
		char v[HTTPC_NONCE_MAX + 2];
		keep_header(buf, n, sizeof(nonce) - 1, v, sizeof(v));
		size_t len = strlen(v);
		if (len > 0 && len <= HTTPC_NONCE_MAX && !strchr(v, ' '))
			memcpy(r->dpop_nonce, v, len + 1);
	}
	return n;
}

/* Frees a header list after overwriting it: it holds the bearer token. */
static void slist_free_wiped(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			secure_zero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

#define SETOPT(opt, val) do { \
	if (curl_easy_setopt(c, (opt), (val)) != CURLE_OK) { bad = #opt; goto fail; } \
} while (0)

/* The options every request carries. 0, or -1 with errstr set. */
static int set_common(struct httpc *h)
{
	CURL *c = h->curl;
	const char *bad = NULL;
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, h->total_timeout_ms);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		SETOPT(CURLOPT_CAINFO, h->ca_file);
	/* "" disables a proxy outright: libcurl would otherwise take one from
	 * https_proxy, ALL_PROXY... in the environment; with ours set, no_proxy
	 * of the environment does not make exceptions either */
	SETOPT(CURLOPT_PROXY, h->proxy ? h->proxy : "");
	SETOPT(CURLOPT_NOPROXY, "");
	SETOPT(CURLOPT_USERAGENT, h->user_agent);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
	return 0;
fail:
	seterr(h, "curl option %s refused", bad);
	return -1;
}

static enum httpc_err map_code(struct httpc *h, CURLcode rc, const struct xfer *x)
{
	switch (rc) {
	case CURLE_OK:
		return HTTPC_OK;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return HTTPC_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPC_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return HTTPC_ERR_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTPC_ERR_TOO_LARGE;
	case CURLE_OUT_OF_MEMORY:
		return HTTPC_ERR_NOMEM;
	case CURLE_WRITE_ERROR:
		if (x->too_large)
			return HTTPC_ERR_TOO_LARGE;
		if (x->capped)
			return HTTPC_ERR_STATUS;
		if (x->nomem)
			return HTTPC_ERR_NOMEM;
		return HTTPC_ERR_IO;
	default:
		(void)h;
		return HTTPC_ERR_IO;
	}
}

/* Appends "<prefix><value>" as a header line to *hdrs; the line is kept
 * in *line (wiped and freed by the caller: it may hold a token). 1 when
 * value is empty or not printable, -1 on allocation failure. */
static int add_header(struct curl_slist **hdrs, const char *prefix, const char *value,
	char **line, size_t *line_len)
{
	size_t plen = strlen(prefix), vlen = strlen(value);
	struct curl_slist *tmp;

	/* The value goes into a header line: nothing that could end it. */
	if (vlen == 0 || !is_printable_ascii(value, vlen))
		return 1;
	*line_len = plen + vlen + 1;
	if (!(*line = malloc(*line_len)))
		return -1;
	memcpy(*line, prefix, plen);
	memcpy(*line + plen, value, vlen + 1);
	if (!(tmp = curl_slist_append(*hdrs, *line)))
		return -1;
	*hdrs = tmp;
	return 0;
}

static void line_free(char *line, size_t len)
{
	if (line) {
		secure_zero(line, len);
		free(line);
	}
}

/* One request (struct httpc_request). */
static enum httpc_err perform(struct httpc *h, const struct httpc_request *rq,
	struct httpc_response *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct xfer x = { h, resp, rq->created_ok, false, false, false };
	char *auth = NULL, *dpop = NULL, *accept = NULL, prefix[64];
	size_t auth_len = 0, dpop_len = 0, accept_len = 0;
	enum httpc_err e = HTTPC_ERR_NOMEM;
	CURL *c = h->curl;
	const char *bad = NULL, *url = rq->url, *form = rq->form;
	CURLcode rc;
	int hr;

	resp->status = 0;
	buf_reset(&resp->body);
	resp->www_authenticate[0] = '\0';
	resp->dpop_nonce[0] = '\0';
	h->errstr[0] = '\0';
	h->errbuf[0] = '\0';

	if (!url) {
		seterr(h, "no URL");
		e = HTTPC_ERR_IO;
		goto fail;
	}
	if ((hr = add_header(&hdrs, "Accept: ", rq->accept ? rq->accept : "application/json",
			&accept, &accept_len)) != 0)
		goto bad_header;
	if (rq->auth_token) {
		const char *scheme = rq->auth_scheme ? rq->auth_scheme : "Bearer";
		if (strlen(scheme) > 32 || !is_printable_ascii(scheme, strlen(scheme))) {
			hr = 1;
			goto bad_header;
		}
		snprintf(prefix, sizeof(prefix), "Authorization: %s ", scheme);
		if ((hr = add_header(&hdrs, prefix, rq->auth_token, &auth, &auth_len)) != 0)
			goto bad_header;
	}
	if (rq->dpop && (hr = add_header(&hdrs, "DPoP: ", rq->dpop, &dpop, &dpop_len)) != 0)
		goto bad_header;
	if (form) {
		if (!(tmp = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded")))
			goto fail;
		hdrs = tmp;
		/* No "Expect: 100-continue" round trip for large forms. */
		if (!(tmp = curl_slist_append(hdrs, "Expect:")))
			goto fail;
		hdrs = tmp;
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->form_len);
		SETOPT(CURLOPT_POSTFIELDS, form);
		/* libcurl silently re-sends a request whose reused connection died
		 * before the answer; a POST carries a single-use authorization
		 * code, so it always goes on a fresh connection (kept afterwards
		 * for the GETs that follow). */
		SETOPT(CURLOPT_FRESH_CONNECT, 1L);
	} else {
		SETOPT(CURLOPT_HTTPGET, 1L);
		SETOPT(CURLOPT_FRESH_CONNECT, 0L);
	}
	if (rq->timeout_ms > 0 && rq->timeout_ms < h->total_timeout_ms)
		SETOPT(CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_HTTPHEADER, hdrs);
	SETOPT(CURLOPT_WRITEDATA, &x);
	SETOPT(CURLOPT_HEADERDATA, &x);

	rc = curl_easy_perform(c);
	resp->status = status_of(h);
	e = map_code(h, rc, &x);
	if (e == HTTPC_OK && !success_status(resp->status, rq->created_ok))
		e = HTTPC_ERR_STATUS;

	if (e == HTTPC_ERR_STATUS)
		seterr(h, "HTTP status %ld", resp->status);
	else if (e == HTTPC_ERR_TOO_LARGE)
		seterr(h, "response body over %zu bytes", h->max_body);
	else if (e != HTTPC_OK)
		seterr(h, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
	/* Only a 200 body or a (capped) error body is handed back. */
	if (e != HTTPC_OK && e != HTTPC_ERR_STATUS)
		buf_reset(&resp->body);
	goto done;
bad_header:
	if (hr > 0) {
		seterr(h, "a header value is empty or not printable");
		e = HTTPC_ERR_IO;
	} else {
		seterr(h, "out of memory");
	}
	goto done;
fail:
	if (bad) {
		seterr(h, "curl option %s refused", bad);
		e = HTTPC_ERR_IO;
	} else if (e == HTTPC_ERR_NOMEM)
		seterr(h, "out of memory");
done:
	/* Nothing in the handle may point at our stack or the caller's body
	 * once we return. POSTFIELDS first: it switches the method to POST,
	 * HTTPGET then switches back. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->total_timeout_ms);
	slist_free_wiped(hdrs);
	line_free(auth, auth_len);
	line_free(dpop, dpop_len);
	line_free(accept, accept_len);
	return e;
}

enum httpc_err httpc_get(struct httpc *h, const char *url, const char *bearer,
	struct httpc_response *resp)
{
	struct httpc_request rq = { .url = url, .auth_token = bearer };
	return perform(h, &rq, resp);
}

enum httpc_err httpc_post_form(struct httpc *h, const char *url, const char *body,
	size_t len, struct httpc_response *resp)
{
	struct httpc_request rq = { .url = url, .form = body ? body : "", .form_len = body ? len : 0 };
	return perform(h, &rq, resp);
}

enum httpc_err httpc_send(struct httpc *h, const struct httpc_request *rq,
	struct httpc_response *resp)
{
	if (!rq) {
		seterr(h, "no request");
		return HTTPC_ERR_IO;
	}
	return perform(h, rq, resp);
}

struct httpc_share {
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)handle;
	(void)access;
	struct httpc_share *s = ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *ud)
{
	(void)handle;
	struct httpc_share *s = ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->locks[data]);
}

struct httpc_share *httpc_share_new(void)
{
	struct httpc_share *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	s->sh = curl_share_init();
	if (!s->sh || curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) != CURLSHE_OK ||
	    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		httpc_share_free(s);
		return NULL;
	}
	return s;
}

void httpc_share_free(struct httpc_share *s)
{
	if (!s)
		return;
	if (s->sh)
		curl_share_cleanup(s->sh);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->locks[i]);
	free(s);
}

int httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

struct httpc *httpc_new(const struct httpc_opts *opts)
{
	struct httpc *h = calloc(1, sizeof(*h));
	if (!h || !opts)
		goto fail;
	h->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
		: DEFAULT_CONNECT_MS;
	h->total_timeout_ms = opts->total_timeout_ms > 0 ? opts->total_timeout_ms
		: DEFAULT_TOTAL_MS;
	h->max_body = opts->max_body > 0 ? opts->max_body : DEFAULT_MAX_BODY;
	if (opts->ca_file && opts->ca_file[0] && !(h->ca_file = strdup(opts->ca_file)))
		goto fail;
	if (opts->proxy && opts->proxy[0] && !(h->proxy = strdup(opts->proxy)))
		goto fail;
	h->user_agent = strdup(opts->user_agent && opts->user_agent[0] ? opts->user_agent
		: "sgid-fcgi/" SGID_VERSION);
	if (!h->user_agent)
		goto fail;
	if (!(h->curl = curl_easy_init()))
		goto fail;
	if (opts->share && curl_easy_setopt(h->curl, CURLOPT_SHARE, opts->share->sh) != CURLE_OK)
		goto fail;
	/* Once: the handle is never reset, so these stay for every request.
	 * Refuse to start with a libcurl that lacks an option we rely on. */
	if (set_common(h) != 0)
		goto fail;
	return h;
fail:
	httpc_free(h);
	return NULL;
}

void httpc_free(struct httpc *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_file);
	if (h->proxy)
		secure_zero(h->proxy, strlen(h->proxy));
	free(h->proxy);
	free(h->user_agent);
	free(h);
}

void httpc_response_init(struct httpc_response *r)
{
	memset(r, 0, sizeof(*r));
}

void httpc_response_free(struct httpc_response *r)
{
	if (!r)
		return;
	buf_free(&r->body);
	r->status = 0;
	r->www_authenticate[0] = '\0';
}

const char *httpc_errstr(const struct httpc *h)
{
	return h ? h->errstr : "";
}
