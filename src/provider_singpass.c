/* provider_singpass: Singpass FAPI 2.0 behind the provider seam
 * (provider.h) over singpass.c. authorize makes the attempt's state,
 * nonce, PKCE verifier and a fresh DPoP key (its scalar is the attempt's
 * provider_secret, sealed in the attempt cookie) and pushes the request
 * (PAR): it calls Singpass, so the caller holds a place in the bulkhead.
 * callback exchanges the code with that key and hands back the user with
 * the profile already built (sub_attributes, plus Myinfo userinfo when a
 * Myinfo scope is configured), so profile() has nothing to fetch. */
#include "provider_singpass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provider_impl.h"
#include "pkce.h"
#include "singpass.h"
#include "util.h"

struct sp_impl {
	struct singpass_client client;
	struct singpass_shared *own;   /* a thread without the process's: its own */
};

static struct singpass_client *client_of(struct provider *p)
{
	struct sp_impl *im = p->impl;
	im->client.metrics = p->metrics;
	return &im->client;
}

const struct singpass_client *provider_singpass_client(const struct provider *p)
{
	const struct sp_impl *im = p ? p->impl : NULL;
	return im ? &im->client : NULL;
}

static enum provider_err sp_authorize(struct provider *p, struct session *login, struct buf *url)
{
	struct singpass_client *c = client_of(p);
	struct dpop_key k;
	enum provider_err rc = PROVIDER_ERR_INTERNAL;

	memset(&k, 0, sizeof(k));
	if (random_token_b64url(SINGPASS_STATE_BYTES, login->state, sizeof(login->state)) != 0 ||
	    random_token_b64url(SINGPASS_STATE_BYTES, login->nonce, sizeof(login->nonce)) != 0 ||
	    pkce_verifier(login->code_verifier) != 0 || dpop_key_generate(&k) != 0 ||
	    dpop_key_export(&k, login->provider_secret) != 0) {
		provider_set_err(p, "singpass: cannot make the attempt's secrets");
		goto fail;
	}
	login->provider_secret_len = DPOP_KEY_SEALED_LEN;
	struct singpass_attempt a = { login->state, login->nonce, login->code_verifier, &k };
	enum singpass_err e = singpass_par(c, &a, url);
	if (e != SINGPASS_OK) {
		provider_set_err(p, "singpass: %s: %s", singpass_strerror(e), c->errstr);
		rc = e == SINGPASS_ERR_INTERNAL ? PROVIDER_ERR_INTERNAL : PROVIDER_ERR_UPSTREAM;
		goto fail;
	}
	rc = PROVIDER_OK;
fail:
	if (rc != PROVIDER_OK) {
		secure_zero(login->provider_secret, sizeof(login->provider_secret));
		login->provider_secret_len = 0;
	}
	dpop_key_free(&k);
	return rc;
}

/* A failed Singpass call of a login as its cause (outcome.h): the same
 * causes as sgID's; a PAR or DPoP failure at the callback is a token
 * error, an acr or sub_type refusal a claims one. */
static enum login_outcome outcome_of(enum singpass_err e, enum idt_err idt)
{
	switch (e) {
	case SINGPASS_OK: return LOGIN_OK;
	case SINGPASS_ERR_DISCOVERY:
	case SINGPASS_ERR_PAR:
	case SINGPASS_ERR_TOKEN: return LOGIN_TOKEN_ERROR;
	case SINGPASS_ERR_JWKS: return LOGIN_JWKS_UNAVAILABLE;
	case SINGPASS_ERR_USERINFO: return LOGIN_USERINFO_ERROR;
	case SINGPASS_ERR_ID_TOKEN: break;
	default: return LOGIN_INTERNAL;
	}
	switch (idt) {
	case IDT_ERR_ALG:
	case IDT_ERR_NO_KEY:
	case IDT_ERR_SIGNATURE: return LOGIN_ID_TOKEN_SIGNATURE;
	case IDT_ERR_ISS:
	case IDT_ERR_AUD:
	case IDT_ERR_AZP:
	case IDT_ERR_SUB:
	case IDT_ERR_ACR:
	case IDT_ERR_CLAIM_TYPE: return LOGIN_ID_TOKEN_CLAIMS;
	case IDT_ERR_EXP:
	case IDT_ERR_IAT:
	case IDT_ERR_NBF: return LOGIN_ID_TOKEN_TIME;
	case IDT_ERR_NONCE: return LOGIN_ID_TOKEN_NONCE;
	default: return LOGIN_ID_TOKEN_MALFORMED;
	}
}

