/* store: the key/value store behind sessions, as a small function table so
 * tests can swap in a failing implementation. store_redis.c is the only
 * hiredis user: one connection per worker, connect and command timeouts,
 * reconnect on the next call after any failure, binary-safe argv commands. */
#ifndef SGID_STORE_H
#define SGID_STORE_H

#include <stddef.h>
#include "buf.h"
#include "cfg.h"
#include "metrics.h"

enum store_err {
	STORE_OK,
	STORE_NOT_FOUND,
	STORE_EXISTS,        /* SET NX: the key is there already */
	STORE_ERR_CONNECT,   /* could not connect / authenticate / select db */
	STORE_ERR_IO,        /* timeout, connection lost mid-command */
	STORE_ERR_REPLY,     /* error reply (OOM, READONLY, ...) or unexpected type */
	STORE_ERR_NOMEM,
	STORE_ERR__MAX
};
const char *store_strerror(enum store_err err);

/* When a SET writes: always, only if the key is absent (single-use
 * markers), or only if it exists (a write must not resurrect a record that
 * was deleted meanwhile). */
enum store_set_cond { STORE_SET_ALWAYS, STORE_SET_NX, STORE_SET_XX };

/* Whether the store takes writes now, from store_probe_write. */
enum store_write_state {
	STORE_WRITABLE,
	STORE_UNREACHABLE,     /* connect, auth, I/O or timeout */
	STORE_READ_ONLY,       /* READONLY (a replica), MASTERDOWN (a stale one) */
	STORE_NO_REPLICAS,     /* NOREPLICAS: min-replicas-to-write not met */
	STORE_FULL,            /* OOM: maxmemory with a policy that cannot evict */
	STORE_WRITE_REFUSED,   /* any other error reply (MISCONF: a failed save) */
	STORE_TLS_FAILED,      /* rediss://: the certificate or the handshake
	                          failed (wrong cert, expired, name, CA, no TLS) */
	STORE_WRITE_STATE__MAX
};

struct store;
struct store_ops {
	/* SET key val EX ttl [NX|XX]; ttl_s <= 0 is refused (STORE_ERR_REPLY).
	 * When the condition holds the write back: STORE_EXISTS (NX) or
	 * STORE_NOT_FOUND (XX). */
	enum store_err (*set)(struct store *s, const char *key, size_t klen,
		const void *val, size_t vlen, int ttl_s, enum store_set_cond cond);
	/* GET key; ttl_s > 0 also refreshes the expiry (GETEX key EX ttl).
	 * get and getdel empty out first; on STORE_OK it holds the value. */
	enum store_err (*get)(struct store *s, const char *key, size_t klen, int ttl_s,
		struct buf *out);
	/* GETDEL key: atomic read-and-delete, for single-use records */
	enum store_err (*getdel)(struct store *s, const char *key, size_t klen, struct buf *out);
	/* STORE_OK whether or not the key existed */
	enum store_err (*del)(struct store *s, const char *key, size_t klen);
	enum store_err (*ping)(struct store *s);
	/* SET of a health key with a short TTL: the write a login makes, so
	 * the refusals a login would meet show here as they would there. */
	enum store_write_state (*probe_write)(struct store *s);
	void (*destroy)(struct store *s);

