/* jwks_cache: the process's copy of a provider's JWKS (jwks_cache.h). */
#include "jwks_cache.h"

#include <string.h>

#include "util.h"

int jwks_cache_init(struct jwks_cache *jc)
{
	memset(jc, 0, sizeof(*jc));
	jc->now_ms = now_monotonic_ms;
	if (pthread_mutex_init(&jc->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&jc->fetch_done, NULL) != 0) {
		pthread_mutex_destroy(&jc->lock);
		return -1;
	}
	return 0;
}

void jwks_cache_free(struct jwks_cache *jc)
{
	if (!jc)
		return;
	jwks_clear(&jc->jwks);
	pthread_cond_destroy(&jc->fetch_done);
	pthread_mutex_destroy(&jc->lock);
}

/* With jc->lock held and no fetch in flight: fetches the set (the lock
 * released meanwhile: the threads without a set wait for this fetch,
 * those with one go on using it) and installs it. Returns with the lock
 * held. */
static int refresh_locked(struct jwks_cache *jc, const struct jwks_cache_user *u)
{
	struct jwks fresh = {0};
	jc->fetching = true;
	pthread_mutex_unlock(&jc->lock);
	int rc = u->fetch(u->ud, &fresh);
	pthread_mutex_lock(&jc->lock);
	if (rc == 0) {
		jwks_clear(&jc->jwks);
		jc->jwks = fresh;
		jc->loaded = true;
		jc->loaded_ms = jc->now_ms();
	} else {
		jwks_clear(&fresh);
	}
	jc->fetching = false;
	jc->fetches_done++;
	pthread_cond_broadcast(&jc->fetch_done);
	return rc;
}

enum jwks_cache_rc jwks_cache_use(struct jwks_cache *jc, int refetch_interval_s,
	const struct jwks_cache_user *u, bool *refetched)
{
	enum jwks_cache_rc rc = JWKS_CACHE_OK;
	bool waited = false;

	if (refetched)
		*refetched = false;
	pthread_mutex_lock(&jc->lock);
	/* No set yet: wait for the load in flight, if any, and take its
	 * outcome (a failure fails every waiter at once, rather than each
	 * fetching in turn, one timeout after the one before); else load it. */
	uint64_t seen = jc->fetches_done;
	while (!jc->loaded && jc->fetching && jc->fetches_done == seen) {
		waited = true;
		pthread_cond_wait(&jc->fetch_done, &jc->lock);
	}
	if (!jc->loaded && (waited || refresh_locked(jc, u) != 0)) {
		rc = JWKS_CACHE_FETCH_FAILED;
		goto done;
	}
	int64_t now = jc->now_ms(), interval_ms = (int64_t)refetch_interval_s * 1000;
	/* An old set is reloaded: the keys the provider withdrew go with it
	 * (meanwhile the other threads use the old set). A failed reload keeps
	 * what it has (stale keys beat no login while the provider's JWKS is
	 * briefly down) and waits an interval to retry. */
	if (!jc->fetching && now - jc->loaded_ms >= (int64_t)JWKS_CACHE_MAX_AGE_S * 1000 &&
	    (jc->aged_try_ms == 0 || now - jc->aged_try_ms >= interval_ms)) {
		jc->aged_try_ms = now;
		if (refresh_locked(jc, u) == 0) {
			/* just fetched: a kid it lacks needs no second fetch now */
			jc->refetched = true;
			jc->last_refetch_ms = now;
		}
	}
	if (u->use(u->ud, &jc->jwks) != JWKS_USE_UNKNOWN_KEY)
		goto done;
	/* A fetch in flight (another thread's) may bring the key: its result
	 * is this thread's refetch. */
	if (jc->fetching) {
		seen = jc->fetches_done;
		while (jc->fetching && jc->fetches_done == seen)
			pthread_cond_wait(&jc->fetch_done, &jc->lock);
		u->use(u->ud, &jc->jwks);
		goto done;
	}
	/* Only refetches count towards the throttle, not the first load: a key
	 * rotated soon after a worker started is still picked up. */
	if (jc->refetched && now - jc->last_refetch_ms < interval_ms) {
		rc = JWKS_CACHE_THROTTLED;
		goto done;
	}
	jc->refetched = true;
	jc->last_refetch_ms = now;
	if (refetched)
		*refetched = true;
	if (refresh_locked(jc, u) != 0) {
		rc = JWKS_CACHE_FETCH_FAILED;
		goto done;
	}
	u->use(u->ud, &jc->jwks);
done:
	pthread_mutex_unlock(&jc->lock);
	return rc;
}
