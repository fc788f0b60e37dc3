/* route: the table, method parsing, 404/405, HEAD and OPTIONS. */
#include <string.h>

#include "harness.h"
#include "route.h"

static void test_table_complete(void)
{
	/* every id has an entry: a hole in the table shows up here */
	for (int i = 0; i < ROUTE__MAX; i++) {
		const struct route *r = route_get((enum route_id)i);
		CHECK(r != NULL);
		if (!r)
			continue;
		CHECK(r->path != NULL && r->path[0] == '/');
		CHECK(r->name != NULL && r->name[0] != '\0');
		CHECK(r->methods & METHOD_GET);
		CHECK(route_allow_header((enum route_id)i) != NULL);
		/* the path finds its own id */
		enum route_id id = ROUTE__MAX;
		CHECK_INT(route_lookup(r->path, METHOD_GET, &id), ROUTE_MATCH);
		CHECK_INT(id, i);
	}
	CHECK(route_get(ROUTE__MAX) == NULL);
	CHECK(route_get((enum route_id)-1) == NULL);
	CHECK(route_allow_header(ROUTE__MAX) == NULL);
}

static void test_paths(void)
{
	CHECK_STR(route_get(ROUTE_AUTH_URL)->path, "/api/auth-url");
	CHECK_STR(route_get(ROUTE_REDIRECT)->path, "/api/redirect");
	CHECK_STR(route_get(ROUTE_USERINFO)->path, "/api/userinfo");
	CHECK_STR(route_get(ROUTE_LOGOUT)->path, "/api/logout");
	CHECK_STR(route_get(ROUTE_HEALTH)->path, "/api/health");
	CHECK_STR(route_get(ROUTE_LOGIN)->path, "/api/login");
	CHECK_STR(route_get(ROUTE_AUTH)->path, "/api/auth");
	CHECK_STR(route_get(ROUTE_LOGIN)->name, "login");
	CHECK_STR(route_get(ROUTE_AUTH)->name, "auth");
	/* gateway mode: GET and HEAD only (OPTIONS as everywhere) */
	CHECK_STR(route_allow_header(ROUTE_LOGIN), "GET, HEAD, OPTIONS");
	CHECK_STR(route_allow_header(ROUTE_AUTH), "GET, HEAD, OPTIONS");
	CHECK_INT(route_lookup("/api/auth", METHOD_HEAD, NULL), ROUTE_MATCH);
	CHECK_INT(route_lookup("/api/auth", METHOD_POST, NULL), ROUTE_BAD_METHOD);
	CHECK_INT(route_lookup("/api/login", METHOD_POST, NULL), ROUTE_BAD_METHOD);
	CHECK_INT(route_lookup("/api/auth/", METHOD_GET, NULL), ROUTE_NOT_FOUND);
	CHECK_INT(route_lookup("/api/login/x", METHOD_GET, NULL), ROUTE_NOT_FOUND);
	CHECK_STR(route_get(ROUTE_AUTH_URL)->name, "auth-url");
	CHECK_STR(route_get(ROUTE_HEALTH)->name, "health");
}

static void test_method_parse(void)
{
	CHECK_INT(method_parse("GET"), METHOD_GET);
	CHECK_INT(method_parse("POST"), METHOD_POST);
	CHECK_INT(method_parse("OPTIONS"), METHOD_OPTIONS);
	CHECK_INT(method_parse("HEAD"), METHOD_HEAD);
	CHECK_INT(method_parse("get"), METHOD_OTHER);
	CHECK_INT(method_parse("PUT"), METHOD_OTHER);
	CHECK_INT(method_parse("GET "), METHOD_OTHER);
	CHECK_INT(method_parse(""), METHOD_OTHER);
	CHECK_INT(method_parse(NULL), METHOD_OTHER);
}

