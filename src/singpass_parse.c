/* singpass_parse: what the Singpass relying party reads, with no network
 * and no shared state (singpass.c does those), each bounded and fuzzed:
 * the discovery document (SINGPASS-PROTOCOL §1), the JWE Singpass
 * encrypts to the RP opened down to its nested JWS (§8.1, §9), the ID
 * token's claims (§8.3, §8.4), and the profile object built from
 * sub_attributes and Myinfo claims. */
#include "singpass.h"

#include <stdlib.h>
#include <string.h>

#include "urlparse.h"
#include "util.h"

/* ---- discovery ---- */

/* An endpoint: absolute https with a host and no user information,
 * query, fragment, blanks or controls; plain http only when the issuer
 * is (a loopback stand-in), and then only to a loopback host: a client
 * assertion, a code or a token never crosses a network in clear, whatever
 * the document says. */
static bool endpoint_ok(const char *s, size_t len, bool allow_http)
{
	char url[SINGPASS_URL_MAX];
	struct http_url u;
	const char *why;

	if (len == 0 || len >= SINGPASS_URL_MAX || !is_printable_ascii(s, len) ||
	    memchr(s, ' ', len) || memchr(s, '?', len) || memchr(s, '#', len))
		return false;
	bool https = len > 8 && memcmp(s, "https://", 8) == 0;
	if (!https && !(allow_http && len > 7 && memcmp(s, "http://", 7) == 0))
		return false;
	memcpy(url, s, len);
	url[len] = '\0';
	return url_parse_http(url, &u, &why) == 0 && (https || url_is_loopback(u.host));
}

