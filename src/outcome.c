#include "outcome.h"

#include "util.h"

static const char *const outcome_names[] = {
	[LOGIN_OK] = "ok",
	[LOGIN_BAD_REQUEST] = "bad_request",
	[LOGIN_ATTEMPT_EXPIRED] = "attempt_expired",
	[LOGIN_ATTEMPT_REPLAYED] = "attempt_replayed",
	[LOGIN_STATE_MISMATCH] = "state_mismatch",
	[LOGIN_SGID_DENIED] = "sgid_denied",
	[LOGIN_OVER_CAPACITY] = "over_capacity",
	[LOGIN_TOKEN_ERROR] = "token_error",
	[LOGIN_JWKS_UNAVAILABLE] = "jwks_unavailable",
	[LOGIN_ID_TOKEN_MALFORMED] = "id_token_malformed",
	[LOGIN_ID_TOKEN_SIGNATURE] = "id_token_signature",
	[LOGIN_ID_TOKEN_CLAIMS] = "id_token_claims",
	[LOGIN_ID_TOKEN_TIME] = "id_token_time",
	[LOGIN_ID_TOKEN_NONCE] = "id_token_nonce",
	[LOGIN_USERINFO_ERROR] = "userinfo_error",
	[LOGIN_RETURN_URL_REFUSED] = "return_url_refused",
	[LOGIN_STORE_ERROR] = "store_error",
	[LOGIN_INTERNAL] = "internal",
};
_Static_assert(ARRAY_LEN(outcome_names) == LOGIN_OUTCOME__MAX, "outcome_names");

const char *login_outcome_name(enum login_outcome o)
{
	return (unsigned)o < LOGIN_OUTCOME__MAX ? outcome_names[o] : "internal";
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

enum login_outcome login_outcome_of_sgid(enum sgid_err err, enum idt_err idt)
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
