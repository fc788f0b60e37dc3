/* One Redis connection behind a transport table (redis_conn.h). hiredis
 * 0.14 has no TLS, but its protocol layer works on any byte stream: for
 * rediss:// the command is formatted by redisFormatCommandArgv, written
 * through tls.c, and the reply read back into a redisReader, within the
 * same command timeout hiredis applies to a plain socket. */
#include "redis_conn.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

struct redis_conn;
struct transport {
	redisReply *(*command)(struct redis_conn *c, int argc, const char **argv,
		const size_t *lens);
	void (*close)(struct redis_conn *c);
};

struct redis_conn {
	const struct transport *tp;
	redisContext *ctx;           /* plain: hiredis's connection */
	struct tls_conn *tls;        /* TLS: ours, with a reader for replies */
	redisReader *reader;
	int err;                     /* REDIS_ERR_* of the last failure */
	int err_no;
	char errstr[160];
};

static struct timeval ms_to_tv(int ms)
{
	if (ms <= 0)
		ms = 1000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

static void set_err(struct redis_conn *c, int err, int err_no, const char *what)
{
	c->err = err;
	c->err_no = err_no;
	snprintf(c->errstr, sizeof(c->errstr), "%s", what);
}

/* ---- plain: hiredis's own I/O ---- */

/* hiredis 0.14 writes with write(2): a peer that went away raises SIGPIPE.
 * The process's SIGPIPE policy belongs to server.c (worker_main ignores it
 * before any connection exists); here a write error is just an error. */
static redisReply *plain_command(struct redis_conn *c, int argc, const char **argv,
	const size_t *lens)
{
	errno = 0;
	redisReply *rep = redisCommandArgv(c->ctx, argc, argv, lens);
	if (!rep)
		set_err(c, c->ctx->err, errno, c->ctx->errstr);
	return rep;
}

static void plain_close(struct redis_conn *c)
{
	redisFree(c->ctx);
}

static const struct transport plain = { plain_command, plain_close };

/* ---- TLS: hiredis's protocol layer over tls.c ---- */

static redisReply *tls_command(struct redis_conn *c, int argc, const char **argv,
	const size_t *lens)
{
	char *cmd = NULL, buf[16384];
	int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0) {
		set_err(c, REDIS_ERR_OOM, 0, "out of memory");
		return NULL;
	}
	int rc = tls_write_all(c->tls, cmd, (size_t)n);
	int err_no = errno;
	secure_zero(cmd, (size_t)n); /* AUTH's password, session records */
	free(cmd);
	if (rc != 0) {
		set_err(c, REDIS_ERR_IO, err_no, tls_strerror(c->tls));
		return NULL;
	}
	for (;;) {
		void *rep = NULL;
		if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
			set_err(c, REDIS_ERR_PROTOCOL, 0, "protocol error");
			return NULL;
		}
		if (rep)
			return rep;
		ssize_t got = tls_read(c->tls, buf, sizeof(buf));
		if (got == 0) {
			set_err(c, REDIS_ERR_EOF, 0, "connection closed by server");
			return NULL;
		}
		if (got < 0) {
			set_err(c, REDIS_ERR_IO, errno, tls_strerror(c->tls));
			return NULL;
		}
		int fed = redisReaderFeed(c->reader, buf, (size_t)got);
		secure_zero(buf, (size_t)got);
		if (fed != REDIS_OK) {
			set_err(c, REDIS_ERR_OOM, 0, "out of memory");
			return NULL;
		}
	}
}

static void tls_conn_close(struct redis_conn *c)
{
	tls_close(c->tls);
	redisReaderFree(c->reader);
}

static const struct transport tls_transport = { tls_command, tls_conn_close };

/* ---- the table's users ---- */

struct redis_conn *redis_conn_open(const struct redis_conn_target *t, char *err, size_t errlen,
	bool *nomem, enum tls_failure *why)
{
	int64_t start = now_monotonic_ms();
	struct timeval ctv = ms_to_tv(t->connect_timeout_ms);
	struct redis_conn *c = calloc(1, sizeof(*c));
	redisContext *ctx = NULL;
	*nomem = false;
	*why = TLS_FAIL_NONE;
	if (!c)
		goto oom;
	ctx = t->host ? redisConnectWithTimeout(t->host, t->port, ctv)
		: redisConnectUnixWithTimeout(t->unix_path, ctv);
	if (!ctx)
		goto oom;
	if (ctx->err) {
		snprintf(err, errlen, "%s", ctx->errstr);
		goto fail;
	}
	if (!t->tls || !t->host) {
		/* The connect timeout must not linger as the command timeout. */
		if (redisSetTimeout(ctx, ms_to_tv(t->command_timeout_ms)) != REDIS_OK) {
			snprintf(err, errlen, "cannot set timeout");
			goto fail;
		}
		c->tp = &plain;
		c->ctx = ctx;
		return c;
	}
	/* TLS on hiredis's TCP connection: its timeout bounded the connect,
	 * what is left of it bounds the handshake. */
	int fd = redisFreeKeepFd(ctx);
	ctx = NULL;
	int left = t->connect_timeout_ms - (int)(now_monotonic_ms() - start);
	c->reader = redisReaderCreate();
	if (!c->reader) {
		close(fd);
		goto oom;
	}
	c->tls = tls_connect(t->tls, fd, t->tls_name, left > 0 ? left : 1, t->command_timeout_ms,
		t->tls_session, err, errlen, why);
	if (!c->tls)
		goto fail;
	c->tp = &tls_transport;
	return c;
oom:
	*nomem = true;
	snprintf(err, errlen, "out of memory");
fail:
	if (ctx)
		redisFree(ctx);
	if (c && c->reader)
		redisReaderFree(c->reader);
	free(c);
	return NULL;
}

redisReply *redis_conn_command(struct redis_conn *c, int argc, const char **argv,
	const size_t *lens)
{
	return c->tp->command(c, argc, argv, lens);
}

int redis_conn_err(const struct redis_conn *c) { return c->err; }

const char *redis_conn_reason(const struct redis_conn *c)
{
	if (c->err == REDIS_ERR_IO && (c->err_no == EAGAIN || c->err_no == EWOULDBLOCK ||
	                               c->err_no == ETIMEDOUT))
		return "timeout";
	if (c->err == REDIS_ERR_EOF)
		return "connection closed by server";
	return c->errstr[0] ? c->errstr : "I/O error";
}

bool redis_conn_reset(const struct redis_conn *c)
{
	return c->err == REDIS_ERR_EOF ||
		(c->err == REDIS_ERR_IO && (c->err_no == EPIPE || c->err_no == ECONNRESET));
}

bool redis_conn_resumed(const struct redis_conn *c)
{
	return c->tls && tls_resumed(c->tls);
}

void redis_conn_free(struct redis_conn *c)
{
	if (c) {
		c->tp->close(c);
		free(c);
	}
}
