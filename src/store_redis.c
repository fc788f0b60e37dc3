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
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cidr.h"
#include "cluster_slots.h"
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
	struct cluster_state *cl;    /* REDIS_CLUSTER only, else NULL */
};

/* Redis Cluster: the slot map and one lazily opened connection per node,
 * both private to the store's thread. */
struct cluster_state {
	struct slot_map map;
	redisContext *node_ctx[CLUSTER_MAX_NODES]; /* same index as map.nodes */
	bool map_stale;              /* read CLUSTER SLOTS before the next command */
	size_t refresh_next;         /* the node to ask for the map first */
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
static enum store_err single_run(struct store *s, const char *what, int argc, const char **argv,
	const size_t *lens, redisReply **out)
{
	struct rstore *r = impl(s);
	*out = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = r->ctx != NULL;
		enum store_err e = ensure_conn(s);
		if (e != STORE_OK)
			return e;
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
		if (!stale)
			return STORE_ERR_IO;
	}
	return STORE_ERR_IO;
}

/* ---- Redis Cluster ----
 * Commands are routed by the hash slot of argv[1] (EVAL/EVALSHA: of the
 * first key, argv[3]); keyless ones (PING) go to a primary that serves
 * slots, the next one on each retry. Redirects and
 * cluster errors are handled here, so every store op works unchanged. */

#define CLUSTER_MAX_ATTEMPTS 16      /* per command, whatever the deadline */
#define CLUSTER_BACKOFF_MIN_MS 10
#define CLUSTER_BACKOFF_MAX_MS 200

static void drop_node_conn(struct rstore *r, size_t i)
{
	if (r->cl->node_ctx[i]) {
		redisFree(r->cl->node_ctx[i]);
		r->cl->node_ctx[i] = NULL;
	}
}

static void drop_node_conns(struct rstore *r)
{
	if (!r->cl)
		return;
	for (size_t i = 0; i < CLUSTER_MAX_NODES; i++)
		drop_node_conn(r, i);
}

/* Forgets every node but the seeds (a map that filled up with old
 * addresses starts over from them). */
static void cluster_init(struct rstore *r)
{
	drop_node_conns(r);
	slot_map_reset(&r->cl->map);
	for (size_t i = 0; i < r->cfg.n_cluster_seeds; i++) {
		r->cfg.cluster_seeds[i].host[sizeof(r->cfg.cluster_seeds[i].host) - 1] = '\0';
		const struct redis_endpoint *ep = &r->cfg.cluster_seeds[i];
		(void)slot_map_node(&r->cl->map, ep->host, strlen(ep->host), ep->port);
	}
	r->cl->map_stale = true;
	r->cl->refresh_next = 0;
}

/* The node's connection, opened (with AUTH) when missing. */
static redisContext *node_conn(struct store *s, int node, enum store_err *e)
{
	struct rstore *r = impl(s);
	if (!r->cl->node_ctx[node])
		r->cl->node_ctx[node] = open_conn(s, r->cl->map.nodes[node].host, r->cl->map.nodes[node].port, e);
	return r->cl->node_ctx[node];
}

/* Whether a node named by the cluster (MOVED/ASK, CLUSTER SLOTS) may be
 * connected to, and so sent AUTH: a seed's host, or a name, address or
 * range of REDIS_CLUSTER_ALLOWED_HOSTS; any port. Names compare as text
 * (no resolving: DNS would be one more thing to trust), addresses by
 * value ("::1" is "0::1"). */
static bool host_allowed(const struct redis_config *rc, const char *host, size_t len)
{
	struct ip_addr ip, seed_ip;
	bool is_ip = ip_parse(host, len, &ip) == 0;
	for (size_t i = 0; i < rc->n_cluster_seeds; i++) {
		const char *h = rc->cluster_seeds[i].host;
		if (strlen(h) == len && strncasecmp(h, host, len) == 0)
			return true;
		if (is_ip && ip_parse(h, strlen(h), &seed_ip) == 0 &&
		    memcmp(&ip, &seed_ip, sizeof(ip)) == 0)
			return true;
	}
	for (size_t i = 0; i < rc->n_cluster_allowed_names; i++) {
		const char *h = rc->cluster_allowed_names[i];
		if (strlen(h) == len && strncasecmp(h, host, len) == 0)
			return true;
	}
	return is_ip && cidr_list_contains(&rc->cluster_allowed_nets, &ip);
}

