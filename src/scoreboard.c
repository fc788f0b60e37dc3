#include "scoreboard.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t region_size(size_t n_slots)
{
	return sizeof(struct scoreboard) + n_slots * sizeof(struct scoreboard_slot);
}

struct scoreboard *scoreboard_create(size_t n_slots, int max_sgid, int wait_ms)
{
	if (n_slots == 0 || n_slots > 1u << 20)
		return NULL;
	void *p = mmap(NULL, region_size(n_slots), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct scoreboard *sb = p;
	sb->n_slots = n_slots;
	sb->max_sgid = max_sgid > 0 ? max_sgid : 1;
	sb->wait_ms = wait_ms > 0 ? wait_ms : 0;
	/* Every slot starts as mmap gives it, all zero: idle, no owner, no
	 * counts. Not written here, so the pages of slots no worker uses (the
	 * ranges kept for reloads) are never touched. */
	_Static_assert(SLOT_IDLE == 0, "a zeroed slot is idle");
	atomic_init(&sb->sup.started_unix, (int64_t)time(NULL));
	atomic_init(&sb->sgid_high, 0);
	atomic_init(&sb->rejected, 0);
	return sb;
}

void scoreboard_free(struct scoreboard *sb)
{
	if (sb)
		munmap(sb, region_size(sb->n_slots));
}

void scoreboard_set(struct sb_slot_ref ref, enum slot_state st)
{
	if (ref.sb && ref.index < ref.sb->n_slots)
		atomic_store(&ref.sb->slots[ref.index].state, (int)st);
}

int scoreboard_sgid_count(const struct scoreboard *sb)
{
	int n = 0;
	for (size_t i = 0; i < sb->n_slots; i++)
		n += atomic_load(&sb->slots[i].state) == SLOT_SGID;
	return n;
}

/* Announce, then count: a thread marks its slot first and counts after, so
 * two threads racing for the last place can both back off (and retry) but
 * never both get in. */
static bool try_enter(struct scoreboard *sb, size_t index)
{
	atomic_store(&sb->slots[index].state, SLOT_SGID);
	int n = scoreboard_sgid_count(sb);
	if (n <= sb->max_sgid) {
		int high = atomic_load(&sb->sgid_high);
		while (n > high && !atomic_compare_exchange_weak(&sb->sgid_high, &high, n))
			;
		return true;
	}
	atomic_store(&sb->slots[index].state, SLOT_BUSY);
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
	atomic_fetch_add(&sb->rejected, 1);
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
		int owner = (int)pid;
		if (atomic_load(&sb->slots[i].pid) == owner) {
			metrics_block_add(&sb->retired, &sb->slots[i].metrics);
			metrics_block_zero(&sb->slots[i].metrics);
			atomic_store(&sb->slots[i].state, SLOT_IDLE);
			atomic_store(&sb->slots[i].pid, 0);
		}
	}
}

struct metrics_block *scoreboard_metrics(struct sb_slot_ref ref)
{
	return ref.sb && ref.index < ref.sb->n_slots ? &ref.sb->slots[ref.index].metrics : NULL;
}

/* A free slot's counters are zero (folded on release): only owned ones are
 * read, so a scrape touches no memory of ranges never used. */
void scoreboard_sum_metrics(const struct scoreboard *sb, struct metrics_block *sum)
{
	metrics_block_zero(sum);
	metrics_block_add(sum, &sb->retired);
	for (size_t i = 0; i < sb->n_slots; i++)
		if (atomic_load(&sb->slots[i].pid) != 0)
			metrics_block_add(sum, &sb->slots[i].metrics);
}
