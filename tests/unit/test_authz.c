/* authz: the access-rule language. One table of {rule, persona, allowed}
 * over every kind of test (exact, list, present, JSON path into a
 * stringified or parsed value, the sub's allowlist, and/or, parentheses);
 * one of malformed rules with the error and where it was found; the
 * bounds; the allowlist file's parser; the cache. */
#include <string.h>

#include "authz.h"
#include "harness.h"
#include "util.h"

/* Two MockPass-like personas, a third with parsed (SGID_PARSE_DATA) data,
 * and one without a profile yet. */
#define POCDEX_WAS "[{\\\"work_email\\\":\\\"a@was.gov.sg\\\",\\\"agency_name\\\":\\\"Work Allocation Singapore\\\"}," \
                   "{\\\"agency_name\\\":\\\"GovTech\\\"}]"
static const struct persona {
	const char *sub, *profile;
} personas[] = {
	{ "u=officer", "{\"myinfo.name\":\"LIM YONG XIANG\",\"myinfo.nationality\":\"SG\","
	               "\"pocdex.public_officer_details\":\"" POCDEX_WAS "\"}" },
	{ "u=citizen", "{\"myinfo.name\":\"TAN\",\"myinfo.nationality\":\"MY\","
	               "\"pocdex.public_officer_details\":\"NA\",\"myinfo.email\":\"\"}" },
	{ "u=parsed", "{\"myinfo.nationality\":\"SG\",\"pocdex.public_officer_details\":"
	              "[{\"agency_name\":\"GovTech\",\"tags\":{\"a\":\"x\",\"b\":\"y\"}}]}" },
	{ "u=bare", NULL },
};
enum { OFFICER, CITIZEN, PARSED, BARE, N_PERSONAS };

static struct sublist lists[1];

static void set_up(void)
{
	char err[128];
	snprintf(lists[0].name, sizeof(lists[0].name), "admins");
	const char file[] = "# admins\n  u=bare \r\n\nu=citizen\nu=citizen\n";
	CHECK_INT(sublist_parse(file, strlen(file), &lists[0], err, sizeof(err)), 0);
	CHECK_INT(lists[0].n, 2);
}

