/* returnurl: the return URLs of gateway mode (rd of /api/login and
 * /api/logout, the original URI of /api/auth and of the FastCGI
 * authorizer). Where the browser goes after a login or logout, so the one
 * place that stops an open redirect: a path on our own origin, or an
 * absolute URL on an origin the configuration lists. */
#ifndef SGID_RETURNURL_H
#define SGID_RETURNURL_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "cfg.h"

#define RETURNURL_MAX 1024  /* bytes of rd; longer is refused */

/* True when rd[0..len) is acceptable as a return URL:
 *  - a path: starts with exactly one '/' (not "//", not "/\"), no dot
 *    segments ("/./", "/../") in its path part;
 *  - or an absolute https:// URL (http:// only for loopback hosts) whose
 *    origin is one of cfg->return_origins, without user information.
 * Both: 1..RETURNURL_MAX bytes of printable ASCII without space or
 * backslash, and the same again after one percent-decoding (no control
 * byte, no %00, no backslash, still one leading '/'). A value that still
 * holds a %XX escape once decoded (double encoding, "%252F") is refused:
 * it has no honest use here and is how filters are dodged. *why (may be
 * NULL) gets a static reason that never quotes the value. */
bool returnurl_valid(const char *rd, size_t len, const struct config *cfg, const char **why);

/* Appends the absolute form of a valid rd: a path resolved against
 * cfg->redirect_origin (never a request header), an absolute URL as is.
 * 0 or -1 (allocation). */
int returnurl_resolve(const char *rd, const struct config *cfg, struct buf *out);

#endif
