#include "scoreboard.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t region_size(size_t n_slots)
{
	return sizeof(struct scoreboard_shm) + n_slots * sizeof(struct scoreboard_slot);
}

struct scoreboard *scoreboard_create(size_t n_slots, int max_sgid, int wait_ms)
{
	if (n_slots == 0 || n_slots > 1u << 20)
		return NULL;
	struct scoreboard *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return NULL;
	void *p = mmap(NULL, region_size(n_slots), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(sb);
		return NULL;
	}
	sb->shm = p;
	sb->n_slots = n_slots;
	sb->max_sgid = max_sgid > 0 ? max_sgid : 1;
	sb->wait_ms = wait_ms > 0 ? wait_ms : 0;
	/* Every slot starts as mmap gives it, all zero: idle, no owner, no
	 * counts. Not written here, so the pages of slots no worker uses (the
	 * ranges kept for reloads) are never touched. */
	_Static_assert(SLOT_IDLE == 0, "a zeroed slot is idle");
	atomic_init(&sb->sup.started_unix, (int64_t)time(NULL));
	atomic_init(&sb->shm->sgid_high, 0);
	atomic_init(&sb->shm->rejected, 0);
	return sb;
}

void scoreboard_free(struct scoreboard *sb)
{
	if (!sb)
		return;
	munmap(sb->shm, region_size(sb->n_slots));
	free(sb);
}

void scoreboard_set(struct sb_slot_ref ref, enum slot_state st)
{
	if (ref.sb && ref.index < ref.sb->n_slots)
		atomic_store(&ref.sb->shm->slots[ref.index].state, (int)st);
}

enum slot_state scoreboard_slot_state(const struct scoreboard *sb, size_t i)
{
	int st = i < sb->n_slots ? atomic_load(&sb->shm->slots[i].state) : SLOT_IDLE;
	return st > SLOT_IDLE && st < SLOT_STATE__MAX ? (enum slot_state)st : SLOT_IDLE;
}

int scoreboard_sgid_count(const struct scoreboard *sb)
{
	int n = 0;
	for (size_t i = 0; i < sb->n_slots; i++)
		n += scoreboard_slot_state(sb, i) == SLOT_SGID;
	return n;
}

/* Announce, then count: a thread marks its slot first and counts after, so
 * two threads racing for the last place can both back off (and retry) but
 * never both get in. */
static bool try_enter(struct scoreboard *sb, size_t index)
{
	atomic_store(&sb->shm->slots[index].state, SLOT_SGID);
	int n = scoreboard_sgid_count(sb);
	if (n <= sb->max_sgid) {
		int high = atomic_load(&sb->shm->sgid_high);
		while (n > high && !atomic_compare_exchange_weak(&sb->shm->sgid_high, &high, n))
			;
		return true;
	}
	atomic_store(&sb->shm->slots[index].state, SLOT_BUSY);
	return false;
}

static void hook_begins(struct sb_slot_ref ref)
{
	if (ref.hook && ref.hook->begins)
		ref.hook->begins(ref.hook->ctx);
}

bool scoreboard_enter_sgid(struct sb_slot_ref ref)
{
	struct scoreboard *sb = ref.sb;
	if (!sb || ref.index >= sb->n_slots) {
		hook_begins(ref);
		return true;
	}
	struct timespec step = { 0, 5 * 1000 * 1000 };
	for (int waited = 0;; waited += 5) {
		if (try_enter(sb, ref.index)) {
			hook_begins(ref);
			return true;
		}
		if (waited >= sb->wait_ms)
			break;
		nanosleep(&step, NULL);
	}
	atomic_fetch_add(&sb->shm->rejected, 1);
	return false;
}

void scoreboard_leave_sgid(struct sb_slot_ref ref)
{
	scoreboard_set(ref, SLOT_BUSY);
	if (ref.hook && ref.hook->ends)
		ref.hook->ends(ref.hook->ctx);
}

void scoreboard_release_pid(struct scoreboard *sb, pid_t pid)
{
	if (!sb || pid <= 0)
		return;
	for (size_t i = 0; i < sb->n_slots; i++) {
		struct scoreboard_slot *slot = &sb->shm->slots[i];
		if (atomic_load(&slot->pid) == (int)pid) {
			metrics_block_add(&sb->shm->retired, &slot->metrics);
			metrics_block_zero(&slot->metrics);
			atomic_store(&slot->state, SLOT_IDLE);
			atomic_store(&slot->pid, 0);
		}
	}
}

struct metrics_block *scoreboard_metrics(struct sb_slot_ref ref)
{
	return ref.sb && ref.index < ref.sb->n_slots ? &ref.sb->shm->slots[ref.index].metrics : NULL;
}

/* A free slot's counters are zero (folded on release): only owned ones are
 * read, so a scrape touches no memory of ranges never used. */
void scoreboard_sum_metrics(const struct scoreboard *sb, struct metrics_block *sum)
{
	metrics_block_zero(sum);
	metrics_block_add(sum, &sb->shm->retired);
	for (size_t i = 0; i < sb->n_slots; i++)
		if (atomic_load(&sb->shm->slots[i].pid) != 0)
			metrics_block_add(sum, &sb->shm->slots[i].metrics);
}