static void test_decisions(void)
{
	static const struct {
		const char *rule;
		const char *allowed;  /* one char per persona: officer citizen parsed bare */
	} cases[] = {
		{ "myinfo.nationality = \"SG\"", "1010" },
		{ "myinfo.nationality=\"SG\"", "1010" },
		{ "myinfo.nationality = \"sg\"", "0000" },         /* exact, case and all */
		{ "sub = \"u=citizen\"", "0100" },
		{ "sub in [\"u=citizen\", \"u=parsed\"]", "0110" },
		{ "myinfo.nationality in [\"MY\",\"SG\"]", "1110" },
		{ "has myinfo.name", "1100" },
		{ "has myinfo.email", "0000" },                     /* "" is no value */
		{ "has pocdex.public_officer_details", "1010" },    /* "NA" is none either */
		{ "has missing.field", "0000" },
		{ "pocdex.public_officer_details/*/agency_name = \"Work Allocation Singapore\"", "1000" },
		{ "pocdex.public_officer_details/*/agency_name = \"GovTech\"", "1010" },
		{ "pocdex.public_officer_details/0/agency_name = \"GovTech\"", "0010" },
		{ "pocdex.public_officer_details/1/agency_name in [\"GovTech\"]", "1000" },
		{ "pocdex.public_officer_details/*/tags/* = \"y\"", "0010" },
		{ "pocdex.public_officer_details/*/tags/b = \"y\"", "0010" },
		{ "has pocdex.public_officer_details/*/work_email", "1000" },
		{ "myinfo.name/x = \"TAN\"", "0000" },              /* no JSON in a plain string */
		{ "sub in @admins", "0101" },
		{ "sub in @admins or myinfo.nationality = \"SG\"", "1111" },
		{ "sub in @admins and myinfo.nationality = \"SG\"", "0000" },
		/* and binds tighter than or */
		{ "sub = \"u=bare\" or sub = \"u=officer\" and has myinfo.email", "0001" },
		{ "(sub = \"u=bare\" or sub = \"u=officer\") and has myinfo.name", "1000" },
		{ "((((sub = \"u=parsed\"))))", "0010" },
		{ "myinfo.name = \"quote\\\" back\\\\slash\"", "0000" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct authz_rule *r = NULL;
		size_t at = 99;
		enum authz_err e = authz_compile(cases[i].rule, strlen(cases[i].rule), lists, 1, &r, &at);
		CHECK_INT(e, AUTHZ_OK);
		if (e != AUTHZ_OK) {
			fprintf(stderr, "  rule %zu: %s at %zu\n", i, authz_strerror(e), at);
			continue;
		}
		for (size_t k = 0; k < N_PERSONAS; k++) {
			json_value *p = personas[k].profile ?
				json_parse(personas[k].profile, strlen(personas[k].profile), 65536) : NULL;
			CHECK(!personas[k].profile || p);
			bool want = cases[i].allowed[k] == '1';
			bool got = authz_allows(r, personas[k].sub, p);
			if (got != want)
				fprintf(stderr, "  rule \"%s\", persona %s: got %d\n", cases[i].rule,
				        personas[k].sub, got);
			CHECK(got == want);
			json_free(p);
		}
		authz_rule_free(r);
	}
}

static void test_malformed(void)
{
	static const struct {
		const char *rule;
		enum authz_err err;
		size_t at;
	} cases[] = {
		{ "", AUTHZ_ERR_SYNTAX, 0 },
		{ "   ", AUTHZ_ERR_SYNTAX, 3 },
		{ "myinfo.name", AUTHZ_ERR_SYNTAX, 11 },
		{ "myinfo.name = SG", AUTHZ_ERR_SYNTAX, 14 },
		{ "myinfo.name = \"SG", AUTHZ_ERR_SYNTAX, 17 },
		{ "myinfo.name = \"a\\nb\"", AUTHZ_ERR_SYNTAX, 17 },  /* only \" and \\ */
		{ "myinfo.name = \"a\tb\"", AUTHZ_ERR_SYNTAX, 16 },   /* no control bytes */
		{ "myinfo.name == \"x\"", AUTHZ_ERR_SYNTAX, 13 },
		{ "myinfo.name in []", AUTHZ_ERR_SYNTAX, 16 },
		{ "myinfo.name in [\"a\",]", AUTHZ_ERR_SYNTAX, 20 },
		{ "myinfo.name in [\"a\"", AUTHZ_ERR_SYNTAX, 19 },
		{ "sub = \"a\" and", AUTHZ_ERR_SYNTAX, 13 },
		{ "sub = \"a\" or or sub = \"b\"", AUTHZ_ERR_SYNTAX, 16 }, /* "or" read as a field */
		{ "sub = \"a\" xor sub = \"b\"", AUTHZ_ERR_SYNTAX, 10 },
		{ "(sub = \"a\"", AUTHZ_ERR_SYNTAX, 10 },
		{ "sub = \"a\")", AUTHZ_ERR_SYNTAX, 9 },
		{ "sub/x = \"a\"", AUTHZ_ERR_SYNTAX, 5 },
		{ "f/ = \"a\"", AUTHZ_ERR_SYNTAX, 2 },
		{ "has", AUTHZ_ERR_SYNTAX, 3 },
		{ "myinfo.name in @admins", AUTHZ_ERR_SYNTAX, 16 },   /* lists hold subs */
		{ "sub in @nobody", AUTHZ_ERR_LIST, 8 },
		{ "sub in @", AUTHZ_ERR_SYNTAX, 8 },
		{ "(((((((((sub = \"a\")))))))))", AUTHZ_ERR_LIMIT, 9 }, /* 9 deep */
		{ "f/a/b/c/d/e/f/g/h/i = \"x\"", AUTHZ_ERR_LIMIT, 17 },
		{ "SUB = \"a\" AND sub = \"b\"", AUTHZ_ERR_SYNTAX, 10 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct authz_rule *r = (struct authz_rule *)1;
		size_t at = 999;
		enum authz_err e = authz_compile(cases[i].rule, strlen(cases[i].rule), lists, 1, &r, &at);
		if (e != cases[i].err || at != cases[i].at)
			fprintf(stderr, "  \"%s\": %s at %zu\n", cases[i].rule, authz_strerror(e), at);
		CHECK_INT(e, cases[i].err);
		CHECK_INT(at, cases[i].at);
		CHECK(r == NULL);
	}
	/* a NUL inside the text is no part of the grammar */
	struct authz_rule *r;
	size_t at;
	CHECK_INT(authz_compile("sub = \"a\0\"", 10, lists, 1, &r, &at), AUTHZ_ERR_SYNTAX);
}

static void test_bounds(void)
{
	struct buf b = BUF_INIT;
	struct authz_rule *r;
	size_t at;
	/* 8 levels of parentheses pass, 9 do not (above) */
	CHECK_INT(authz_compile("((((((((sub = \"a\"))))))))", 25, lists, 1, &r, &at), AUTHZ_OK);
	authz_rule_free(r);
	/* AUTHZ_TESTS_MAX tests pass, one more does not */
	for (int i = 0; i < AUTHZ_TESTS_MAX; i++)
		buf_append_str(&b, i ? " or sub = \"x\"" : "sub = \"x\"");
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_OK);
	authz_rule_free(r);
	buf_append_str(&b, " or sub = \"x\"");
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_ERR_LIMIT);
	/* AUTHZ_VALUES_MAX values */
	b.len = 0;
	buf_append_str(&b, "sub in [\"a\"");
	for (int i = 1; i < AUTHZ_VALUES_MAX; i++)
		buf_append_str(&b, ",\"a\"");
	buf_append_str(&b, "]");
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_OK);
	authz_rule_free(r);
	b.len -= 1;
	buf_append_str(&b, ",\"a\"]");
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_ERR_LIMIT);
	/* the length */
	b.len = 0;
	buf_append_str(&b, "sub = \"");
	while (b.len < AUTHZ_RULE_MAX - 1)
		buf_append_char(&b, 'a');
	buf_append_char(&b, '"');
	CHECK_INT(b.len, AUTHZ_RULE_MAX);
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_OK);
	authz_rule_free(r);
	buf_append_char(&b, ' ');
	CHECK_INT(authz_compile(b.data, b.len, lists, 1, &r, &at), AUTHZ_ERR_LIMIT);
	buf_free(&b);
	/* a path that fans out stops at AUTHZ_MATCHES_MAX values: the last of
	 * 300 elements is never reached, the first is */
	b = (struct buf)BUF_INIT;
	buf_append_str(&b, "{\"f\":[");
	for (int i = 0; i < 300; i++)
		buf_append_str(&b, i ? ",\"n\"" : "\"n\"");
	buf_append_str(&b, ",\"last\"]}");
	json_value *p = json_parse(b.data, b.len, b.len);
	CHECK(p != NULL);
	CHECK_INT(authz_compile("f/* = \"last\"", 12, lists, 1, &r, &at), AUTHZ_OK);
	CHECK(!authz_allows(r, "u", p));
	authz_rule_free(r);
	CHECK_INT(authz_compile("f/* = \"n\"", 9, lists, 1, &r, &at), AUTHZ_OK);
	CHECK(authz_allows(r, "u", p));
	authz_rule_free(r);
	json_free(p);
	buf_free(&b);
}

