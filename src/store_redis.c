/* The session commands on Redis: the store ops, the readiness probe and
 * the scripts that keep a record and its user's index in step. How the
 * commands reach Redis (one server, Sentinel, Cluster; TCP, unix socket,
 * TLS) is redis_topology.c's; with redis_conn.c these three files are
 * the hiredis owner (hiredis 0.14: no TLS, no Sentinel or Cluster). */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_topology.h"
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

static enum store_err reply_value(struct store *s, const char *what, redisReply *rep,
	struct buf *out)
{
	enum store_err e;
	if (rep->type == REDIS_REPLY_NIL) {
		e = STORE_NOT_FOUND;
	} else if (rep->type == REDIS_REPLY_STRING) {
		e = buf_append(out, rep->str, rep->len) == 0 ? STORE_OK : STORE_ERR_NOMEM;
		if (e != STORE_OK)
			redis_seterr(s, "%s: out of memory", what);
	} else {
		redis_seterr(s, "%s: unexpected reply type %d", what, rep->type);
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
		redis_seterr(s, "SET: ttl must be positive");
		return STORE_ERR_REPLY;
	}
	int n = snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	const char *argv[6] = { "SET", key, val, "EX", ttl, cond == STORE_SET_NX ? "NX" : "XX" };
	size_t lens[6] = { 3, klen, vlen, 2, (size_t)n, 2 };
	enum store_err e = redis_run(s, "SET", cond == STORE_SET_ALWAYS ? 5 : 6, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type == REDIS_REPLY_NIL && cond != STORE_SET_ALWAYS) {
		e = cond == STORE_SET_NX ? STORE_EXISTS : STORE_NOT_FOUND;
	} else if (!(rep->type == REDIS_REPLY_STATUS && str_eq_n(rep->str, rep->len, "OK"))) {
		redis_seterr(s, "SET: unexpected reply type %d", rep->type);
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
		e = redis_run(s, "GETEX", 4, argv, lens, &rep);
	} else {
		const char *argv[2] = { "GET", key };
		size_t lens[2] = { 3, klen };
		e = redis_run(s, "GET", 2, argv, lens, &rep);
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
	enum store_err e = redis_run(s, "GETDEL", 2, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	return reply_value(s, "GETDEL", rep, out);
}

static enum store_err rs_del(struct store *s, const char *key, size_t klen)
{
	redisReply *rep;
	const char *argv[2] = { "DEL", key };
	size_t lens[2] = { 3, klen };
	enum store_err e = redis_run(s, "DEL", 2, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type != REDIS_REPLY_INTEGER) {
		redis_seterr(s, "DEL: unexpected reply type %d", rep->type);
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
	enum store_err e = redis_run(s, "PING", 1, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (!(rep->type == REDIS_REPLY_STATUS && str_eq_n(rep->str, rep->len, "PONG"))) {
		redis_seterr(s, "PING: unexpected reply type %d", rep->type);
		e = STORE_ERR_REPLY;
	}
	freeReplyObject(rep);
	return e;
}

#define HEALTH_KEY "sgid:health"
#define HEALTH_TTL "10"

/* redis_run() leaves "<what>: <first word of the error reply>" in errstr. */
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
	enum store_err e = redis_run(s, what, 5, argv, lens, &rep);
	if (e == STORE_OK) {
		freeReplyObject(rep);
		return STORE_WRITABLE;
	}
	if (e == STORE_ERR_CONNECT && (redis_impl(s)->tls_failed == TLS_FAIL_VERIFY ||
	                               redis_impl(s)->tls_failed == TLS_FAIL_HANDSHAKE))
		return STORE_TLS_FAILED;
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
	struct slot_map *m = &redis_impl(s)->cl->map;
	if (m->n_covered == 0 || redis_impl(s)->cl->map_stale)
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
	if (redis_impl(s)->cl)
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
		redis_seterr(s, "%s: too many arguments", what);
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
	enum store_err e = redis_run(s, what, argc, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	if (rep->type == REDIS_REPLY_INTEGER) {
		*n = rep->integer;
	} else {
		redis_seterr(s, "%s: unexpected reply type %d", what, rep->type);
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
		redis_seterr(s, "index add: ttl and max must be positive");
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
		redis_seterr(s, "index move: ttl must be positive");
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
	enum store_err e = redis_run(s, what, 4, argv, lens, &rep);
	if (e != STORE_OK)
		return e;
	*got = 0;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements > SCAN_BATCH) {
		redis_seterr(s, "%s: unexpected reply", what);
		e = STORE_ERR_REPLY;
	}
	for (size_t i = 0; e == STORE_OK && i < rep->elements; i++) {
		const redisReply *m = rep->element[i];
		if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len >= MEMBER_MAX ||
		    memchr(m->str, '\0', m->len)) {
			redis_seterr(s, "%s: a member is no record name", what);
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
	redis_seterr(s, "index scan: entries left after %d rounds", SCAN_MAX_ROUNDS);
	return STORE_ERR_REPLY;
}

static void rs_destroy(struct store *s)
{
	struct rstore *r = redis_impl(s);
	if (r) {
		redis_topology_free(r);
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
	r->cfg.tls_ca_file[sizeof(r->cfg.tls_ca_file) - 1] = '\0';
	r->cfg.tls_cert_file[sizeof(r->cfg.tls_cert_file) - 1] = '\0';
	r->cfg.tls_key_file[sizeof(r->cfg.tls_key_file) - 1] = '\0';
	r->cfg.tls_server_name[sizeof(r->cfg.tls_server_name) - 1] = '\0';
	if (redis_topology_init(r) != 0)
		goto fail;
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
