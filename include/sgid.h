/* sgid: the sgID v2 relying party. Builds the authorize URL, exchanges the
 * code (client_secret_post + PKCE), verifies the ID token against a JWKS
 * cached per worker, and fetches + decrypts userinfo. */
#ifndef SGID_SGID_H
#define SGID_SGID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "cfg.h"
#include "httpc.h"
#include "idtoken.h"
#include "jose.h"
#include "jwks_cache.h"
#include "metrics.h"

#define SGID_MAX_DATA_FIELDS 64

enum sgid_err {
	SGID_OK,
	SGID_ERR_HTTP,            /* transport failure or non-200 */
	SGID_ERR_TOKEN_RESPONSE,  /* not JSON, or id_token/access_token missing */
	SGID_ERR_JWKS,            /* JWKS unreachable or unusable */
	SGID_ERR_ID_TOKEN,        /* ID token rejected (detail in errstr) */
	SGID_ERR_USERINFO,        /* userinfo body malformed */
	SGID_ERR_SUB_MISMATCH,
	SGID_ERR_DECRYPT,         /* key or data failed to decrypt */
	SGID_ERR_INTERNAL,
	SGID_ERR__MAX
};
const char *sgid_strerror(enum sgid_err err);

/* sgID's JWKS, shared by the request threads of a process (jwks_cache.h:
 * one lock, one fetch at a time, the unknown-kid refetch throttled for the
 * whole process). */
struct sgid_jwks_cache {
	struct jwks_cache cache;
};
int sgid_jwks_cache_init(struct sgid_jwks_cache *jc);
void sgid_jwks_cache_free(struct sgid_jwks_cache *jc);

struct sgid_client {
	const struct config *cfg;     /* not owned */
	struct httpc *http;           /* not owned */
	char authorize_url[640];
	char token_url[640];
	char userinfo_url[640];
	char jwks_url[640];
	struct buf authorize_prefix;  /* authorize_url?client_id=..&scope=..
	                                 &response_type=code&redirect_uri=..:
	                                 the same for every login, built once */
	struct sgid_jwks_cache own_jwks;  /* used unless a shared one is given */
	struct sgid_jwks_cache *jwks;     /* own_jwks or the process's */
	crypto_pkey *private_key;         /* this client's copy of cfg's */
	crypto_pkey *private_key_previous; /* and of the previous key, or NULL */
	uint64_t userinfo_previous_key;   /* userinfo responses whose block key
	                                     opened only with the previous key:
	                                     sgID not yet encrypting to the new
	                                     one (this thread's count; for the
	                                     metrics) */
	char errstr[256];             /* detail of the last failure; no secrets */
	enum idt_err idt_err;         /* why the last ID token was rejected
	                                 (SGID_ERR_ID_TOKEN), else IDT_OK */
	struct metrics_block *metrics; /* the thread's counters, NULL: none */
};

struct sgid_tokens {
	char sub[IDTOKEN_SUB_MAX + 1];
	struct buf access_token;
};

/* One decrypted data field. */
struct sgid_field {
	char name[129];
	struct buf value;             /* clean UTF-8 */
};
struct sgid_userinfo {
	struct sgid_field fields[SGID_MAX_DATA_FIELDS];
	size_t n;
};

int sgid_client_init(struct sgid_client *c, const struct config *cfg, struct httpc *http);
/* The request threads of a process share one JWKS cache (not owned). */
void sgid_client_share_jwks(struct sgid_client *c, struct sgid_jwks_cache *shared);
void sgid_client_free(struct sgid_client *c);

int sgid_authorize_url(const struct sgid_client *c, const char *state, const char *nonce,
	const char *code_challenge, struct buf *out);
enum sgid_err sgid_exchange_code(struct sgid_client *c, const char *code, size_t code_len,
	const char *code_verifier, const char *nonce, struct sgid_tokens *out);
enum sgid_err sgid_fetch_userinfo(struct sgid_client *c, const char *access_token,
	const char *sub, struct sgid_userinfo *out);

/* The decryption half of sgid_fetch_userinfo, on a userinfo response
 * body: sub checked, the block key opened with the current client key or
 * else the previous one, every data field decrypted. */
enum sgid_err sgid_decrypt_userinfo(struct sgid_client *c, const char *body, size_t len,
	const char *sub, struct sgid_userinfo *out);

void sgid_tokens_clear(struct sgid_tokens *t);
void sgid_userinfo_clear(struct sgid_userinfo *u);

#endif
