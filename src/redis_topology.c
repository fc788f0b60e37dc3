/* How a store reaches Redis (redis_topology.h): one blocking connection
 * per store (or per cluster node), opened lazily; any I/O or protocol
 * error drops it so the next call starts from a fresh connection.
 * Commands go with explicit lengths, so keys and values are binary-safe
 * and never reach a format string. */
#include "redis_topology.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cidr.h"
#include "util.h"

static struct rstore *impl(struct store *s) { return redis_impl(s); }

void redis_seterr(struct store *s, const char *fmt, ...)
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

void redis_first_word(const redisReply *rep, char *out, size_t outlen)
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
static enum store_err setup_cmd(struct store *s, struct redis_conn *c, const char *what,
	const char *where, int argc, const char **argv, const size_t *lens, redisReply **rep)
{
	*rep = redis_conn_command(c, argc, argv, lens);
	if (!*rep) {
		if (redis_conn_err(c) == REDIS_ERR_OOM) {
			redis_seterr(s, "%s %s: out of memory", what, where);
			return STORE_ERR_NOMEM;
		}
		redis_seterr(s, "%s %s: %s", what, where, redis_conn_reason(c));
		return STORE_ERR_CONNECT;
	}
	if ((*rep)->type == REDIS_REPLY_ERROR) {
		char word[32];
		redis_first_word(*rep, word, sizeof(word));
		redis_seterr(s, "%s %s: %s", what, where, word);
		freeReplyObject(*rep);
		*rep = NULL;
		return STORE_ERR_CONNECT;
	}
	return STORE_OK;
}

/* Connects to host:port (the unix socket when host is NULL), over TLS
 * when configured, with the given command timeout; what names the step
 * in errstr ("connect", "sentinel"). NULL with errstr filled and *e set.
 * A TLS failure is remembered for the health answer, and nothing is sent
 * on such a connection: no credentials reach an unverified server. */
static struct redis_conn *dial(struct store *s, const char *what, const char *host, int port,
	int command_timeout_ms, struct tls_session **session, enum store_err *e)
{
	struct rstore *r = impl(s);
	const struct redis_config *rc = &r->cfg;
	char where[300], err[200];
	bool nomem;
	enum tls_failure why;

	describe(rc, host, port, where, sizeof(where));
	if (rc->tls && host && !r->tls) {
		redis_seterr(s, "%s %s: TLS: %s", what, where, r->tls_setup_err);
		r->tls_failed = TLS_FAIL_HANDSHAKE;
		*e = STORE_ERR_CONNECT;
		return NULL;
	}
	struct redis_conn_target t = {
		.host = host, .port = port, .unix_path = rc->unix_path,
		.connect_timeout_ms = rc->connect_timeout_ms, .command_timeout_ms = command_timeout_ms,
		.tls = rc->tls ? r->tls : NULL,
		.tls_name = rc->tls_server_name[0] ? rc->tls_server_name : host,
		.tls_session = session,
	};
	struct redis_conn *c = redis_conn_open(&t, err, sizeof(err), &nomem, &why);
	r->tls_failed = why;
	if (!c) {
		redis_seterr(s, "%s %s: %s", what, where, err);
		*e = nomem ? STORE_ERR_NOMEM : STORE_ERR_CONNECT;
		return NULL;
	}
	if (redis_conn_resumed(c))
		r->tls_resumed++;
	return c;
}

/* Opens one connection (unix socket when host is NULL) with the command
 * timeout, AUTH and SELECT. Returns it ready or NULL with errstr filled
 * and *e set. */
static struct redis_conn *open_conn(struct store *s, const char *host, int port,
	struct tls_session **session, enum store_err *e)
{
	const struct redis_config *rc = &impl(s)->cfg;
	char where[300];
	char dbnum[16];
	redisReply *rep = NULL;
	struct redis_conn *c = dial(s, "connect", host, port, rc->command_timeout_ms, session, e);

	if (!c)
		return NULL;
	describe(rc, host, port, where, sizeof(where));
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
	redis_conn_free(c);
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
	struct tls_session **session, char *host, size_t hostlen, int *port)
{
	const struct redis_config *rc = &impl(s)->cfg;
	char where[300];
	const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", rc->sentinel_master };
	size_t lens[3] = { 8, 23, strlen(rc->sentinel_master) };
	const redisReply *h, *p;
	redisReply *rep = NULL;
	char pbuf[8];
	long pn = 0;
	enum store_err e;
	/* A sentinel answers from memory: the connect timeout bounds it too. */
	struct redis_conn *c = dial(s, "sentinel", ep->host, ep->port, rc->connect_timeout_ms,
		session, &e);

