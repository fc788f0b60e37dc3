/* outcome: how a login callback ended, as one of a bounded set of causes.
 * The same names label the login metrics and fill the audit log's cause,
 * so an operator can go from a graph to the events behind it. */
#ifndef SGID_OUTCOME_H
#define SGID_OUTCOME_H

enum login_outcome {
	LOGIN_OK,
	LOGIN_BAD_REQUEST,           /* callback query malformed, code or state missing */
	LOGIN_ATTEMPT_EXPIRED,       /* no attempt cookie that opens: absent,
	                                altered or past its lifetime */
	LOGIN_ATTEMPT_REPLAYED,      /* the attempt was spent already */
	LOGIN_STATE_MISMATCH,
	LOGIN_SGID_DENIED,           /* the provider sent error= (the user
	                                cancelled, ...); the name stays sgid_denied */
	LOGIN_OVER_CAPACITY,         /* the bulkhead had no room */
	LOGIN_TOKEN_ERROR,           /* token endpoint: transport, status or body */
	LOGIN_JWKS_UNAVAILABLE,
	LOGIN_ID_TOKEN_MALFORMED,    /* ID token invalid, by reason class: */
	LOGIN_ID_TOKEN_SIGNATURE,    /*   alg, unknown key, bad signature */
	LOGIN_ID_TOKEN_CLAIMS,       /*   iss, aud, azp, sub */
	LOGIN_ID_TOKEN_TIME,         /*   exp, iat, nbf */
	LOGIN_ID_TOKEN_NONCE,
	LOGIN_USERINFO_ERROR,        /* gateway logins fetch the profile at once */
	LOGIN_RETURN_URL_REFUSED,    /* gateway: rd no longer allowed */
	LOGIN_STORE_ERROR,
	LOGIN_INTERNAL,              /* memory, randomness */
	LOGIN_OUTCOME__MAX
};

/* snake_case name: "ok", "state_mismatch", "id_token_signature", ... */
const char *login_outcome_name(enum login_outcome o);

#endif
