/* TLS client streams for rediss:// (tls.h). The handshake runs on a
 * non-blocking socket, every wait a poll(2) bounded by its deadline; then
 * the socket blocks with SO_RCVTIMEO/SO_SNDTIMEO, as hiredis sets them on
 * a plain one: one read(2) and one write(2) a command, no poll, and a
 * server that stalls a record costs one timeout, never a hang. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cidr.h"
#include "util.h"

struct tls_client {
	SSL_CTX *ctx;
	bool insecure;
};

/* A session is only offered again to the name it was verified for: a
 * resumed handshake checks no certificate. */
struct tls_session {
	SSL_SESSION *sess;
	char name[256];
};

struct tls_conn {
	SSL *ssl;
	int fd;
	struct tls_session **slot;   /* where new sessions go, or NULL */
	char name[256];
	char err[160];
};

static int conn_index = -1;      /* SSL ex_data index of the tls_conn */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static void make_index(void)
{
	conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The first queued OpenSSL reason, then the queue emptied: this
 * thread's queue must not carry it into the next call. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "unknown error";
}

/* The server's new session (TLS 1.3: after the handshake, with the
 * first read), kept for the next connection to the same name. A copy:
 * OpenSSL marks the connection's own session unusable when the
 * connection dies mid-record, which is exactly when a reconnect comes
 * (a reply cut short is caught by the RESP reader, not by the close). */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *t = SSL_get_ex_data(ssl, conn_index);
	if (!t || !t->slot || !SSL_SESSION_is_resumable(sess))
		return 0;
	struct tls_session *ts = *t->slot;
	if (!ts) {
		ts = calloc(1, sizeof(*ts));
		if (!ts)
			return 0;
		*t->slot = ts;
	}
	SSL_SESSION *copy = SSL_SESSION_dup(sess);
	if (!copy)
		return 0;
	SSL_SESSION_free(ts->sess);
	ts->sess = copy;
	snprintf(ts->name, sizeof(ts->name), "%s", t->name);
	return 0;                    /* sess itself stays OpenSSL's */
}

/* An encrypted REDIS_TLS_KEY_FILE is refused, never a prompt: OpenSSL's
 * default callback would read the controlling terminal, once per thread. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf; (void)size; (void)rwflag;
	if (asked)
		*(bool *)asked = true;
	return -1;
}

struct tls_client *tls_client_new(const struct tls_client_config *cfg, char *err, size_t errlen)
{
	struct tls_client *c = calloc(1, sizeof(*c));
	const char *what = "out of memory";
	pthread_once(&index_once, make_index);
	ERR_clear_error();
	if (!c || conn_index < 0 || !(c->ctx = SSL_CTX_new(TLS_client_method())))
		goto fail;
	c->insecure = cfg->insecure;
	what = "cannot require TLS 1.2";
	if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
		goto fail;
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
	SSL_CTX_set_verify(c->ctx, cfg->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_passwd_cb(c->ctx, no_passphrase);
	if (cfg->ca_file && cfg->ca_file[0]) {
		what = "cannot read the CA file (REDIS_TLS_CA_FILE)";
		if (SSL_CTX_load_verify_locations(c->ctx, cfg->ca_file, NULL) != 1)
			goto fail;
	} else {
		what = "cannot load the system CA store";
		if (SSL_CTX_set_default_verify_paths(c->ctx) != 1)
			goto fail;
	}
	if (cfg->cert_file && cfg->cert_file[0]) {
		what = "cannot read the client certificate (REDIS_TLS_CERT_FILE)";
		if (SSL_CTX_use_certificate_chain_file(c->ctx, cfg->cert_file) != 1)
			goto fail;
		bool asked = false;
		SSL_CTX_set_default_passwd_cb_userdata(c->ctx, &asked);
		int loaded = SSL_CTX_use_PrivateKey_file(c->ctx, cfg->key_file, SSL_FILETYPE_PEM);
		SSL_CTX_set_default_passwd_cb_userdata(c->ctx, NULL);
		what = asked ? "the client key is encrypted; give it unencrypted (REDIS_TLS_KEY_FILE)"
		             : "cannot read the client key (REDIS_TLS_KEY_FILE)";
		if (loaded != 1)
			goto fail;
		what = "the client key does not match the certificate (REDIS_TLS_KEY_FILE)";
		if (SSL_CTX_check_private_key(c->ctx) != 1)
			goto fail;
	}
	ERR_clear_error();
	return c;
fail:
	snprintf(err, errlen, "%s: %s", what, ssl_reason());
	tls_client_free(c);
	return NULL;
}

void tls_client_free(struct tls_client *c)
{
	if (c) {
		SSL_CTX_free(c->ctx);
		free(c);
	}
}

void tls_session_free(struct tls_session *s)
{
	if (s) {
		SSL_SESSION_free(s->sess);
		free(s);
	}
}

/* Waits until fd is ready for what OpenSSL asked; errno ETIMEDOUT at the
 * deadline. */
