/* authz_speed: the CPU an access rule adds to one gateway check, timed
 * through the library's own functions (libsgid.a: authz.c), as api.c's
 * access_allowed calls them on every check with a rule: the per-thread
 * cache's lookup by the rule's text, then the evaluation against the
 * session's sub and its profile (parsed once per check, rule or not).
 *
 *   authz_speed RULE [SECONDS]     (default 1 per case)
 *
 * RULE: the text of the rule the bench's auth-rule rows run (run.sh takes
 * it from nginx.conf.in's map). Prints one line per case:
 *   op=NAME ops=N cpu_s=C ns_per_op=T allowed=0|1
 * for RULE against the stand-in's profile (myinfo.name only), the sgID
 * agency rule of deploy/gateway/nginx.conf.example against a profile with
 * two pocdex positions (a JSON path into a stringified value: it parses
 * that value each time), and RULE compiled anew (a cache miss). CPU time of
 * this process, so a shared machine's other load does not count. A helper
 * for `make bench` (run.sh), not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz.h"
#include "json.h"

/* This process's CPU seconds (clock(3) counts the same, in coarser steps). */
static double cpu_now(void)
{
	struct timespec ts;
	return clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0
		? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9
		: (double)clock() / CLOCKS_PER_SEC;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "authz_speed: %s\n", what);
	exit(1);
}

static const char SUB[] = "u=7ac1f1d4-3b0e-4a57-9c61-2f4b4c1d2e3f";
static const char BENCH_PROFILE[] = "{\"myinfo.name\":\"BENCH TEST PERSONA\"}";
static const char AGENCY_RULE[] =
	"pocdex.public_officer_details/*/agency_name = \"Work Allocation Singapore\"";
static const char AGENCY_PROFILE[] =
	"{\"myinfo.name\":\"OFFICER\",\"pocdex.public_officer_details\":"
	"\"[{\\\"agency_name\\\":\\\"Ministry of Manpower\\\",\\\"work_email\\\":\\\"a@mom.example\\\"},"
	"{\\\"agency_name\\\":\\\"Work Allocation Singapore\\\",\\\"work_email\\\":\\\"b@was.example\\\"}]\"}";

/* Cached lookup and evaluation, as on every check after the first. */
static void time_cached(const char *name, const char *rule, const char *profile_text, double secs)
{
	struct authz_cache cache;
	const struct authz_rule *r;
	size_t at, ops = 0;
	int allowed = 0;
	json_value *profile = json_parse(profile_text, strlen(profile_text), strlen(profile_text));
	if (!profile)
		die("the profile is no JSON");
	memset(&cache, 0, sizeof(cache));
	double t0 = cpu_now(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			if (authz_cache_get(&cache, rule, strlen(rule), NULL, 0, &r, &at) != AUTHZ_OK)
				die("the rule does not compile");
			allowed += authz_allows(r, SUB, profile);
		}
		ops += 1000;
		t = cpu_now() - t0;
	} while (t < secs);
	printf("op=%s ops=%zu cpu_s=%.3f ns_per_op=%.1f allowed=%d\n", name, ops, t, 1e9 * t / (double)ops,
	       allowed == (int)ops);
	authz_cache_free(&cache);
	json_free(profile);
}

/* A cache miss: the rule compiled from its text. */
static void time_compile(const char *rule, double secs)
{
	size_t at, ops = 0;
	struct authz_rule *r;
	double t0 = cpu_now(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			if (authz_compile(rule, strlen(rule), NULL, 0, &r, &at) != AUTHZ_OK)
				die("the rule does not compile");
			authz_rule_free(r);
		}
		ops += 1000;
		t = cpu_now() - t0;
	} while (t < secs);
	printf("op=compile ops=%zu cpu_s=%.3f ns_per_op=%.1f allowed=-\n", ops, t, 1e9 * t / (double)ops);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		die("usage: authz_speed RULE [SECONDS]");
	double secs = argc == 3 ? atof(argv[2]) : 1.0;
	if (!(secs > 0))
		secs = 1.0;
	time_cached("bench_rule", argv[1], BENCH_PROFILE, secs);
	time_cached("agency_path", AGENCY_RULE, AGENCY_PROFILE, secs);
	time_compile(argv[1], secs);
	return 0;
}
