/* tls: TLS client streams on connected sockets (for rediss://), the only
 * OpenSSL user besides crypto.c, which keeps the primitives on bytes
 * (hashes, AEAD, keys): a socket, poll deadlines and a session cache are
 * another job. No OpenSSL type crosses this header.
 *
 * One tls_client per thread (its own SSL_CTX, never shared), one tls_conn
 * per socket. Verification is on unless the config says insecure: chain
 * to the CA file or the system store, and the name (DNS or IP SAN) given
 * to tls_connect; TLS 1.2 at least; SNI for DNS names. */
#ifndef SGID_TLS_H
#define SGID_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_client_config {
	const char *ca_file;         /* "" or NULL: the system store */
	const char *cert_file;       /* client certificate chain (PEM), or "" */
	const char *key_file;        /* its key (PEM), or "" */
	bool insecure;               /* no verification at all (named so in cfg) */
};

/* Why a handshake failed, for the health answer (the log has the detail). */
enum tls_failure {
	TLS_FAIL_NONE,
	TLS_FAIL_VERIFY,             /* the certificate: chain, expiry, name */
	TLS_FAIL_HANDSHAKE,          /* not TLS, protocol, or refused client cert */
	TLS_FAIL_IO,                 /* timeout or connection lost */
};

struct tls_client;
struct tls_conn;
struct tls_session;              /* a session to resume, kept by the caller */

/* NULL with err filled (a missing or bad file is named, never its bytes). */
struct tls_client *tls_client_new(const struct tls_client_config *cfg, char *err, size_t errlen);
void tls_client_free(struct tls_client *c); /* NULL ok */

/* Handshake on a connected socket fd (taken over: tls_close closes it),
 * within timeout_ms; then each read and write on it is bounded by
 * io_timeout_ms (SO_RCVTIMEO/SO_SNDTIMEO, as hiredis does on a plain
 * socket). name: what the certificate must name, and the SNI when it is
 * not an address. *session (may point to NULL) is offered for resumption
 * and replaced by the newest one the server issues. NULL on failure with
 * err filled and *why set; fd is then closed. */
struct tls_conn *tls_connect(struct tls_client *c, int fd, const char *name, int timeout_ms,
	int io_timeout_ms, struct tls_session **session, char *err, size_t errlen,
	enum tls_failure *why);
/* Whether the handshake resumed the offered session. */
bool tls_resumed(const struct tls_conn *t);
/* Writes all of buf: 0, or -1 with errno set (ETIMEDOUT, EPIPE,
 * ECONNRESET, EPROTO). */
int tls_write_all(struct tls_conn *t, const void *buf, size_t len);
/* Reads what is there, waiting up to the io timeout for something: > 0
 * bytes, 0 the peer closed (close_notify or EOF), -1 with errno set. */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t cap);
/* A short description of the last error on t (for errstr), never data. */
const char *tls_strerror(const struct tls_conn *t);
void tls_close(struct tls_conn *t); /* NULL ok; no close_notify wait */
void tls_session_free(struct tls_session *s); /* NULL ok */

#endif