static enum login_outcome sp_callback(struct provider *p, const char *code, size_t code_len,
	const struct session *login, struct session *user)
{
	struct singpass_client *c = client_of(p);
	struct singpass_tokens t;
	struct dpop_key k;
	enum login_outcome o = LOGIN_INTERNAL;

	memset(&t, 0, sizeof(t));
	if (dpop_key_import(&k, login->provider_secret, login->provider_secret_len) != 0) {
		provider_set_err(p, "singpass: the attempt holds no DPoP key");
		return LOGIN_INTERNAL;
	}
	struct singpass_attempt a = { login->state, login->nonce, login->code_verifier, &k };
	enum singpass_err e = singpass_exchange_code(c, code, code_len, &a, &t);
	if (e == SINGPASS_OK && p->cfg->singpass.myinfo)
		e = singpass_userinfo(c, &k, &t);
	if (e != SINGPASS_OK) {
		provider_set_err(p, "singpass: %s: %s", singpass_strerror(e), c->errstr);
		o = outcome_of(e, c->idt_err);
		goto done;
	}
	_Static_assert(sizeof(user->sub) >= sizeof(t.sub), "sub fits the session");
	memcpy(user->sub, t.sub, sizeof(t.sub));
	buf_reset(&user->access_token);
	buf_reset(&user->profile);
	if (buf_append(&user->access_token, t.access_token.data, t.access_token.len) != 0 ||
	    buf_append(&user->profile, t.profile.data, t.profile.len) != 0) {
		provider_set_err(p, "singpass: out of memory");
		goto done;
	}
	o = LOGIN_OK;
done:
	singpass_tokens_clear(&t);
	dpop_key_free(&k);
	return o;
}

/* The profile is set at the callback (Singpass hands it over in the ID
 * token, Myinfo's at once): nothing to fetch later. */
static enum provider_err sp_profile(struct provider *p, struct session *user)
{
	if (user->profile.len)
		return PROVIDER_OK;
	provider_set_err(p, "singpass: the session holds no profile");
	return PROVIDER_ERR_UPSTREAM;
}

static int sp_public_jwks(struct provider *p, struct buf *out)
{
	struct sp_impl *im = p->impl;
	return rp_keys_jwks(&im->client.shared->keys, out);
}

static void sp_free(struct provider *p)
{
	struct sp_impl *im = p ? p->impl : NULL;
	if (!im)
		return;
	if (im->own) {
		singpass_shared_free(im->own);
		free(im->own);
	}
	free(im);
	p->impl = NULL;
}

static const struct provider_ops singpass_ops = {
	.name = "singpass",
	.authorize_calls_provider = true,
	.authorize = sp_authorize,
	.callback = sp_callback,
	.profile = sp_profile,
	.public_jwks = sp_public_jwks,
	.free = sp_free,
};

int provider_singpass_init_with(struct provider *p, struct singpass_shared *shared,
	struct singpass_shared *own)
{
	struct sp_impl *im = calloc(1, sizeof(*im));

	p->ops = &singpass_ops;
	p->impl = im;
	if (!im) {
		provider_set_err(p, "singpass: out of memory");
		singpass_shared_free(own);
		free(own);
		p->ops = NULL;
		return -1;
	}
	im->own = own;
	singpass_client_init(&im->client, p->cfg, p->http, shared ? shared : own);
	if (!im->client.shared) {
		provider_set_err(p, "singpass: no shared state");
		sp_free(p);
		p->ops = NULL;
		return -1;
	}
	p->issuer = p->cfg->singpass.issuer; /* discovery's issuer equals it */
	return 0;
}

/* The seam's init: the process's shared state, or (a thread without one)
 * its own, loaded from the key files now. */
int provider_singpass_init(struct provider *p)
{
	struct singpass_shared *shared = provider_shared_state(p);
	struct singpass_shared *own = NULL;
	if (!shared) {
		char err[256] = "";
		own = provider_singpass_shared_load(p->cfg, err, sizeof(err));
		if (!own) {
			provider_set_err(p, "singpass: %s", err);
			return -1;
		}
	}
	return provider_singpass_init_with(p, shared, own);
}

struct singpass_shared *provider_singpass_shared_load(const struct config *cfg, char *err,
	size_t err_len)
{
	struct rp_keys ks;
	struct singpass_shared *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (rp_keys_load(&ks, &cfg->singpass, err, err_len) != 0) {
		free(s);
		return NULL;
	}
	if (singpass_shared_init_keys(s, &ks) != 0) {
		snprintf(err, err_len, "cannot set up the shared state");
		free(s);
		return NULL;
	}
	return s;
}

void *provider_singpass_shared_new(const struct config *cfg)
{
	char err[256] = "";
	struct singpass_shared *s = provider_singpass_shared_load(cfg, err, sizeof(err));
	if (!s)
		log_error("singpass: %s", err);
	return s;
}

void provider_singpass_shared_free(void *state)
{
	singpass_shared_free(state);
	free(state);
}
