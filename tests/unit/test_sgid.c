/* The relying-party pieces that need no network: the authorize URL and userinfo decryption (the vectors' response; the
 * current and previous client keys of a rotation). Token exchange and the
 * userinfo call run against MockPass and the hostile provider in the
 * integration suites. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "http.h"
#include "json.h"
#include "sgid.h"
#include "util.h"

static void test_authorize_url(void)
{
	struct config cfg;
	struct sgid_client c;
	struct buf url = BUF_INIT;
	struct kv_list q = {0};
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.client_id, "my client");
	strcpy(cfg.issuer, "https://api.id.gov.sg/v2");
	strcpy(cfg.redirect_uri, "http://localhost:5001/api/redirect");
	strcpy(cfg.scopes, "openid myinfo.name");
	CHECK_INT(sgid_client_init(&c, &cfg, NULL), 0);
	CHECK_STR(c.token_url, "https://api.id.gov.sg/v2/oauth/token");
	CHECK_STR(c.userinfo_url, "https://api.id.gov.sg/v2/oauth/userinfo");
	CHECK_STR(c.jwks_url, "https://api.id.gov.sg/v2/.well-known/jwks.json");
	CHECK_INT(sgid_authorize_url(&c, "st&=", "nonce", "chal", &url), 0);
	const char *prefix = "https://api.id.gov.sg/v2/oauth/authorize?";
	CHECK(strncmp(url.data, prefix, strlen(prefix)) == 0);
	CHECK(strstr(url.data, "scope=openid%20myinfo.name") != NULL);
	CHECK(strstr(url.data, "redirect_uri=http%3A%2F%2Flocalhost%3A5001%2Fapi%2Fredirect") != NULL);
	const char *qs = url.data + strlen(prefix);
	CHECK_INT(http_parse_query(qs, strlen(qs), &q), HTTP_OK);
	CHECK_INT(q.n, 8);
	CHECK_STR(kv_get(&q, "client_id")->val, "my client");
	CHECK_STR(kv_get(&q, "response_type")->val, "code");
	CHECK_STR(kv_get(&q, "state")->val, "st&=");
	CHECK_STR(kv_get(&q, "nonce")->val, "nonce");
	CHECK_STR(kv_get(&q, "code_challenge")->val, "chal");
	CHECK_STR(kv_get(&q, "code_challenge_method")->val, "S256");
	kv_list_free(&q);
	buf_free(&url);
	sgid_client_free(&c);
}

static crypto_pkey *load_key_file(const char *path)
{
	char err[128] = "";
	size_t len = 0;
	char *pem = harness_read_file(path, &len);
	crypto_pkey *k = pem ? crypto_private_key_load(pem, len, err, sizeof(err)) : NULL;
	free(pem);
	return k;
}

/* Decrypts the vectors' userinfo response with a client whose current key
 * is cur and previous key prev (either may be the vectors' key). */
static enum sgid_err decrypt_vector(crypto_pkey *cur, crypto_pkey *prev, struct sgid_userinfo *u,
	uint64_t *previous_count)
{
	struct config cfg;
	struct sgid_client c;
	size_t len = 0;
	char *text = harness_read_file("tests/vectors/sgid-test-vectors.json", &len);
	json_value *vec = text ? json_parse(text, len, 1 << 20) : NULL;
	const json_value *resp = json_get(vec, "userinfo_response");
	struct buf body = BUF_INIT;
	enum sgid_err rc = SGID_ERR__MAX;

	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.issuer, "https://api.id.gov.sg/v2");
	cfg.http_max_body = 1 << 20;
	cfg.private_key = cur;
	cfg.private_key_previous = prev;
	/* the response again as text: key and data as the vectors hold them */
	buf_append_strs(&body, "{\"sub\":\"mockSub\",\"key\":", NULL);
	const char *key = json_get_str(resp, "key", NULL);
	if (key && json_append_string(&body, key, strlen(key)) == 0 &&
	    buf_append_str(&body, ",\"data\":{") == 0) {
		const json_value *data = json_get(resp, "data");
		const char *names[] = { "myinfo.name", "myKey", "myinfo.nric_number",
		                        "myinfo.children_birth_records", "utf8.sample" };
		for (size_t i = 0; i < ARRAY_LEN(names); i++) {
			const char *v = json_get_str(data, names[i], NULL);
			if (!v)
				goto done;
			if (i)
				buf_append_char(&body, ',');
			json_append_string(&body, names[i], strlen(names[i]));
			buf_append_char(&body, ':');
			json_append_string(&body, v, strlen(v));
		}
		buf_append_str(&body, "}}");
		if (sgid_client_init(&c, &cfg, NULL) == 0) {
			rc = sgid_decrypt_userinfo(&c, body.data, body.len, "mockSub", u);
			*previous_count = c.userinfo_previous_key;
		}
		sgid_client_free(&c);
	}
done:
	buf_free(&body);
	json_free(vec);
	free(text);
	return rc;
}

static const char *field(const struct sgid_userinfo *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->fields[i].name, name) == 0)
			return buf_cstr(&u->fields[i].value);
	return NULL;
}

/* Key rotation: userinfo sealed to the old key opens with the new key
 * current and the old one previous, and is counted; sealed to the current
 * key it is not counted; without the old key it fails. */
static void test_userinfo_key_rotation(void)
{
	crypto_pkey *old_key = load_key_file("tests/fixtures/client-test-key.pem");
	crypto_pkey *new_key = load_key_file("tests/fixtures/client-test-key-2.pem");
	struct sgid_userinfo u;
	uint64_t prev = 99;

	CHECK(old_key != NULL && new_key != NULL);
	if (!old_key || !new_key)
		goto done;
	/* the vectors' response is sealed to tests/fixtures/client-test-key.pem */
	CHECK_INT(decrypt_vector(old_key, NULL, &u, &prev), SGID_OK);
	CHECK_INT(prev, 0);
	CHECK_STR(field(&u, "myinfo.name"), "KWA JIE HAO");
	sgid_userinfo_clear(&u);

	CHECK_INT(decrypt_vector(new_key, old_key, &u, &prev), SGID_OK);
	CHECK_INT(prev, 1);
	CHECK_INT(u.n, 5);
	CHECK_STR(field(&u, "myinfo.name"), "KWA JIE HAO");
	CHECK_STR(field(&u, "utf8.sample"), "Zo\xc3\xab \xe9\x99\x88");
	sgid_userinfo_clear(&u);

	CHECK_INT(decrypt_vector(old_key, new_key, &u, &prev), SGID_OK);
	CHECK_INT(prev, 0);
	sgid_userinfo_clear(&u);

	CHECK_INT(decrypt_vector(new_key, NULL, &u, &prev), SGID_ERR_DECRYPT);
	CHECK_INT(u.n, 0);
	CHECK_INT(prev, 0);
	/* a previous key that is no better fails the same way */
	CHECK_INT(decrypt_vector(new_key, new_key, &u, &prev), SGID_ERR_DECRYPT);
	CHECK_INT(prev, 0);
done:
	crypto_pkey_free(old_key);
	crypto_pkey_free(new_key);
}

int main(void)
{
	RUN(test_authorize_url);
	RUN(test_userinfo_key_rotation);
	return harness_report("sgid");
}