static void test_sublist(void)
{
	static const struct {
		const char *file;
		int rc;
		size_t n;
	} cases[] = {
		{ "", 0, 0 },
		{ "# only a comment\n\n", 0, 0 },
		{ "a\nb\r\nc", 0, 3 },
		{ "a b\n", -1, 0 },          /* a space inside */
		{ "a\n\x01\n", -1, 0 },
		{ "a\nb\na\n", 0, 2 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct sublist l = { .name = "x" };
		char err[128] = "";
		CHECK_INT(sublist_parse(cases[i].file, strlen(cases[i].file), &l, err, sizeof(err)),
		          cases[i].rc);
		CHECK_INT(l.n, cases[i].n);
		CHECK(cases[i].rc == 0 || strstr(err, "line") != NULL);
		sublist_free(&l);
	}
	CHECK(sublist_has(&lists[0], "u=bare", 6));
	CHECK(!sublist_has(&lists[0], "u=bar", 5));
	CHECK(!sublist_has(&lists[0], "u=bare2", 7));
	CHECK(sublist_name_valid("ops-team_2", 10));
	CHECK(!sublist_name_valid("Ops", 3));
	CHECK(!sublist_name_valid("", 0));
}

static void test_cache(void)
{
	struct authz_cache c = { 0 };
	const struct authz_rule *r1, *r2;
	size_t at;
	CHECK_INT(authz_cache_get(&c, "sub = \"a\"", 9, lists, 1, &r1, &at), AUTHZ_OK);
	CHECK_INT(authz_cache_get(&c, "sub = \"a\"", 9, lists, 1, &r2, &at), AUTHZ_OK);
	CHECK(r1 == r2);                                  /* compiled once */
	CHECK(authz_allows(r2, "a", NULL));
	CHECK_INT(authz_cache_get(&c, "sub = \"b\"", 9, lists, 1, &r2, &at), AUTHZ_OK);
	CHECK(r1 != r2 && authz_allows(r2, "b", NULL) && !authz_allows(r2, "a", NULL));
	CHECK_INT(authz_cache_get(&c, "sub = ", 6, lists, 1, &r2, &at), AUTHZ_ERR_SYNTAX);
	CHECK(r2 == NULL);
	/* more distinct rules than slots: each still right */
	for (int i = 0; i < 3 * AUTHZ_CACHE_SLOTS; i++) {
		char rule[32];
		int n = snprintf(rule, sizeof(rule), "sub = \"%d\"", i);
		CHECK_INT(authz_cache_get(&c, rule, (size_t)n, lists, 1, &r1, &at), AUTHZ_OK);
		char sub[16];
		snprintf(sub, sizeof(sub), "%d", i);
		CHECK(authz_allows(r1, sub, NULL));
	}
	authz_cache_free(&c);
	authz_cache_free(NULL);
}

int main(void)
{
	RUN(set_up);
	RUN(test_decisions);
	RUN(test_malformed);
	RUN(test_bounds);
	RUN(test_sublist);
	RUN(test_cache);
	sublist_free(&lists[0]);
	return harness_report("authz");
}
