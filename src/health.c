#include "health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "log.h"
#include "util.h"

static const char *const reasons[] = {
	[STORE_WRITABLE] = "ok",
	[STORE_UNREACHABLE] = "redis_unreachable",
	[STORE_READ_ONLY] = "redis_read_only",
	[STORE_NO_REPLICAS] = "redis_min_replicas",
	[STORE_FULL] = "redis_oom",
	[STORE_WRITE_REFUSED] = "redis_write_refused",
	[STORE_TLS_FAILED] = "redis_tls",
};
_Static_assert(ARRAY_LEN(reasons) == STORE_WRITE_STATE__MAX, "reasons");

#define NEVER INT64_MIN

/* The process's last answer. probe_lock: one prober at a time; the
 * answer is stored before its time, so a reader that sees the new time
 * sees the new answer. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int cached_state;
static _Atomic int64_t cached_at_ms = NEVER;

const char *health_reason(enum store_write_state st)
{
	return (unsigned)st < STORE_WRITE_STATE__MAX ? reasons[st] : "redis_write_refused";
}

static bool fresh(int64_t at)
{
	return at != NEVER && now_monotonic_ms() - at < HEALTH_CACHE_MS;
}

enum store_write_state health_check(struct store *s)
{
	if (fresh(atomic_load(&cached_at_ms)))
		return (enum store_write_state)atomic_load(&cached_state);
	/* Stale: wait for the probe in progress, if any (bounded by the store's
	 * command timeout), rather than hand out an answer older than
	 * HEALTH_CACHE_MS: readiness must say what Redis is now. */
	pthread_mutex_lock(&probe_lock);
	/* another thread may have probed between our look and the lock */
	if (!fresh(atomic_load(&cached_at_ms))) {
		enum store_write_state probed = store_probe_write(s);
		/* logged by the prober only: the detail is in its store */
		if (probed != STORE_WRITABLE)
			log_error("health: not ready: %s: %s", health_reason(probed), s->errstr);
		atomic_store(&cached_state, (int)probed);
		atomic_store(&cached_at_ms, now_monotonic_ms());
	}
	enum store_write_state st = (enum store_write_state)atomic_load(&cached_state);
	pthread_mutex_unlock(&probe_lock);
	return st;
}

void health_forget(void)
{
	atomic_store(&cached_at_ms, NEVER);
}
