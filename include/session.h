/* session: login attempts and logged-in sessions.
 * A login attempt lives in its cookie only, sealed (AES-256-GCM under a key
 * of its own, AAD naming its purpose): starting a login costs the store
 * nothing. Its single use is a marker written with SET NX at the callback.
 * Logged-in sessions are records in the store, encrypted and authenticated
 * at rest (the Redis key as AAD) under keys that are a keyed hash of the
 * cookie value, so a dump of Redis reveals neither tokens, profile data nor
 * usable cookies. Each user's sessions are listed in an index named by a
 * keyed hash of the sub (revocation), kept in step by store scripts. */
#ifndef SGID_SESSION_H
#define SGID_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "crypto.h"
#include "cfg.h"
#include "returnurl.h"
#include "store.h"

/* A session id: base64url of the user's tag (15 bytes: 20 characters, a
 * keyed hash of the sub), 33 random bytes and a 12-byte MAC of both under
 * a key of the session secret. The tag names the Redis hash slot of the
 * record and of the user's index, so revocation finds every session of a
 * sub and stays one atomic script. An id whose MAC is neither the current
 * nor the previous secret's was not issued here: it is refused before any
 * store call and writes no audit line, so a forged cookie costs one HMAC
 * and never picks a slot. Ids of the two earlier forms (64 characters: tag
 * and random, no MAC; 43: random only, no tag, in no index) are read only
 * with SESSION_ACCEPT_LEGACY_IDS, for one session lifetime after the
 * upgrade. */
#define SESSION_ID_LEN 80
#define SESSION_ID_UNSIGNED_LEN 64
#define SESSION_ID_LEGACY_LEN 43
#define SESSION_TAG_LEN 20           /* the tag's characters at the start */
/* A sealed login attempt as a cookie value: base64url of version, IV,
 * the attempt (~250 bytes; a provider secret of 64 bytes adds 94; plus a
 * gateway login's return URL of up to RETURNURL_MAX) and the tag; anything
 * longer is not one (every field at its longest: 2020 bytes). The Cookie
 * reader's limit per value (HTTP_MAX_VALUE_LEN), checked in session.c. */
#define SESSION_ATTEMPT_MAX 2048
/* Pending login attempts one browser keeps (two tabs, a double click):
 * the cookie holds up to this many sealed attempts joined by '.', newest
 * first, SESSION_ATTEMPT_MAX bytes in all (older ones dropped to fit). */
#define SESSION_ATTEMPTS_MAX 4

enum session_kind {
	SESSION_LOGIN,                 /* between auth-url and redirect: in the cookie */
	SESSION_USER,                  /* after a verified login */
	SESSION_KIND__MAX
};

enum session_err {
	SESSION_OK,
	SESSION_NOT_FOUND,             /* absent, expired, or failed to decrypt */
	SESSION_ALREADY_USED,          /* a login attempt's callback came twice */
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
	uint8_t provider_secret[64];   /* login: the provider's own secret for
	                                  its callback (Singpass: the DPoP key's
	                                  scalar); sealed, never stored */
	size_t provider_secret_len;    /* 0: none */
	char icecream[40];             /* both: the SPA's choice */
	bool gateway;                  /* login: started at /api/login */
	char rd[RETURNURL_MAX + 1];    /* login, gateway: the validated return URL */
	bool sealed_by_prev;           /* login: opened with SESSION_SECRET_PREVIOUS */
	char sub[260];                 /* user: ID-token sub */
	struct buf access_token;       /* user */
	struct buf profile;            /* user: decrypted data as a JSON object,
	                                  empty until the first userinfo */
	int64_t created_at;            /* unix seconds */
	int64_t expires_at;            /* absolute expiry, unix seconds */
};

/* The keys one session secret yields. */
struct session_keys {
	uint8_t enc_key[32];           /* records in the store */
	uint8_t attempt_key[32];       /* login attempts in cookies */
	crypto_hmac_key *id_mac;       /* names records and markers in Redis */
	crypto_hmac_key *id_check;     /* the MAC in each session id */
};

/* cur seals and names everything new. prev (SESSION_SECRET_PREVIOUS) is
 * only read: a session found under its name moves to the current name on
 * that load, an attempt sealed with it still opens (and its marker is
 * named with it). Equal to cur, prev is ignored. */