/* An integer element of a CLUSTER SLOTS entry. */
static bool reply_long(const redisReply *e, long *out)
{
	if (e->type != REDIS_REPLY_INTEGER)
		return false;
	*out = (long)e->integer;
	return true;
}

/* Fills the map's owners from a CLUSTER SLOTS reply of the node `from`:
 * [[start, end, [host, port, id...], replicas...]...]. An empty or "?"
 * host means the node that answered. An entry on a host not allowed
 * leaves its slots unserved and counts in *refused. -1: malformed; -2:
 * too many nodes. */
static int parse_slots(struct slot_map *m, const struct redis_config *rc, const redisReply *rep,
	int from, int *refused)
{
	if (rep->type != REDIS_REPLY_ARRAY)
		return -1;
	slot_map_clear_owners(m);
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *ent = rep->element[i], *pri, *h;
		long lo, hi, port;
		if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 3 ||
		    !reply_long(ent->element[0], &lo) || !reply_long(ent->element[1], &hi))
			return -1;
		pri = ent->element[2];
		if (pri->type != REDIS_REPLY_ARRAY || pri->elements < 2 ||
		    pri->element[0]->type != REDIS_REPLY_STRING || !reply_long(pri->element[1], &port))
			return -1;
		h = pri->element[0];
		int node;
		if (h->len == 0 || (h->len == 1 && h->str[0] == '?')) {
			node = slot_map_node(m, m->nodes[from].host, strlen(m->nodes[from].host), (int)port);
		} else if (!host_allowed(rc, h->str, h->len)) {
			(*refused)++;
			continue;
		} else {
			node = slot_map_node(m, h->str, h->len, (int)port);
		}
		if (node < 0)
			return port >= 1 && port <= 65535 && m->n_nodes == CLUSTER_MAX_NODES ? -2 : -1;
		if (slot_map_assign(m, lo, hi, node) != 0)
			return -1;
	}
	return 0;
}

/* Reads the slot map from the first node that answers, starting with the
 * one that answered last; stops at the deadline. */
static enum store_err refresh_map(struct store *s, int64_t deadline)
{
	struct rstore *r = impl(s);
	const char *argv[2] = { "CLUSTER", "SLOTS" };
	size_t lens[2] = { 7, 5 };
	enum store_err e = STORE_ERR_CONNECT;

	/* A second pass only after starting over from the seeds. */
	for (int pass = 0; pass < 2; pass++) {
		bool reset = false;
		size_t n = r->cl->map.n_nodes;
		for (size_t k = 0; k < n && (k == 0 || now_monotonic_ms() < deadline); k++) {
			int node = (int)((r->cl->refresh_next + k) % n);
			char where[300];
			redisReply *rep;
			redisContext *c = node_conn(s, node, &e);
			if (!c) {
				if (e == STORE_ERR_NOMEM)
					return e;
				continue;
			}
			describe(&r->cfg, r->cl->map.nodes[node].host, r->cl->map.nodes[node].port,
				where, sizeof(where));
			e = setup_cmd(s, c, "CLUSTER SLOTS", where, 2, argv, lens, &rep);
			if (e != STORE_OK) {
				drop_node_conn(r, (size_t)node);
				if (e == STORE_ERR_NOMEM)
					return e;
				continue;
			}
			int refused = 0;
			int rc = parse_slots(&r->cl->map, &r->cfg, rep, node, &refused);
			freeReplyObject(rep);
			if (refused > 0) {
				metrics_count_redis_error(s->metrics, METRICS_REDIS_ADDRESS_REFUSED);
				seterr(s, "CLUSTER SLOTS %s: %d entries name hosts not allowed "
					"(REDIS_CLUSTER_ALLOWED_HOSTS)", where, refused);
			}
			if (rc == 0 && r->cl->map.n_covered > 0) {
				r->cl->refresh_next = (size_t)node;
				r->cl->map_stale = false;
				return STORE_OK;
			}
			slot_map_clear_owners(&r->cl->map); /* never route by half a map */
			e = STORE_ERR_REPLY;
			if (rc == -2) {
				/* Full of old addresses: start again from the seeds. */
				cluster_init(r);
				reset = true;
				break;
			}
			seterr(s, "CLUSTER SLOTS %s: %s", where,
				rc == 0 ? "no slot is served" : "malformed reply");
		}
		if (!reset)
			break;
	}
	r->cl->map_stale = true;
	return e;
}

