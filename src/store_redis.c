/* The only hiredis user (hiredis 0.14: no TLS, no Sentinel helpers). One
 * blocking connection per store, opened lazily; any I/O or protocol error
 * drops it so the next call starts from a fresh connection. Commands go
 * through redisCommandArgv with explicit lengths, so keys and values are
 * binary-safe and never reach a format string. */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util.h"

static const char *const store_errors[] = {
	[STORE_OK] = "ok",
	[STORE_NOT_FOUND] = "not found",
	[STORE_EXISTS] = "already exists",
	[STORE_ERR_CONNECT] = "cannot connect to the store",
	[STORE_ERR_IO] = "store I/O error or timeout",
	[STORE_ERR_REPLY] = "store refused the command",
	[STORE_ERR_NOMEM] = "out of memory",
};
_Static_assert(ARRAY_LEN(store_errors) == STORE_ERR__MAX, "store_errors out of sync");

const char *store_strerror(enum store_err err)
{
	if ((unsigned)err >= STORE_ERR__MAX)
		return "unknown store error";
	return store_errors[err];
}

struct rstore {
	struct redis_config cfg;     /* own copy; holds the password, wiped on free */
	redisContext *ctx;           /* NULL: connect on the next call */
	size_t sentinel_next;        /* the sentinel to ask first */
	bool connected_once;         /* a later connection is a reconnect */
};

static struct rstore *impl(struct store *s) { return s->impl; }

static void seterr(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void seterr(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errstr, sizeof(s->errstr), fmt, ap);
	va_end(ap);
	/* hiredis and server texts end up here: keep the line printable. */
	for (char *p = s->errstr; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

static struct timeval ms_to_tv(int ms)
{
	if (ms <= 0)
		ms = 1000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/* The first word of an error reply ("OOM", "READONLY", "WRONGPASS"):
 * what follows may quote arguments, so it is never copied. */
static void first_word(const redisReply *rep, char *out, size_t outlen)
{
	size_t n = 0;
	if (rep->str)
		while (n < rep->len && n + 1 < outlen) {
			char c = rep->str[n];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '_' || c == '-'))
				break;
			out[n++] = c;
		}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, outlen, "ERR");
}

/* hiredis 0.14 writes with write(2): a peer that went away raises SIGPIPE.
 * The process's SIGPIPE policy belongs to server.c (worker_main ignores it
 * before any connection exists); here a write error is just an error. */
static redisReply *command(redisContext *c, int argc, const char **argv, const size_t *lens,
	int *err_no)
{
	errno = 0;
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	*err_no = errno;
	return rep;
}

/* A short, value-free description of a failed context. */
static const char *ctx_reason(const redisContext *c, int err_no)
{
	if (c->err == REDIS_ERR_IO && (err_no == EAGAIN || err_no == EWOULDBLOCK))
		return "timeout";
	if (c->err == REDIS_ERR_EOF)
		return "connection closed by server";
	return c->errstr[0] ? c->errstr : "I/O error";
}

static void describe(const struct redis_config *rc, const char *host, int port,
	char *out, size_t outlen)
{
	if (host)
		snprintf(out, outlen, "%s:%d", host, port);
	else
		snprintf(out, outlen, "%s", rc->unix_path);
}

/* One command on a connection being set up (AUTH, SELECT, ROLE, SENTINEL).
 * Fills errstr and returns non-OK on any failure; *rep is set on success. */
static enum store_err setup_cmd(struct store *s, redisContext *c, const char *what,
	const char *where, int argc, const char **argv, const size_t *lens, redisReply **rep)
{
	int err_no;
	*rep = command(c, argc, argv, lens, &err_no);
	if (!*rep) {
		if (c->err == REDIS_ERR_OOM) {
			seterr(s, "%s %s: out of memory", what, where);
			return STORE_ERR_NOMEM;
		}
		seterr(s, "%s %s: %s", what, where, ctx_reason(c, err_no));
		return STORE_ERR_CONNECT;
	}
	if ((*rep)->type == REDIS_REPLY_ERROR) {
		char word[32];
		first_word(*rep, word, sizeof(word));
		seterr(s, "%s %s: %s", what, where, word);
		freeReplyObject(*rep);
		*rep = NULL;
		return STORE_ERR_CONNECT;
	}
	return STORE_OK;
}

