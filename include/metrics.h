/* metrics: the counters of one request thread, and the text format they
 * are scraped in. A block lives in the thread's scoreboard slot (shared
 * memory); only that thread writes it, with relaxed atomics (a load and a
 * store: one writer, so no locked add), and a scrape sums the blocks. No
 * dependencies: store_redis.c and sgid.c get a pointer to their thread's
 * block and never see the scoreboard. Every label comes from a bounded set
 * fixed here. */
#ifndef SGID_METRICS_H
#define SGID_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Route labels: the API's routes in enum route_id order, then the
 * authorizer role and "none" (no route matched). */
#define METRICS_ROUTES 10
/* Status labels: the codes the API answers with, then "other". */
#define METRICS_STATUSES 16
/* Histogram upper bounds in seconds (+Inf is the extra, last bucket). */
#define METRICS_BUCKETS 13
/* Login outcomes: enum login_outcome (outcome.h), checked in metrics.c. */
#define METRICS_LOGIN_OUTCOMES 18

/* Calls to the identity provider (sgID's three; Singpass's PAR and
 * discovery too). */
enum metrics_sgid_call { METRICS_CALL_TOKEN, METRICS_CALL_USERINFO, METRICS_CALL_JWKS,
	METRICS_CALL_PAR, METRICS_CALL_DISCOVERY, METRICS_CALLS };
/* The gateway's access rules (SGID_REQUIRE): a logged-in user let in,
 * refused (403), or a rule that does not compile (500). */
enum metrics_access { METRICS_ACCESS_ALLOWED, METRICS_ACCESS_DENIED, METRICS_ACCESS_RULE_ERROR,
	METRICS_ACCESS_OUTCOMES };
/* address_refused: a Redis Cluster redirect or CLUSTER SLOTS entry naming
 * a host REDIS_CLUSTER_ALLOWED_HOSTS does not allow (never connected to). */
enum metrics_redis_err { METRICS_REDIS_CONNECT, METRICS_REDIS_IO, METRICS_REDIS_REPLY,
	METRICS_REDIS_ADDRESS_REFUSED, METRICS_REDIS_ERRS };

typedef _Atomic uint64_t metrics_counter;

struct metrics_histogram {
	metrics_counter bucket[METRICS_BUCKETS + 1]; /* not cumulative; last: +Inf */
	metrics_counter sum_us;
};

/* One request thread's counters (or their sum, or a dead worker's folded
 * in). Cache-line aligned so two threads never share a line. */
struct metrics_block {
	metrics_counter requests[METRICS_ROUTES][METRICS_STATUSES];
	struct metrics_histogram request_seconds[METRICS_ROUTES];
	metrics_counter logins[METRICS_LOGIN_OUTCOMES];
	struct metrics_histogram sgid_seconds[METRICS_CALLS];
	metrics_counter sgid_errors[METRICS_CALLS];
	metrics_counter jwks_refetches;
	metrics_counter redis_errors[METRICS_REDIS_ERRS];
	metrics_counter redis_reconnects;
	metrics_counter audit_dropped;          /* audit events lost to write errors */
	metrics_counter userinfo_previous_key;  /* userinfo opened with the previous
	                                           client key (a key rotation) */
	metrics_counter access[METRICS_ACCESS_OUTCOMES]; /* gateway checks with a
	                                           rule, by outcome; keep last
	                                           (BLOCK_COUNTERS in metrics.c) */
} __attribute__((aligned(64)));

/* What only the supervisor writes. */
struct metrics_supervisor {
	_Atomic int64_t workers_alive;
	metrics_counter respawns;       /* workers started again after one exited */
	metrics_counter reloads;        /* SIGHUP reloads completed */
	metrics_counter reload_failures;
	_Atomic int64_t started_unix;   /* the pool's start, for uptime */
};

/* Recording: m NULL counts nothing (tests, a worker without a slot). */
static inline void metrics_inc(metrics_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* route: the name a request was logged with ("auth-url", "authorizer",
 * "-"); status: its HTTP status; us: its duration. */
void metrics_count_request(struct metrics_block *m, const char *route, int status, int64_t us);
void metrics_count_login(struct metrics_block *m, int login_outcome);
void metrics_count_sgid_call(struct metrics_block *m, enum metrics_sgid_call call, int64_t us,
	int ok);
void metrics_count_jwks_refetch(struct metrics_block *m);
void metrics_count_redis_error(struct metrics_block *m, enum metrics_redis_err kind);
void metrics_count_redis_reconnect(struct metrics_block *m);
void metrics_count_audit_dropped(struct metrics_block *m);
void metrics_count_userinfo_previous_key(struct metrics_block *m);
void metrics_count_access(struct metrics_block *m, enum metrics_access outcome);

/* Monotonic microseconds, for the durations above. */
int64_t metrics_now_us(void);

/* into += from, for each counter; zeroes a block. The caller makes sure
 * nobody writes from meanwhile (a reaped worker's slot, or a sum). */
void metrics_block_add(struct metrics_block *into, const struct metrics_block *from);
void metrics_block_zero(struct metrics_block *m);
/* Requests of a block, over every route and status. */
uint64_t metrics_block_requests(const struct metrics_block *m);

/* Label values, for the text format and tests. */
const char *metrics_route_name(size_t i);
const char *metrics_status_name(size_t i);
const char *metrics_call_name(size_t i);
const char *metrics_redis_err_name(size_t i);
const char *metrics_access_name(size_t i);
/* Bucket i's upper bound as text ("0.005", "+Inf"). */
const char *metrics_bucket_le(size_t i);

#endif