/* The key a command is routed by, or NULL for a keyless one; -1 for a
 * script without keys, which a cluster cannot route. */
static int route_key(int argc, const char **argv, const size_t *lens,
	const char **key, size_t *klen)
{
	*key = NULL;
	*klen = 0;
	if (argc < 2)
		return 0;
	if ((lens[0] == 4 && strncasecmp(argv[0], "EVAL", 4) == 0) ||
	    (lens[0] == 7 && strncasecmp(argv[0], "EVALSHA", 7) == 0)) {
		/* numkeys: digits, not 0 (lengths are explicit: no strspn) */
		if (argc < 4 || lens[2] == 0 || lens[2] > 6 || argv[2][0] == '0')
			return -1;
		for (size_t i = 0; i < lens[2]; i++)
			if (argv[2][i] < '0' || argv[2][i] > '9')
				return -1;
		*key = argv[3];
		*klen = lens[3];
		return 0;
	}
	*key = argv[1];
	*klen = lens[1];
	return 0;
}

/* Sleeps the back-off, doubled each time, never past the deadline. false
 * when the deadline has come. */
static bool backoff(int *ms, int64_t deadline)
{
	int64_t left = deadline - now_monotonic_ms();
	if (left <= 0)
		return false;
	long wait = *ms < left ? *ms : (long)left;
	struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	*ms = *ms * 2 > CLUSTER_BACKOFF_MAX_MS ? CLUSTER_BACKOFF_MAX_MS : *ms * 2;
	return true;
}

/* MOVED/ASK: the named node's index (the empty host is the sender's);
 * -1 when malformed, -2 when the host is not allowed. */
static int redirect_node(struct rstore *r, const redisReply *rep, int from, bool *ask)
{
	struct cluster_redirect rd;
	if (cluster_parse_redirect(rep->str, rep->len, &rd) != 0)
		return -1;
	*ask = rd.ask;
	if (rd.host[0] && !host_allowed(&r->cfg, rd.host, strlen(rd.host)))
		return -2;
	const char *host = rd.host[0] ? rd.host : r->cl->map.nodes[from].host;
	int node = slot_map_node(&r->cl->map, host, strlen(host), rd.port);
	if (node >= 0 && !rd.ask)
		(void)slot_map_assign(&r->cl->map, rd.slot, rd.slot, node);
	return node;
}

/* One command to one node (ASKING first after an ASK). NULL with *err_no
 * on an I/O error; the connection is then dropped by the caller. */
static redisReply *node_command(redisContext *c, bool asking, int argc, const char **argv,
	const size_t *lens, int *err_no)
{
	if (asking) {
		const char *aargv[1] = { "ASKING" };
		size_t alens[1] = { 6 };
		redisReply *rep = command(c, 1, aargv, alens, err_no);
		if (!rep)
			return NULL;
		freeReplyObject(rep); /* an error here shows in the command's reply */
	}
	return command(c, argc, argv, lens, err_no);
}

