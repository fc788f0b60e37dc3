/* metrics: a scrape sums every owned slot and the retired block; a reaped
 * worker's counts are folded, never lost or counted twice; the text format
 * has HELP and TYPE per family, escaped label values, cumulative buckets
 * ending in +Inf that equal _count, and _sum in seconds. */
#include "metrics.h"
#include "metrics_page.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "outcome.h"
#include "route.h"
#include "scoreboard.h"

static struct metrics_block *slot_of(struct scoreboard *sb, size_t i, int pid)
{
	atomic_store(&sb->shm->slots[i].pid, pid);
	return scoreboard_metrics((struct sb_slot_ref){ .sb = sb, .index = i });
}

static uint64_t login_count(const struct scoreboard *sb, enum login_outcome o)
{
	struct metrics_block sum;
	scoreboard_sum_metrics(sb, &sum);
	return atomic_load(&sum.logins[o]);
}

static void test_sum_and_fold(void)
{
	struct scoreboard *sb = scoreboard_create(4, 2, 0);
	CHECK(sb != NULL);
	struct metrics_block *a = slot_of(sb, 0, 111), *b = slot_of(sb, 1, 111), *c = slot_of(sb, 2, 222);
	metrics_count_login(a, LOGIN_OK);
	metrics_count_login(b, LOGIN_OK);
	metrics_count_login(c, LOGIN_OK);
	metrics_count_login(c, LOGIN_STATE_MISMATCH);
	metrics_count_request(a, "auth-url", 200, 300);
	metrics_count_request(c, "auth-url", 200, 300);
	CHECK_INT(login_count(sb, LOGIN_OK), 3);
	CHECK_INT(login_count(sb, LOGIN_STATE_MISMATCH), 1);

	/* worker 111 dies: its two slots are folded and zeroed, the sum stays */
	scoreboard_release_pid(sb, 111);
	CHECK_INT(atomic_load(&sb->shm->slots[0].pid), 0);
	CHECK_INT(atomic_load(&a->logins[LOGIN_OK]), 0);
	CHECK_INT(metrics_block_requests(a), 0);
	CHECK_INT(atomic_load(&sb->shm->retired.logins[LOGIN_OK]), 2);
	CHECK_INT(login_count(sb, LOGIN_OK), 3);
	struct metrics_block sum;
	scoreboard_sum_metrics(sb, &sum);
	CHECK_INT(metrics_block_requests(&sum), 2);

	/* its slot taken by a new worker: counting goes on from there */
	a = slot_of(sb, 0, 333);
	metrics_count_login(a, LOGIN_OK);
	CHECK_INT(login_count(sb, LOGIN_OK), 4);
	/* releasing twice, or a pid owning nothing, changes nothing */
	scoreboard_release_pid(sb, 111);
	scoreboard_release_pid(sb, 999);
	CHECK_INT(login_count(sb, LOGIN_OK), 4);
	scoreboard_release_pid(sb, 222);
	scoreboard_release_pid(sb, 333);
	CHECK_INT(login_count(sb, LOGIN_OK), 4);
	CHECK_INT(login_count(sb, LOGIN_STATE_MISMATCH), 1);
	scoreboard_free(sb);
}

static void test_null_and_bounds(void)
{
	/* no slot: nothing counted, nothing crashes */
	metrics_count_request(NULL, "auth-url", 200, 1);
	metrics_count_login(NULL, LOGIN_OK);
	metrics_count_sgid_call(NULL, METRICS_CALL_TOKEN, 1, 0);
	metrics_count_redis_error(NULL, METRICS_REDIS_IO);
	CHECK(scoreboard_metrics((struct sb_slot_ref){ .sb = NULL }) == NULL);
	struct metrics_block m;
	metrics_block_zero(&m);
	metrics_count_login(&m, -1);
	metrics_count_login(&m, LOGIN_OUTCOME__MAX);
	metrics_count_sgid_call(&m, METRICS_CALLS, 1, 0);
	uint64_t any = 0;
	for (int i = 0; i < METRICS_LOGIN_OUTCOMES; i++)
		any += atomic_load(&m.logins[i]);
	CHECK_INT(any, 0);
	/* an unknown route and status land in the bounded "none" / "other" */
	metrics_count_request(&m, "/etc/passwd", 418, 5);
	CHECK_INT(atomic_load(&m.requests[METRICS_ROUTES - 1][METRICS_STATUSES - 1]), 1);
	CHECK_STR(metrics_route_name(METRICS_ROUTES - 1), "none");
	CHECK_STR(metrics_status_name(METRICS_STATUSES - 1), "other");
	CHECK(metrics_route_name(METRICS_ROUTES) == NULL);
	/* the route labels are route.c's names, in enum route_id order */
	for (int r = 0; r < ROUTE__MAX; r++)
		CHECK_STR(metrics_route_name((size_t)r), route_get((enum route_id)r)->name);
	CHECK_STR(metrics_bucket_le(METRICS_BUCKETS), "+Inf");
}

