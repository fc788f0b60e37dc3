/* provider: the login provider seam. The handlers (api.c), gateway mode,
 * sessions, metrics, audit and revocation speak to the identity provider
 * only through this interface: authorize (a new login attempt and the URL
 * the browser goes to), callback (the code exchanged for a verified user)
 * and profile (the user's data as one JSON object). One process serves one
 * provider, chosen by LOGIN_PROVIDER; each implementation is its own module
 * (provider_sgid.c over sgid.c, provider_singpass.c over singpass.c), with
 * the JOSE and crypto work in the modules that own it. */
#ifndef SGID_PROVIDER_H
#define SGID_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "cfg.h"
#include "httpc.h"
#include "metrics.h"
#include "outcome.h"
#include "session.h"

enum provider_err {
	PROVIDER_OK,
	PROVIDER_ERR_UPSTREAM,       /* the provider unreachable, slow, or its
	                                answer refused: 502 to the SPA */
	PROVIDER_ERR_INTERNAL,       /* memory, randomness, encoding: 500 */
	PROVIDER_ERR__MAX
};

struct provider;

/* Process-wide state the request threads of one process share behind
 * their own locks (JWKS, discovery); created once before the threads. */
struct provider_shared;

struct provider_ops {
	const char *name;            /* "sgid", "singpass": logs and /api/health */
	/* authorize contacts the provider (Singpass: PAR), so the caller holds
	 * a place in the bulkhead around it; false: local work only. */
	bool authorize_calls_provider;
	/* A new login attempt in login (the caller set icecream, gateway and
	 * rd): fills state and nonce and whatever the callback needs back
	 * (code_verifier, provider_secret: sealed in the attempt cookie, never
	 * in the store), and url, the authorize URL for the browser. */
	enum provider_err (*authorize)(struct provider *p, struct session *login, struct buf *url);
	/* The callback's code for the attempt login: user gets sub and
	 * access_token, and profile when the provider hands it over at once
	 * (left empty: profile() fills it later). LOGIN_OK or the cause. */
	enum login_outcome (*callback)(struct provider *p, const char *code, size_t code_len,
		const struct session *login, struct session *user);
	/* user->profile filled as one JSON object from the provider (user's
	 * sub and access_token); the caller holds a place in the bulkhead. */
	enum provider_err (*profile)(struct provider *p, struct session *user);
	/* The RP's public JWKS ({"keys":[...]}) for GET /api/jwks; NULL: the
	 * provider publishes none (404). */
	int (*public_jwks)(struct provider *p, struct buf *out);
	void (*free)(struct provider *p);
};

/* One request thread's provider (per-thread state: its own HTTP handle,
 * keys and buffers; shared caches through shared). */
struct provider {
	const struct provider_ops *ops;
	const struct config *cfg;    /* not owned */
	struct httpc *http;          /* not owned */
	struct provider_shared *shared; /* not owned; NULL: the thread's own */
	struct metrics_block *metrics; /* the thread's counters, NULL: none */
	char errstr[256];            /* detail of the last failure; no secrets */
	const char *issuer;          /* RFC 9207: a callback's iss, when sent, must
	                                equal it; NULL: not checked (sgID) */
	void *impl;                  /* the implementation's client */
};

/* The process's shared state for cfg->login_provider (NULL on failure). */
struct provider_shared *provider_shared_new(const struct config *cfg);
void provider_shared_free(struct provider_shared *s);

/* The provider cfg->login_provider names, for one request thread. */
int provider_init(struct provider *p, const struct config *cfg, struct httpc *http,
	struct provider_shared *shared);
void provider_free(struct provider *p);

#endif
