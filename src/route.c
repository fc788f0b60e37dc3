/* route: the API's routes, one table indexed by enum route_id. HEAD is
 * allowed wherever GET is, OPTIONS everywhere (CORS preflight). */
#include "route.h"

#include <string.h>

#include "util.h"

static const struct route routes[] = {
	[ROUTE_AUTH_URL] = {"/api/auth-url", "auth-url", METHOD_GET},
	[ROUTE_REDIRECT] = {"/api/redirect", "redirect", METHOD_GET},
	[ROUTE_USERINFO] = {"/api/userinfo", "userinfo", METHOD_GET},
	[ROUTE_LOGOUT] = {"/api/logout", "logout", METHOD_GET | METHOD_POST},
	[ROUTE_HEALTH] = {"/api/health", "health", METHOD_GET},
	[ROUTE_LOGIN] = {"/api/login", "login", METHOD_GET},
	[ROUTE_AUTH] = {"/api/auth", "auth", METHOD_GET},
	[ROUTE_JWKS] = {"/api/jwks", "jwks", METHOD_GET},
};
_Static_assert(ARRAY_LEN(routes) == ROUTE__MAX, "routes[] out of step with enum route_id");

/* Kept beside routes[] and checked against it by the unit tests. */
static const char *const allow_headers[] = {
	[ROUTE_AUTH_URL] = "GET, HEAD, OPTIONS",
	[ROUTE_REDIRECT] = "GET, HEAD, OPTIONS",
	[ROUTE_USERINFO] = "GET, HEAD, OPTIONS",
	[ROUTE_LOGOUT] = "GET, HEAD, POST, OPTIONS",
	[ROUTE_HEALTH] = "GET, HEAD, OPTIONS",
	[ROUTE_LOGIN] = "GET, HEAD, OPTIONS",
	[ROUTE_AUTH] = "GET, HEAD, OPTIONS",
	[ROUTE_JWKS] = "GET, HEAD, OPTIONS",
};
_Static_assert(ARRAY_LEN(allow_headers) == ROUTE__MAX, "allow_headers[] out of step with enum route_id");

static const struct {
	const char *name;
	enum http_method m;
} methods[] = {
	{"GET", METHOD_GET}, {"POST", METHOD_POST}, {"OPTIONS", METHOD_OPTIONS}, {"HEAD", METHOD_HEAD},
};

enum http_method method_parse(const char *method)
{
	if (!method)
		return METHOD_OTHER;
	/* method names are case-sensitive (RFC 9110 9.1) */
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(method, methods[i].name) == 0)
			return methods[i].m;
	return METHOD_OTHER;
}

const struct route *route_get(enum route_id id)
{
	return (unsigned)id < ROUTE__MAX ? &routes[id] : NULL;
}

/* m must be one method, not a mask: GET|POST is not a request method. */
static bool method_allowed(const struct route *r, enum http_method m)
{
	switch (m) {
	case METHOD_OPTIONS:
		return true;
	case METHOD_HEAD:
		return (r->methods & (METHOD_GET | METHOD_HEAD)) != 0;
	case METHOD_GET:
	case METHOD_POST:
		return (r->methods & m) != 0;
	default:
		return false;
	}
}

enum route_match route_lookup(const char *path, enum http_method m, enum route_id *id)
{
	if (!path)
		return ROUTE_NOT_FOUND;
	for (size_t i = 0; i < ROUTE__MAX; i++) {
		if (strcmp(path, routes[i].path) != 0)
			continue;
		/* set even on 405: the caller needs it for the Allow header */
		if (id)
			*id = (enum route_id)i;
		return method_allowed(&routes[i], m) ? ROUTE_MATCH : ROUTE_BAD_METHOD;
	}
	return ROUTE_NOT_FOUND;
}

const char *route_allow_header(enum route_id id)
{
	return (unsigned)id < ROUTE__MAX ? allow_headers[id] : NULL;
}