static void test_label_escaping(void)
{
	struct buf b = BUF_INIT;
	CHECK_INT(metrics_append_label_value(&b, "a\"b\\c\nd"), 0);
	CHECK_STR(buf_cstr(&b), "a\\\"b\\\\c\\nd");
	buf_free(&b);
}

/* The line of out that starts with prefix, or NULL. */
static const char *line_of(const char *out, const char *prefix)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
	return NULL;
}

static long long value_of(const char *out, const char *series)
{
	char want[256];
	snprintf(want, sizeof(want), "%s ", series);
	const char *l = line_of(out, want);
	return l ? strtoll(l + strlen(want), NULL, 10) : -1;
}

static void test_rendering(void)
{
	struct scoreboard *sb = scoreboard_create(2, 1, 0);
	struct metrics_block *m = slot_of(sb, 0, 42);
	metrics_count_request(m, "redirect", 302, 400);      /* 0.0004 s: first bucket */
	metrics_count_request(m, "redirect", 302, 3000);     /* 0.003 s: le 0.005 */
	metrics_count_request(m, "redirect", 502, 60000000); /* 60 s: +Inf only */
	metrics_count_sgid_call(m, METRICS_CALL_USERINFO, 20000, 0);
	metrics_count_login(m, LOGIN_ID_TOKEN_SIGNATURE);
	metrics_count_audit_dropped(m);
	metrics_count_userinfo_previous_key(m);
	metrics_count_userinfo_previous_key(m);
	struct buf out = BUF_INIT;
	CHECK_INT(metrics_page_render(sb, &out), 0);
	const char *t = buf_cstr(&out);

	/* every family announced with HELP, then TYPE, before its samples */
	const char *help = line_of(t, "# HELP sgid_fcgi_request_duration_seconds ");
	const char *type = line_of(t, "# TYPE sgid_fcgi_request_duration_seconds histogram");
	const char *first = line_of(t, "sgid_fcgi_request_duration_seconds_bucket{");
	CHECK(help && type && first && help < type && type < first);
	CHECK(line_of(t, "# TYPE sgid_fcgi_logins_total counter\n") != NULL);
	CHECK(line_of(t, "# TYPE sgid_fcgi_requests_in_flight gauge\n") != NULL);
	CHECK(line_of(t, "sgid_fcgi_build_info{version=\"" SGID_VERSION "\"} 1\n") != NULL);

	CHECK_INT(value_of(t, "sgid_fcgi_requests_total{route=\"redirect\",status=\"302\"}"), 2);
	CHECK_INT(value_of(t, "sgid_fcgi_requests_total{route=\"redirect\",status=\"502\"}"), 1);
	/* zero request series are left out (route x status is large) */
	CHECK(line_of(t, "sgid_fcgi_requests_total{route=\"health\"") == NULL);
	/* cumulative buckets */
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_bucket{route=\"redirect\",le=\"0.0005\"}"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_bucket{route=\"redirect\",le=\"0.0025\"}"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_bucket{route=\"redirect\",le=\"0.005\"}"), 2);
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_bucket{route=\"redirect\",le=\"10\"}"), 2);
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_bucket{route=\"redirect\",le=\"+Inf\"}"), 3);
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_count{route=\"redirect\"}"), 3);
	CHECK(line_of(t, "sgid_fcgi_request_duration_seconds_sum{route=\"redirect\"} 60.003400\n") != NULL);
	/* every route has its histogram, zeroes too */
	CHECK_INT(value_of(t, "sgid_fcgi_request_duration_seconds_count{route=\"health\"}"), 0);
	CHECK_INT(value_of(t, "sgid_fcgi_sgid_call_errors_total{call=\"userinfo\"}"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_sgid_call_duration_seconds_bucket{call=\"userinfo\",le=\"0.01\"}"), 0);
	CHECK_INT(value_of(t, "sgid_fcgi_sgid_call_duration_seconds_bucket{call=\"userinfo\",le=\"0.025\"}"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_logins_total{outcome=\"id_token_signature\"}"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_logins_total{outcome=\"over_capacity\"}"), 0);
	CHECK_INT(value_of(t, "sgid_fcgi_audit_dropped_total"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_userinfo_previous_key_total"), 2);
	/* in flight from the slot states */
	scoreboard_set((struct sb_slot_ref){ .sb = sb, .index = 0 }, SLOT_SGID);
	buf_reset(&out);
	CHECK_INT(metrics_page_render(sb, &out), 0);
	t = buf_cstr(&out);
	CHECK_INT(value_of(t, "sgid_fcgi_requests_in_flight"), 1);
	CHECK_INT(value_of(t, "sgid_fcgi_sgid_calls_in_flight"), 1);
	/* the text ends with a newline, and holds no empty line */
	CHECK(out.len > 0 && t[out.len - 1] == '\n' && strstr(t, "\n\n") == NULL);

	struct metrics_worker w = { .pid = 42, .generation = 3, .up_s = 7, .slot_base = 0,
	                            .n_slots = 2 };
	struct metrics_pool_view v = { sb, &w, 1, 3, "unix:/run/x.sock" };
	buf_reset(&out);
	CHECK_INT(metrics_status_render(&v, &out), 0);
	t = buf_cstr(&out);
	CHECK(strstr(t, "requests served:     3 ") != NULL);
	CHECK(strstr(t, "sgID calls in flight: 1 (at most 1 at once") != NULL);
	CHECK(strstr(t, "      42    3        7       2     1     1       1          3  active\n") != NULL);
	buf_free(&out);
	scoreboard_free(sb);
}

/* A worker gone wrong writes anything it likes into the shared mapping:
 * every word 2^30 (n_slots sat at its start while it was shared: the
 * next scrape died of SIGBUS), slot states outside the enum, and its own
 * copy of the handle. The supervisor's scrape still works, with its own
 * sizes and limits, and counts only real states. */
static void test_hostile_worker(void)
{
	enum { SLOTS = 8 };
	struct scoreboard *sb = scoreboard_create(SLOTS, 3, 0);
	CHECK(sb != NULL);
	if (!sb)
		return;
	atomic_store(&sb->sup.workers_alive, 2);
	pid_t w = fork();
	if (w == 0) {
		size_t len = sizeof(struct scoreboard_shm) + SLOTS * sizeof(struct scoreboard_slot);
		size_t *words = (size_t *)(void *)sb->shm;
		for (size_t i = 0; i < len / sizeof(size_t); i++)
			words[i] = (size_t)1 << 30;
		sb->n_slots = (size_t)1 << 30;
		sb->max_sgid = 1 << 30;
		atomic_store(&sb->sup.workers_alive, 1 << 30);
		for (size_t i = 1; i < SLOTS; i++)
			atomic_store(&sb->shm->slots[i].state, i % 2 ? -5 : 1 << 30);
		atomic_store(&sb->shm->slots[0].state, SLOT_SGID);
		_exit(0);
	}
	int status = -1;
	CHECK(w > 0 && waitpid(w, &status, 0) == w && WIFEXITED(status));
	CHECK_INT(sb->n_slots, SLOTS);
	CHECK_INT(scoreboard_sgid_count(sb), 1);
	CHECK_INT(scoreboard_slot_state(sb, 1), SLOT_IDLE);
	CHECK_INT(scoreboard_slot_state(sb, 2), SLOT_IDLE);
	struct buf page = BUF_INIT;
	CHECK_INT(metrics_page_render(sb, &page), 0);
	CHECK(page.data && strstr(page.data, "\nsgid_fcgi_sgid_calls_max 3\n"));
	CHECK(page.data && strstr(page.data, "\nsgid_fcgi_requests_in_flight 1\n"));
	CHECK(page.data && strstr(page.data, "\nsgid_fcgi_sgid_calls_in_flight 1\n"));
	CHECK(page.data && strstr(page.data, "\nsgid_fcgi_workers_alive 2\n"));
	const struct metrics_worker wk = { .pid = 4242, .slot_base = 0, .n_slots = SLOTS };
	const struct metrics_pool_view v = { sb, &wk, 1, 1, "unix:/x" };
	buf_reset(&page);
	CHECK_INT(metrics_status_render(&v, &page), 0);
	CHECK(page.data && strstr(page.data, "(at most 3 at once;"));
	CHECK(page.data && strstr(page.data, "workers: 2 alive"));
	/* reaping folds whatever it finds and clears the slots */
	scoreboard_release_pid(sb, 1 << 30);
	buf_reset(&page);
	CHECK_INT(metrics_page_render(sb, &page), 0);
	buf_free(&page);
	scoreboard_free(sb);
}

int main(void)
{
	RUN(test_sum_and_fold);
	RUN(test_null_and_bounds);
	RUN(test_hostile_worker);
	RUN(test_label_escaping);
	RUN(test_rendering);
	return harness_report("test_metrics");
}
