/* redis_topology: how a store reaches Redis: one server (TCP, unix socket,
 * TLS), a master found through Sentinel, or a Redis Cluster routed by
 * hash slot. store_redis.c sends the session commands through
 * redis_run; this half owns the connections, AUTH/SELECT, discovery,
 * redirects and retries. Internal to the hiredis owner (redis_conn.c,
 * redis_topology.c, store_redis.c). */
#ifndef SGID_REDIS_TOPOLOGY_H
#define SGID_REDIS_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#include "cfg.h"
#include "cluster_slots.h"
#include "redis_conn.h"
#include "store.h"

/* Redis Cluster: the slot map and one lazily opened connection per node,
 * both private to the store's thread. */
struct cluster_state {
	struct slot_map map;
	struct redis_conn *node_conn[CLUSTER_MAX_NODES]; /* same index as map.nodes */
	struct tls_session *node_session[CLUSTER_MAX_NODES];
	bool map_stale;              /* read CLUSTER SLOTS before the next command */
	size_t refresh_next;         /* the node to ask for the map first */
};

struct rstore {
	struct redis_config cfg;     /* own copy; holds the password, wiped on free */
	struct redis_conn *conn;     /* NULL: connect on the next call */
	size_t sentinel_next;        /* the sentinel to ask first */
	bool connected_once;         /* a later connection is a reconnect */
	struct cluster_state *cl;    /* REDIS_CLUSTER only, else NULL */
	/* rediss:// only: the thread's TLS client and sessions to resume */
	struct tls_client *tls;
	char tls_setup_err[160];     /* why tls is NULL though cfg.tls is set */
	struct tls_session *session; /* the server's, or the master's */
	struct tls_session *sentinel_session[CFG_MAX_SENTINELS];
	enum tls_failure tls_failed; /* the last connect's TLS failure, if any */
	int tls_resumed;             /* handshakes that resumed (tests) */
};

static inline struct rstore *redis_impl(struct store *s) { return s->impl; }

/* errstr, kept printable (server texts end up there). */
void redis_seterr(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first word of an error reply ("OOM", "READONLY"): what follows may
 * quote arguments, so it is never copied. */
void redis_first_word(const redisReply *rep, char *out, size_t outlen);
/* Fills what store_redis_new leaves to this half: the cluster map, the
 * TLS client. -1 when out of memory. */
int redis_topology_init(struct rstore *r);
void redis_topology_free(struct rstore *r);
/* Every command goes through here: routed, retried, failures counted
 * once by kind. *out is a non-error reply on STORE_OK. */
enum store_err redis_run(struct store *s, const char *what, int argc, const char **argv,
	const size_t *lens, redisReply **out);

#endif