static enum store_err cluster_run(struct store *s, const char *what, int argc, const char **argv,
	const size_t *lens, redisReply **out)
{
	struct rstore *r = impl(s);
	int64_t deadline = now_monotonic_ms() + (r->cfg.command_timeout_ms > 0
		? r->cfg.command_timeout_ms : 1000);
	const char *key;
	size_t klen;
	int target = -1, wait_ms = CLUSTER_BACKOFF_MIN_MS, redirects = 0;
	bool asking = false, refresh = r->cl->map_stale, stale_retried = false;
	enum store_err last = STORE_ERR_CONNECT;

	*out = NULL;
	if (route_key(argc, argv, lens, &key, &klen) != 0) {
		seterr(s, "%s: a script needs a key to be routed in a cluster", what);
		return STORE_ERR_REPLY;
	}
	unsigned slot = key ? cluster_key_slot(key, klen) : 0;
	for (int attempt = 0; attempt < CLUSTER_MAX_ATTEMPTS; attempt++) {
		if (attempt > 0 && target < 0 && !backoff(&wait_ms, deadline))
			return last;
		if (refresh || r->cl->map.n_covered == 0) {
			enum store_err e = refresh_map(s, deadline);
			if (e == STORE_ERR_NOMEM)
				return e;
			refresh = false;
			if (e != STORE_OK) {
				last = e;
				continue;
			}
		}
		int node = target;
		if (node < 0) /* keyless: another serving primary on each retry */
			node = key ? slot_map_owner(&r->cl->map, slot)
				: slot_map_serving_node(&r->cl->map, (unsigned)attempt);
		target = -1;
		if (node < 0) {
			seterr(s, "%s: no node serves slot %u", what, slot);
			last = STORE_ERR_CONNECT;
			refresh = true;
			continue;
		}
		bool reused = r->cl->node_ctx[node] != NULL;
		enum store_err e;
		redisContext *c = node_conn(s, node, &e);
		if (!c) {
			if (e == STORE_ERR_NOMEM)
				return e;
			last = e;        /* never sent: safe to try again */
			refresh = true;
			continue;
		}
		int err_no;
		redisReply *rep = node_command(c, asking, argc, argv, lens, &err_no);
		asking = false;
		if (!rep) {
			int kind = c->err;
			seterr(s, "%s: %s", what, ctx_reason(c, err_no));
			drop_node_conn(r, (size_t)node);
			r->cl->map_stale = true;
			if (kind == REDIS_ERR_OOM)
				return STORE_ERR_NOMEM;
			/* As with one server: a connection found dead on first use
			 * gets one fresh attempt; anything else may have run. */
			bool stale = reused && !stale_retried && (kind == REDIS_ERR_EOF ||
				(kind == REDIS_ERR_IO && (err_no == EPIPE || err_no == ECONNRESET)));
			if (!stale)
				return STORE_ERR_IO;
			stale_retried = true;
			last = STORE_ERR_IO;
			refresh = true;
			continue;
		}
		if (rep->type != REDIS_REPLY_ERROR) {
			*out = rep;
			return STORE_OK;
		}
		char word[32];
		first_word(rep, word, sizeof(word));
		seterr(s, "%s: %s", what, word);
		last = STORE_ERR_REPLY;
		if (strcmp(word, "MOVED") == 0 || strcmp(word, "ASK") == 0) {
			/* Not run: go where the slot is now. A MOVED also means the
			 * map is old; it is read again on the next command. */
			bool ask = false;
			target = ++redirects <= 2 ? redirect_node(r, rep, node, &ask) : -1;
			freeReplyObject(rep);
			if (!ask)
				r->cl->map_stale = true;
			if (target == -2) {
				metrics_count_redis_error(s->metrics, METRICS_REDIS_ADDRESS_REFUSED);
				seterr(s, "%s: %s to a host not allowed (REDIS_CLUSTER_ALLOWED_HOSTS)",
					what, word);
			}
			if (target < 0)
				return STORE_ERR_REPLY;
			asking = ask;
			continue;
		}
		if (strcmp(word, "CLUSTERDOWN") == 0 || strcmp(word, "TRYAGAIN") == 0 ||
		    strcmp(word, "LOADING") == 0) {
			freeReplyObject(rep); /* not run: wait and try again */
			refresh = true;
			continue;
		}
		if (strcmp(word, "READONLY") == 0 || strcmp(word, "NOAUTH") == 0 ||
		    strcmp(word, "MASTERDOWN") == 0) {
			drop_node_conn(r, (size_t)node);
			r->cl->map_stale = true;
		}
		freeReplyObject(rep);
		return STORE_ERR_REPLY;
	}
	return last;
}

