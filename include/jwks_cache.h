/* jwks_cache: a provider's JWKS, shared by the request threads of a
 * process behind one lock (sgID's and Singpass's alike). Verifications read
 * it under the lock; one fetch runs at a time with the lock released (the
 * other threads that need it wait for that fetch's result); a key the set
 * does not hold triggers one refetch, throttled for the whole process, so a
 * forged kid cannot make the provider's JWKS endpoint a request amplifier. */
#ifndef SGID_JWKS_CACHE_H
#define SGID_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include "jose.h"

struct jwks_cache {
	pthread_mutex_t lock;
	pthread_cond_t fetch_done;
	bool fetching;                /* a thread is fetching, lock released */
	uint64_t fetches_done;        /* fetches ended, failed or not */
	bool last_fetch_failed;       /* the one that ended last */
	struct jwks jwks;
	bool loaded;
	bool refetched;               /* an unknown-kid refetch happened */
	int64_t last_refetch_ms;      /* monotonic; throttles those refetches */
};
int jwks_cache_init(struct jwks_cache *jc);
void jwks_cache_free(struct jwks_cache *jc); /* NULL ok */

/* What a use of the set says: done (whatever its verdict), or the key it
 * needs is not in the set (a refetch may bring it). */
enum jwks_use { JWKS_USE_DONE, JWKS_USE_UNKNOWN_KEY };

/* The caller's two halves: fetch fills fresh from the network (0, or -1
 * with the caller's error detail set); it runs without the lock. use runs
 * with the lock held and the set loaded. */
struct jwks_cache_user {
	int (*fetch)(void *ud, struct jwks *fresh);
	enum jwks_use (*use)(void *ud, const struct jwks *keys);
	void *ud;
};

enum jwks_cache_rc {
	JWKS_CACHE_OK,                /* use ran: its verdict is the caller's */
	JWKS_CACHE_FETCH_FAILED,      /* the set could not be loaded */
	JWKS_CACHE_SHARED_FAILURE,    /* not loaded: the fetch this call waited
	                                 for (another thread's) failed */
	JWKS_CACHE_THROTTLED,         /* the key is unknown, and a refetch ran
	                                 less than refetch_interval_s ago */
};

/* Loads the set when it is not yet (the first load is not throttled; a
 * thread that waited for a fetch that failed shares that failure instead
 * of starting its own, so a stalled provider costs the threads one
 * timeout, not one each in a row), runs
 * use; when use says the key is unknown, refetches once (unless throttled)
 * and runs use again. *refetched (may be NULL): whether an unknown-kid
 * refetch ran, for the caller's metrics. */
enum jwks_cache_rc jwks_cache_use(struct jwks_cache *jc, int refetch_interval_s,
	const struct jwks_cache_user *u, bool *refetched);

#endif
