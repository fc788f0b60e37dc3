/* Fuzz target: the parsers of the Singpass relying party (singpass_parse.c).
 *
 * Input: one mode byte, then the document.
 *   '0'/'1': singpass_discovery_parse (https issuer; '1' needs userinfo);
 *   '2':     the same with a loopback http issuer;
 *   '3'/'4': singpass_idtoken_claims on a JSON payload ('4' with
 *            acr_values "urn:singpass:authentication:loa:2");
 *   '5':     singpass_jwt_decrypt with the RP's test encryption keys;
 *   '6':     singpass_profile_merge of "A\nB" (B's iss skipped).
 * Properties:
 *   discovery: accepted exactly with why == NULL; then every endpoint read
 *     is non-empty where required, under SINGPASS_URL_MAX, printable, free
 *     of '?', '#' and blanks, without '@' before its path, https (or http
 *     only for the http issuer, and then only to localhost, 127.x.y.z or a
 *     bracketed IPv6 host), and copied byte for byte from the document;
 *     refused: out all zero;
 *   claims: accepted only when iss equals the issuer, aud or azp name the
 *     client as a model written here reads them, nonce equals, exp is after
 *     now - skew, sub is non-empty printable; the profile is then a JSON
 *     object of at most SINGPASS_PROFILE_FIELDS members whose values are
 *     sub_attributes' own (same compact text);
 *   decrypt: accepted output is a compact JWS (two dots, base64url only);
 *     refused output is empty;
 *   merge: accepted output is an object holding every member of A with
 *     its value, every member of B not in A and not "iss", nothing else. */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "fuzz_keys.h"
#include "jose.h"
#include "json.h"
#include "singpass.h"

#define ISS_HTTPS "https://id.singpass.gov.sg/fapi"
#define ISS_HTTP  "http://127.0.0.1:5156/fapi"
#define CLIENT    "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL"
#define NONCE     "t1j2kLlRE6an5hmo1iQrjz0BqRZTekg5TtRXCHhX5bQ"
#define NOW       1769738721
#define SKEW      60

static struct jwe_ec_key g_keys[2]; /* the RP's current and previous enc keys */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	crypto_ec_key *cur = NULL, *prev = NULL;
	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(jwk_ec_parse(fuzz_ec_enc_jwk, strlen(fuzz_ec_enc_jwk), true, &cur) == JOSE_OK);
	FUZZ_REQUIRE(jwk_ec_parse(fuzz_ec_enc_prev_jwk, strlen(fuzz_ec_enc_prev_jwk), true, &prev) ==
		JOSE_OK);
	g_keys[0] = (struct jwe_ec_key){ cur, FUZZ_EC_ENC_KID };
	g_keys[1] = (struct jwe_ec_key){ prev, FUZZ_EC_ENC_PREV_KID };
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

static void check_endpoint(const json_value *doc, const char *name, const char *got, bool required,
	bool http)
{
	size_t len;
	const char *want = json_get_str(doc, name, &len);
	if (!got[0]) {
		FUZZ_ASSERT(!required && !json_has(doc, name));
		return;
	}
	FUZZ_ASSERT(want && len == strlen(got) && memcmp(want, got, len) == 0);
	FUZZ_ASSERT(len < SINGPASS_URL_MAX);
	bool plain = strncmp(got, "http://", 7) == 0;
	FUZZ_ASSERT(strncmp(got, "https://", 8) == 0 || (http && plain));
	for (size_t i = 0; i < len; i++)
		FUZZ_ASSERT(got[i] > 0x20 && got[i] < 0x7f && got[i] != '?' && got[i] != '#');
	const char *auth = got + (plain ? 7 : 8);
	size_t alen = strcspn(auth, "/");
	FUZZ_ASSERT(alen > 0 && !memchr(auth, '@', alen));
	if (plain) { /* the host, before any port, is a loopback one */
		size_t hlen = auth[0] == '[' ? strcspn(auth, "]") + 1 : strcspn(auth, ":/");
		bool v4 = hlen > 4 && strncmp(auth, "127.", 4) == 0 &&
			strspn(auth, "0123456789.") >= hlen;
		FUZZ_ASSERT(v4 || auth[0] == '[' || (hlen == 9 && strncmp(auth, "localhost", 9) == 0));
	}
}

static void fuzz_discovery(const char *s, size_t n, bool need_userinfo, bool http)
{
	const char *iss = http ? ISS_HTTP : ISS_HTTPS, *why = "unset";
	struct singpass_discovery d;
	int rc = singpass_discovery_parse(s, n, iss, need_userinfo, &d, &why);

	FUZZ_ASSERT((rc == 0) == (why == NULL));
	if (rc != 0) {
		FUZZ_ASSERT(all_zero(&d, sizeof(d)));
		return;
	}
	json_value *doc = json_parse(s, n, n + 1);
	FUZZ_ASSERT(doc != NULL && strcmp(d.issuer, iss) == 0);
	check_endpoint(doc, "pushed_authorization_request_endpoint", d.par_endpoint, true, http);
	check_endpoint(doc, "authorization_endpoint", d.authorization_endpoint, true, http);
	check_endpoint(doc, "token_endpoint", d.token_endpoint, true, http);
	check_endpoint(doc, "jwks_uri", d.jwks_uri, true, http);
	check_endpoint(doc, "userinfo_endpoint", d.userinfo_endpoint, need_userinfo, http);
	json_free(doc);
}

