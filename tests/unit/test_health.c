/* health: the readiness answer is shared by the threads of a process and
 * kept HEALTH_CACHE_MS: many threads asking at once cost one probe; a
 * refusal is seen once the answer is older than that; one prober at a
 * time (the in-memory store is not thread-safe: TSan would see two). */
#include <pthread.h>
#include <time.h>

#include "harness.h"
#include "health.h"
#include "mem_store.h"
#include "util.h"

static struct mem_store mem;
static struct store mstore = { &mem_store_ops, &mem, "", NULL };

#define THREADS 8
#define CALLS 200

static void *ask(void *arg)
{
	int *writable = arg;
	for (int i = 0; i < CALLS; i++)
		*writable += health_check(&mstore) == STORE_WRITABLE;
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_shared_cache(void)
{
	pthread_t t[THREADS];
	int writable[THREADS] = { 0 };
	health_forget();
	int64_t t0 = now_monotonic_ms();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, ask, &writable[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	int all = 0;
	for (int i = 0; i < THREADS; i++)
		all += writable[i];
	CHECK_INT(all, THREADS * CALLS);
	/* generous: only meaningful when the calls took less than the cache */
	if (now_monotonic_ms() - t0 < HEALTH_CACHE_MS / 2)
		CHECK_INT(mem.calls, 1);
	else
		CHECK(mem.calls >= 1 && mem.calls <= 3);

	/* a refusal: the old answer until it is older than the cache */
	mem.refuse_writes = STORE_FULL;
	CHECK_INT(health_check(&mstore), STORE_WRITABLE);
	sleep_ms(HEALTH_CACHE_MS + 100);
	CHECK_INT(health_check(&mstore), STORE_FULL);
	CHECK_STR(health_reason(STORE_FULL), "redis_oom");
	mem.refuse_writes = STORE_WRITABLE;
	mem.fail = 1;
	health_forget();
	CHECK_INT(health_check(&mstore), STORE_UNREACHABLE);
	CHECK_STR(health_reason(STORE_UNREACHABLE), "redis_unreachable");
	CHECK_STR(health_reason(STORE_WRITE_STATE__MAX), "redis_write_refused");
	mem.fail = 0;
}

int main(void)
{
	RUN(test_shared_cache);
	mem_destroy(&mstore);
	return harness_report("test_health");
}
