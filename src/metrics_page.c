#include "metrics_page.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "outcome.h"
#include "route.h"
#include "util.h"

_Static_assert(METRICS_LOGIN_OUTCOMES == LOGIN_OUTCOME__MAX, "a login counter per outcome");
_Static_assert(METRICS_ROUTES == ROUTE__MAX + 2, "route labels: the routes, authorizer, none");

#define PREFIX "sgid_fcgi_"

static uint64_t load(const metrics_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int metrics_append_label_value(struct buf *out, const char *v)
{
	for (const char *p = v; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		if (esc ? buf_append_str(out, esc) : buf_append_char(out, *p))
			return -1;
	}
	return 0;
}

static int header(struct buf *o, const char *name, const char *type, const char *help)
{
	return buf_printf(o, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

/* One labelled pair: ,k="v" (the first without the comma). */
static int label(struct buf *o, bool first, const char *k, const char *v)
{
	return buf_append_strs(o, first ? "" : ",", k, "=\"", NULL) ||
	       metrics_append_label_value(o, v) || buf_append_char(o, '"');
}

/* name[suffix]{k1="v1",k2="v2"} value, with up to two labels (k NULL: none). */
static int sample(struct buf *o, const char *name, const char *suffix, const char *k1,
	const char *v1, const char *k2, const char *v2, uint64_t value)
{
	if (buf_append_strs(o, PREFIX, name, suffix, NULL))
		return -1;
	if (k1 && (buf_append_char(o, '{') || label(o, true, k1, v1) ||
	           (k2 && label(o, false, k2, v2)) || buf_append_char(o, '}')))
		return -1;
	return buf_printf(o, " %" PRIu64 "\n", value);
}

/* One histogram's series for the label k="v": cumulative buckets up to
 * +Inf, then _sum in seconds and _count. */
static int histogram(struct buf *o, const char *name, const char *k, const char *v,
	const struct metrics_histogram *h)
{
	uint64_t cum = 0;
	for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
		cum += load(&h->bucket[b]);
		if (sample(o, name, "_bucket", k, v, "le", metrics_bucket_le(b), cum))
			return -1;
	}
	uint64_t us = load(&h->sum_us);
	if (buf_printf(o, PREFIX "%s_sum{%s=\"", name, k) || metrics_append_label_value(o, v) ||
	    buf_printf(o, "\"} %" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000))
		return -1;
	return sample(o, name, "_count", k, v, NULL, NULL, cum);
}

static int gauge(struct buf *o, const char *name, const char *help, uint64_t v)
{
	return header(o, name, "gauge", help) || sample(o, name, "", NULL, NULL, NULL, NULL, v);
}

static int counter(struct buf *o, const char *name, const char *help, uint64_t v)
{
	return header(o, name, "counter", help) || sample(o, name, "", NULL, NULL, NULL, NULL, v);
}

/* A counter with one label over a bounded set: every value, zeroes too. */
static int labelled_counters(struct buf *o, const char *name, const char *help, const char *k,
	const char *(*value_name)(size_t), const metrics_counter *c, size_t n)
{
	if (header(o, name, "counter", help))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sample(o, name, "", k, value_name(i), NULL, NULL, load(&c[i])))
			return -1;
	return 0;
}

/* A histogram with one label over a bounded set. */
static int labelled_histograms(struct buf *o, const char *name, const char *help, const char *k,
	const char *(*value_name)(size_t), const struct metrics_histogram *h, size_t n)
{
	if (header(o, name, "histogram", help))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (histogram(o, name, k, value_name(i), &h[i]))
			return -1;
	return 0;
}

static const char *outcome_name(size_t i)
{
	return login_outcome_name((enum login_outcome)i);
}

static int render_requests(struct buf *o, const struct metrics_block *m)
{
	if (header(o, "requests_total", "counter",
	           "Requests answered, by route and HTTP status (series appear once non-zero)."))
		return -1;
	for (size_t r = 0; r < METRICS_ROUTES; r++)
		for (size_t s = 0; s < METRICS_STATUSES; s++) {
			uint64_t n = load(&m->requests[r][s]);
			if (n && sample(o, "requests_total", "", "route", metrics_route_name(r), "status",
			                metrics_status_name(s), n))
				return -1;
		}
	return labelled_histograms(o, "request_duration_seconds",
	                           "Time from a request's arrival to its response written, by route.",
	                           "route", metrics_route_name, m->request_seconds, METRICS_ROUTES);
}

static int render_logins(struct buf *o, const struct metrics_block *m)
{
	return labelled_counters(o, "logins_total",
	                         "Login callbacks by outcome: ok, or the cause of the failure.",
	                         "outcome", outcome_name, m->logins, METRICS_LOGIN_OUTCOMES);
}

static int render_sgid(struct buf *o, const struct metrics_block *m)
{
	if (labelled_histograms(o, "sgid_call_duration_seconds",
	                        "Duration of calls to the identity provider (sgID or Singpass), by call "
	                        "(token, userinfo, jwks; Singpass: par, discovery too).",
	                        "call", metrics_call_name, m->sgid_seconds, METRICS_CALLS) ||
	    labelled_counters(o, "sgid_call_errors_total",
	                      "Calls to the identity provider that failed: transport error, timeout "
	                      "or an error status.",
	                      "call", metrics_call_name, m->sgid_errors, METRICS_CALLS))
		return -1;
	return counter(o, "jwks_refetches_total",
	               "JWKS fetched again for an ID token signed by an unknown key.",
	               load(&m->jwks_refetches));
}

static int render_redis(struct buf *o, const struct metrics_block *m)
{
	if (labelled_counters(o, "redis_errors_total",
	                      "Redis commands that failed, by kind: connect, io (timeout, lost), reply (refused); "
	                      "address_refused: a cluster redirect or a sentinel's master on a host not allowed.",
	                      "kind", metrics_redis_err_name, m->redis_errors, METRICS_REDIS_ERRS))
		return -1;
	return counter(o, "redis_reconnects_total",
	               "Redis connections opened again after one was dropped.",
	               load(&m->redis_reconnects));
}

/* Operations: events the audit log lost, and userinfo that needed the
 * previous client key (a key rotation in progress). */
static int render_lifecycle(struct buf *o, const struct metrics_block *m)
{
	return counter(o, "audit_dropped_total",
	               "Audit events lost to write errors (full disk, a stalled reader).",
	               load(&m->audit_dropped)) ||
	       counter(o, "userinfo_previous_key_total",
	               "Userinfo responses opened with SGID_PRIVATE_KEY_PREVIOUS.",
	               load(&m->userinfo_previous_key)) ||
	       labelled_counters(o, "gateway_access_total",
	                         "Gateway checks of a logged-in user against the location's rule "
	                         "(SGID_REQUIRE): allowed, denied (403) or rule_error (500).",
	                         "outcome", metrics_access_name, m->access, METRICS_ACCESS_OUTCOMES);
}

/* Slots busy (a request in hand, sgID calls included) and in sgID. */
static void in_flight(const struct scoreboard *sb, size_t base, size_t n, uint64_t *busy,
	uint64_t *sgid)
{
	*busy = *sgid = 0;
	for (size_t i = base; i < base + n && i < sb->n_slots; i++) {
		enum slot_state st = scoreboard_slot_state(sb, i);
		*busy += st == SLOT_BUSY || st == SLOT_SGID;
		*sgid += st == SLOT_SGID;
	}
}

static int render_pool(struct buf *o, const struct scoreboard *sb)
{
	uint64_t busy, sgid;
	in_flight(sb, 0, sb->n_slots, &busy, &sgid);
	const struct metrics_supervisor *s = &sb->sup;
	return gauge(o, "requests_in_flight", "Requests being answered now.", busy) ||
	       gauge(o, "sgid_calls_in_flight", "Request threads inside a call to sgID now.", sgid) ||
	       gauge(o, "sgid_calls_max", "The bulkhead: most request threads in sgID calls at once.",
	             (uint64_t)sb->max_sgid) ||
	       counter(o, "bulkhead_rejections_total",
	               "Requests turned away because the sgID bulkhead was full.",
	               atomic_load(&sb->shm->rejected)) ||
	       gauge(o, "workers_alive", "Worker processes running.",
	             (uint64_t)atomic_load(&s->workers_alive)) ||
	       counter(o, "worker_respawns_total",
	               "Workers started again after one exited unasked (crash, recycling).",
	               load(&s->respawns)) ||
	       counter(o, "reloads_total", "Configuration reloads (SIGHUP) completed.",
	               load(&s->reloads)) ||
	       counter(o, "reload_failures_total",
	               "Configuration reloads refused or failed (the old configuration kept).",
	               load(&s->reload_failures)) ||
	       gauge(o, "start_time_seconds", "When the pool started, in seconds since the epoch.",
	             (uint64_t)atomic_load(&s->started_unix));
}

int metrics_page_render(const struct scoreboard *sb, struct buf *out)
{
	struct metrics_block sum;
	scoreboard_sum_metrics(sb, &sum);
	if (header(out, "build_info", "gauge", "Always 1; the version built, as a label.") ||
	    sample(out, "build_info", "", "version", SGID_VERSION, NULL, NULL, 1))
		return -1;
	return render_requests(out, &sum) || render_logins(out, &sum) || render_sgid(out, &sum) ||
	       render_redis(out, &sum) || render_lifecycle(out, &sum) || render_pool(out, sb) ? -1 : 0;
}

/* --- /status ------------------------------------------------------------ */

static uint64_t slot_requests(const struct scoreboard *sb, size_t base, size_t n)
{
	uint64_t total = 0;
	for (size_t i = base; i < base + n && i < sb->n_slots; i++)
		total += metrics_block_requests(&sb->shm->slots[i].metrics);
	return total;
}

int metrics_status_render(const struct metrics_pool_view *v, struct buf *out)
{
	const struct scoreboard *sb = v->sb;
	struct metrics_block sum;
	uint64_t busy, sgid;
	scoreboard_sum_metrics(sb, &sum);
	in_flight(sb, 0, sb->n_slots, &busy, &sgid);
	int64_t up = (int64_t)time(NULL) - atomic_load(&sb->sup.started_unix);
	if (buf_printf(out,
	               "sgid-fcgi %s pool on %s: configuration generation %u, up %lld s\n"
	               "requests served:     %" PRIu64 " (since start, all workers)\n"
	               "requests in flight:  %" PRIu64 "\n"
	               "sgID calls in flight: %" PRIu64 " (at most %d at once; %lu turned away)\n"
	               "workers: %lld alive, %" PRIu64 " respawned, %" PRIu64 " reloads\n\n"
	               "%8s %4s %8s %7s %5s %5s %7s %10s  %s\n",
	               SGID_VERSION, v->listen, v->generation, (long long)up,
	               metrics_block_requests(&sum), busy, sgid, sb->max_sgid,
	               atomic_load(&sb->shm->rejected), (long long)atomic_load(&sb->sup.workers_alive),
	               load(&sb->sup.respawns), load(&sb->sup.reloads),
	               "pid", "gen", "up(s)", "threads", "busy", "idle", "in-sgID", "requests", "state"))
		return -1;
	for (size_t i = 0; i < v->n_workers; i++) {
		const struct metrics_worker *w = &v->workers[i];
		in_flight(sb, w->slot_base, w->n_slots, &busy, &sgid);
		uint64_t idle = w->n_slots - busy;
		if (buf_printf(out, "%8d %4u %8lld %7zu %5" PRIu64 " %5" PRIu64 " %7" PRIu64
		               " %10" PRIu64 "  %s\n",
		               (int)w->pid, w->generation, (long long)w->up_s, w->n_slots, busy, idle, sgid,
		               slot_requests(sb, w->slot_base, w->n_slots),
		               w->n_slots == 0 ? "unscored" : w->retiring ? "retiring" : "active"))
			return -1;
	}
	return 0;
}
