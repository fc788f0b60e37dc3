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
