/* redis_conn: one Redis connection behind a transport table. Plain TCP and
 * unix sockets: hiredis does the I/O as it always did (the fast path,
 * unchanged). rediss://: hiredis formats the command and parses the reply
 * (redisFormatCommandArgv, redisReader), tls.c moves the bytes. Part of
 * the hiredis owner with redis_topology.c and store_redis.c; nothing
 * outside them includes this header. */
#ifndef SGID_REDIS_CONN_H
#define SGID_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#include "tls.h"

struct redis_conn;

/* Where and how to connect. tls NULL: plain. */
struct redis_conn_target {
	const char *host;            /* NULL: unix_path */
	int port;
	const char *unix_path;
	int connect_timeout_ms;      /* TCP connect and TLS handshake together */
	int command_timeout_ms;
	struct tls_client *tls;
	const char *tls_name;        /* the name the certificate must carry */
	struct tls_session **tls_session; /* resumption slot, may be NULL */
};

/* NULL on failure with err filled; *why says whether TLS failed (and how). */
struct redis_conn *redis_conn_open(const struct redis_conn_target *t, char *err, size_t errlen,
	bool *nomem, enum tls_failure *why);
/* One command, its reply or NULL; after NULL, redis_conn_err says what
 * (REDIS_ERR_IO, REDIS_ERR_EOF, REDIS_ERR_PROTOCOL, REDIS_ERR_OOM) and
 * the connection is dead. */
redisReply *redis_conn_command(struct redis_conn *c, int argc, const char **argv,
	const size_t *lens);
int redis_conn_err(const struct redis_conn *c);
/* A value-free reason: "timeout", "connection closed by server", ... */
const char *redis_conn_reason(const struct redis_conn *c);
/* The I/O error was a broken pipe or reset: a connection found dead. */
bool redis_conn_reset(const struct redis_conn *c);
bool redis_conn_resumed(const struct redis_conn *c); /* TLS session resumed */
void redis_conn_free(struct redis_conn *c); /* NULL ok */

#endif
