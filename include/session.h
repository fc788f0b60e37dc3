/* session: login attempts and logged-in sessions, stored through store.h.
 * Records are encrypted and authenticated at rest (AES-256-GCM, the Redis
 * key as AAD); the Redis key is a keyed hash of the cookie value, so a dump
 * of Redis reveals neither tokens, profile data nor usable cookies. */
#ifndef SGID_SESSION_H
#define SGID_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "crypto.h"
#include "cfg.h"
#include "store.h"

#define SESSION_ID_LEN 43          /* base64url of 32 random bytes */
#define SESSION_MAX_RECORD (64 * 1024)

enum session_kind {
	SESSION_LOGIN,                 /* between auth-url and redirect: single use */
	SESSION_USER,                  /* after a verified login */
	SESSION_KIND__MAX
};

enum session_err {
	SESSION_OK,
	SESSION_NOT_FOUND,             /* absent, expired, or failed to decrypt */
	SESSION_ERR_STORE,             /* the store is unreachable or refused */
	SESSION_ERR_INTERNAL,          /* memory, randomness, encoding */
	SESSION_ERR__MAX
};
const char *session_strerror(enum session_err err);

struct session {
	enum session_kind kind;
	char state[64];                /* login: the state sent to sgID */
	char nonce[64];                /* login: the nonce sent to sgID */
	char code_verifier[130];       /* login: PKCE verifier */
	char icecream[40];             /* both: the SPA's choice */
	char sub[260];                 /* user: ID-token sub */
	struct buf access_token;       /* user */
	struct buf profile;            /* user: decrypted data as a JSON object,
	                                  empty until the first userinfo */
	int64_t created_at;            /* unix seconds */
	int64_t expires_at;            /* absolute expiry, unix seconds */
};

struct session_mgr {
	struct store *store;           /* not owned */
	uint8_t enc_key[32];
	crypto_hmac_key *id_mac;       /* names records in Redis */
	int login_ttl;
	int session_ttl;               /* absolute lifetime */
	int idle_ttl;                  /* extended on every use, capped by the above */
};

int session_mgr_init(struct session_mgr *m, struct store *store, const struct config *cfg);
void session_mgr_wipe(struct session_mgr *m);

void session_init(struct session *s, enum session_kind kind);
void session_clear(struct session *s);   /* frees and wipes */

/* Stores s under a fresh random id (written to id) with the TTL of its kind. */
enum session_err session_create(struct session_mgr *m, struct session *s,
	char id[SESSION_ID_LEN + 1]);
/* Loads a logged-in session and extends its idle expiry (one round trip). */
enum session_err session_load_user(struct session_mgr *m, const char *id, size_t len,
	struct session *out);
/* Atomically reads and deletes a login attempt: a replay finds nothing. */
enum session_err session_take_login(struct session_mgr *m, const char *id, size_t len,
	struct session *out);
/* Rewrites a logged-in session keeping its absolute expiry. */
enum session_err session_update_user(struct session_mgr *m, const char *id, size_t len,
	const struct session *s);
/* Deletes the login attempt and the session a cookie may name. */
enum session_err session_destroy(struct session_mgr *m, const char *id, size_t len);

/* True when id has the shape of one of ours (43 base64url chars). */
int session_id_valid(const char *id, size_t len);

#endif
