/* health: readiness, as the load balancer asks it. The store must answer
 * and take a write (store_probe_write); the answer is kept for at most
 * HEALTH_CACHE_MS per process, so probes from many balancers (and many
 * threads) cost Redis one SET a second per worker at most. */
#ifndef SGID_HEALTH_H
#define SGID_HEALTH_H

#include "store.h"

#define HEALTH_CACHE_MS 1000

/* The process's answer: probes with s (the calling thread's store) when
 * the cached one is older than HEALTH_CACHE_MS. One thread probes at a
 * time; the others wait for its answer (never one older than
 * HEALTH_CACHE_MS: under load, a stale "ready" handed out while the probe
 * ran said 200 for a read-only Redis). */
enum store_write_state health_check(struct store *s);
/* The 503's reason: "redis_unreachable", "redis_read_only",
 * "redis_min_replicas", "redis_oom", "redis_write_refused", "redis_tls"
 * ("ok" when writable). */
const char *health_reason(enum store_write_state st);
/* Forgets the cached answer (tests). */
void health_forget(void);

#endif