static bool str_is(const json_value *v, const char *want)
{
	size_t len;
	const char *s = json_str(v, &len);
	return s && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* The aud/azp model: aud the client (string) or an array holding it (more
 * than one needs azp), azp when present the client. */
static bool aud_model(const json_value *p)
{
	const json_value *aud = json_get(p, "aud"), *azp = json_get(p, "azp");
	bool found = str_is(aud, CLIENT);
	size_t n = json_array_len(aud);
	for (size_t i = 0; i < n; i++)
		found = found || str_is(json_array_at(aud, i), CLIENT);
	if (!found || (n > 1 && !azp))
		return false;
	return !json_has(p, "azp") || str_is(azp, CLIENT);
}

static int same_member(const char *name, const json_value *val, void *ud)
{
	const json_value *other = json_get(ud, name);
	struct buf a = BUF_INIT, b = BUF_INIT;
	FUZZ_ASSERT(other != NULL);
	FUZZ_ASSERT(json_append_value(&a, val) == 0 && json_append_value(&b, other) == 0);
	FUZZ_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	buf_free(&a);
	buf_free(&b);
	return 0;
}

static void fuzz_claims(const char *s, size_t n, bool acr)
{
	json_value *p = json_parse(s, n, n + 1);
	struct singpass_idt_expect x = {
		.base = { .issuer = ISS_HTTPS, .client_id = CLIENT, .nonce = NONCE, .now = NOW, .skew = SKEW },
		.acr_values = acr ? "urn:singpass:authentication:loa:2" : NULL,
	};
	struct idtoken_claims c;
	struct buf profile = BUF_INIT;

	if (singpass_idtoken_claims(p, &x, &c, &profile) == IDT_OK) {
		FUZZ_ASSERT(str_is(json_get(p, "iss"), ISS_HTTPS) && aud_model(p));
		FUZZ_ASSERT(str_is(json_get(p, "nonce"), NONCE));
		FUZZ_ASSERT(c.exp > NOW - SKEW && c.iat <= NOW + SKEW);
		FUZZ_ASSERT(c.sub[0] && str_is(json_get(p, "sub"), c.sub));
		if (acr)
			FUZZ_ASSERT(str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:2") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:3") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:4") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:5") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:6") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:7") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:8") ||
				str_is(json_get(p, "acr"), "urn:singpass:authentication:loa:9"));
		json_value *prof = json_parse(profile.data, profile.len, profile.len + 1);
		const json_value *attrs = json_get(p, "sub_attributes");
		FUZZ_ASSERT(json_kind_of(prof) == JSON_OBJECT);
		FUZZ_ASSERT(json_object_len(prof) <= SINGPASS_PROFILE_FIELDS);
		FUZZ_ASSERT(json_object_len(prof) == json_object_len(attrs));
		json_object_foreach(prof, same_member, (void *)attrs);
		json_free(prof);
	}
	buf_free(&profile);
	json_free(p);
}

static void fuzz_decrypt(const char *s, size_t n)
{
	struct buf out = BUF_INIT;
	if (singpass_jwt_decrypt(s, n, SINGPASS_ID_TOKEN_MAX, g_keys, 2, &out) == JOSE_OK) {
		size_t dots = 0;
		for (size_t i = 0; i < out.len; i++) {
			char c = out.data[i];
			dots += c == '.';
			FUZZ_ASSERT(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
				(c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
		}
		FUZZ_ASSERT(dots == 2);
	} else {
		FUZZ_ASSERT(out.len == 0);
	}
	buf_free(&out);
}

struct in_merged {
	const json_value *a, *merged;
};

static int from_b(const char *name, const json_value *val, void *ud)
{
	struct in_merged *m = ud;
	if (json_has(m->a, name))
		return 0; /* A's value stays: same_member over A checks it */
	if (strcmp(name, "iss") == 0)
		FUZZ_ASSERT(!json_has(m->merged, name));
	else
		same_member(name, val, (void *)m->merged);
	return 0;
}

static int counted(const char *name, const json_value *val, void *ud)
{
	const json_value *const *ab = ud;
	(void)val;
	FUZZ_ASSERT(json_has(ab[0], name) || (strcmp(name, "iss") != 0 && json_has(ab[1], name)));
	return 0;
}

static void fuzz_merge(const char *s, size_t n)
{
	static const char *const skip[] = { "iss", NULL };
	const char *nl = memchr(s, '\n', n);
	if (!nl)
		return;
	size_t alen = (size_t)(nl - s);
	json_value *a = json_parse(s, alen, alen + 1), *b = json_parse(nl + 1, n - alen - 1, n);
	struct buf prof = BUF_INIT;
	if (json_kind_of(a) == JSON_OBJECT && singpass_profile_merge(&prof, a, NULL) == 0 &&
	    singpass_profile_merge(&prof, b, skip) == 0) {
		json_value *m = json_parse(prof.data, prof.len, prof.len + 1);
		FUZZ_ASSERT(json_kind_of(m) == JSON_OBJECT);
		json_object_foreach(a, same_member, m);
		struct in_merged im = { a, m };
		json_object_foreach(b, from_b, &im);
		const json_value *ab[2] = { a, b };
		json_object_foreach(m, counted, ab);
		json_free(m);
	}
	buf_free(&prof);
	json_free(a);
	json_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0]) {
	case '0': fuzz_discovery(s, n, false, false); break;
	case '1': fuzz_discovery(s, n, true, false); break;
	case '2': fuzz_discovery(s, n, false, true); break;
	case '3': fuzz_claims(s, n, false); break;
	case '4': fuzz_claims(s, n, true); break;
	case '5': fuzz_decrypt(s, n); break;
	case '6': fuzz_merge(s, n); break;
	default: break;
	}
	return 0;
}