struct session_mgr {
	struct store *store;           /* not owned */
	struct session_keys cur;
	struct session_keys prev;      /* when has_prev */
	bool has_prev;
	size_t max_record;             /* the largest record: any profile that
	                                  SGID_HTTP_MAX_BODY admits fits */
	int login_ttl;
	int session_ttl;               /* absolute lifetime */
	int idle_ttl;                  /* extended on every use, capped by the above */
	int max_per_user;              /* SESSION_MAX_PER_USER: oldest evicted past it */
	bool accept_legacy_ids;        /* SESSION_ACCEPT_LEGACY_IDS: ids without a MAC */
};

int session_mgr_init(struct session_mgr *m, struct store *store, const struct config *cfg);
void session_mgr_wipe(struct session_mgr *m);

void session_init(struct session *s, enum session_kind kind);
void session_clear(struct session *s);   /* frees and wipes */

/* Stores a logged-in session under a fresh id tagged by s->sub (written to
 * id) and lists it in the user's index, in one script; past max_per_user
 * the user's oldest sessions end. */
enum session_err session_create(struct session_mgr *m, struct session *s,
	char id[SESSION_ID_LEN + 1]);
/* Loads a logged-in session and extends its idle expiry (one round trip).
 * A miss under the current name tries the previous secret's name; a record
 * found there is re-sealed under the current name at once (SET NX, then
 * GETDEL of the old name: a logout that ran meanwhile wins). A tagged id
 * whose tag is its sub's under neither secret (older than two rotations)
 * is deleted with its index entry: SESSION_NOT_FOUND. */
enum session_err session_load_user(struct session_mgr *m, const char *id, size_t len,
	struct session *out);
/* Rewrites a logged-in session keeping its absolute expiry, only if it still
 * exists: SESSION_NOT_FOUND when it was deleted (logout) meanwhile. */
enum session_err session_update_user(struct session_mgr *m, const char *id, size_t len,
	const struct session *s);
/* Deletes the logged-in session a cookie value names (none: SESSION_OK),
 * under the previous secret's name first, then the current one. */
enum session_err session_destroy(struct session_mgr *m, const char *id, size_t len);

/* Seals a login attempt (state, nonce, verifier, icecream, the gateway
 * flag and rd; the times are set here) into a cookie value of at most
 * SESSION_ATTEMPT_MAX bytes. No store call. */
enum session_err session_seal_login(struct session_mgr *m, struct session *s, struct buf *cookie);
/* Opens a sealed attempt: SESSION_NOT_FOUND when it is not one of ours,
 * was altered, or has expired (from its sealed time). No store call. */
enum session_err session_open_login(struct session_mgr *m, const char *val, size_t len,
	struct session *out);
/* The cookie value for a new attempt (sealed: one value of
 * session_seal_login) in front of the attempts the browser already held
 * (prev, NULL or any cookie value: only the parts that still open are
 * kept), at most SESSION_ATTEMPTS_MAX and SESSION_ATTEMPT_MAX bytes. */
enum session_err session_attempts_push(struct session_mgr *m, const struct buf *sealed,
	const char *prev, size_t prev_len, struct buf *out);
/* The attempt of val (one or several joined by '.') whose state is state
 * (constant-time compare): SESSION_OK with out and rest (the value of the
 * other attempts that still open, "" when none). SESSION_NOT_FOUND when
 * none matches; *n_open says how many opened (0: no attempt of ours, else
 * a state mismatch). No store call. */
enum session_err session_open_attempt(struct session_mgr *m, const char *val, size_t len,
	const char *state, size_t state_len, struct session *out, struct buf *rest, size_t *n_open);
/* Spends an opened attempt: SET NX of a marker named by a keyed hash of its
 * state under the secret that sealed it, for the attempt's remaining
 * lifetime. SESSION_ALREADY_USED on a
 * replay; SESSION_NOT_FOUND when it has expired meanwhile. */
enum session_err session_consume_login(struct session_mgr *m, const struct session *login);

/* Every session of sub (the tags under the current and the previous
 * secret): revoke deletes them, count counts the live ones. *n: how many.
 * Legacy-id sessions are in no index and not found. */
enum session_err session_revoke_user(struct session_mgr *m, const char *sub, long long *n);
enum session_err session_count_user(struct session_mgr *m, const char *sub, long long *n);

/* True when id has the shape of a session id (80 or, earlier forms, 64
 * or 43 base64url chars), whoever issued it. */
int session_id_valid(const char *id, size_t len);
/* True when this deployment issued id: its MAC is the current or the
 * previous secret's (an id of an earlier form: when accept_legacy_ids).
 * No store call; only such ids reach the store or the audit log. */
bool session_id_issued(const struct session_mgr *m, const char *id, size_t len);

#endif
