/* route: the table of API routes (path -> id, allowed methods). */
#ifndef SGID_ROUTE_H
#define SGID_ROUTE_H

enum route_id {
	ROUTE_AUTH_URL,
	ROUTE_REDIRECT,
	ROUTE_USERINFO,
	ROUTE_LOGOUT,
	ROUTE_HEALTH,
	ROUTE_LOGIN,               /* gateway mode: a login that ends on rd */
	ROUTE_AUTH,                /* gateway mode: nginx's auth_request target */
	ROUTE_JWKS,                /* the RP's public keys, when the provider
	                              publishes some (else not found) */
	ROUTE__MAX
};

enum http_method {
	METHOD_GET = 1 << 0,
	METHOD_POST = 1 << 1,
	METHOD_OPTIONS = 1 << 2,
	METHOD_HEAD = 1 << 3,
	METHOD_OTHER = 1 << 4
};

enum route_match { ROUTE_MATCH, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

struct route {
	const char *path;       /* e.g. "/api/auth-url" */
	const char *name;       /* for logs, e.g. "auth-url" */
	unsigned methods;       /* mask of enum http_method (OPTIONS implied) */
};

/* Exact, case-sensitive method names; anything else (or NULL) is OTHER. */
enum http_method method_parse(const char *method);
/* NULL when id is out of range. */
const struct route *route_get(enum route_id id);
/* Matches the exact path (SCRIPT_NAME + PATH_INFO). OPTIONS matches any
 * route (CORS preflight); HEAD matches wherever GET does. *id (may be NULL)
 * is set for ROUTE_MATCH and ROUTE_BAD_METHOD. */
enum route_match route_lookup(const char *path, enum http_method m, enum route_id *id);
/* "GET, HEAD, OPTIONS" style list for Allow headers; NULL when id is out
 * of range. */
const char *route_allow_header(enum route_id id);

#endif
