/* api: the HTTP handlers (auth-url, redirect, userinfo, logout, health),
 * CORS and the common response headers. Orchestration only: parsing is in
 * http, protocol in sgid, storage in session. */
#ifndef SGID_API_H
#define SGID_API_H

#include <stddef.h>
#include <stdint.h>
#include "cfg.h"
#include "http.h"
#include "httpc.h"
#include "resp.h"
#include "route.h"
#include "session.h"
#include "sgid.h"
#include "store.h"

/* Everything a worker creates once and reuses for every request. */
struct app {
	const struct config *cfg;
	struct store *store;
	struct session_mgr sessions;
	struct httpc *http;
	struct sgid_client sgid;
	struct cookie_opts cookie;
};

/* A request as the server hands it over: pointers into FastCGI params. */
struct request {
	const char *method;
	const char *path;          /* SCRIPT_NAME + PATH_INFO */
	const char *query;         /* QUERY_STRING, "" when absent */
	const char *cookie;        /* HTTP_COOKIE or NULL */
	const char *origin;        /* HTTP_ORIGIN or NULL */
	const char *ac_request_method; /* HTTP_ACCESS_CONTROL_REQUEST_METHOD */
	const struct own_cookies *cookies; /* ours only; filled by api_handle */
};

/* Route name for logs after api_handle ("-" when no route matched). */
struct handled {
	const char *route;
};

int app_init(struct app *a, const struct config *cfg);
void app_free(struct app *a);

void api_handle(struct app *a, const struct request *req, struct response *res,
	struct handled *info);

#endif