	/* A user's sessions: records indexed by a sorted set (idx) of their
	 * keys scored by absolute expiry (unix ms). Each op is one atomic script; idx and
	 * every key given or listed in it share one hash slot ({user tag}),
	 * so the ops hold on Redis Cluster too. Keys are C strings. */
	/* SET key val EX ttl and ZADD idx expires_ms key; drops members that
	 * expired at or before now_ms or whose record is gone; past max
	 * members the ones expiring first, never key, are dropped and their
	 * records deleted (*evicted counts them); idx then lives at least
	 * idx_ttl. */
	enum store_err (*index_add)(struct store *s, const char *idx, const char *key,
		const void *val, size_t vlen, int ttl_s, long long expires_ms, long long now_ms,
		int max, int idx_ttl_s, int *evicted);
	/* DEL of each key (up to two: the current and the previous name) and
	 * ZREM of each from idx. */
	enum store_err (*index_del)(struct store *s, const char *idx, const char *key,
		const char *key2);
	/* Moves the record old to key (SET NX, val EX ttl) and its index
	 * entry, only if old still exists: STORE_NOT_FOUND when neither old
	 * nor key does (deleted meanwhile); STORE_OK when moved, or already
	 * moved by another call. */
	enum store_err (*index_move)(struct store *s, const char *idx, const char *old,
		const char *key, const void *val, size_t vlen, int ttl_s, long long expires_ms);
	/* Counts the live records idx lists, pruning the dead entries; with
	 * purge, deletes every record and idx itself (*n: records deleted),
	 * each record named in the script's KEYS (Redis Cluster migrations). */
	enum store_err (*index_scan)(struct store *s, const char *idx, int purge, long long *n);
};

struct store {
	const struct store_ops *ops;
	void *impl;
	char errstr[160];    /* detail of the last failure, no values */
	struct metrics_block *metrics; /* the thread's counters, NULL: none */
};

/* Connects lazily: creation never fails for an unreachable server. NULL
 * only when out of memory. With n_sentinels > 0 the master is found through
 * the sentinels (SENTINEL get-master-addr-by-name, then ROLE must say
 * master) and found again after any failure; sentinels are asked without
 * AUTH. With n_cluster_seeds > 0 it is a Redis Cluster client: commands
 * are routed by the hash slot of their key (EVAL/EVALSHA: the first key),
 * MOVED/ASK followed, CLUSTERDOWN/TRYAGAIN/LOADING and dead nodes retried
 * with back-off within the command timeout (cluster_slots.h). A process
 * using it must ignore SIGPIPE (worker_main does): a
 * write to a vanished server is then an error, not a death. */
struct store *store_redis_new(const struct redis_config *rc);
void store_free(struct store *s); /* NULL ok */

static inline enum store_err store_set(struct store *s, const char *k, size_t kl,
	const void *v, size_t vl, int ttl, enum store_set_cond cond)
	{ return s->ops->set(s, k, kl, v, vl, ttl, cond); }
static inline enum store_err store_get(struct store *s, const char *k, size_t kl, int ttl,
	struct buf *out) { return s->ops->get(s, k, kl, ttl, out); }
static inline enum store_err store_getdel(struct store *s, const char *k, size_t kl,
	struct buf *out) { return s->ops->getdel(s, k, kl, out); }
static inline enum store_err store_del(struct store *s, const char *k, size_t kl)
	{ return s->ops->del(s, k, kl); }
static inline enum store_err store_ping(struct store *s) { return s->ops->ping(s); }
static inline enum store_write_state store_probe_write(struct store *s)
	{ return s->ops->probe_write(s); }
static inline enum store_err store_index_add(struct store *s, const char *idx, const char *key,
	const void *v, size_t vl, int ttl, long long expires_ms, long long now_ms, int max,
	int idx_ttl, int *evicted)
	{ return s->ops->index_add(s, idx, key, v, vl, ttl, expires_ms, now_ms, max, idx_ttl, evicted); }
static inline enum store_err store_index_del(struct store *s, const char *idx, const char *key,
	const char *key2) { return s->ops->index_del(s, idx, key, key2); }
static inline enum store_err store_index_move(struct store *s, const char *idx, const char *old,
	const char *key, const void *v, size_t vl, int ttl, long long expires_ms)
	{ return s->ops->index_move(s, idx, old, key, v, vl, ttl, expires_ms); }
static inline enum store_err store_index_scan(struct store *s, const char *idx, int purge,
	long long *n) { return s->ops->index_scan(s, idx, purge, n); }

#endif
