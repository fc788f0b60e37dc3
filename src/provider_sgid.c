/* provider_sgid: sgID v2 behind the provider seam, over sgid.c. Authorize
 * is local work (state, nonce, PKCE and the authorize URL); the callback
 * exchanges the code for a verified sub and access token; the profile is
 * userinfo, decrypted, as one JSON object (SGID_PARSE_DATA honoured). */
#include "provider_impl.h"

#include <stdlib.h>
#include <string.h>

#include "idtoken.h"
#include "json.h"
#include "pkce.h"
#include "sgid.h"

static struct sgid_client *client(struct provider *p)
{
	struct sgid_client *c = p->impl;
	c->metrics = p->metrics; /* attached after init, with the slot */
	return c;
}

/* A new login attempt: state, nonce and PKCE in login, the URL for the
 * browser in url. No call to sgID. */
static enum provider_err sgid_authorize(struct provider *p, struct session *login, struct buf *url)
{
	struct buf challenge = BUF_INIT;
	enum provider_err rc = PROVIDER_ERR_INTERNAL;
	if (random_token_b64url(32, login->state, sizeof(login->state)) == 0 &&
	    random_token_b64url(32, login->nonce, sizeof(login->nonce)) == 0 &&
	    pkce_verifier(login->code_verifier) == 0 &&
	    pkce_challenge(login->code_verifier, strlen(login->code_verifier), &challenge) == 0 &&
	    sgid_authorize_url(client(p), login->state, login->nonce, challenge.data, url) == 0)
		rc = PROVIDER_OK;
	else
		provider_set_err(p, "building the authorize URL: out of memory or randomness");
	buf_free(&challenge);
	return rc;
}

static enum login_outcome of_idt(enum idt_err e)
{
	switch (e) {
	case IDT_ERR_ALG:
	case IDT_ERR_NO_KEY:
	case IDT_ERR_SIGNATURE: return LOGIN_ID_TOKEN_SIGNATURE;
	case IDT_ERR_ISS:
	case IDT_ERR_AUD:
	case IDT_ERR_AZP:
	case IDT_ERR_SUB: return LOGIN_ID_TOKEN_CLAIMS;
	case IDT_ERR_EXP:
	case IDT_ERR_IAT:
	case IDT_ERR_NBF: return LOGIN_ID_TOKEN_TIME;
	case IDT_ERR_NONCE: return LOGIN_ID_TOKEN_NONCE;
	default: return LOGIN_ID_TOKEN_MALFORMED;
	}
}

/* The cause of a failed sgID call of a login; idt is the ID token's own
 * reason when err is SGID_ERR_ID_TOKEN. */
static enum login_outcome outcome_of(enum sgid_err err, enum idt_err idt)
{
	switch (err) {
	case SGID_OK: return LOGIN_OK;
	case SGID_ERR_HTTP:
	case SGID_ERR_TOKEN_RESPONSE: return LOGIN_TOKEN_ERROR;
	case SGID_ERR_JWKS: return LOGIN_JWKS_UNAVAILABLE;
	case SGID_ERR_ID_TOKEN: return of_idt(idt);
	case SGID_ERR_USERINFO:
	case SGID_ERR_SUB_MISMATCH:
	case SGID_ERR_DECRYPT: return LOGIN_USERINFO_ERROR;
	default: return LOGIN_INTERNAL;
	}
}

static enum login_outcome sgid_callback(struct provider *p, const char *code, size_t code_len,
	const struct session *login, struct session *user)
{
	struct sgid_client *c = client(p);
	struct sgid_tokens tokens = {0};
	enum login_outcome rc = LOGIN_OK;
	enum sgid_err ge = sgid_exchange_code(c, code, code_len, login->code_verifier, login->nonce,
	                                      &tokens);
	if (ge != SGID_OK) {
		provider_set_err(p, "%s: %s", sgid_strerror(ge), c->errstr);
		rc = outcome_of(ge, c->idt_err);
	} else if (buf_append(&user->access_token, tokens.access_token.data,
	                      tokens.access_token.len) != 0) {
		provider_set_err(p, "out of memory");
		rc = LOGIN_INTERNAL;
	} else {
		memcpy(user->sub, tokens.sub, sizeof(tokens.sub));
	}
	sgid_tokens_clear(&tokens);
	return rc;
}

