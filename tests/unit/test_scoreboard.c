/* scoreboard: the bulkhead never admits more than max_sgid threads into
 * sgID calls at once, however many race for it; a full bulkhead answers
 * within its wait bound; the slots of a dead worker are released. */
#include "scoreboard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"
#include "util.h"

#define RACERS 32
#define ROUNDS 400

static struct scoreboard *sb;
static atomic_int inside, most_inside, admitted, refused;

static void *racer(void *arg)
{
	struct sb_slot_ref ref = { .sb = sb, .index = (size_t)(intptr_t)arg };
	for (int i = 0; i < ROUNDS; i++) {
		scoreboard_set(ref, SLOT_BUSY);
		if (scoreboard_enter_sgid(ref)) {
			int now = atomic_fetch_add(&inside, 1) + 1;
			int m = atomic_load(&most_inside);
			while (now > m && !atomic_compare_exchange_weak(&most_inside, &m, now))
				;
			atomic_fetch_add(&admitted, 1);
			struct timespec hold = { 0, 20 * 1000 };
			nanosleep(&hold, NULL);
			atomic_fetch_sub(&inside, 1);
			scoreboard_leave_sgid(ref);
		} else {
			atomic_fetch_add(&refused, 1);
		}
		scoreboard_set(ref, SLOT_IDLE);
	}
	return NULL;
}

static void test_never_over_admits(void)
{
	sb = scoreboard_create(RACERS, 5, 2);
	CHECK(sb != NULL);
	if (!sb)
		return;
	pthread_t t[RACERS];
	for (intptr_t i = 0; i < RACERS; i++)
		pthread_create(&t[i], NULL, racer, (void *)i);
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&most_inside) <= 5);
	CHECK(atomic_load(&sb->shm->sgid_high) <= 5);
	CHECK(atomic_load(&sb->shm->sgid_high) >= 1);
	CHECK_INT(atomic_load(&admitted) + atomic_load(&refused), RACERS * ROUNDS);
	CHECK(atomic_load(&admitted) > 0);
	CHECK_INT((long)atomic_load(&sb->shm->rejected), atomic_load(&refused));
	CHECK_INT(scoreboard_sgid_count(sb), 0);
	scoreboard_free(sb);
}

static void test_full_answers_within_bound(void)
{
	sb = scoreboard_create(4, 2, 100);
	struct sb_slot_ref a = { .sb = sb, .index = 0 }, b = { .sb = sb, .index = 1 }, c = { .sb = sb, .index = 2 };
	CHECK(scoreboard_enter_sgid(a));
	CHECK(scoreboard_enter_sgid(b));
	CHECK_INT(scoreboard_sgid_count(sb), 2);
	int64_t t0 = now_monotonic_ms();
	CHECK(!scoreboard_enter_sgid(c));
	int64_t waited = now_monotonic_ms() - t0;
	CHECK(waited >= 95 && waited < 1000);
	CHECK_INT(atomic_load(&sb->shm->slots[2].state), SLOT_BUSY);
	/* room again: admitted at once */
	scoreboard_leave_sgid(a);
	t0 = now_monotonic_ms();
	CHECK(scoreboard_enter_sgid(c));
	CHECK(now_monotonic_ms() - t0 < 50);
	/* no scoreboard: everything is admitted (tests, tools) */
	CHECK(scoreboard_enter_sgid((struct sb_slot_ref){ .sb = NULL, .index = 0 }));
	scoreboard_free(sb);
}

static void test_release_dead_worker(void)
{
	sb = scoreboard_create(6, 2, 0);
	for (size_t i = 0; i < 3; i++)
		atomic_store(&sb->shm->slots[i].pid, 1111);
	for (size_t i = 3; i < 6; i++)
		atomic_store(&sb->shm->slots[i].pid, 2222);
	CHECK(scoreboard_enter_sgid((struct sb_slot_ref){ .sb = sb, .index = 0 }));
	CHECK(scoreboard_enter_sgid((struct sb_slot_ref){ .sb = sb, .index = 1 }));
	/* full, and no wait: refused at once */
	CHECK(!scoreboard_enter_sgid((struct sb_slot_ref){ .sb = sb, .index = 3 }));
	/* worker 1111 was killed inside sgID calls: the supervisor frees them */
	scoreboard_release_pid(sb, 1111);
	CHECK_INT(scoreboard_sgid_count(sb), 0);
	CHECK_INT(atomic_load(&sb->shm->slots[0].pid), 0);
	CHECK_INT(atomic_load(&sb->shm->slots[3].pid), 2222);
	CHECK(scoreboard_enter_sgid((struct sb_slot_ref){ .sb = sb, .index = 3 }));
	scoreboard_free(sb);
	CHECK(scoreboard_create(0, 1, 0) == NULL);
}

static int hook_begun, hook_ended;
static void count_begins(void *ctx) { CHECK(ctx == &hook_begun); hook_begun++; }
static void count_ends(void *ctx) { CHECK(ctx == &hook_begun); hook_ended++; }

/* The worker's hook hears of admitted calls only, and of each one's end:
 * a refused request never reaches sgID, so no thread stands in for it. */
static void test_wait_hook(void)
{
	const struct sb_wait_hook hook = { count_begins, count_ends, &hook_begun };
	sb = scoreboard_create(3, 1, 0);
	struct sb_slot_ref a = { .sb = sb, .index = 0, .hook = &hook };
	struct sb_slot_ref b = { .sb = sb, .index = 1, .hook = &hook };
	CHECK(scoreboard_enter_sgid(a));
	CHECK_INT(hook_begun, 1);
	CHECK(!scoreboard_enter_sgid(b));
	CHECK_INT(hook_begun, 1);
	CHECK_INT(hook_ended, 0);
	scoreboard_leave_sgid(a);
	CHECK_INT(hook_ended, 1);
	/* without a scoreboard (spawn-fcgi tools, tests) the hook still hears */
	struct sb_slot_ref none = { .sb = NULL, .index = 0, .hook = &hook };
	CHECK(scoreboard_enter_sgid(none));
	scoreboard_leave_sgid(none);
	CHECK_INT(hook_begun, 2);
	CHECK_INT(hook_ended, 2);
	scoreboard_free(sb);
}

int main(void)
{
	RUN(test_never_over_admits);
	RUN(test_full_answers_within_bound);
	RUN(test_release_dead_worker);
	RUN(test_wait_hook);
	return harness_report("test_scoreboard");
}