	if (!c)
		return e;
	snprintf(where, sizeof(where), "%s:%d", ep->host, ep->port);
	if ((e = setup_cmd(s, c, "sentinel", where, 3, argv, lens, &rep)) != STORE_OK)
		goto out;
	e = STORE_ERR_CONNECT;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		redis_seterr(s, "sentinel %s: no address for the master", where);
		goto out;
	}
	h = rep->element[0];
	p = rep->element[1];
	if (h->len == 0 || h->len >= hostlen || memchr(h->str, '\0', h->len)) {
		redis_seterr(s, "sentinel %s: bad master host", where);
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
		redis_seterr(s, "sentinel %s: bad master port", where);
		goto out;
	}
	memcpy(host, h->str, h->len);
	host[h->len] = '\0';
	*port = (int)pn;
	e = STORE_OK;
out:
	if (rep)
		freeReplyObject(rep);
	redis_conn_free(c);
	return e;
}

/* Whether a server named by another (a cluster node by MOVED/ASK or
 * CLUSTER SLOTS, the master by a sentinel) may be connected to, and so
 * sent AUTH: a configured host (a seed's, a sentinel's), or a name,
 * address or range of REDIS_CLUSTER_ALLOWED_HOSTS or
 * REDIS_SENTINEL_ALLOWED_HOSTS; any port. Names compare as text (no
 * resolving: DNS would be one more thing to trust), addresses by value
 * ("::1" is "0::1"). */
static bool host_allowed(const struct redis_config *rc, const char *host, size_t len)
{
	struct ip_addr ip, seed_ip;
	bool is_ip = ip_parse(host, len, &ip) == 0;
	const struct redis_endpoint *known = rc->n_sentinels ? rc->sentinels : rc->cluster_seeds;
	size_t n_known = rc->n_sentinels ? rc->n_sentinels : rc->n_cluster_seeds;
	for (size_t i = 0; i < n_known; i++) {
		const char *h = known[i].host;
		if (strlen(h) == len && strncasecmp(h, host, len) == 0)
			return true;
		if (is_ip && ip_parse(h, strlen(h), &seed_ip) == 0 &&
		    memcmp(&ip, &seed_ip, sizeof(ip)) == 0)
			return true;
	}
	for (size_t i = 0; i < rc->n_allowed_names; i++) {
		const char *h = rc->allowed_names[i];
		if (strlen(h) == len && strncasecmp(h, host, len) == 0)
			return true;
	}
	return is_ip && cidr_list_contains(&rc->allowed_nets, &ip);
}

/* Sentinel discovery: each sentinel in turn (starting with the one that
 * last worked), connect to its answer, keep it only if ROLE says master. */
static struct redis_conn *discover(struct store *s, enum store_err *e)
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
		int port = 0;
		enum store_err se = sentinel_ask(s, &r->cfg.sentinels[idx], &r->sentinel_session[idx],
			host, sizeof(host), &port);
		if (se == STORE_ERR_NOMEM) {
			*e = se;
			return NULL;
		}
		if (se != STORE_OK)
			continue;
		if (r->cfg.sentinel_allowlist && !host_allowed(&r->cfg, host, strlen(host))) {
			redis_seterr(s, "sentinel %s:%d named a master on %s, a host not allowed "
			             "(REDIS_SENTINEL_ALLOWED_HOSTS)", r->cfg.sentinels[idx].host,
			             r->cfg.sentinels[idx].port, host);
			metrics_count_redis_error(s->metrics, METRICS_REDIS_ADDRESS_REFUSED);
			continue;
		}
		struct redis_conn *c = open_conn(s, host, port, &r->session, &se);
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
			redis_seterr(s, "ROLE %s: not a master", where);
		}
		redis_conn_free(c);
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
	if (r->conn)
		return STORE_OK;
	if (r->cfg.n_sentinels > 0)
		r->conn = discover(s, &e);
	else
		r->conn = open_conn(s, r->cfg.unix_path[0] ? NULL : r->cfg.host, r->cfg.port,
			&r->session, &e);
	if (!r->conn)
		return e;
	if (r->connected_once)
		metrics_count_redis_reconnect(s->metrics);
	r->connected_once = true;
	return STORE_OK;
}