static int wait_io(int fd, int ssl_err, int64_t deadline)
{
	struct pollfd p = { fd, ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0 };
	for (;;) {
		int64_t left = deadline - now_monotonic_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int64_t deadline_of(int timeout_ms)
{
	return now_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 1000);
}

#define PLAIN_HINT "not a TLS server? a plain Redis port on a rediss:// URL?"

/* What a failed handshake says: the certificate's fault, or the
 * protocol's, in words an operator can act on. */
static enum tls_failure handshake_error(struct tls_conn *t, int ssl_err, int err_no)
{
	long v = SSL_get_verify_result(t->ssl);
	if (v != X509_V_OK) {
		snprintf(t->err, sizeof(t->err), "certificate verify failed: %s",
			X509_verify_cert_error_string(v));
		ERR_clear_error();
		return TLS_FAIL_VERIFY;
	}
	if (ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE) {
		/* TCP is up but no TLS comes back: a plain Redis reads the
		 * ClientHello as a command and waits for its end. */
		ERR_clear_error();
		if (err_no != ETIMEDOUT) {
			snprintf(t->err, sizeof(t->err), "TLS handshake: %s", strerror(err_no));
			return TLS_FAIL_IO;
		}
		snprintf(t->err, sizeof(t->err), "TLS handshake: timeout (no TLS answer: %s)", PLAIN_HINT);
		return TLS_FAIL_HANDSHAKE;
	}
	if (ssl_err == SSL_ERROR_SYSCALL) {
		snprintf(t->err, sizeof(t->err), "TLS handshake: %s (%s)",
			err_no ? strerror(err_no) : "connection closed", PLAIN_HINT);
		ERR_clear_error();
		return err_no ? TLS_FAIL_IO : TLS_FAIL_HANDSHAKE;
	}
	unsigned long e = ERR_peek_last_error();
	int lib_reason = ERR_GET_REASON(e);
	const char *r = ssl_reason();
	const char *hint = "";
	if (lib_reason == SSL_R_WRONG_VERSION_NUMBER || lib_reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
	    lib_reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		hint = " (" PLAIN_HINT ")";
	else if (lib_reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
	         lib_reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
		hint = " (does the server want a client certificate? REDIS_TLS_CERT_FILE)";
	snprintf(t->err, sizeof(t->err), "TLS handshake: %s%s", r, hint);
	return TLS_FAIL_HANDSHAKE;
}

/* Sets the name the certificate must carry: an IP SAN for an address,
 * else a DNS name, also sent as SNI. */
static int expect_name(struct tls_conn *t, bool verify)
{
	struct ip_addr ip;
	bool is_ip = ip_parse(t->name, strlen(t->name), &ip) == 0;
	if (!is_ip && SSL_set_tlsext_host_name(t->ssl, t->name) != 1)
		return -1;
	if (!verify)
		return 0;
	X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return is_ip ? (X509_VERIFY_PARAM_set1_ip_asc(p, t->name) == 1 ? 0 : -1)
	             : (SSL_set1_host(t->ssl, t->name) == 1 ? 0 : -1);
}

/* Blocking from now on, each read and write bounded by io_timeout_ms. */
static int set_blocking(int fd, int flags, int io_timeout_ms)
{
	int ms = io_timeout_ms > 0 ? io_timeout_ms : 1000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ? -1 : 0;
}

struct tls_conn *tls_connect(struct tls_client *c, int fd, const char *name, int timeout_ms,
	int io_timeout_ms, struct tls_session **session, char *err, size_t errlen,
	enum tls_failure *why)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct tls_conn *t = calloc(1, sizeof(*t));
	int flags = fcntl(fd, F_GETFL);
	*why = TLS_FAIL_HANDSHAKE;
	ERR_clear_error();
	if (!t || strlen(name) >= sizeof(t->name) || flags < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || !(t->ssl = SSL_new(c->ctx))) {
		snprintf(err, errlen, "TLS: %s", !t ? "out of memory" : "cannot set up the connection");
		goto fail;
	}
	t->fd = fd;
	t->slot = session;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (SSL_set_fd(t->ssl, fd) != 1 || !SSL_set_ex_data(t->ssl, conn_index, t) ||
	    expect_name(t, !c->insecure) != 0) {
		snprintf(err, errlen, "TLS: cannot set the server name: %s", ssl_reason());
		goto fail;
	}
	if (session && *session && (*session)->sess && strcmp((*session)->name, name) == 0)
		(void)SSL_set_session(t->ssl, (*session)->sess);
	for (;;) {
		int r = SSL_connect(t->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(t->ssl, r);
		int err_no = errno;
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    wait_io(fd, e, deadline) == 0)
			continue;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			err_no = errno;
		*why = handshake_error(t, e, err_no);
		snprintf(err, errlen, "%s", t->err);
		goto fail;
	}
	if (set_blocking(fd, flags, io_timeout_ms) != 0) {
		snprintf(err, errlen, "TLS: cannot set the timeouts: %s", strerror(errno));
		*why = TLS_FAIL_IO;
		goto fail;
	}
	*why = TLS_FAIL_NONE;
	return t;
fail:
	if (t && t->ssl)
		SSL_free(t->ssl);
	free(t);
	close(fd);
	ERR_clear_error();
	return NULL;
}

bool tls_resumed(const struct tls_conn *t)
{
	return SSL_session_reused(t->ssl) == 1;
}

/* After a failed SSL_read/SSL_write: errno to return, t->err saying why.
 * On the blocking socket a WANT_READ/WANT_WRITE is SO_RCVTIMEO or
 * SO_SNDTIMEO running out. */
static int io_error(struct tls_conn *t, int e, int err_no)
{
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
	    (e == SSL_ERROR_SYSCALL && (err_no == EAGAIN || err_no == EWOULDBLOCK))) {
		snprintf(t->err, sizeof(t->err), "timeout");
		ERR_clear_error();
		return ETIMEDOUT;
	}
	if (e == SSL_ERROR_SYSCALL && err_no) {
		snprintf(t->err, sizeof(t->err), "%s", strerror(err_no));
		ERR_clear_error();
		return err_no;
	}
	if (e == SSL_ERROR_SYSCALL) {
		snprintf(t->err, sizeof(t->err), "connection closed by server");
		ERR_clear_error();
		return ECONNRESET;
	}
	snprintf(t->err, sizeof(t->err), "TLS: %s", ssl_reason());
	return EPROTO;
}

int tls_write_all(struct tls_conn *t, const void *buf, size_t len)
{
	const char *p = buf;
	ERR_clear_error();
	while (len > 0) {
		int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
		int r = SSL_write(t->ssl, p, chunk);
		if (r <= 0) {
			int e = SSL_get_error(t->ssl, r);
			errno = io_error(t, e, errno);
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t cap)
{
	int chunk = cap > (1u << 30) ? 1 << 30 : (int)cap;
	ERR_clear_error();
	int r = SSL_read(t->ssl, buf, chunk);
	if (r > 0)
		return r;
	int e = SSL_get_error(t->ssl, r), err_no = errno;
	/* The peer closed: cleanly, or mid-record (a server killed or
	 * restarting): either way the connection is over. */
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && err_no == 0) ||
	    (e == SSL_ERROR_SSL &&
	     ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		snprintf(t->err, sizeof(t->err), "connection closed by server");
		ERR_clear_error();
		return 0;
	}
	errno = io_error(t, e, err_no);
	return -1;
}

const char *tls_strerror(const struct tls_conn *t)
{
	return t->err[0] ? t->err : "TLS error";
}

void tls_close(struct tls_conn *t)
{
	if (!t)
		return;
	/* One close_notify without waiting for the answer: the socket goes
	 * now either way. */
	(void)SSL_shutdown(t->ssl);
	SSL_free(t->ssl);
	close(t->fd);
	ERR_clear_error();
	free(t);
}
