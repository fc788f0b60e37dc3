/* singpass: the Singpass FAPI 2.0 relying party (SINGPASS-PROTOCOL.md in
 * the design notes). Discovery, fetched once per process and refreshed at
 * most hourly; the pushed authorization request (PAR) with a
 * private_key_jwt client assertion and a DPoP proof; the token request
 * with one retry on use_dpop_nonce; the ID token, a JWE to the RP's
 * encryption key holding an ES256 JWS checked against Singpass's JWKS
 * (singpass_parse.c); Myinfo userinfo with the DPoP-bound access token.
 * One struct singpass_client per request thread; the process's threads
 * share one struct singpass_shared (discovery, JWKS, the RP's keys), each
 * part behind its own lock. */
#ifndef SGID_SINGPASS_H
#define SGID_SINGPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "buf.h"
#include "cfg.h"
#include "dpop.h"
#include "httpc.h"
#include "idtoken.h"
#include "jose.h"
#include "json.h"
#include "jwks_cache.h"
#include "metrics.h"
#include "rp_keys.h"

#define SINGPASS_URL_MAX          1024          /* one endpoint from discovery */
#define SINGPASS_DISCOVERY_TTL    3600          /* seconds: refreshed at most hourly */
#define SINGPASS_DISCOVERY_RETRY  60            /* seconds before a failed refresh is retried */
#define SINGPASS_DISCOVERY_MAX    (64 * 1024)   /* bytes of the discovery document */
#define SINGPASS_REQUEST_URI_MAX  512           /* the PAR's request_uri */
#define SINGPASS_ACCESS_TOKEN_MAX 8192
#define SINGPASS_ID_TOKEN_MAX     (16 * 1024)   /* the ID token JWE (staging: ~1.4 KiB) */
#define SINGPASS_USERINFO_MAX     JOSE_MAX_TOKEN_LEN /* the userinfo JWE */
#define SINGPASS_PROFILE_FIELDS   64            /* members of the profile object */
#define SINGPASS_FIELD_NAME_MAX   128
#define SINGPASS_STATE_BYTES      32            /* state and nonce: 43 base64url chars */
#define SINGPASS_VERIFIER_LEN     43            /* PKCE code_verifier (32 random bytes) */
#define SINGPASS_TRANSIENT_RETRIES 3            /* on server_error, temporarily_unavailable */
#define SINGPASS_TRANSIENT_DELAY_MS 100         /* before the first; doubling */

enum singpass_err {
	SINGPASS_OK,
	SINGPASS_ERR_DISCOVERY,    /* discovery unreachable or refused */
	SINGPASS_ERR_PAR,          /* PAR: transport, status or answer */
	SINGPASS_ERR_TOKEN,        /* token endpoint: transport, status or answer */
	SINGPASS_ERR_JWKS,         /* Singpass's JWKS unreachable or unusable */
	SINGPASS_ERR_ID_TOKEN,     /* ID token refused: idt_err says why */
	SINGPASS_ERR_USERINFO,     /* Myinfo userinfo: transport, status, JWE, JWS or claims */
	SINGPASS_ERR_INTERNAL,     /* memory, randomness, signing */
	SINGPASS_ERR__MAX
};
const char *singpass_strerror(enum singpass_err err);

/* The endpoints the RP reads from discovery. */
struct singpass_discovery {
	char issuer[sizeof(((struct singpass_config *)0)->issuer)];
	char par_endpoint[SINGPASS_URL_MAX];
	char authorization_endpoint[SINGPASS_URL_MAX];
	char token_endpoint[SINGPASS_URL_MAX];
	char userinfo_endpoint[SINGPASS_URL_MAX]; /* "" when not advertised */
	char jwks_uri[SINGPASS_URL_MAX];
};

/* Parses a discovery document (singpass_parse.c: bounded, fuzzed): issuer must be
 * byte-equal to issuer; pushed_authorization_request_endpoint,
 * authorization_endpoint, token_endpoint and jwks_uri are required,
 * userinfo_endpoint when need_userinfo; each an absolute http(s) URL of at
 * most SINGPASS_URL_MAX - 1 printable characters without query, fragment
 * or blanks, https unless issuer itself is http (a loopback test issuer).
 * 0, or -1 with why (a static string) set. */
int singpass_discovery_parse(const char *json, size_t len, const char *issuer,
	bool need_userinfo, struct singpass_discovery *out, const char **why);

