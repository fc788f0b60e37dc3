#include "metrics.h"

#include <string.h>
#include <time.h>

static const char *const route_names[METRICS_ROUTES] = {
	"auth-url", "redirect", "userinfo", "logout", "health", "login", "auth", "jwks", /* enum route_id */
	"authorizer", "none",
};
/* the name server.c logs when no route matched */
#define ROUTE_LOGGED_NONE "-"

static const int status_codes[METRICS_STATUSES - 1] = {
	200, 204, 302, 303, 400, 401, 403, 404, 405, 413, 414, 429, 500, 502, 503,
};
static const char *const status_names[METRICS_STATUSES] = {
	"200", "204", "302", "303", "400", "401", "403", "404", "405", "413", "414", "429",
	"500", "502", "503", "other",
};

/* Seconds: sub-millisecond answers (auth-url, cached userinfo) up to the
 * sgID timeouts. */
static const double bucket_bounds_s[METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};
static const char *const bucket_les[METRICS_BUCKETS + 1] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "10", "+Inf",
};

static const char *const call_names[METRICS_CALLS] = { "token", "userinfo", "jwks", "par",
	"discovery" };
static const char *const redis_err_names[METRICS_REDIS_ERRS] = { "connect", "io", "reply",
	"address_refused" };
static const char *const access_names[METRICS_ACCESS_OUTCOMES] = { "allowed", "denied",
	"rule_error" };

#define NAME_AT(table, i) ((i) < sizeof(table) / sizeof((table)[0]) ? (table)[i] : NULL)
const char *metrics_route_name(size_t i) { return NAME_AT(route_names, i); }
const char *metrics_status_name(size_t i) { return NAME_AT(status_names, i); }
const char *metrics_call_name(size_t i) { return NAME_AT(call_names, i); }
const char *metrics_redis_err_name(size_t i) { return NAME_AT(redis_err_names, i); }
const char *metrics_access_name(size_t i) { return NAME_AT(access_names, i); }
const char *metrics_bucket_le(size_t i) { return NAME_AT(bucket_les, i); }

int64_t metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t route_index(const char *route)
{
	if (route && strcmp(route, ROUTE_LOGGED_NONE) != 0)
		for (size_t i = 0; i + 1 < METRICS_ROUTES; i++)
			if (strcmp(route, route_names[i]) == 0)
				return i;
	return METRICS_ROUTES - 1;
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < METRICS_STATUSES - 1; i++)
		if (status_codes[i] == status)
			return i;
	return METRICS_STATUSES - 1;
}

static void observe(struct metrics_histogram *h, int64_t us)
{
	if (us < 0)
		us = 0;
	double s = (double)us / 1e6;
	size_t b = 0;
	while (b < METRICS_BUCKETS && s > bucket_bounds_s[b])
		b++;
	metrics_inc(&h->bucket[b], 1);
	metrics_inc(&h->sum_us, (uint64_t)us);
}

void metrics_count_request(struct metrics_block *m, const char *route, int status, int64_t us)
{
	if (!m)
		return;
	size_t r = route_index(route);
	metrics_inc(&m->requests[r][status_index(status)], 1);
	observe(&m->request_seconds[r], us);
}

void metrics_count_login(struct metrics_block *m, int login_outcome)
{
	if (m && login_outcome >= 0 && login_outcome < METRICS_LOGIN_OUTCOMES)
		metrics_inc(&m->logins[login_outcome], 1);
}

void metrics_count_sgid_call(struct metrics_block *m, enum metrics_sgid_call call, int64_t us,
	int ok)
{
	if (!m || (unsigned)call >= METRICS_CALLS)
		return;
	observe(&m->sgid_seconds[call], us);
	if (!ok)
		metrics_inc(&m->sgid_errors[call], 1);
}

void metrics_count_jwks_refetch(struct metrics_block *m)
{
	if (m)
		metrics_inc(&m->jwks_refetches, 1);
}

void metrics_count_redis_error(struct metrics_block *m, enum metrics_redis_err kind)
{
	if (m && (unsigned)kind < METRICS_REDIS_ERRS)
		metrics_inc(&m->redis_errors[kind], 1);
}

void metrics_count_redis_reconnect(struct metrics_block *m)
{
	if (m)
		metrics_inc(&m->redis_reconnects, 1);
}

void metrics_count_audit_dropped(struct metrics_block *m)
{
	if (m)
		metrics_inc(&m->audit_dropped, 1);
}

void metrics_count_userinfo_previous_key(struct metrics_block *m)
{
	if (m)
		metrics_inc(&m->userinfo_previous_key, 1);
}

void metrics_count_access(struct metrics_block *m, enum metrics_access outcome)
{
	if (m && (unsigned)outcome < METRICS_ACCESS_OUTCOMES)
		metrics_inc(&m->access[outcome], 1);
}

/* The block is an array of counters and nothing else: add and zero walk
 * it as one, up to its last member. */
#define BLOCK_LAST access[METRICS_ACCESS_OUTCOMES - 1]
#define BLOCK_COUNTERS (offsetof(struct metrics_block, BLOCK_LAST) / sizeof(metrics_counter) + 1)
_Static_assert(offsetof(struct metrics_block, BLOCK_LAST) + sizeof(metrics_counter) <=
               sizeof(struct metrics_block), "metrics_block layout");

void metrics_block_add(struct metrics_block *into, const struct metrics_block *from)
{
	metrics_counter *dst = (metrics_counter *)into;
	const metrics_counter *src = (const metrics_counter *)from;
	for (size_t i = 0; i < BLOCK_COUNTERS; i++)
		metrics_inc(&dst[i], atomic_load_explicit(&src[i], memory_order_relaxed));
}

void metrics_block_zero(struct metrics_block *m)
{
	metrics_counter *c = (metrics_counter *)m;
	for (size_t i = 0; i < BLOCK_COUNTERS; i++)
		atomic_store_explicit(&c[i], 0, memory_order_relaxed);
}

uint64_t metrics_block_requests(const struct metrics_block *m)
{
	uint64_t n = 0;
	for (size_t r = 0; r < METRICS_ROUTES; r++)
		for (size_t s = 0; s < METRICS_STATUSES; s++)
			n += atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
	return n;
}