static void test_lookup(void)
{
	enum route_id id = ROUTE__MAX;
	CHECK_INT(route_lookup("/api/auth-url", METHOD_GET, &id), ROUTE_MATCH);
	CHECK_INT(id, ROUTE_AUTH_URL);
	CHECK_INT(route_lookup("/api/redirect", METHOD_GET, &id), ROUTE_MATCH);
	CHECK_INT(id, ROUTE_REDIRECT);
	CHECK_INT(route_lookup("/api/userinfo", METHOD_GET, &id), ROUTE_MATCH);
	CHECK_INT(id, ROUTE_USERINFO);
	CHECK_INT(route_lookup("/api/logout", METHOD_GET, &id), ROUTE_MATCH);
	CHECK_INT(id, ROUTE_LOGOUT);
	CHECK_INT(route_lookup("/api/logout", METHOD_POST, &id), ROUTE_MATCH);
	CHECK_INT(route_lookup("/api/health", METHOD_GET, &id), ROUTE_MATCH);
	CHECK_INT(id, ROUTE_HEALTH);
	CHECK_INT(route_lookup("/api/health", METHOD_GET, NULL), ROUTE_MATCH);
}

static void test_not_found(void)
{
	static const char *const paths[] = {
		"", "/", "/api", "/api/", "/api/auth-url/", "/api/auth-url?icecream=x", "/API/auth-url",
		"/api/auth-urlx", "/api//auth-url", "/api/auth-url/../health", "api/health", "/api/health%00",
	};
	enum route_id id = ROUTE__MAX;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		CHECK_INT(route_lookup(paths[i], METHOD_GET, &id), ROUTE_NOT_FOUND);
	CHECK_INT(route_lookup(NULL, METHOD_GET, &id), ROUTE_NOT_FOUND);
	CHECK_INT(route_lookup("/nope", METHOD_OPTIONS, &id), ROUTE_NOT_FOUND);
	CHECK_INT(id, ROUTE__MAX); /* untouched */
}

static void test_bad_method(void)
{
	enum route_id id = ROUTE__MAX;
	CHECK_INT(route_lookup("/api/auth-url", METHOD_POST, &id), ROUTE_BAD_METHOD);
	CHECK_INT(id, ROUTE_AUTH_URL); /* set for the Allow header */
	CHECK_INT(route_lookup("/api/userinfo", METHOD_OTHER, &id), ROUTE_BAD_METHOD);
	CHECK_INT(id, ROUTE_USERINFO);
	CHECK_INT(route_lookup("/api/redirect", METHOD_POST, &id), ROUTE_BAD_METHOD);
	CHECK_INT(route_lookup("/api/health", METHOD_POST, &id), ROUTE_BAD_METHOD);
	CHECK_INT(route_lookup("/api/logout", METHOD_OTHER, &id), ROUTE_BAD_METHOD);
	CHECK_INT(route_lookup("/api/logout", METHOD_OTHER, NULL), ROUTE_BAD_METHOD);
	/* a combined mask is not a method */
	CHECK_INT(route_lookup("/api/logout", (enum http_method)(METHOD_GET | METHOD_POST), &id),
		ROUTE_BAD_METHOD);
}

static void test_head_and_options(void)
{
	enum route_id id;
	for (int i = 0; i < ROUTE__MAX; i++) {
		const char *p = route_get((enum route_id)i)->path;
		CHECK_INT(route_lookup(p, METHOD_HEAD, &id), ROUTE_MATCH);
		CHECK_INT(route_lookup(p, METHOD_OPTIONS, &id), ROUTE_MATCH);
		CHECK_INT(id, i);
	}
}

static void test_allow_header(void)
{
	CHECK_STR(route_allow_header(ROUTE_AUTH_URL), "GET, HEAD, OPTIONS");
	CHECK_STR(route_allow_header(ROUTE_LOGOUT), "GET, HEAD, POST, OPTIONS");
	CHECK_STR(route_allow_header(ROUTE_HEALTH), "GET, HEAD, OPTIONS");
	/* the Allow list agrees with the table */
	for (int i = 0; i < ROUTE__MAX; i++) {
		const struct route *r = route_get((enum route_id)i);
		const char *allow = route_allow_header((enum route_id)i);
		CHECK((strstr(allow, "POST") != NULL) == ((r->methods & METHOD_POST) != 0));
		CHECK((strstr(allow, "GET") != NULL) == ((r->methods & METHOD_GET) != 0));
		CHECK(strstr(allow, "HEAD") != NULL);
		CHECK(strstr(allow, "OPTIONS") != NULL);
	}
}

int main(void)
{
	RUN(test_table_complete);
	RUN(test_paths);
	RUN(test_method_parse);
	RUN(test_lookup);
	RUN(test_not_found);
	RUN(test_bad_method);
	RUN(test_head_and_options);
	RUN(test_allow_header);
	return harness_report("test_route");
}