static void drop_conn(struct rstore *r)
{
	redis_conn_free(r->conn);
	r->conn = NULL;
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
		bool reused = r->conn != NULL;
		enum store_err e = ensure_conn(s);
		if (e != STORE_OK)
			return e;
		redisReply *rep = redis_conn_command(r->conn, argc, argv, lens);
		if (rep) {
			if (rep->type == REDIS_REPLY_ERROR) {
				char word[32];
				redis_first_word(rep, word, sizeof(word));
				redis_seterr(s, "%s: %s", what, word);
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
		int kind = redis_conn_err(r->conn);
		redis_seterr(s, "%s: %s", what, redis_conn_reason(r->conn));
		bool stale = reused && redis_conn_reset(r->conn);
		drop_conn(r);
		if (kind == REDIS_ERR_OOM)
			return STORE_ERR_NOMEM;
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
	redis_conn_free(r->cl->node_conn[i]);
	r->cl->node_conn[i] = NULL;
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
	for (size_t i = 0; i < CLUSTER_MAX_NODES; i++) { /* indices change */
		tls_session_free(r->cl->node_session[i]);
		r->cl->node_session[i] = NULL;
	}
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
static struct redis_conn *node_conn(struct store *s, int node, enum store_err *e)
{
	struct cluster_state *cl = impl(s)->cl;
	if (!cl->node_conn[node])
		cl->node_conn[node] = open_conn(s, cl->map.nodes[node].host, cl->map.nodes[node].port,
			&cl->node_session[node], e);
	return cl->node_conn[node];
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
			struct redis_conn *c = node_conn(s, node, &e);
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
				redis_seterr(s, "CLUSTER SLOTS %s: %d entries name hosts not allowed "
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
			redis_seterr(s, "CLUSTER SLOTS %s: %s", where,
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
static redisReply *node_command(struct redis_conn *c, bool asking, int argc, const char **argv,
	const size_t *lens)
{
	if (asking) {
		const char *aargv[1] = { "ASKING" };
		size_t alens[1] = { 6 };
		redisReply *rep = redis_conn_command(c, 1, aargv, alens);
		if (!rep)
			return NULL;
		freeReplyObject(rep); /* an error here shows in the command's reply */
	}
	return redis_conn_command(c, argc, argv, lens);
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
		redis_seterr(s, "%s: a script needs a key to be routed in a cluster", what);
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
			redis_seterr(s, "%s: no node serves slot %u", what, slot);
			last = STORE_ERR_CONNECT;
			refresh = true;
			continue;
		}
		bool reused = r->cl->node_conn[node] != NULL;
		enum store_err e;
		struct redis_conn *c = node_conn(s, node, &e);
		if (!c) {
			if (e == STORE_ERR_NOMEM)
				return e;
			last = e;        /* never sent: safe to try again */
			refresh = true;
			continue;
		}
		redisReply *rep = node_command(c, asking, argc, argv, lens);
		asking = false;
		if (!rep) {
			int kind = redis_conn_err(c);
			bool reset = redis_conn_reset(c);
			redis_seterr(s, "%s: %s", what, redis_conn_reason(c));
			drop_node_conn(r, (size_t)node);
			r->cl->map_stale = true;
			if (kind == REDIS_ERR_OOM)
				return STORE_ERR_NOMEM;
			/* As with one server: a connection found dead on first use
			 * gets one fresh attempt; anything else may have run. */
			bool stale = reused && !stale_retried && reset;
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
		redis_first_word(rep, word, sizeof(word));
		redis_seterr(s, "%s: %s", what, word);
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
				redis_seterr(s, "%s: %s to a host not allowed (REDIS_CLUSTER_ALLOWED_HOSTS)",
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

enum store_err redis_run(struct store *s, const char *what, int argc, const char **argv,
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

int redis_topology_init(struct rstore *r)
{
	if (r->cfg.n_cluster_seeds > 0) {
		r->cl = calloc(1, sizeof(*r->cl));
		if (!r->cl)
			return -1;
		cluster_init(r);
	}
	if (r->cfg.tls) {
		/* A bad file fails each connect with the reason (and health
		 * says redis_tls), as an unreachable server would. */
		struct tls_client_config tc = { r->cfg.tls_ca_file, r->cfg.tls_cert_file,
			r->cfg.tls_key_file, r->cfg.tls_insecure };
		r->tls = tls_client_new(&tc, r->tls_setup_err, sizeof(r->tls_setup_err));
	}
	return 0;
}

void redis_topology_free(struct rstore *r)
{
	drop_conn(r);
	drop_node_conns(r);
	if (r->cl)
		for (size_t i = 0; i < CLUSTER_MAX_NODES; i++)
			tls_session_free(r->cl->node_session[i]);
	free(r->cl);
	r->cl = NULL;
	tls_session_free(r->session);
	for (size_t i = 0; i < CFG_MAX_SENTINELS; i++)
		tls_session_free(r->sentinel_session[i]);
	tls_client_free(r->tls);
	r->tls = NULL;
}
