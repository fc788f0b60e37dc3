/* jwks_cache: a provider's JWKS, shared by the request threads of a
 * process behind one lock (sgID's and Singpass's alike). Verifications read
 * it under the lock; one fetch runs at a time with the lock released (the
 * threads without a set, or without the key they need, wait for that
 * fetch's result; the others go on with the set they have); a key the set
 * does not hold triggers one refetch, throttled for the whole process, so a
 * forged kid cannot make the provider's JWKS endpoint a request amplifier.
 * A set older than JWKS_CACHE_MAX_AGE_S is loaded again on its next use, so
 * a key the provider withdrew (rotated out, or compromised) stops being
 * trusted within that time, not only when the worker restarts; a reload
 * that fails keeps the set it has and is tried again one refetch interval
 * later (the provider's JWKS briefly down stops no login). */
#ifndef SGID_JWKS_CACHE_H
#define SGID_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include "jose.h"

#define JWKS_CACHE_MAX_AGE_S 3600  /* a loaded set is reloaded when this old */

struct jwks_cache {
	pthread_mutex_t lock;
	pthread_cond_t fetch_done;
	bool fetching;                /* a thread is fetching, lock released */
	uint64_t fetches_done;        /* fetches ended: a waiter waits for the one
	                                 it found, not for those after it */
	struct jwks jwks;
	bool loaded;
	bool refetched;               /* a refetch (unknown kid, or age) happened */
	int64_t last_refetch_ms;      /* monotonic; throttles unknown-kid refetches */
	int64_t loaded_ms;            /* monotonic: when the set was loaded */
	int64_t aged_try_ms;          /* monotonic: the last reload for age */
	int64_t (*now_ms)(void);      /* the monotonic clock (tests inject one) */
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
	JWKS_CACHE_THROTTLED,         /* the key is unknown, and a refetch ran
	                                 less than refetch_interval_s ago */
};

/* Loads the set when it is not yet (the first load is not throttled; a
 * thread that waited for a first load which failed fails with it) or
 * it is JWKS_CACHE_MAX_AGE_S old (a failure keeps the old set; the next try
 * waits refetch_interval_s), runs use; when use says the key is unknown,
 * refetches once (unless throttled) and runs use again. *refetched (may
 * be NULL): whether an unknown-kid refetch ran, for the caller's metrics. */
enum jwks_cache_rc jwks_cache_use(struct jwks_cache *jc, int refetch_interval_s,
	const struct jwks_cache_user *u, bool *refetched);

#endif