/* Opens one connection (unix socket when host is NULL), applies the
 * command timeout, AUTH and SELECT. Returns the ready context or NULL with
 * errstr filled and *e set. */
static redisContext *open_conn(struct store *s, const char *host, int port, enum store_err *e)
{
	const struct redis_config *rc = &impl(s)->cfg;
	struct timeval ctv = ms_to_tv(rc->connect_timeout_ms);
	char where[300];
	char dbnum[16];
	redisReply *rep = NULL;
	redisContext *c;

	describe(rc, host, port, where, sizeof(where));
	c = host ? redisConnectWithTimeout(host, port, ctv)
		: redisConnectUnixWithTimeout(rc->unix_path, ctv);
	if (!c) {
		seterr(s, "connect %s: out of memory", where);
		*e = STORE_ERR_NOMEM;
		goto fail;
	}
	if (c->err) {
		seterr(s, "connect %s: %s", where, c->errstr);
		*e = STORE_ERR_CONNECT;
		goto fail;
	}
	/* The connect timeout must not linger as the command timeout. */
	if (redisSetTimeout(c, ms_to_tv(rc->command_timeout_ms)) != REDIS_OK) {
		seterr(s, "connect %s: cannot set timeout", where);
		*e = STORE_ERR_CONNECT;
		goto fail;
	}
	if (rc->password[0]) {
		const char *argv[3] = { "AUTH" };
		size_t lens[3] = { 4 };
		int argc = 1;
		if (rc->user[0]) {
			argv[argc] = rc->user;
			lens[argc++] = strlen(rc->user);
		}
		argv[argc] = rc->password;
		lens[argc++] = strlen(rc->password);
		if ((*e = setup_cmd(s, c, "AUTH", where, argc, argv, lens, &rep)) != STORE_OK)
			goto fail;
		freeReplyObject(rep);
		rep = NULL;
	}
	if (rc->db != 0) {
		int n = snprintf(dbnum, sizeof(dbnum), "%d", rc->db);
		const char *argv[2] = { "SELECT", dbnum };
		size_t lens[2] = { 6, (size_t)n };
		if ((*e = setup_cmd(s, c, "SELECT", where, 2, argv, lens, &rep)) != STORE_OK)
			goto fail;
		freeReplyObject(rep);
		rep = NULL;
	}
	return c;
fail:
	if (c)
		redisFree(c);
	return NULL;
}

/* True when a ROLE reply says "master". */
static bool role_is_master(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
		(rep->element[0]->type == REDIS_REPLY_STRING ||
		 rep->element[0]->type == REDIS_REPLY_STATUS) &&
		str_eq_n(rep->element[0]->str, rep->element[0]->len, "master");
}

