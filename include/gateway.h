/* gateway: what a web server in front of other apps gets from us (nginx
 * auth_request to /api/auth, a FastCGI authorizer): the identity of a
 * logged-in user as response headers, the Cookie header for the app
 * without the session cookie, whether a request carries a client's own
 * X-Sgid-* header (refused), and whether a refused request was a browser
 * navigation (sent to the login, not left at a bare 401). */
#ifndef SGID_GATEWAY_H
#define SGID_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "cfg.h"
#include "json.h"
#include "resp.h"

/* X-Sgid-Sub, X-Sgid-Myinfo-Name (nginx picks them with auth_request_set)
 * or Variable-SGID_SUB, Variable-SGID_MYINFO_NAME (lighttpd hands them to
 * the protected app as SGID_SUB, SGID_MYINFO_NAME). */
enum gateway_style { GATEWAY_HEADERS, GATEWAY_VARIABLES };

/* The gateway's own fields, each a header (X-Sgid-Login) or variable
 * (SGID_APP_COOKIE) named as a profile field's would be: a profile field
 * of the same header name is never given (it would pose as the gateway's
 * own). Add any new one to own_fields in gateway.c. */
#define GATEWAY_FIELD_SUB "sub"               /* the user's sub */
#define GATEWAY_FIELD_LOGIN "login"           /* nginx: where a 401 logs in */
#define GATEWAY_FIELD_APP_COOKIE "app-cookie" /* the Cookie header for the app */
#define GATEWAY_FIELD_MARK "gateway"          /* lighttpd: the authorizer said 200 */

/* An encoded value longer than this is left out, and so is its header:
 * nginx refuses an upstream whose headers overflow its buffer (4 or 8 KiB
 * by default), which would lock the user out of every protected page. */
#define GATEWAY_VALUE_MAX 2048

/* A browser navigation: method GET or HEAD, and then Sec-Fetch-Mode alone
 * decides when it is there (navigate; cors, no-cors, same-origin,
 * websocket, any other value and an empty one are not); without it (older
 * clients, curl) an Accept header that prefers text/html. NULLs are absent
 * headers. */
bool gateway_is_navigation(const char *method, const char *accept, const char *sec_fetch_mode);
/* text/html listed with q > 0, and no other listed range (wildcards
 * included) with a higher q. A malformed q counts as 0 on text/html and as
 * 1 elsewhere: doubt never makes a navigation. */
bool gateway_accept_prefers_html(const char *accept);

/* The header name for a profile field: "X-Sgid-" + the name with '.' and
 * '_' as '-', each word capitalised (myinfo.nric_number:
 * X-Sgid-Myinfo-Nric-Number), or "Variable-SGID_" + the name upper-cased
 * with '.' and '-' as '_' (SGID_MYINFO_NRIC_NUMBER). -1 for a name that is
 * empty, longer than CFG_FIELD_NAME_LEN - 1 or holds other than letters,
 * digits, '.', '_', '-'. Appends to out. */
int gateway_header_name(enum gateway_style st, const char *field, size_t len, struct buf *out);
/* Appends v with every byte outside 0x20-0x7E, and '%', as %XX (upper-case
 * hex): UTF-8 survives a header, and decoding it once gives it back. */
int gateway_value_encode(const char *v, size_t len, struct buf *out);

/* Adds the sub and each profile field (profile: the session's JSON object
 * of strings, and of arrays and objects with SGID_PARSE_DATA, given as
 * their compact JSON text; may be empty; only the fields cfg->gateway_headers lists,
 * when it lists any) as headers of res. A field whose name is unusable,
 * whose value is too long, or whose header would repeat one already given
 * (the sub's included) or one of the gateway's own (GATEWAY_FIELD_*) is
 * left out and counted in *skipped. 0, or -1 on an
 * unreadable profile or no memory. */
int gateway_add_identity(struct response *res, enum gateway_style st, const struct config *cfg,
	const char *sub, const struct buf *profile, size_t *skipped);

/* The same with the profile already parsed (NULL: none yet), for a check
 * that read it for the location's rule first. */
int gateway_add_identity_parsed(struct response *res, enum gateway_style st,
	const struct config *cfg, const char *sub, const json_value *profile, size_t *skipped);

/* What the app behind gets as its Cookie header: cookie (the request's,
 * NULL: none) without the session cookie (http_cookies_without), as
 * X-Sgid-App-Cookie (nginx sets the upstream's Cookie to it) or
 * Variable-SGID_APP_COOKIE (lighttpd-cookie.lua does), left out when
 * nothing remains; a header too long to read leaves nothing. The variables
 * style also gives Variable-SGID_GATEWAY: 1, so the script knows the
 * authorizer said 200 even when no cookie remains. 0, or -1 (no memory, in
 * res->failed). */
int gateway_add_app_cookie(struct response *res, enum gateway_style st, const char *cookie,
	const char *session_cookie);

/* A FastCGI parameter (NAME=value, or the name alone) that carries a
 * client's header named X-Sgid-* in any case, with '-' or '_': both web
 * servers pass it as HTTP_X_SGID_*. A request with one is refused: no app
 * behind may mistake it for the gateway's. */
bool gateway_is_client_identity(const char *param, size_t len);

#endif
