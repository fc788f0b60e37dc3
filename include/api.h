/* api: the HTTP handlers (auth-url, redirect, userinfo, logout, health;
 * login and auth of gateway mode, and the FastCGI authorizer role), CORS
 * and the common response headers, GET /api/jwks. Orchestration only:
 * parsing is in http, the identity provider behind provider.h (which one,
 * the handlers do not know), storage in session. */
#ifndef SGID_API_H
#define SGID_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "authz.h"
#include "cfg.h"
#include "http.h"
#include "httpc.h"
#include "provider.h"
#include "resp.h"
#include "route.h"
#include "scoreboard.h"
#include "session.h"
#include "store.h"

/* What the request threads of a process share (NULL members: none). */
struct app_shared {
	struct httpc_share *http;         /* DNS and TLS sessions */
	struct provider_shared *provider; /* the provider's caches (JWKS...) */
};

/* Everything a request thread creates once and reuses for every request:
 * its own Redis connection, curl handle, session keys and provider. */
struct app {
	const struct config *cfg;
	struct store *store;
	struct session_mgr sessions;
	struct httpc *http;
	struct provider provider;         /* LOGIN_PROVIDER's, this thread's */
	struct cookie_opts cookie;
	struct sb_slot_ref slot;          /* the bulkhead's view of this thread;
	                                     sb NULL: no bulkhead */
	struct metrics_block *metrics;    /* the slot's counters, NULL: none */
	struct authz_cache authz;         /* the locations' rules, compiled */
};

/* The FastCGI role (FastCGI 1.0 section 6): a filter is served as a
 * responder. */
enum request_role { REQUEST_RESPONDER, REQUEST_AUTHORIZER };

/* A request as the server hands it over: pointers into FastCGI params. */
struct request {
	enum request_role role;    /* AUTHORIZER: the gateway check, whatever
	                              the path (lighttpd sends the protected
	                              request's own) */
	const char *method;
	const char *path;          /* SCRIPT_NAME + PATH_INFO */
	const char *query;         /* QUERY_STRING, "" when absent */
	const char *cookie;        /* HTTP_COOKIE or NULL */
	const char *origin;        /* HTTP_ORIGIN or NULL */
	const char *ac_request_method; /* HTTP_ACCESS_CONTROL_REQUEST_METHOD */
	const char *accept;        /* HTTP_ACCEPT or NULL */
	const char *sec_fetch_mode; /* HTTP_SEC_FETCH_MODE or NULL */
	const char *sec_fetch_site; /* HTTP_SEC_FETCH_SITE or NULL */
	const char *gateway_scope; /* SGID_GATEWAY_SCOPE (set by the web server's
	                              config, never by a client): "public" asks
	                              the gateway check for the app's Cookie
	                              header alone, no login needed */
	const char *require;       /* SGID_REQUIRE: the location's access rule
	                              (authz.h), set by the web server's
	                              config; NULL or "": any logged-in user */
	const char *require_name;  /* SGID_REQUIRE_NAME: the rule's name for
	                              the logs, the audit log and metrics */
	const char *upgrade;       /* HTTP_UPGRADE or NULL: a WebSocket is no
	                              navigation, never sent to the login */
	bool identity_header_sent; /* a client's X-Sgid-* header came along
	                              (gateway_is_client_identity) */
	bool gateway_params_conflict; /* SGID_GATEWAY_SCOPE, SGID_REQUIRE or
	                              SGID_REQUIRE_NAME sent twice, differing
	                              (server_gateway_params_conflict) */
	const char *request_uri;   /* REQUEST_URI: the authorizer's protected request */
	const char *original_uri;  /* SGID_ORIGINAL_URI: nginx's $request_uri, to /api/auth */
	const char *original_method; /* SGID_ORIGINAL_METHOD: nginx's $request_method */
	const char *remote_addr;   /* REMOTE_ADDR: the audit log's client */
	const char *x_forwarded_for; /* HTTP_X_FORWARDED_FOR: believed only from
	                              TRUSTED_PROXIES */
	const char *user_agent;    /* HTTP_USER_AGENT */
	const struct own_cookies *cookies; /* ours only; filled by api_handle */
};

/* Route name for logs after api_handle ("-" when no route matched). */
struct handled {
	const char *route;
};

/* shared may be NULL (one thread, nothing shared). */
int app_init(struct app *a, const struct config *cfg, const struct app_shared *shared);
void app_free(struct app *a);
/* Gives the thread its scoreboard slot, and its counters to the modules
 * that count (provider calls, Redis errors). */
void app_attach_slot(struct app *a, struct sb_slot_ref slot);

void api_handle(struct app *a, const struct request *req, struct response *res,
	struct handled *info);

#endif
