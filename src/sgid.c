#include "sgid.h"

#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"

static const char *const sgid_errstr[] = {
	[SGID_OK] = "ok",
	[SGID_ERR_HTTP] = "sgID request failed",
	[SGID_ERR_TOKEN_RESPONSE] = "bad token response",
	[SGID_ERR_JWKS] = "JWKS unavailable",
	[SGID_ERR_ID_TOKEN] = "ID token rejected",
	[SGID_ERR_USERINFO] = "bad userinfo response",
	[SGID_ERR_SUB_MISMATCH] = "userinfo sub differs from the ID token's",
	[SGID_ERR_DECRYPT] = "userinfo decryption failed",
	[SGID_ERR_INTERNAL] = "internal error",
};
_Static_assert(ARRAY_LEN(sgid_errstr) == SGID_ERR__MAX, "sgid_errstr");

const char *sgid_strerror(enum sgid_err err)
{
	return (unsigned)err < SGID_ERR__MAX ? sgid_errstr[err] : "unknown";
}

static void set_err(struct sgid_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct sgid_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
	va_end(ap);
}

static int add_param(struct buf *b, char sep, const char *name, const char *value)
{
	if (buf_append_char(b, sep) != 0 || buf_append_strs(b, name, "=", NULL) != 0)
		return -1;
	return url_encode(b, value, strlen(value));
}

int sgid_client_init(struct sgid_client *c, const struct config *cfg, struct httpc *http)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->http = http;
	if (sgid_jwks_cache_init(&c->own_jwks) != 0)
		return -1;
	c->jwks = &c->own_jwks;
	if (cfg->private_key && !(c->private_key = crypto_pkey_dup(cfg->private_key)))
		return -1;
	if (cfg->private_key_previous &&
	    !(c->private_key_previous = crypto_pkey_dup(cfg->private_key_previous)))
		return -1;
	/* Endpoints are built from the issuer, as both SDKs do; discovery is
	 * never read (MockPass's has doubled slashes). */
	int n1 = snprintf(c->authorize_url, sizeof(c->authorize_url), "%s/oauth/authorize", cfg->issuer);
	int n2 = snprintf(c->token_url, sizeof(c->token_url), "%s/oauth/token", cfg->issuer);
	int n3 = snprintf(c->userinfo_url, sizeof(c->userinfo_url), "%s/oauth/userinfo", cfg->issuer);
	int n4 = snprintf(c->jwks_url, sizeof(c->jwks_url), "%s/.well-known/jwks.json", cfg->issuer);
	if (n1 < 0 || n2 < 0 || n3 < 0 || n4 < 0 || (size_t)n1 >= sizeof(c->authorize_url) ||
	    (size_t)n2 >= sizeof(c->token_url) || (size_t)n3 >= sizeof(c->userinfo_url) ||
	    (size_t)n4 >= sizeof(c->jwks_url))
		return -1;
	if (buf_append_str(&c->authorize_prefix, c->authorize_url) ||
	    add_param(&c->authorize_prefix, '?', "client_id", cfg->client_id) ||
	    add_param(&c->authorize_prefix, '&', "scope", cfg->scopes) ||
	    add_param(&c->authorize_prefix, '&', "response_type", "code") ||
	    add_param(&c->authorize_prefix, '&', "redirect_uri", cfg->redirect_uri)) {
		buf_free(&c->authorize_prefix);
		return -1;
	}
	return 0;
}

void sgid_client_free(struct sgid_client *c)
{
	if (c) {
		sgid_jwks_cache_free(&c->own_jwks);
		buf_free(&c->authorize_prefix);
		crypto_pkey_free(c->private_key);
		crypto_pkey_free(c->private_key_previous);
		c->private_key = c->private_key_previous = NULL;
		c->jwks = NULL;
	}
}

void sgid_client_share_jwks(struct sgid_client *c, struct sgid_jwks_cache *shared)
{
	c->jwks = shared ? shared : &c->own_jwks;
}

int sgid_jwks_cache_init(struct sgid_jwks_cache *jc)
{
	return jwks_cache_init(&jc->cache);
}

void sgid_jwks_cache_free(struct sgid_jwks_cache *jc)
{
	if (jc)
		jwks_cache_free(&jc->cache);
}

void sgid_tokens_clear(struct sgid_tokens *t)
{
	buf_free(&t->access_token);
	secure_zero(t, sizeof(*t));
}

void sgid_userinfo_clear(struct sgid_userinfo *u)
{
	for (size_t i = 0; i < u->n && i < SGID_MAX_DATA_FIELDS; i++) {
		buf_free(&u->fields[i].value);
		secure_zero(&u->fields[i], sizeof(u->fields[i]));
	}
	u->n = 0;
}

