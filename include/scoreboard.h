/* scoreboard: one slot per request thread of a pool, in memory shared by
 * the supervisor and its workers (created before they fork; under
 * spawn-fcgi, a private one per process). Each slot says what its thread
 * does; the bulkhead counts the slots inside an sgID call, so at most
 * max_sgid of the pool's threads wait on sgID at once and the others stay
 * free for health, auth-url, cached userinfo and logout. A slot's state is
 * written only by its thread, and reset by the supervisor after that
 * worker died. The supervisor trusts nothing a worker can write: the sizes
 * and limits (n_slots, max_sgid, wait_ms) and its own counters live in the
 * handle, in each process's private memory (a worker's copy is its own
 * after the fork); only the slots and the workers' counters are shared,
 * and a slot's state outside enum slot_state reads as idle. */
#ifndef SGID_SCOREBOARD_H
#define SGID_SCOREBOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "metrics.h"

enum slot_state { SLOT_IDLE, SLOT_BUSY, SLOT_SGID, SLOT_STATE__MAX };

struct scoreboard_slot {
	_Atomic int state;         /* enum slot_state */
	_Atomic int pid;           /* the worker that owns it, 0 when free */
	struct metrics_block metrics; /* its thread's counters; zero when free */
};

/* What the workers write: the shared mapping. */
struct scoreboard_shm {
	_Atomic int sgid_high;     /* the most slots ever in SLOT_SGID at once */
	_Atomic unsigned long rejected; /* requests turned away by the bulkhead */
	struct metrics_block retired; /* the counters of reaped workers */
	struct scoreboard_slot slots[];
};

/* The handle: private memory, never shared. */
struct scoreboard {
	size_t n_slots;
	int max_sgid;              /* the bulkhead: slots in SLOT_SGID at once */
	int wait_ms;               /* how long a request waits for room */
	struct metrics_supervisor sup; /* the supervisor's own counters */
	struct scoreboard_shm *shm;
};

/* The handle, and shared anonymous memory inherited across fork. NULL on
 * failure. */
struct scoreboard *scoreboard_create(size_t n_slots, int max_sgid, int wait_ms);
void scoreboard_free(struct scoreboard *sb); /* NULL ok */

/* What a worker process does when one of its threads starts or stops
 * waiting on sgID (server.c: another thread takes its place in accepting
 * requests). Called outside any scoreboard state; NULL: nothing. */
struct sb_wait_hook {
	void (*begins)(void *ctx);
	void (*ends)(void *ctx);
	void *ctx;
};

/* A thread's slot: (sb, index). A NULL sb admits everything (tests). */
struct sb_slot_ref {
	struct scoreboard *sb;
	size_t index;
	const struct sb_wait_hook *hook;
};

void scoreboard_set(struct sb_slot_ref ref, enum slot_state st);
/* Enters SLOT_SGID if the bulkhead has room, waiting up to sb->wait_ms for
 * it; false (slot left BUSY) when there was none. The hook hears of every
 * admitted call, its end from scoreboard_leave_sgid. */
bool scoreboard_enter_sgid(struct sb_slot_ref ref);
void scoreboard_leave_sgid(struct sb_slot_ref ref); /* back to BUSY */
/* Slots in SLOT_SGID now. */
int scoreboard_sgid_count(const struct scoreboard *sb);
/* Slot i's state as read by anyone but its thread: a value outside enum
 * slot_state (a worker gone wrong) is SLOT_IDLE. */
enum slot_state scoreboard_slot_state(const struct scoreboard *sb, size_t i);
/* The supervisor, after reaping pid: its slots are idle and free again,
 * their counters folded into sb->retired (so every counter only grows). */
void scoreboard_release_pid(struct scoreboard *sb, pid_t pid);
/* The counters of ref's thread, NULL without a slot. */
struct metrics_block *scoreboard_metrics(struct sb_slot_ref ref);
/* retired + every owned slot's counters into *sum (zeroed first). */
void scoreboard_sum_metrics(const struct scoreboard *sb, struct metrics_block *sum);

#endif