/* Asks one sentinel for the master's address. */
static enum store_err sentinel_ask(struct store *s, const struct redis_endpoint *ep,
	char *host, size_t hostlen, int *port)
{
	const struct redis_config *rc = &impl(s)->cfg;
	struct timeval tv = ms_to_tv(rc->connect_timeout_ms);
	char where[300];
	const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", rc->sentinel_master };
	size_t lens[3] = { 8, 23, strlen(rc->sentinel_master) };
	const redisReply *h, *p;
	redisReply *rep = NULL;
	char pbuf[8];
	long pn = 0;
	enum store_err e;
	redisContext *c;

	snprintf(where, sizeof(where), "%s:%d", ep->host, ep->port);
	c = redisConnectWithTimeout(ep->host, ep->port, tv);
	if (!c) {
		seterr(s, "sentinel %s: out of memory", where);
		e = STORE_ERR_NOMEM;
		goto out;
	}
	if (c->err) {
		seterr(s, "sentinel %s: %s", where, c->errstr);
		e = STORE_ERR_CONNECT;
		goto out;
	}
	/* A sentinel answers from memory: the connect timeout bounds it too. */
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		seterr(s, "sentinel %s: cannot set timeout", where);
		e = STORE_ERR_CONNECT;
		goto out;
	}
	if ((e = setup_cmd(s, c, "sentinel", where, 3, argv, lens, &rep)) != STORE_OK)
		goto out;
	e = STORE_ERR_CONNECT;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		seterr(s, "sentinel %s: no address for the master", where);
		goto out;
	}
	h = rep->element[0];
	p = rep->element[1];
	if (h->len == 0 || h->len >= hostlen || memchr(h->str, '\0', h->len)) {
		seterr(s, "sentinel %s: bad master host", where);
		goto out;
	}
	if (p->len > 0 && p->len < sizeof(pbuf)) {
		char *end;
		memcpy(pbuf, p->str, p->len);
		pbuf[p->len] = '\0';
		errno = 0;
		pn = strtol(pbuf, &end, 10);
		if (errno || *end)
			pn = 0;
	}
	if (pn < 1 || pn > 65535) {
		seterr(s, "sentinel %s: bad master port", where);
		goto out;
	}
	memcpy(host, h->str, h->len);
	host[h->len] = '\0';
	*port = (int)pn;
	e = STORE_OK;
out:
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return e;
}

/* Sentinel discovery: each sentinel in turn (starting with the one that
 * last worked), connect to its answer, keep it only if ROLE says master. */
static redisContext *discover(struct store *s, enum store_err *e)
{
	struct rstore *r = impl(s);
	size_t n = r->cfg.n_sentinels;
	if (n > CFG_MAX_SENTINELS)
		n = CFG_MAX_SENTINELS;

	*e = STORE_ERR_CONNECT;
	for (size_t i = 0; i < n; i++) {
		size_t idx = (r->sentinel_next + i) % n;
		char host[256];
		char where[300];
		int port;
		enum store_err se = sentinel_ask(s, &r->cfg.sentinels[idx], host, sizeof(host), &port);
		if (se == STORE_ERR_NOMEM) {
			*e = se;
			return NULL;
		}
		if (se != STORE_OK)
			continue;
		redisContext *c = open_conn(s, host, port, &se);
		if (!c) {
			if (se == STORE_ERR_NOMEM) {
				*e = se;
				return NULL;
			}
			continue;
		}
		snprintf(where, sizeof(where), "%s:%d", host, port);
		const char *argv[1] = { "ROLE" };
		size_t lens[1] = { 4 };
		redisReply *rep;
		se = setup_cmd(s, c, "ROLE", where, 1, argv, lens, &rep);
		if (se == STORE_OK) {
			bool master = role_is_master(rep);
			freeReplyObject(rep);
			if (master) {
				r->sentinel_next = idx;
				return c;
			}
			seterr(s, "ROLE %s: not a master", where);
		}
		redisFree(c);
		if (se == STORE_ERR_NOMEM) {
			*e = se;
			return NULL;
		}
	}
	/* errstr keeps the last sentinel's failure. */
	return NULL;
}

static enum store_err ensure_conn(struct store *s)
{
	struct rstore *r = impl(s);
	enum store_err e = STORE_OK;
	if (r->ctx)
		return STORE_OK;
	if (r->cfg.n_sentinels > 0)
		r->ctx = discover(s, &e);
	else
		r->ctx = open_conn(s, r->cfg.unix_path[0] ? NULL : r->cfg.host, r->cfg.port, &e);
	if (!r->ctx)
		return e;
	if (r->connected_once)
		metrics_count_redis_reconnect(s->metrics);
	r->connected_once = true;
	return STORE_OK;
}

static void drop_conn(struct rstore *r)
{
	if (r->ctx) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
}