static int copy_endpoint(const json_value *doc, const char *name, bool required, bool allow_http,
	char out[SINGPASS_URL_MAX], const char **why)
{
	size_t len = 0;
	const char *s = json_get_str(doc, name, &len);

	out[0] = '\0';
	if (!json_has(doc, name) && !required)
		return 0;
	if (!s || !endpoint_ok(s, len, allow_http)) {
		*why = s ? "an endpoint is not an absolute https URL (http: loopback only) without "
		           "user, query or fragment"
		         : "a required endpoint is missing";
		return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int singpass_discovery_parse(const char *json, size_t len, const char *issuer,
	bool need_userinfo, struct singpass_discovery *out, const char **why)
{
	json_value *doc = NULL;
	size_t ilen = 0;
	const char *iss;
	bool http;
	int rc = -1;

	*why = "not a JSON object";
	memset(out, 0, sizeof(*out));
	if (!json || !issuer || len > SINGPASS_DISCOVERY_MAX ||
	    strlen(issuer) >= sizeof(out->issuer))
		goto fail;
	doc = json_parse(json, len, SINGPASS_DISCOVERY_MAX);
	if (json_kind_of(doc) != JSON_OBJECT)
		goto fail;
	*why = "issuer differs from SINGPASS_ISSUER";
	iss = json_get_str(doc, "issuer", &ilen);
	if (!iss || !str_eq_n(iss, ilen, issuer))
		goto fail;
	memcpy(out->issuer, issuer, ilen + 1);
	http = has_prefix(issuer, "http://");
	if (copy_endpoint(doc, "pushed_authorization_request_endpoint", true, http,
			out->par_endpoint, why) != 0 ||
	    copy_endpoint(doc, "authorization_endpoint", true, http, out->authorization_endpoint,
			why) != 0 ||
	    copy_endpoint(doc, "token_endpoint", true, http, out->token_endpoint, why) != 0 ||
	    copy_endpoint(doc, "jwks_uri", true, http, out->jwks_uri, why) != 0 ||
	    copy_endpoint(doc, "userinfo_endpoint", need_userinfo, http, out->userinfo_endpoint,
			why) != 0)
		goto fail;
	*why = NULL;
	rc = 0;
fail:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	json_free(doc);
	return rc;
}

/* ---- the JWE layer ---- */

enum jose_err singpass_jwt_decrypt(const char *jwe, size_t len, size_t max,
	const struct jwe_ec_key *keys, size_t n, struct buf *jws)
{
	size_t start = jws->len, dots = 0;

	if (!jwe || len > max)
		return JOSE_ERR_TOO_LARGE;
	enum jose_err rc = jwe_decrypt_ecdh(jwe, len, keys, n, jws, NULL);
	if (rc != JOSE_OK)
		return rc;
	/* Nested: the plaintext must itself be a compact JWS (an unsigned
	 * JSON payload inside the JWE is refused, whoever encrypted it). */
	for (size_t i = start; i < jws->len; i++) {
		unsigned char ch = (unsigned char)jws->data[i];
		if (ch == '.')
			dots++;
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			dots = 99;
	}
	if (dots != 2) {
		secure_zero(jws->data + start, jws->len - start);
		jws->len = start;
		jws->data[start] = '\0';
		return JOSE_ERR_MALFORMED;
	}
	return JOSE_OK;
}

/* The level of "urn:singpass:authentication:loa:N" (N = 1..9), else 0. */
static int loa_level(const char *s, size_t len)
{
	static const char prefix[] = "urn:singpass:authentication:loa:";
	const size_t plen = sizeof(prefix) - 1;

	if (len != plen + 1 || memcmp(s, prefix, plen) != 0 || s[plen] < '1' || s[plen] > '9')
		return 0;
	return s[plen] - '0';
}

/* acr against the acr_values sent: with Singpass's loa URNs, acr's level
 * must be at least the lowest level asked for (the values are listed in
 * order of preference, any of them satisfies the request); any other
 * value must be one of the list, exactly. */
static enum idt_err check_acr(const json_value *p, const char *acr_values)
{
	size_t len;
	const char *acr = json_get_str(p, "acr", &len);
	int want = 0, got;

	if (!acr_values || !*acr_values)
		return IDT_OK;
	if (!acr || len == 0)
		return IDT_ERR_ACR;
	got = loa_level(acr, len);
	for (const char *v = acr_values; *v;) {
		size_t n = strcspn(v, " ");
		int lvl = loa_level(v, n);
		if (n == len && memcmp(v, acr, len) == 0)
			return IDT_OK;
		if (lvl && (!want || lvl < want))
			want = lvl;
		v += n;
		while (*v == ' ')
			v++;
	}
	return want && got >= want ? IDT_OK : IDT_ERR_ACR;
}

enum idt_err singpass_idtoken_claims(const json_value *p, const struct singpass_idt_expect *x,
	struct idtoken_claims *claims, struct buf *profile)
{
	struct idtoken_expect base;
	const json_value *attrs;
	enum idt_err rc;

	if (!x)
		return IDT_ERR_MALFORMED;
	base = x->base;
	base.fractional_times = true;
	rc = idtoken_check_claims(p, &base, claims);
	if (rc != IDT_OK)
		return rc;
	if (json_has(p, "sub_type")) {
		size_t len;
		const char *t = json_get_str(p, "sub_type", &len);
		if (!t || !str_eq_n(t, len, "user"))
			return IDT_ERR_CLAIM_TYPE;
	}
	if ((rc = check_acr(p, x->acr_values)) != IDT_OK)
		return rc;
	attrs = json_get(p, "sub_attributes");
	if (json_has(p, "sub_attributes") && json_kind_of(attrs) != JSON_OBJECT)
		return IDT_ERR_CLAIM_TYPE;
	if (profile && singpass_profile_merge(profile, attrs, NULL) != 0)
		return IDT_ERR_CLAIM_TYPE;
	return IDT_OK;
}

/* ---- the profile object ---- */

struct merge {
	const json_value *have;        /* the profile so far (parsed) */
	const char *const *skip;
	struct buf *out;
	size_t n;
	bool first;
};

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= SINGPASS_FIELD_NAME_MAX && is_printable_ascii(name, n);
}

static int add_member(const char *name, const json_value *val, struct merge *m)
{
	if (!name_ok(name) || ++m->n > SINGPASS_PROFILE_FIELDS)
		return -1;
	if ((!m->first && buf_append_char(m->out, ',') != 0) ||
	    json_append_string(m->out, name, strlen(name)) != 0 || buf_append_char(m->out, ':') != 0 ||
	    json_append_value(m->out, val) != 0)
		return -1;
	m->first = false;
	return 0;
}

static int copy_have(const char *name, const json_value *val, void *ud)
{
	return add_member(name, val, ud);
}

static int copy_new(const char *name, const json_value *val, void *ud)
{
	struct merge *m = ud;
	for (const char *const *s = m->skip; s && *s; s++)
		if (strcmp(*s, name) == 0)
			return 0;
	if (json_has(m->have, name))
		return 0;
	return add_member(name, val, m);
}

int singpass_profile_merge(struct buf *profile, const json_value *src, const char *const *skip)
{
	struct buf out = BUF_INIT;
	json_value *have = NULL;
	struct merge m = { NULL, skip, &out, 0, true };
	int rc = -1;

	if (!profile || (src && json_kind_of(src) != JSON_OBJECT))
		return -1;
	if (profile->len) {
		have = json_parse(profile->data, profile->len, profile->len + 1);
		if (json_kind_of(have) != JSON_OBJECT)
			goto fail;
	}
	m.have = have;
	if (buf_append_char(&out, '{') != 0 ||
	    (have && json_object_foreach(have, copy_have, &m) != 0) ||
	    (src && json_object_foreach(src, copy_new, &m) != 0) || buf_append_char(&out, '}') != 0)
		goto fail;
	buf_reset(profile);
	if (buf_append(profile, out.data, out.len) != 0)
		goto fail;
	rc = 0;
fail:
	json_free(have);
	buf_free(&out);
	return rc;
}
