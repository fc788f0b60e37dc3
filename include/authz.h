/* authz: who may enter a gateway location. The web server sets a rule per
 * location (FastCGI parameter SGID_REQUIRE, never a client's header); the
 * gateway check compiles it (cached per thread by its text) and evaluates
 * it against the session's sub and profile. No I/O.
 *
 * The rule language (README "Gateway mode", "Access rules"):
 *
 *   rule    = or
 *   or      = and *( "or" and )             ; "and" binds tighter than "or"
 *   and     = primary *( "and" primary )
 *   primary = "(" or ")" / test
 *   test    = ref "=" string                ; exact, byte for byte
 *           / ref "in" "[" string *( "," string ) "]"
 *           / "has" ref                     ; present, not "" and not "NA"
 *           / "sub" "in" "@" list           ; SGID_ALLOWLISTS' list, by name
 *   ref     = "sub" / field *( "/" segment ) ; a profile field, then a JSON
 *                                             ; path into its value
 *   field   = 1*( ALPHA / DIGIT / "." / "_" / "-" )
 *   segment = "*" / 1*( ALPHA / DIGIT / "." / "_" / "-" )
 *   string  = DQUOTE *( any byte 0x20-0x7E or >= 0x80 but DQUOTE and "\"
 *                      / "\" DQUOTE / "\\" ) DQUOTE
 *
 * Words are case-sensitive; spaces and tabs separate tokens. A path walks
 * into the field's JSON value (an array or object with SGID_PARSE_DATA, or
 * a string holding JSON as sgID sends it): a segment names an object
 * member or an array index; "*" is every element or member. A path test
 * holds when ANY value it reaches is a string that passes, e.g.
 *   pocdex.public_officer_details/ * /agency_name = "Work Allocation Singapore"
 * (without the spaces around '*'). */
#ifndef SGID_AUTHZ_H
#define SGID_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "sublist.h"

#define AUTHZ_RULE_MAX 2048     /* bytes of rule text */
#define AUTHZ_TESTS_MAX 32      /* tests in one rule */
#define AUTHZ_DEPTH_MAX 8       /* nested parentheses */
#define AUTHZ_VALUES_MAX 64     /* strings in one rule, over all lists */
#define AUTHZ_PATH_MAX 8        /* segments of one path */
#define AUTHZ_MATCHES_MAX 256   /* values one path may reach ("*" of "*") */
#define AUTHZ_NAME_MAX 64       /* bytes of SGID_REQUIRE_NAME logged */
#define AUTHZ_CACHE_SLOTS 8     /* compiled rules a thread keeps */

enum authz_err {
	AUTHZ_OK,
	AUTHZ_ERR_SYNTAX,     /* not the grammar */
	AUTHZ_ERR_LIMIT,      /* a bound above */
	AUTHZ_ERR_LIST,       /* "@name" names no configured allowlist */
	AUTHZ_ERR_NOMEM,
	AUTHZ_ERR__MAX
};
const char *authz_strerror(enum authz_err e);

struct authz_rule;

/* Compiles buf (len bytes, no NUL needed). lists: the configured
 * allowlists (n of them; pointers kept, they outlive the rule). 0 with
 * *out set, or the error with *out NULL and *at the byte offset where it
 * was found. */
enum authz_err authz_compile(const char *buf, size_t len, const struct sublist *lists, size_t n,
	struct authz_rule **out, size_t *at);
void authz_rule_free(struct authz_rule *r); /* NULL ok */

/* The decision of a compiled rule for a session: profile is the session's
 * profile object (NULL: none yet, every field absent). */
bool authz_allows(const struct authz_rule *r, const char *sub, const json_value *profile);

/* A usable rule name (SGID_REQUIRE_NAME): 1 to AUTHZ_NAME_MAX bytes of
 * A-Z, a-z, 0-9, '.', '_', '-'. */
bool authz_name_valid(const char *name, size_t len);

/* A thread's compiled rules, by their exact text; the oldest goes first. */
struct authz_cache {
	struct authz_cache_slot {
		char *text;
		size_t len;
		struct authz_rule *rule;
	} slot[AUTHZ_CACHE_SLOTS];
	size_t next;
};
/* The compiled rule for text (compiled now and kept when new); as
 * authz_compile. The rule belongs to the cache: valid until the next call. */
enum authz_err authz_cache_get(struct authz_cache *c, const char *text, size_t len,
	const struct sublist *lists, size_t n, const struct authz_rule **out, size_t *at);
void authz_cache_free(struct authz_cache *c);

#endif