/* Runs one command. A connection that turns out dead on first use (the
 * server restarted or closed it while idle) earns one fresh attempt; a
 * timeout does not, so a call never takes much more than one timeout.
 * *out is a non-error reply on STORE_OK. */
static enum store_err run(struct store *s, const char *what, int argc, const char **argv,
	const size_t *lens, redisReply **out)
{
	struct rstore *r = impl(s);
	*out = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = r->ctx != NULL;
		enum store_err e = ensure_conn(s);
		if (e != STORE_OK) {
			metrics_count_redis_error(s->metrics, METRICS_REDIS_CONNECT);
			return e;
		}
		int err_no;
		redisReply *rep = command(r->ctx, argc, argv, lens, &err_no);
		if (rep) {
			if (rep->type == REDIS_REPLY_ERROR) {
				char word[32];
				first_word(rep, word, sizeof(word));
				seterr(s, "%s: %s", what, word);
				/* A demoted master (failover) or lost auth: start over
				 * on the next call, via the sentinels when configured. */
				if (strcmp(word, "READONLY") == 0 || strcmp(word, "NOAUTH") == 0 ||
				    strcmp(word, "MASTERDOWN") == 0)
					drop_conn(r);
				freeReplyObject(rep);
				metrics_count_redis_error(s->metrics, METRICS_REDIS_REPLY);
				return STORE_ERR_REPLY;
			}
			*out = rep;
			return STORE_OK;
		}
		int kind = r->ctx->err;
		seterr(s, "%s: %s", what, ctx_reason(r->ctx, err_no));
		drop_conn(r);
		if (kind == REDIS_ERR_OOM)
			return STORE_ERR_NOMEM;
		bool stale = reused && (kind == REDIS_ERR_EOF ||
			(kind == REDIS_ERR_IO && (err_no == EPIPE || err_no == ECONNRESET)));
		if (!stale || attempt == 1)
			break;
	}
	metrics_count_redis_error(s->metrics, METRICS_REDIS_IO);
	return STORE_ERR_IO;
}

static enum store_err reply_value(struct store *s, const char *what, redisReply *rep,
	struct buf *out)
{
	enum store_err e;
	if (rep->type == REDIS_REPLY_NIL) {
		e = STORE_NOT_FOUND;
	} else if (rep->type == REDIS_REPLY_STRING) {
		e = buf_append(out, rep->str, rep->len) == 0 ? STORE_OK : STORE_ERR_NOMEM;
		if (e != STORE_OK)
			seterr(s, "%s: out of memory", what);
	} else {
		seterr(s, "%s: unexpected reply type %d", what, rep->type);
		e = STORE_ERR_REPLY;
	}
	/* Values are session records: do not leave copies in freed memory. */
	if (rep->type == REDIS_REPLY_STRING && rep->str)
		secure_zero(rep->str, rep->len);
	freeReplyObject(rep);
	return e;
}

static enum store_err rs_set(struct store *s, const char *key, size_t klen,
	const void *val, size_t vlen, int ttl_s, enum store_set_cond cond)
{
	char ttl[16];
	redisReply *rep;
	if (ttl_s <= 0) {
		seterr(s, "SET: ttl must be positive");
		return STORE_ERR_REPLY;
	}
	int n = snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	const char *argv[6] = { "SET", key, val, "EX", ttl, cond == STORE_SET_NX ? "NX" : "XX" };
	size_t lens[6] = { 3, klen, vlen, 2, (size_t)n, 2 };
	enum store_err e = run(s, "SET", cond == STORE_SET_ALWAYS ? 5 : 6, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type == REDIS_REPLY_NIL && cond != STORE_SET_ALWAYS) {
		e = cond == STORE_SET_NX ? STORE_EXISTS : STORE_NOT_FOUND;
	} else if (!(rep->type == REDIS_REPLY_STATUS && str_eq_n(rep->str, rep->len, "OK"))) {
		seterr(s, "SET: unexpected reply type %d", rep->type);
		e = STORE_ERR_REPLY;
	}
	freeReplyObject(rep);
	return e;
}

