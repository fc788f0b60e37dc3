/* jwks_cache: the provider's JWKS shared by a process's request threads.
 * One fetch at a time, its result shared by the threads that waited for
 * it: a success loads the set for all of them (one fetch), and a failure
 * (a stalled or broken provider) is their failure too, so they do not
 * each run another fetch in a row (each a whole timeout) behind it; a
 * thread that comes later tries again. An unknown kid refetches at most
 * once per interval. */
#include "jwks_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"

static atomic_int fetches, uses, arrived;
static atomic_bool gate_open;
static int fetch_rc;                    /* what the gated fetch answers */
static enum jwks_use use_answer = JWKS_USE_DONE;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int gated_fetch(void *ud, struct jwks *fresh)
{
	(void)ud;
	(void)fresh;
	atomic_fetch_add(&fetches, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(5);
	return fetch_rc;
}

static enum jwks_use count_use(void *ud, const struct jwks *keys)
{
	(void)ud;
	(void)keys;
	atomic_fetch_add(&uses, 1);
	return use_answer;
}

static struct jwks_cache jc;
static const struct jwks_cache_user user = { gated_fetch, count_use, NULL };

static void *one_use(void *rc)
{
	atomic_fetch_add(&arrived, 1);
	*(enum jwks_cache_rc *)rc = jwks_cache_use(&jc, 60, &user, NULL);
	return NULL;
}

enum { WAITERS = 3 };

/* One thread fetches (held at the gate) while WAITERS others arrive and
 * wait for it; then the gate opens with fetch_rc. rcs[0] is the fetcher's. */
static void race(enum jwks_cache_rc rcs[1 + WAITERS])
{
	pthread_t t[1 + WAITERS];
	atomic_store(&fetches, 0);
	atomic_store(&uses, 0);
	atomic_store(&arrived, 0);
	atomic_store(&gate_open, false);
	CHECK(pthread_create(&t[0], NULL, one_use, &rcs[0]) == 0);
	while (atomic_load(&fetches) == 0)
		sleep_ms(1);
	for (int i = 1; i <= WAITERS; i++)
		CHECK(pthread_create(&t[i], NULL, one_use, &rcs[i]) == 0);
	while (atomic_load(&arrived) < 1 + WAITERS)
		sleep_ms(1);
	sleep_ms(200); /* they reach the wait (valgrind: slowly) */
	atomic_store(&gate_open, true);
	for (int i = 0; i <= WAITERS; i++)
		pthread_join(t[i], NULL);
}

static void test_failure_shared(void)
{
	enum jwks_cache_rc rcs[1 + WAITERS];
	CHECK_INT(jwks_cache_init(&jc), 0);
	fetch_rc = -1;
	race(rcs);
	CHECK_INT(atomic_load(&fetches), 1);           /* not one per thread */
	CHECK_INT(rcs[0], JWKS_CACHE_FETCH_FAILED);
	for (int i = 1; i <= WAITERS; i++)
		CHECK_INT(rcs[i], JWKS_CACHE_FETCH_FAILED);
	CHECK_INT(atomic_load(&uses), 0);
	/* a later call, with the provider back, loads it */
	fetch_rc = 0;
	CHECK_INT(jwks_cache_use(&jc, 60, &user, NULL), JWKS_CACHE_OK);
	CHECK_INT(atomic_load(&fetches), 2);
	CHECK_INT(atomic_load(&uses), 1);
	jwks_cache_free(&jc);
}

static void test_success_shared(void)
{
	enum jwks_cache_rc rcs[1 + WAITERS];
	CHECK_INT(jwks_cache_init(&jc), 0);
	fetch_rc = 0;
	race(rcs);
	CHECK_INT(atomic_load(&fetches), 1);
	for (int i = 0; i <= WAITERS; i++)
		CHECK_INT(rcs[i], JWKS_CACHE_OK);
	CHECK_INT(atomic_load(&uses), 1 + WAITERS);
	jwks_cache_free(&jc);
}

/* An unknown kid: one refetch, then throttled for the interval. */
static void test_unknown_kid_throttled(void)
{
	bool refetched = false;
	CHECK_INT(jwks_cache_init(&jc), 0);
	atomic_store(&fetches, 0);
	atomic_store(&gate_open, true);
	fetch_rc = 0;
	use_answer = JWKS_USE_UNKNOWN_KEY;
	CHECK_INT(jwks_cache_use(&jc, 60, &user, &refetched), JWKS_CACHE_OK);
	CHECK(refetched);
	CHECK_INT(atomic_load(&fetches), 2);           /* the load, the refetch */
	CHECK_INT(jwks_cache_use(&jc, 60, &user, &refetched), JWKS_CACHE_THROTTLED);
	CHECK(!refetched);
	CHECK_INT(atomic_load(&fetches), 2);
	use_answer = JWKS_USE_DONE;
	jwks_cache_free(&jc);
}

int main(void)
{
	RUN(test_failure_shared);
	RUN(test_success_shared);
	RUN(test_unknown_kid_throttled);
	return harness_report("jwks_cache");
}