int sgid_authorize_url(const struct sgid_client *c, const char *state, const char *nonce,
	const char *code_challenge, struct buf *out)
{
	if (buf_append(out, c->authorize_prefix.data, c->authorize_prefix.len) ||
	    add_param(out, '&', "nonce", nonce) ||
	    add_param(out, '&', "state", state) ||
	    add_param(out, '&', "code_challenge", code_challenge) ||
	    add_param(out, '&', "code_challenge_method", "S256"))
		return -1;
	return 0;
}

/* The error code of a Bearer challenge (RFC 6750 3: a protected resource
 * such as userinfo answers 401 with WWW-Authenticate: Bearer
 * error="invalid_token"), when it is a plain token; else out stays "". */
static void bearer_error(const char *challenge, char *out, size_t cap)
{
	const char *p = strstr(challenge, "error=");
	size_t n;

	if (!p || (p > challenge && p[-1] != ' ' && p[-1] != ','))
		return;
	p += 6;
	if (*p == '"')
		p++;
	n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
	if (n > 0 && n < cap) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

/* Logs what an error response says, bounded and without echoing bodies
 * that could carry tokens. */
static void note_http_failure(struct sgid_client *c, const char *what, enum httpc_err e,
	const struct httpc_response *r)
{
	if (e != HTTPC_ERR_STATUS) {
		set_err(c, "%s: %s (%s)", what, httpc_strerror(e), httpc_errstr(c->http));
		return;
	}
	char oauth_error[64] = "";
	json_value *body = json_parse(r->body.data, r->body.len, 64 * 1024);
	size_t len = 0;
	const char *err = json_get_str(body, "error", &len);
	if (err && len < sizeof(oauth_error) && is_printable_ascii(err, len))
		memcpy(oauth_error, err, len + 1);
	json_free(body);
	if (!oauth_error[0])
		bearer_error(r->www_authenticate, oauth_error, sizeof(oauth_error));
	set_err(c, "%s: HTTP %ld%s%s", what, r->status, oauth_error[0] ? " error=" : "", oauth_error);
}

/* Counts one call to sgID: its duration and whether it failed (transport
 * or an error status). */
static void count_call(struct sgid_client *c, enum metrics_sgid_call call, int64_t start_us,
	enum httpc_err e)
{
	metrics_count_sgid_call(c->metrics, call, metrics_now_us() - start_us, e == HTTPC_OK);
}

/* One ID-token verification against the cached set. */
struct idt_check {
	struct sgid_client *c;
	const char *jwt;
	size_t len;
	const struct idtoken_expect *expect;
	struct idtoken_claims *claims;
	enum idt_err e;
};

/* Fetches and parses the JWKS (jwks_cache calls it without its lock
 * held: an HTTP call) into fresh. */
static int fetch_jwks(void *ud, struct jwks *fresh)
{
	struct sgid_client *c = ((struct idt_check *)ud)->c;
	struct httpc_response r = {0};
	int rc = -1;
	int64_t start_us = metrics_now_us();
	enum httpc_err e = httpc_get(c->http, c->jwks_url, NULL, &r);
	count_call(c, METRICS_CALL_JWKS, start_us, e);
	if (e != HTTPC_OK) {
		note_http_failure(c, "jwks", e, &r);
		goto fail;
	}
	enum jose_err je = jwks_parse(r.body.data, r.body.len, fresh);
	if (je != JOSE_OK || fresh->n == 0) {
		set_err(c, "jwks: %s", je != JOSE_OK ? jose_strerror(je) : "no usable RS256 key");
		jwks_clear(fresh);
		goto fail;
	}
	log_info("jwks: loaded %zu key(s)", fresh->n);
	rc = 0;
fail:
	httpc_response_free(&r);
	return rc;
}

static enum jwks_use check_with(void *ud, const struct jwks *keys)
{
	struct idt_check *k = ud;
	k->e = idtoken_verify(k->jwt, k->len, keys, k->expect, k->claims);
	return k->e == IDT_ERR_NO_KEY ? JWKS_USE_UNKNOWN_KEY : JWKS_USE_DONE;
}

/* Verifies the ID token; on an unknown key refetches the JWKS at most once
 * per configured interval (key rotation), never on a bad signature. */
static enum sgid_err verify_id_token(struct sgid_client *c, const char *jwt, size_t len,
	const char *nonce, struct idtoken_claims *claims)
{
	const struct config *cfg = c->cfg;
	struct idtoken_expect expect = {
		.issuer = cfg->issuer, .client_id = cfg->client_id, .nonce = nonce,
		.now = now_unix(), .skew = cfg->clock_skew,
	};
	struct idt_check k = { c, jwt, len, &expect, claims, IDT_OK };
	struct jwks_cache_user u = { fetch_jwks, check_with, &k };
	bool refetched = false;

	c->idt_err = IDT_OK;
	c->errstr[0] = '\0';
	enum jwks_cache_rc jr = jwks_cache_use(&c->jwks->cache, cfg->jwks_refetch_interval, &u,
		&refetched);
	if (refetched)
		metrics_count_jwks_refetch(c->metrics);
	if (jr == JWKS_CACHE_FETCH_FAILED) {
		if (!c->errstr[0]) /* the fetch this call waited for failed */
			set_err(c, "jwks: unavailable (the fetch this request waited for failed)");
		return SGID_ERR_JWKS;
	}
	if (jr == JWKS_CACHE_THROTTLED) {
		set_err(c, "id_token: %s (JWKS refetch throttled)", idtoken_strerror(k.e));
		c->idt_err = k.e;
		return SGID_ERR_ID_TOKEN;
	}
	if (k.e != IDT_OK) {
		set_err(c, "id_token: %s", idtoken_strerror(k.e));
		c->idt_err = k.e;
		return SGID_ERR_ID_TOKEN;
	}
	return SGID_OK;
}

enum sgid_err sgid_exchange_code(struct sgid_client *c, const char *code, size_t code_len,
	const char *code_verifier, const char *nonce, struct sgid_tokens *out)
{
	const struct config *cfg = c->cfg;
	struct buf form = BUF_INIT;
	struct httpc_response r = {0};
	json_value *body = NULL;
	struct idtoken_claims claims;
	enum sgid_err rc = SGID_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	/* client_secret_post: the secret travels only in this form body */
	if (buf_append_str(&form, "grant_type=authorization_code&code=") ||
	    url_encode(&form, code, code_len) ||
	    add_param(&form, '&', "redirect_uri", cfg->redirect_uri) ||
	    add_param(&form, '&', "code_verifier", code_verifier) ||
	    add_param(&form, '&', "client_id", cfg->client_id) ||
	    add_param(&form, '&', "client_secret", cfg->client_secret))
		goto fail;
	int64_t start_us = metrics_now_us();
	enum httpc_err he = httpc_post_form(c->http, c->token_url, form.data, form.len, &r);
	count_call(c, METRICS_CALL_TOKEN, start_us, he);
	if (he != HTTPC_OK) {
		note_http_failure(c, "token", he, &r);
		rc = SGID_ERR_HTTP;
		goto fail;
	}
	rc = SGID_ERR_TOKEN_RESPONSE;
	body = json_parse(r.body.data, r.body.len, cfg->http_max_body);
	if (!body || json_kind_of(body) != JSON_OBJECT) {
		set_err(c, "token: response is not a JSON object");
		goto fail;
	}
	size_t id_len = 0, at_len = 0;
	const char *id_token = json_get_str(body, "id_token", &id_len);
	const char *access_token = json_get_str(body, "access_token", &at_len);
	if (!id_token || id_len == 0) {
		set_err(c, "token: id_token missing");
		goto fail;
	}
	if (!access_token || at_len == 0 || at_len > 8192 || !is_printable_ascii(access_token, at_len)) {
		set_err(c, "token: access_token missing or malformed");
		goto fail;
	}
	rc = verify_id_token(c, id_token, id_len, nonce, &claims);
	if (rc != SGID_OK)
		goto fail;
	memcpy(out->sub, claims.sub, sizeof(out->sub));
	if (buf_append(&out->access_token, access_token, at_len) != 0) {
		rc = SGID_ERR_INTERNAL;
		goto fail;
	}
	rc = SGID_OK;
fail:
	if (rc != SGID_OK)
		sgid_tokens_clear(out);
	json_free(body);
	httpc_response_free(&r);
	buf_free(&form);
	return rc;
}

struct decrypt_ctx {
	struct sgid_client *c;
	const uint8_t *block_key;
	size_t block_key_len;
	struct sgid_userinfo *out;
	enum sgid_err err;
};

static int decrypt_field(const char *name, const json_value *val, void *ud)
{
	struct decrypt_ctx *d = ud;
	struct sgid_userinfo *u = d->out;
	size_t name_len = strlen(name), jwe_len = 0;
	const char *jwe = json_str(val, &jwe_len);

	if (u->n >= SGID_MAX_DATA_FIELDS) {
		set_err(d->c, "userinfo: more than %d data fields", SGID_MAX_DATA_FIELDS);
		d->err = SGID_ERR_USERINFO;
		return 1;
	}
	if (name_len == 0 || name_len >= sizeof(u->fields[0].name) || !is_printable_ascii(name, name_len)) {
		set_err(d->c, "userinfo: bad data field name");
		d->err = SGID_ERR_USERINFO;
		return 1;
	}
	if (!jwe) {
		set_err(d->c, "userinfo: data field is not a string");
		d->err = SGID_ERR_USERINFO;
		return 1;
	}
	struct sgid_field *f = &u->fields[u->n];
	memcpy(f->name, name, name_len + 1);
	struct jwe_key key = { .oct = d->block_key, .oct_len = d->block_key_len };
	enum jose_err je = jwe_decrypt(jwe, jwe_len, &key, &f->value);
	u->n++; /* counted even on failure so clear() frees the buffer */
	if (je != JOSE_OK) {
		set_err(d->c, "userinfo: data field decrypt: %s", jose_strerror(je));
		d->err = SGID_ERR_DECRYPT;
		return 1;
	}
	if (!is_clean_utf8(f->value.data ? f->value.data : "", f->value.len)) {
		set_err(d->c, "userinfo: data field is not clean UTF-8");
		d->err = SGID_ERR_DECRYPT;
		return 1;
	}
	return 0;
}

/* The block key, RSA-OAEP-wrapped to our key: the current one, else the
 * previous one of a rotation (sgID may still encrypt to it). */
static enum jose_err open_block_key(struct sgid_client *c, const char *key_jwe, size_t key_len,
	struct buf *block_jwk)
{
	const struct jwe_key keys[2] = { { .rsa = c->private_key }, { .rsa = c->private_key_previous } };
	size_t used = 0;
	enum jose_err je = jwe_decrypt_any(key_jwe, key_len, keys, c->private_key_previous ? 2 : 1,
		block_jwk, &used);

	if (je == JOSE_OK && used == 1) {
		c->userinfo_previous_key++;
		metrics_count_userinfo_previous_key(c->metrics);
		log_debug("userinfo: opened with the previous client key (SGID_PRIVATE_KEY_PREVIOUS)");
	} else if (je == JOSE_OK) {
		log_debug("userinfo: opened with the current client key");
	}
	return je;
}

enum sgid_err sgid_decrypt_userinfo(struct sgid_client *c, const char *body_text, size_t len,
	const char *sub, struct sgid_userinfo *out)
{
	json_value *body = NULL;
	struct buf block_jwk = BUF_INIT, block_key = BUF_INIT;
	enum sgid_err rc = SGID_ERR_USERINFO;

	memset(out, 0, sizeof(*out));
	body = json_parse(body_text, len, c->cfg->http_max_body);
	if (json_kind_of(body) != JSON_OBJECT) {
		set_err(c, "userinfo: response is not a JSON object");
		goto fail;
	}
	size_t sub_len = 0;
	const char *got_sub = json_get_str(body, "sub", &sub_len);
	if (!got_sub || !str_eq_n(got_sub, sub_len, sub)) {
		set_err(c, "userinfo: sub mismatch");
		rc = SGID_ERR_SUB_MISMATCH;
		goto fail;
	}
	const json_value *key = json_get(body, "key");
	const json_value *data = json_get(body, "data");
	if (!key || !data) { /* openid-only scope: no data */
		rc = SGID_OK;
		goto fail;
	}
	size_t key_len = 0;
	const char *key_jwe = json_str(key, &key_len);
	if (!key_jwe || json_kind_of(data) != JSON_OBJECT) {
		set_err(c, "userinfo: key or data of the wrong type");
		goto fail;
	}
	rc = SGID_ERR_DECRYPT;
	enum jose_err je = open_block_key(c, key_jwe, key_len, &block_jwk);
	if (je == JOSE_OK)
		je = jwk_oct_parse(block_jwk.data, block_jwk.len, &block_key);
	if (je != JOSE_OK) {
		set_err(c, "userinfo: block key: %s", jose_strerror(je));
		goto fail;
	}
	struct decrypt_ctx d = { c, (const uint8_t *)block_key.data, block_key.len, out, SGID_OK };
	if (json_object_foreach(data, decrypt_field, &d) != 0) {
		rc = d.err;
		goto fail;
	}
	rc = SGID_OK;
fail:
	if (rc != SGID_OK)
		sgid_userinfo_clear(out);
	buf_free(&block_jwk);
	buf_free(&block_key);
	json_free(body);
	return rc;
}

enum sgid_err sgid_fetch_userinfo(struct sgid_client *c, const char *access_token,
	const char *sub, struct sgid_userinfo *out)
{
	struct httpc_response r = {0};
	enum sgid_err rc;

	memset(out, 0, sizeof(*out));
	int64_t start_us = metrics_now_us();
	enum httpc_err he = httpc_get(c->http, c->userinfo_url, access_token, &r);
	count_call(c, METRICS_CALL_USERINFO, start_us, he);
	if (he != HTTPC_OK) {
		note_http_failure(c, "userinfo", he, &r);
		rc = SGID_ERR_HTTP;
	} else {
		rc = sgid_decrypt_userinfo(c, r.body.data, r.body.len, sub, out);
	}
	httpc_response_free(&r);
	return rc;
}