static enum store_err rs_get(struct store *s, const char *key, size_t klen, int ttl_s,
	struct buf *out)
{
	char ttl[16];
	redisReply *rep;
	enum store_err e;
	buf_reset(out);
	if (ttl_s > 0) {
		int n = snprintf(ttl, sizeof(ttl), "%d", ttl_s);
		const char *argv[4] = { "GETEX", key, "EX", ttl };
		size_t lens[4] = { 5, klen, 2, (size_t)n };
		e = run(s, "GETEX", 4, argv, lens, &rep);
	} else {
		const char *argv[2] = { "GET", key };
		size_t lens[2] = { 3, klen };
		e = run(s, "GET", 2, argv, lens, &rep);
	}
	if (e != STORE_OK)
		return e;
	return reply_value(s, ttl_s > 0 ? "GETEX" : "GET", rep, out);
}

static enum store_err rs_getdel(struct store *s, const char *key, size_t klen, struct buf *out)
{
	redisReply *rep;
	buf_reset(out);
	const char *argv[2] = { "GETDEL", key };
	size_t lens[2] = { 6, klen };
	enum store_err e = run(s, "GETDEL", 2, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	return reply_value(s, "GETDEL", rep, out);
}

static enum store_err rs_del(struct store *s, const char *key, size_t klen)
{
	redisReply *rep;
	const char *argv[2] = { "DEL", key };
	size_t lens[2] = { 3, klen };
	enum store_err e = run(s, "DEL", 2, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type != REDIS_REPLY_INTEGER) {
		seterr(s, "DEL: unexpected reply type %d", rep->type);
		e = STORE_ERR_REPLY;
	}
	freeReplyObject(rep);
	return e;
}

static enum store_err rs_ping(struct store *s)
{
	redisReply *rep;
	const char *argv[1] = { "PING" };
	size_t lens[1] = { 4 };
	enum store_err e = run(s, "PING", 1, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (!(rep->type == REDIS_REPLY_STATUS && str_eq_n(rep->str, rep->len, "PONG"))) {
		seterr(s, "PING: unexpected reply type %d", rep->type);
		e = STORE_ERR_REPLY;
	}
	freeReplyObject(rep);
	return e;
}

static void rs_destroy(struct store *s)
{
	struct rstore *r = impl(s);
	if (r) {
		drop_conn(r);
		secure_zero(&r->cfg, sizeof(r->cfg));
		free(r);
	}
	free(s);
}

static const struct store_ops redis_ops = {
	.set = rs_set,
	.get = rs_get,
	.getdel = rs_getdel,
	.del = rs_del,
	.ping = rs_ping,
	.destroy = rs_destroy,
};

struct store *store_redis_new(const struct redis_config *rc)
{
	struct rstore *r;
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->ops = &redis_ops;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	s->impl = r;
	r->cfg = *rc;
	/* Fields are fixed arrays: make sure each is terminated. */
	r->cfg.unix_path[sizeof(r->cfg.unix_path) - 1] = '\0';
	r->cfg.host[sizeof(r->cfg.host) - 1] = '\0';
	r->cfg.user[sizeof(r->cfg.user) - 1] = '\0';
	r->cfg.password[sizeof(r->cfg.password) - 1] = '\0';
	r->cfg.sentinel_master[sizeof(r->cfg.sentinel_master) - 1] = '\0';
	if (r->cfg.n_sentinels > CFG_MAX_SENTINELS)
		r->cfg.n_sentinels = CFG_MAX_SENTINELS;
	for (size_t i = 0; i < r->cfg.n_sentinels; i++)
		r->cfg.sentinels[i].host[sizeof(r->cfg.sentinels[i].host) - 1] = '\0';
	if (!r->cfg.sentinel_master[0])
		snprintf(r->cfg.sentinel_master, sizeof(r->cfg.sentinel_master), "mymaster");
	return s;
fail:
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (s)
		s->ops->destroy(s);
}