/* State the request threads of a process share. */
struct singpass_shared {
	pthread_mutex_t lock;          /* the discovery fields below */
	pthread_cond_t fetch_done;
	bool fetching;                 /* one discovery fetch at a time */
	bool have_discovery;
	struct singpass_discovery discovery;
	int64_t discovery_at;          /* wall clock of the last fetch */
	uint64_t discovery_fetches;    /* fetch attempts (tests, logs) */
	char discovery_err[300];       /* why the last first fetch failed: what
	                                  the threads that waited for it say */
	struct jwks_cache jwks;        /* Singpass's signing keys */
	struct rp_keys keys;           /* the RP's keys: read-only once loaded */
	int64_t (*now)(void);          /* wall clock in seconds; tests inject one */
};
/* The shared state around the RP's keys (taken over, even on failure). */
int singpass_shared_init_keys(struct singpass_shared *s, struct rp_keys *keys);
void singpass_shared_free(struct singpass_shared *s); /* NULL ok */
uint64_t singpass_discovery_fetches(struct singpass_shared *s);

struct singpass_client {
	const struct config *cfg;      /* not owned */
	struct httpc *http;            /* not owned */
	struct singpass_shared *shared; /* not owned */
	struct singpass_discovery disc; /* this thread's copy for the current call */
	struct metrics_block *metrics; /* the thread's counters, NULL: none */
	enum idt_err idt_err;          /* why the last ID token was refused */
	unsigned nonce_retries;        /* use_dpop_nonce retries made (tests) */
	unsigned transient_retries;    /* retries after a "try again" answer (tests) */
	char dpop_nonce[HTTPC_NONCE_MAX + 1]; /* the last DPoP-Nonce Singpass sent
	                                 this thread, offered in the next proof
	                                 to the same origin (RFC 9449 §8.2) */
	char dpop_nonce_origin[SINGPASS_URL_MAX]; /* whose nonce: scheme://host[:port] */
	char errstr[256];              /* detail of the last failure; no secrets */
};
void singpass_client_init(struct singpass_client *c, const struct config *cfg,
	struct httpc *http, struct singpass_shared *shared);

/* What one login attempt holds between authorize and callback. */
struct singpass_attempt {
	const char *state;
	const char *nonce;
	const char *code_verifier;
	const struct dpop_key *dpop;
};

/* Pushes the authorization request and appends the browser's URL:
 * authorization_endpoint?client_id=..&request_uri=.. and nothing else. */
enum singpass_err singpass_par(struct singpass_client *c, const struct singpass_attempt *a,
	struct buf *url);

struct singpass_tokens {
	char sub[IDTOKEN_SUB_MAX + 1];
	struct buf access_token;
	struct buf profile;            /* a JSON object: sub_attributes' members */
};
void singpass_tokens_clear(struct singpass_tokens *t);

/* The token request for code (redirect_uri, PKCE verifier, a fresh client
 * assertion, a DPoP proof of a's key; one retry with the server's nonce on
 * use_dpop_nonce), token_type DPoP required, the ID token decrypted,
 * verified and checked against a's nonce. */
enum singpass_err singpass_exchange_code(struct singpass_client *c, const char *code,
	size_t code_len, const struct singpass_attempt *a, struct singpass_tokens *out);

/* Myinfo: userinfo with the DPoP-bound access token (proof with ath; one
 * retry on use_dpop_nonce), its JWE decrypted, its JWS verified, iss, aud
 * and sub (= t->sub) checked, and its claims other than the registered
 * ones merged into t->profile (members already there are kept). */
enum singpass_err singpass_userinfo(struct singpass_client *c, const struct dpop_key *k,
	struct singpass_tokens *t);

/* ---- the ID token and userinfo layers (singpass_parse.c) ---- */

/* Opens a Singpass JWT: a compact JWE (at most max bytes; ECDH-ES+AxxxKW,
 * A256CBC-HS512 or A256GCM; keys: the RP's current then previous
 * encryption key, rp_keys_decrypters, chosen by kid) whose plaintext must
 * be a compact JWS; appends that JWS. */
enum jose_err singpass_jwt_decrypt(const char *jwe, size_t len, size_t max,
	const struct jwe_ec_key *keys, size_t n, struct buf *jws);

struct singpass_idt_expect {
	struct idtoken_expect base;    /* iss, aud/azp, exp, iat, nbf, nonce, sub */
	const char *acr_values;        /* as sent in the PAR; NULL or "": none */
};
/* The Singpass claim rules on a verified ID-token payload (a parser:
 * fuzzed): idtoken_check_claims with fractional times, sub_type "user"
 * when present, acr at least the lowest level asked for when acr_values
 * was sent, sub_attributes an object when present. Appends its members to
 * profile as one JSON object ({} when absent); at most
 * SINGPASS_PROFILE_FIELDS members, names of 1..SINGPASS_FIELD_NAME_MAX
 * printable characters. */
enum idt_err singpass_idtoken_claims(const json_value *payload, const struct singpass_idt_expect *x,
	struct idtoken_claims *claims, struct buf *profile);

/* Merges the members of src not named in skip (NULL-terminated) and not
 * already in profile (a JSON object text, "" for none) into it. -1 on a
 * bad name, too many members or allocation failure (profile unchanged). */
int singpass_profile_merge(struct buf *profile, const json_value *src, const char *const *skip);

#endif
