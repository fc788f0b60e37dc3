/* idtoken: OpenID Connect ID-token checks on top of jws_verify_rs256. */
#include "idtoken.h"

#include <string.h>

#include "crypto.h"
#include "util.h"

static const char *const idt_errstr[] = {
	[IDT_OK] = "ok",
	[IDT_ERR_MALFORMED] = "ID token malformed",
	[IDT_ERR_ALG] = "ID token algorithm not allowed",
	[IDT_ERR_NO_KEY] = "no JWKS key for the ID token",
	[IDT_ERR_SIGNATURE] = "ID token signature invalid",
	[IDT_ERR_MISSING_CLAIM] = "ID token lacks a required claim",
	[IDT_ERR_ISS] = "ID token issuer mismatch",
	[IDT_ERR_AUD] = "ID token audience mismatch",
	[IDT_ERR_AZP] = "ID token azp invalid",
	[IDT_ERR_EXP] = "ID token expired or exp invalid",
	[IDT_ERR_IAT] = "ID token iat invalid",
	[IDT_ERR_NBF] = "ID token not yet valid or nbf invalid",
	[IDT_ERR_NONCE] = "ID token nonce mismatch",
	[IDT_ERR_SUB] = "ID token sub invalid",
	[IDT_ERR_ACR] = "ID token acr below the acr_values asked for",
	[IDT_ERR_CLAIM_TYPE] = "ID token claim of the wrong type",
};
_Static_assert(ARRAY_LEN(idt_errstr) == IDT_ERR__MAX, "idt_errstr out of sync");

const char *idtoken_strerror(enum idt_err err)
{
	if ((unsigned)err >= IDT_ERR__MAX || !idt_errstr[err])
		return "unknown error";
	return idt_errstr[err];
}

static enum idt_err from_jose(enum jose_err e)
{
	switch (e) {
	case JOSE_OK: return IDT_OK;
	case JOSE_ERR_ALG: return IDT_ERR_ALG;
	case JOSE_ERR_NO_KEY: return IDT_ERR_NO_KEY;
	case JOSE_ERR_SIGNATURE:
	case JOSE_ERR_KEY: return IDT_ERR_SIGNATURE;
	default: return IDT_ERR_MALFORMED;
	}
}

/* a + b clamped to the int64 range, so hostile claim values cannot overflow. */
static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static bool str_claim_is(const json_value *v, const char *want)
{
	size_t len;
	const char *s = json_str(v, &len);
	return s && want && str_eq_n(s, len, want);
}

static enum idt_err check_aud(const json_value *p, const char *client_id)
{
	const json_value *aud = json_get(p, "aud");
	bool found = false;
	size_t n;

	if (json_kind_of(aud) == JSON_STRING) {
		if (!str_claim_is(aud, client_id))
			return IDT_ERR_AUD;
	} else if (json_kind_of(aud) == JSON_ARRAY) {
		n = json_array_len(aud);
		for (size_t i = 0; i < n && !found; i++)
			found = str_claim_is(json_array_at(aud, i), client_id);
		if (!found)
			return IDT_ERR_AUD;
		/* Several audiences: the token must say it was issued to us. */
		if (n > 1 && !json_has(p, "azp"))
			return IDT_ERR_AZP;
	} else {
		return IDT_ERR_AUD;
	}
	if (json_has(p, "azp") && !str_claim_is(json_get(p, "azp"), client_id))
		return IDT_ERR_AZP;
	return IDT_OK;
}

static enum idt_err check_times(const json_value *p, const struct idtoken_expect *x,
	struct idtoken_claims *c)
{
	int64_t skew = x->skew > 0 ? x->skew : 0, nbf;
	int (*get)(const json_value *, const char *, int64_t *) =
		x->fractional_times ? json_get_seconds : json_get_int64;

	if (get(p, "exp", &c->exp) != 0)
		return IDT_ERR_EXP;
	if (get(p, "iat", &c->iat) != 0)
		return IDT_ERR_IAT;
	if (x->now >= sat_add(c->exp, skew))
		return IDT_ERR_EXP;
	if (c->iat > sat_add(x->now, skew))
		return IDT_ERR_IAT;
	if (json_has(p, "nbf") &&
	    (get(p, "nbf", &nbf) != 0 || nbf > sat_add(x->now, skew)))
		return IDT_ERR_NBF;
	return IDT_OK;
}

bool idtoken_nonce_equal(const char *got, size_t got_len, const char *want)
{
	uint8_t a[32], b[32];
	/* two failed digests are equal zeros: never a match */
	if (crypto_sha256(got, got_len, a) != 0 || crypto_sha256(want, strlen(want), b) != 0)
		return false;
	return crypto_ct_equal(a, b, sizeof a);
}

static enum idt_err check_nonce(const json_value *p, const char *want)
{
	const char *got;
	size_t len;

	if (!want)
		return json_has(p, "nonce") ? IDT_ERR_NONCE : IDT_OK;
	got = json_get_str(p, "nonce", &len);
	if (!got || !idtoken_nonce_equal(got, len, want))
		return IDT_ERR_NONCE;
	return IDT_OK;
}

static enum idt_err check_sub(const json_value *p, struct idtoken_claims *c)
{
	size_t len;
	const char *sub = json_get_str(p, "sub", &len);

	if (!sub || len == 0 || len > IDTOKEN_SUB_MAX || !is_printable_ascii(sub, len))
		return IDT_ERR_SUB;
	memcpy(c->sub, sub, len);
	c->sub[len] = '\0';
	return IDT_OK;
}

static enum idt_err check_claims(const json_value *p, const struct idtoken_expect *x,
	struct idtoken_claims *c)
{
	static const char *const required[] = { "iss", "sub", "aud", "exp", "iat" };
	enum idt_err rc;

	for (size_t i = 0; i < ARRAY_LEN(required); i++)
		if (!json_has(p, required[i]))
			return IDT_ERR_MISSING_CLAIM;
	if (!str_claim_is(json_get(p, "iss"), x->issuer))
		return IDT_ERR_ISS;
	if ((rc = check_aud(p, x->client_id)) != IDT_OK)
		return rc;
	if ((rc = check_times(p, x, c)) != IDT_OK)
		return rc;
	if ((rc = check_nonce(p, x->nonce)) != IDT_OK)
		return rc;
	return check_sub(p, c);
}

enum idt_err idtoken_check_claims(const json_value *payload, const struct idtoken_expect *expect,
	struct idtoken_claims *out)
{
	struct idtoken_claims c;
	enum idt_err rc;

	memset(&c, 0, sizeof c);
	if (out)
		memset(out, 0, sizeof *out);
	if (!expect || !expect->issuer || !expect->client_id)
		return IDT_ERR_MALFORMED;
	if (json_kind_of(payload) != JSON_OBJECT)
		return IDT_ERR_MALFORMED;
	rc = check_claims(payload, expect, &c);
	if (rc == IDT_OK && out)
		*out = c;
	return rc;
}

enum idt_err idtoken_verify(const char *jwt, size_t len, const struct jwks *keys,
	const struct idtoken_expect *expect, struct idtoken_claims *out)
{
	json_value *payload = NULL;
	enum idt_err rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!expect || !expect->issuer || !expect->client_id)
		return IDT_ERR_MALFORMED;
	rc = from_jose(jws_verify_rs256(jwt, len, keys, &payload));
	if (rc == IDT_OK)
		rc = idtoken_check_claims(payload, expect, out);
	json_free(payload);
	return rc;
}