/* Every command goes through here: a failure is counted once, by kind. */
static enum store_err run(struct store *s, const char *what, int argc, const char **argv,
	const size_t *lens, redisReply **out)
{
	enum store_err e = impl(s)->cl ? cluster_run(s, what, argc, argv, lens, out)
	                               : single_run(s, what, argc, argv, lens, out);
	if (e == STORE_ERR_CONNECT)
		metrics_count_redis_error(s->metrics, METRICS_REDIS_CONNECT);
	else if (e == STORE_ERR_IO)
		metrics_count_redis_error(s->metrics, METRICS_REDIS_IO);
	else if (e == STORE_ERR_REPLY)
		metrics_count_redis_error(s->metrics, METRICS_REDIS_REPLY);
	return e;
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

#define HEALTH_KEY "sgid:health"
#define HEALTH_TTL "10"

/* run() leaves "<what>: <first word of the error reply>" in errstr. */
static bool refused_with(const struct store *s, const char *what, const char *word)
{
	size_t n = strlen(what);
	return strncmp(s->errstr, what, n) == 0 && s->errstr[n] == ':' && s->errstr[n + 1] == ' ' &&
	       strcmp(s->errstr + n + 2, word) == 0;
}

static enum store_write_state probe_write_key(struct store *s, const char *key, size_t klen)
{
	static const char what[] = "health SET";
	redisReply *rep;
	const char *argv[5] = { "SET", key, "1", "EX", HEALTH_TTL };
	size_t lens[5] = { 3, klen, 1, 2, sizeof(HEALTH_TTL) - 1 };
	enum store_err e = run(s, what, 5, argv, lens, &rep);
	if (e == STORE_OK) {
		freeReplyObject(rep);
		return STORE_WRITABLE;
	}
	if (e != STORE_ERR_REPLY)
		return STORE_UNREACHABLE;
	if (refused_with(s, what, "READONLY") || refused_with(s, what, "MASTERDOWN"))
		return STORE_READ_ONLY;
	if (refused_with(s, what, "NOREPLICAS"))
		return STORE_NO_REPLICAS;
	if (refused_with(s, what, "OOM"))
		return STORE_FULL;
	return STORE_WRITE_REFUSED;
}

/* Tags tried for a key in each primary's slots: a primary with at least
 * 1/64 of the slots is all but certain to get one. */
#define HEALTH_TAGS 4096

/* Cluster: a lost shard is every host's, not this one's (taking hosts out
 * would turn a third of the sessions failing into all of them), so the
 * host is ready when some primary takes a write: each serving primary in
 * turn, by a key of one of its slots ("sgid:health:{N}"). */
static enum store_write_state cluster_probe_write(struct store *s)
{
	struct slot_map *m = &impl(s)->cl->map;
	if (m->n_covered == 0 || impl(s)->cl->map_stale)
		(void)rs_ping(s); /* reads the slot map */
	if (m->n_covered == 0)
		return probe_write_key(s, HEALTH_KEY, sizeof(HEALTH_KEY) - 1);
	int tag_of[CLUSTER_MAX_NODES];
	for (size_t i = 0; i < CLUSTER_MAX_NODES; i++)
		tag_of[i] = -1;
	char key[32];
	for (int t = 0; t < HEALTH_TAGS; t++) {
		int n = snprintf(key, sizeof(key), HEALTH_KEY ":{%d}", t);
		int node = slot_map_owner(m, cluster_key_slot(key, (size_t)n));
		if (node >= 0 && tag_of[node] < 0)
			tag_of[node] = t;
	}
	enum store_write_state st = STORE_UNREACHABLE;
	for (size_t i = 0; i < m->n_nodes && i < CLUSTER_MAX_NODES; i++) {
		if (tag_of[i] < 0)
			continue;
		int n = snprintf(key, sizeof(key), HEALTH_KEY ":{%d}", tag_of[i]);
		st = probe_write_key(s, key, (size_t)n);
		if (st == STORE_WRITABLE)
			break;
	}
	return st;
}

static enum store_write_state rs_probe_write(struct store *s)
{
	if (impl(s)->cl)
		return cluster_probe_write(s);
	return probe_write_key(s, HEALTH_KEY, sizeof(HEALTH_KEY) - 1);
}

/* ---- a user's sessions: scripts over a record and its index ---- */

/* KEYS: idx, record. ARGV: value, ttl, expires ms, now ms, max, idx ttl.
 * Members of idx are records of the same {tag}, so the ones it reads and
 * deletes share the slot of KEYS. Entries past their expiry, or whose
 * record idled out, go before counting (a dead entry must not evict a
 * live session); the record just written is never evicted. Bounded: the
 * index holds at most max + the entries added since the last call. */
static const char script_index_add[] =
	"redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])\n"
	"redis.call('ZADD', KEYS[1], ARGV[3], KEYS[2])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])\n"
	"local live = {}\n"
	"for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
	"  if redis.call('EXISTS', k) == 1 then\n"
	"    live[#live + 1] = k\n"
	"  else\n"
	"    redis.call('ZREM', KEYS[1], k)\n"
	"  end\n"
	"end\n"
	"local over = #live - tonumber(ARGV[5])\n"
	"local evicted = 0\n"
	"for _, k in ipairs(live) do\n"
	"  if over <= 0 then break end\n"
	"  if k ~= KEYS[2] then\n"
	"    evicted = evicted + redis.call('DEL', k)\n"
	"    redis.call('ZREM', KEYS[1], k)\n"
	"    over = over - 1\n"
	"  end\n"
	"end\n"
	"if redis.call('TTL', KEYS[1]) < tonumber(ARGV[6]) then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
	"end\n"
	"return evicted\n";

/* KEYS: idx, record[, its other name] */
static const char script_index_del[] =
	"for i = 2, #KEYS do\n"
	"  redis.call('DEL', KEYS[i])\n"
	"  redis.call('ZREM', KEYS[1], KEYS[i])\n"
	"end\n"
	"if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end\n"
	"return 1\n";

/* KEYS: idx, old record, new record. ARGV: value, ttl, expires ms. */
static const char script_index_move[] =
	"if redis.call('EXISTS', KEYS[2]) == 0 then\n"
	"  return redis.call('EXISTS', KEYS[3])\n"
	"end\n"
	"redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[2], 'NX')\n"
	"redis.call('ZADD', KEYS[1], ARGV[3], KEYS[3])\n"
	"redis.call('DEL', KEYS[2])\n"
	"redis.call('ZREM', KEYS[1], KEYS[2])\n"
	"return 1\n";

/* KEYS: idx, then members of it (read by ZRANGE just before). ARGV:
 * purge (1: delete them). Every record it touches is declared, so during
 * a Redis Cluster migration of the slot the script is refused (TRYAGAIN,
 * retried) instead of missing the records already moved. Returns the
 * records deleted (purge) or live (count); the index goes when empty. */
static const char script_index_scan[] =
	"local n = 0\n"
	"for i = 2, #KEYS do\n"
	"  local k = KEYS[i]\n"
	"  if ARGV[1] == '1' then\n"
	"    n = n + redis.call('DEL', k)\n"
	"    redis.call('ZREM', KEYS[1], k)\n"
	"  elseif redis.call('EXISTS', k) == 1 then\n"
	"    n = n + 1\n"
	"  else\n"
	"    redis.call('ZREM', KEYS[1], k)\n"
	"  end\n"
	"end\n"
	"if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end\n"
	"return n\n";

/* Members one scan script declares, and rounds of them: an index holds at
 * most SESSION_MAX_PER_USER (1000) + the logins racing the scan. */
#define SCAN_BATCH 32
#define SCAN_MAX_ROUNDS 64
#define SCRIPT_MAX_ARGS (3 + 1 + SCAN_BATCH + 1)
#define MEMBER_MAX 128               /* a record name is < 100 bytes */

/* EVAL script with keys (C strings) then args (with lengths); the
 * integer reply in *n. Plain EVAL: the scripts are small and run only on
 * login, logout and the admin commands, and Redis caches them compiled. */
static enum store_err eval_int(struct store *s, const char *what, const char *script,
	int nkeys, const char *const *keys, int nargs, const char *const *args,
	const size_t *arg_lens, long long *n)
{
	const char *argv[SCRIPT_MAX_ARGS];
	size_t lens[SCRIPT_MAX_ARGS];
	char nk[12];
	redisReply *rep;
	if (3 + nkeys + nargs > SCRIPT_MAX_ARGS || nkeys < 1) {
		seterr(s, "%s: too many arguments", what);
		return STORE_ERR_REPLY;
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	int argc = 0;
	argv[argc] = "EVAL"; lens[argc++] = 4;
	argv[argc] = script; lens[argc++] = strlen(script);
	argv[argc] = nk; lens[argc++] = strlen(nk);
	for (int i = 0; i < nkeys; i++) {
		argv[argc] = keys[i];
		lens[argc++] = strlen(keys[i]);
	}
	for (int i = 0; i < nargs; i++) {
		argv[argc] = args[i];
		lens[argc++] = arg_lens[i];
	}
	enum store_err e = run(s, what, argc, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type == REDIS_REPLY_INTEGER) {
		*n = rep->integer;
	} else {
		seterr(s, "%s: unexpected reply type %d", what, rep->type);
		e = STORE_ERR_REPLY;
	}
	freeReplyObject(rep);
	return e;
}

static enum store_err rs_index_add(struct store *s, const char *idx, const char *key,
	const void *val, size_t vlen, int ttl_s, long long expires_ms, long long now_ms, int max,
	int idx_ttl_s, int *evicted)
{
	char nums[5][24];
	if (ttl_s <= 0 || idx_ttl_s <= 0 || max < 1) {
		seterr(s, "index add: ttl and max must be positive");
		return STORE_ERR_REPLY;
	}
	snprintf(nums[0], sizeof(nums[0]), "%d", ttl_s);
	snprintf(nums[1], sizeof(nums[1]), "%lld", expires_ms);
	snprintf(nums[2], sizeof(nums[2]), "%lld", now_ms);
	snprintf(nums[3], sizeof(nums[3]), "%d", max);
	snprintf(nums[4], sizeof(nums[4]), "%d", idx_ttl_s);
	const char *keys[2] = { idx, key };
	const char *args[6] = { val, nums[0], nums[1], nums[2], nums[3], nums[4] };
	size_t lens[6] = { vlen, strlen(nums[0]), strlen(nums[1]), strlen(nums[2]),
	                   strlen(nums[3]), strlen(nums[4]) };
	long long n = 0;
	enum store_err e = eval_int(s, "EVAL index add", script_index_add, 2, keys, 6, args, lens, &n);
	*evicted = e == STORE_OK ? (int)n : 0;
	return e;
}

static enum store_err rs_index_del(struct store *s, const char *idx, const char *key,
	const char *key2)
{
	const char *keys[3] = { idx, key, key2 };
	long long n;
	return eval_int(s, "EVAL index del", script_index_del, key2 ? 3 : 2, keys, 0, NULL, NULL, &n);
}

static enum store_err rs_index_move(struct store *s, const char *idx, const char *old,
	const char *key, const void *val, size_t vlen, int ttl_s, long long expires_ms)
{
	char ttl[16], cr[24];
	if (ttl_s <= 0) {
		seterr(s, "index move: ttl must be positive");
		return STORE_ERR_REPLY;
	}
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	snprintf(cr, sizeof(cr), "%lld", expires_ms);
	const char *keys[3] = { idx, old, key };
	const char *args[3] = { val, ttl, cr };
	size_t lens[3] = { vlen, strlen(ttl), strlen(cr) };
	long long n = 0;
	enum store_err e = eval_int(s, "EVAL index move", script_index_move, 3, keys, 3, args, lens, &n);
	return e == STORE_OK && n == 0 ? STORE_NOT_FOUND : e;
}

/* Members of idx from rank start, at most SCAN_BATCH, into keys[1..]
 * (copies in names); *got: how many. */
static enum store_err index_members(struct store *s, const char *idx, long long start,
	char names[SCAN_BATCH][MEMBER_MAX], const char **keys, int *got)
{
	static const char what[] = "ZRANGE index";
	char from[24], to[24];
	snprintf(from, sizeof(from), "%lld", start);
	snprintf(to, sizeof(to), "%lld", start + SCAN_BATCH - 1);
	const char *argv[4] = { "ZRANGE", idx, from, to };
	size_t lens[4] = { 6, strlen(idx), strlen(from), strlen(to) };
	redisReply *rep;
	enum store_err e = run(s, what, 4, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	*got = 0;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements > SCAN_BATCH) {
		seterr(s, "%s: unexpected reply", what);
		e = STORE_ERR_REPLY;
	}
	for (size_t i = 0; e == STORE_OK && i < rep->elements; i++) {
		const redisReply *m = rep->element[i];
		if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len >= MEMBER_MAX ||
		    memchr(m->str, '\0', m->len)) {
			seterr(s, "%s: a member is no record name", what);
			e = STORE_ERR_REPLY;
			break;
		}
		memcpy(names[i], m->str, m->len);
		names[i][m->len] = '\0';
		keys[1 + i] = names[i];
		(*got)++;
	}
	freeReplyObject(rep);
	return e;
}

/* ZRANGE a batch, then the script over it with each member in KEYS; a
 * purge starts again from rank 0 (the batch is gone), a count goes past
 * the live ones. Bounded by SCAN_MAX_ROUNDS. */
static enum store_err rs_index_scan(struct store *s, const char *idx, int purge, long long *n)
{
	char batch[SCAN_BATCH][MEMBER_MAX];
	const char *keys[1 + SCAN_BATCH] = { idx };
	const char *args[1] = { purge ? "1" : "0" };
	size_t lens[1] = { 1 };
	long long start = 0;
	*n = 0;
	for (int round = 0; round < SCAN_MAX_ROUNDS; round++) {
		int got = 0;
		long long found = 0;
		enum store_err e = index_members(s, idx, start, batch, keys, &got);
		if (e != STORE_OK || got == 0)
			return e;
		e = eval_int(s, purge ? "EVAL index purge" : "EVAL index count", script_index_scan,
		             1 + got, keys, 1, args, lens, &found);
		if (e != STORE_OK)
			return e;
		*n += found;
		if (!purge)
			start += found;
	}
	seterr(s, "index scan: entries left after %d rounds", SCAN_MAX_ROUNDS);
	return STORE_ERR_REPLY;
}

static void rs_destroy(struct store *s)
{
	struct rstore *r = impl(s);
	if (r) {
		drop_conn(r);
		drop_node_conns(r);
		free(r->cl);
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
	.probe_write = rs_probe_write,
	.destroy = rs_destroy,
	.index_add = rs_index_add,
	.index_del = rs_index_del,
	.index_move = rs_index_move,
	.index_scan = rs_index_scan,
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
	if (r->cfg.n_cluster_seeds > CFG_MAX_CLUSTER_SEEDS)
		r->cfg.n_cluster_seeds = CFG_MAX_CLUSTER_SEEDS;
	if (r->cfg.n_cluster_seeds > 0) {
		r->cl = calloc(1, sizeof(*r->cl));
		if (!r->cl)
			goto fail;
		cluster_init(r);
	}
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
