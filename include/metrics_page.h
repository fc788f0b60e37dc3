/* metrics_page: what the supervisor's metrics listener answers. /metrics:
 * the counters of a scoreboard (every worker and thread, and the reaped
 * ones) in the Prometheus text format 0.0.4; /status: the pool as a table
 * for people (sgid-fcgi --status). */
#ifndef SGID_METRICS_PAGE_H
#define SGID_METRICS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "scoreboard.h"

/* One worker of the pool, as the supervisor knows it. */
struct metrics_worker {
	pid_t pid;
	unsigned generation;
	int64_t up_s;
	size_t slot_base;          /* its threads' slots: [slot_base, +n_slots) */
	size_t n_slots;            /* 0: none in the shared scoreboard */
	bool retiring;
};

struct metrics_pool_view {
	const struct scoreboard *sb;
	const struct metrics_worker *workers;
	size_t n_workers;
	unsigned generation;       /* the configuration's */
	const char *listen;        /* the FastCGI socket */
};

/* 0, or -1 out of memory. */
int metrics_page_render(const struct scoreboard *sb, struct buf *out);
int metrics_status_render(const struct metrics_pool_view *v, struct buf *out);

/* A label value in the text format's escaping: \\, \" and \n. */
int metrics_append_label_value(struct buf *out, const char *v);

#endif