_Static_assert(sizeof(((struct session *)0)->sub) >= sizeof(((struct sgid_tokens *)0)->sub),
               "an sgID sub fits the session");

/* Profile JSON object from decrypted fields. A field named iceCream from
 * sgID would collide with ours and is left out. With SGID_PARSE_DATA a
 * value holding stringified JSON is written as that JSON (never longer
 * than the string it replaces, so the session record limits hold). */
static int build_profile(const struct config *cfg, const struct sgid_userinfo *u, struct buf *out)
{
	if (buf_append_char(out, '{'))
		return -1;
	int first = 1;
	for (size_t i = 0; i < u->n; i++) {
		const struct sgid_field *f = &u->fields[i];
		if (strcmp(f->name, "iceCream") == 0)
			continue;
		if ((!first && buf_append_char(out, ',')) ||
		    json_append_string(out, f->name, strlen(f->name)) || buf_append_char(out, ':') ||
		    (cfg->parse_data
		     ? json_append_embedded(out, buf_cstr(&f->value), f->value.len, cfg->http_max_body)
		     : json_append_string(out, buf_cstr(&f->value), f->value.len)))
			return -1;
		first = 0;
	}
	return buf_append_char(out, '}');
}

/* One userinfo call for user (its access token and sub), the decrypted
 * fields kept in user->profile. The large decrypted-fields table lives on
 * this path only. */
static enum provider_err sgid_profile(struct provider *p, struct session *user)
{
	struct sgid_client *c = client(p);
	struct sgid_userinfo info;
	enum provider_err rc = PROVIDER_OK;
	info.n = 0;
	enum sgid_err ge = sgid_fetch_userinfo(c, user->access_token.data, user->sub, &info);
	if (ge != SGID_OK) {
		provider_set_err(p, "%s: %s", sgid_strerror(ge), c->errstr);
		rc = ge == SGID_ERR_INTERNAL ? PROVIDER_ERR_INTERNAL : PROVIDER_ERR_UPSTREAM;
	} else if (build_profile(p->cfg, &info, &user->profile) != 0) {
		provider_set_err(p, "building the profile: out of memory");
		rc = PROVIDER_ERR_INTERNAL;
	}
	sgid_userinfo_clear(&info);
	return rc;
}

static void sgid_free(struct provider *p)
{
	struct sgid_client *c = p->impl;
	if (!c)
		return;
	sgid_client_free(c);
	free(c);
	p->impl = NULL;
}

static const struct provider_ops sgid_ops = {
	.name = "sgid",
	.authorize_calls_provider = false,
	.authorize = sgid_authorize,
	.callback = sgid_callback,
	.profile = sgid_profile,
	.public_jwks = NULL, /* sgID's client keys are registered, not fetched */
	.free = sgid_free,
};

int provider_sgid_init(struct provider *p)
{
	struct sgid_client *c = calloc(1, sizeof(*c));
	if (!c || sgid_client_init(c, p->cfg, p->http) != 0) {
		sgid_client_free(c); /* what the failed init holds; NULL: nothing */
		free(c);
		provider_set_err(p, "sgID client: out of memory");
		return -1;
	}
	struct sgid_jwks_cache *shared = provider_shared_state(p);
	if (shared)
		sgid_client_share_jwks(c, shared);
	p->impl = c;
	p->ops = &sgid_ops;
	return 0;
}

/* The process's sgID JWKS, shared by its request threads. */
void *provider_sgid_shared_new(const struct config *cfg)
{
	(void)cfg;
	struct sgid_jwks_cache *jc = calloc(1, sizeof(*jc));
	if (jc && sgid_jwks_cache_init(jc) != 0) {
		free(jc);
		jc = NULL;
	}
	return jc;
}

void provider_sgid_shared_free(void *state)
{
	if (!state)
		return;
	sgid_jwks_cache_free(state);
	free(state);
}
