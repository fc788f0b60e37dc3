/* A fake sgID v2 on fake_http.h, for the in-process handler tests: the
 * token endpoint (checks the client's form: grant type, code, redirect URI,
 * client id and secret, PKCE S256 against the challenge of the authorize
 * URL; answers an RS256 ID token signed with tests/vectors/
 * test-signing-key.pem carrying the nonce of that URL), the JWKS (the
 * public half of that key under a kid the test picks) and userinfo (the
 * bearer checked; a block key sealed to the client's public key with
 * RSA-OAEP-256/A256GCM, each field sealed with it as dir/A128GCM, as sgID
 * does). Signing and encryption use OpenSSL directly, not the code under
 * test. The test steers it, and reads what it saw, through fs (shared
 * memory); fh_count counts the requests per path. TEST KEYS ONLY. */
#ifndef SGID_TEST_FAKE_SGID_H
#define SGID_TEST_FAKE_SGID_H

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "buf.h"
#include "fake_http.h"
#include "http.h"
#include "json.h"
#include "util.h"

#define FS_SIGNING_KEY "tests/vectors/test-signing-key.pem"
#define FS_CLIENT_PUB  "tests/fixtures/client-test-pub.pem"

enum fs_token_mode {
	FS_TOKEN_OK,
	FS_TOKEN_HTTP_500,     /* {"error":"server_error"} */
	FS_TOKEN_NOT_JSON,
	FS_TOKEN_NO_ID_TOKEN,
	FS_TOKEN_BAD_NONCE,
	FS_TOKEN_BAD_ISS,
	FS_TOKEN_BAD_AUD,
	FS_TOKEN_EXPIRED,
	FS_TOKEN_NO_SUB,
	FS_TOKEN_BAD_SIG,      /* one signature byte flipped */
	FS_TOKEN_ALG_NONE,
};

enum fs_userinfo_mode {
	FS_USERINFO_OK,
	FS_USERINFO_HTTP_500,
	FS_USERINFO_SUB_MISMATCH,
	FS_USERINFO_BAD_JWE,   /* a field's tag flipped */
	FS_USERINFO_BIG,       /* big_fields fields of big_field_len bytes */
};

struct fs_state {
	/* steering, written by the test */
	char issuer[600];
	char client_id[256];
	char client_secret[512];
	char redirect_uri[1024];
	char nonce[128];         /* from the authorize URL */
	char challenge[128];     /* code_challenge from the authorize URL */
	char code[128];          /* the one code the token endpoint accepts */
	char sub[128];
	char access_token[256];
	char token_kid[64];      /* kid in the ID token's header */
	char jwks_kid[64];       /* kid the JWKS publishes the key under */
	enum fs_token_mode token_mode;
	enum fs_userinfo_mode userinfo_mode;
	int big_fields;
	int big_field_len;
	char extra_name[64];     /* "": none; else one more field (OK mode) */
	char extra_value[128];
	/* what the fake saw */
	int token_accepted;      /* token requests that passed every check */
	int token_refused;       /* ... that did not */
	char token_refusal[160]; /* why the last one was refused */
	char code_verifier[160]; /* of the last token request */
	int bearer_refused;      /* userinfo calls without the right token */
};

static struct fs_state *fs;
static EVP_PKEY *fs_sign_key;   /* parent and fake both (fork) */
static EVP_PKEY *fs_client_pub;
static char fs_n[400], fs_e[16]; /* base64url modulus and exponent */

/* ---- helpers -------------------------------------------------------------- */

static inline void fs_b64(const void *p, size_t n, struct buf *out)
{
	b64url_encode((const uint8_t *)p, n, out);
}

static inline int fs_bn_b64(EVP_PKEY *k, const char *param, char *out, size_t cap)
{
	BIGNUM *bn = NULL;
	unsigned char raw[1024];
	struct buf b = BUF_INIT;
	int rc = -1;
	if (EVP_PKEY_get_bn_param(k, param, &bn) == 1 && BN_num_bytes(bn) <= (int)sizeof(raw)) {
		int n = BN_bn2bin(bn, raw);
		fs_b64(raw, (size_t)n, &b);
		if (b.data && b.len < cap) {
			memcpy(out, b.data, b.len + 1);
			rc = 0;
		}
	}
	BN_free(bn);
	buf_free(&b);
	return rc;
}

static inline EVP_PKEY *fs_read_pem(const char *path, int priv)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* header.payload.signature, RS256 with the fake's signing key. */
static inline int fs_sign_jwt(const char *header, const char *payload, int flip, struct buf *out)
{
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	fs_b64(header, strlen(header), out);
	buf_append_char(out, '.');
	fs_b64(payload, strlen(payload), out);
	if (!out->data)
		return -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fs_sign_key) == 1 &&
		EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)out->data, out->len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	if (flip)
		sig[sig_len / 2] ^= 0x01;
	buf_append_char(out, '.');
	fs_b64(sig, sig_len, out);
	return 0;
}

static inline int fs_gcm(const unsigned char *key, size_t key_len, const unsigned char iv[12],
	const char *aad, const void *pt, size_t pt_len, unsigned char *ct, unsigned char tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	int n = 0, m = 0;
	int ok = c && EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
		EVP_EncryptInit_ex(c, NULL, NULL, key, iv) == 1 &&
		EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
		EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) == 1 &&
		EVP_EncryptFinal_ex(c, ct + n, &m) == 1 &&
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* A compact JWE of pt: RSA-OAEP-256 + A256GCM to the client key when
 * block is NULL, else dir + A128GCM under the 16-byte block key. */
static inline int fs_jwe(const unsigned char *block, const void *pt, size_t pt_len, int flip_tag,
	struct buf *out)
{
	unsigned char cek[32], iv[12], tag[16], ek[512];
	size_t ek_len = 0, cek_len = block ? 16 : 32;
	struct buf hdr = BUF_INIT;
	unsigned char *ct = malloc(pt_len + 16);
	int rc = -1;
	if (!ct || RAND_bytes(iv, sizeof(iv)) != 1)
		goto done;
	if (block) {
		memcpy(cek, block, 16);
		fs_b64("{\"alg\":\"dir\",\"enc\":\"A128GCM\"}", 29, &hdr);
	} else {
		static const char h[] = "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}";
		fs_b64(h, sizeof(h) - 1, &hdr);
		if (RAND_bytes(cek, 32) != 1)
			goto done;
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(fs_client_pub, NULL);
		ek_len = sizeof(ek);
		int ok = pc && EVP_PKEY_encrypt_init(pc) == 1 &&
			EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) == 1 &&
			EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) == 1 &&
			EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1 &&
			EVP_PKEY_encrypt(pc, ek, &ek_len, cek, 32) == 1;
		EVP_PKEY_CTX_free(pc);
		if (!ok)
			goto done;
	}
	if (!hdr.data || fs_gcm(cek, cek_len, iv, hdr.data, pt, pt_len, ct, tag) != 0)
		goto done;
	if (flip_tag)
		tag[0] ^= 0x80;
	buf_append(out, hdr.data, hdr.len);
	buf_append_char(out, '.');
	fs_b64(ek, ek_len, out);
	buf_append_char(out, '.');
	fs_b64(iv, sizeof(iv), out);
	buf_append_char(out, '.');
	fs_b64(ct, pt_len, out);
	buf_append_char(out, '.');
	fs_b64(tag, sizeof(tag), out);
	rc = out->data ? 0 : -1;
done:
	free(ct);
	buf_free(&hdr);
	return rc;
}

static inline void fs_json_member(struct buf *b, const char *name, const char *val)
{
	if (b->len > 1)
		buf_append_char(b, ',');
	json_append_string(b, name, strlen(name));
	buf_append_char(b, ':');
	json_append_string(b, val, strlen(val));
}

static inline int fs_json(int fd, const char *status, const struct buf *b)
{
	if (!b->data)
		return fh_respond(fd, "500 Internal Server Error", NULL, "", 0) || 1;
	return fh_respond(fd, status, "Content-Type: application/json\r\n", b->data, b->len) != 0;
}

/* ---- the endpoints ---------------------------------------------------------- */

static inline int fs_refuse_token(int fd, const char *why)
{
	__atomic_add_fetch(&fs->token_refused, 1, __ATOMIC_SEQ_CST);
	snprintf(fs->token_refusal, sizeof(fs->token_refusal), "%s", why);
	static const char body[] = "{\"error\":\"invalid_grant\"}";
	return fh_respond(fd, "400 Bad Request", "Content-Type: application/json\r\n", body,
		sizeof(body) - 1) != 0;
}

static inline int fs_form_is(const struct kv_list *f, const char *name, const char *want)
{
	const struct kv *v = kv_get(f, name);
	return v && strcmp(v->val, want) == 0;
}

static inline int fs_token(int fd, const struct fh_request *rq)
{
	struct kv_list form = {0};
	struct buf hdr = BUF_INIT, payload = BUF_INIT, jwt = BUF_INIT, body = BUF_INIT, chal = BUF_INIT;
	int rc = 0;
	char ctype[128] = "";
	if (strcmp(rq->method, "POST") != 0 || fh_header(rq, "Content-Type", ctype, sizeof(ctype)) != 0 ||
	    strcmp(ctype, "application/x-www-form-urlencoded") != 0) {
		rc = fs_refuse_token(fd, "not a form POST");
		goto done;
	}
	if (http_parse_query(rq->body, rq->body_len, &form) != HTTP_OK) {
		rc = fs_refuse_token(fd, "form does not parse");
		goto done;
	}
	const struct kv *cv = kv_get(&form, "code_verifier");
	if (cv)
		snprintf(fs->code_verifier, sizeof(fs->code_verifier), "%s", cv->val);
	unsigned char digest[32];
	unsigned int dlen = 0;
	if (!cv || EVP_Digest(cv->val, cv->val_len, digest, &dlen, EVP_sha256(), NULL) != 1)
		goto bad_pkce;
	fs_b64(digest, dlen, &chal);
	if (!chal.data || strcmp(chal.data, fs->challenge) != 0)
		goto bad_pkce;
	if (!fs_form_is(&form, "grant_type", "authorization_code")) {
		rc = fs_refuse_token(fd, "grant_type");
		goto done;
	}
	if (!fs_form_is(&form, "code", fs->code)) {
		rc = fs_refuse_token(fd, "code");
		goto done;
	}
	if (!fs_form_is(&form, "redirect_uri", fs->redirect_uri)) {
		rc = fs_refuse_token(fd, "redirect_uri");
		goto done;
	}
	if (!fs_form_is(&form, "client_id", fs->client_id) ||
	    !fs_form_is(&form, "client_secret", fs->client_secret)) {
		rc = fs_refuse_token(fd, "client authentication");
		goto done;
	}
	__atomic_add_fetch(&fs->token_accepted, 1, __ATOMIC_SEQ_CST);

	enum fs_token_mode mode = fs->token_mode;
	if (mode == FS_TOKEN_HTTP_500) {
		static const char e[] = "{\"error\":\"server_error\"}";
		rc = fh_respond(fd, "500 Internal Server Error", "Content-Type: application/json\r\n",
			e, sizeof(e) - 1) != 0;
		goto done;
	}
	if (mode == FS_TOKEN_NOT_JSON) {
		rc = fh_respond(fd, "200 OK", "Content-Type: text/html\r\n", "<html>", 6) != 0;
		goto done;
	}
	long long now = (long long)now_unix();
	buf_printf(&hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		mode == FS_TOKEN_ALG_NONE ? "none" : "RS256", fs->token_kid);
	buf_append_char(&payload, '{');
	fs_json_member(&payload, "iss", mode == FS_TOKEN_BAD_ISS ? "http://evil.example/v2" : fs->issuer);
	if (mode != FS_TOKEN_NO_SUB)
		fs_json_member(&payload, "sub", fs->sub);
	fs_json_member(&payload, "aud", mode == FS_TOKEN_BAD_AUD ? "someone-else" : fs->client_id);
	fs_json_member(&payload, "nonce", mode == FS_TOKEN_BAD_NONCE ? "not-the-nonce" : fs->nonce);
	buf_printf(&payload, ",\"iat\":%lld,\"exp\":%lld}", mode == FS_TOKEN_EXPIRED ? now - 7200 : now,
		mode == FS_TOKEN_EXPIRED ? now - 3600 : now + 600);
	if (!hdr.data || !payload.data) {
		rc = 1;
		goto done;
	}
	if (mode == FS_TOKEN_ALG_NONE) {
		fs_b64(hdr.data, hdr.len, &jwt);
		buf_append_char(&jwt, '.');
		fs_b64(payload.data, payload.len, &jwt);
		buf_append_char(&jwt, '.');
	} else if (fs_sign_jwt(hdr.data, payload.data, mode == FS_TOKEN_BAD_SIG, &jwt) != 0) {
		rc = 1;
		goto done;
	}
	buf_append_char(&body, '{');
	fs_json_member(&body, "access_token", fs->access_token);
	fs_json_member(&body, "token_type", "Bearer");
	if (mode != FS_TOKEN_NO_ID_TOKEN)
		fs_json_member(&body, "id_token", buf_cstr(&jwt));
	buf_append_str(&body, ",\"expires_in\":300}");
	rc = fs_json(fd, "200 OK", &body);
	goto done;
bad_pkce:
	rc = fs_refuse_token(fd, "PKCE verifier does not match the challenge");
done:
	kv_list_free(&form);
	buf_free(&hdr);
	buf_free(&payload);
	buf_free(&jwt);
	buf_free(&body);
	buf_free(&chal);
	return rc;
}

static inline int fs_jwks(int fd)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
		"\"n\":\"%s\",\"e\":\"%s\"}]}", fs->jwks_kid, fs_n, fs_e);
	int rc = fs_json(fd, "200 OK", &b);
	buf_free(&b);
	return rc;
}

static inline int fs_field(struct buf *data, const unsigned char block[16], const char *name,
	const char *val, size_t len, int flip)
{
	struct buf jwe = BUF_INIT;
	int rc = fs_jwe(block, val, len, flip, &jwe);
	if (rc == 0) {
		if (data->len > 1)
			buf_append_char(data, ',');
		json_append_string(data, name, strlen(name));
		buf_append_char(data, ':');
		json_append_string(data, jwe.data, jwe.len);
	}
	buf_free(&jwe);
	return rc;
}

static inline int fs_userinfo(int fd, const struct fh_request *rq)
{
	char auth[400] = "", want[300];
	snprintf(want, sizeof(want), "Bearer %s", fs->access_token);
	if (fh_header(rq, "Authorization", auth, sizeof(auth)) != 0 || strcmp(auth, want) != 0) {
		__atomic_add_fetch(&fs->bearer_refused, 1, __ATOMIC_SEQ_CST);
		return fh_respond(fd, "401 Unauthorized",
			"WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", "", 0) != 0;
	}
	enum fs_userinfo_mode mode = fs->userinfo_mode;
	if (mode == FS_USERINFO_HTTP_500)
		return fh_respond(fd, "500 Internal Server Error", NULL, "oops", 4) != 0;
	unsigned char block[16];
	struct buf jwk = BUF_INIT, key = BUF_INIT, data = BUF_INIT, body = BUF_INIT;
	int rc = 1;
	if (RAND_bytes(block, sizeof(block)) != 1)
		goto done;
	buf_append_str(&jwk, "{\"kty\":\"oct\",\"k\":\"");
	fs_b64(block, sizeof(block), &jwk);
	buf_append_str(&jwk, "\"}");
	if (!jwk.data || fs_jwe(NULL, jwk.data, jwk.len, 0, &key) != 0)
		goto done;
	buf_append_char(&data, '{');
	if (mode == FS_USERINFO_BIG) {
		char *v = malloc((size_t)fs->big_field_len + 1);
		if (!v)
			goto done;
		for (int i = 0; i < fs->big_fields; i++) {
			char name[32];
			snprintf(name, sizeof(name), "big.%d", i);
			memset(v, 'a' + i % 26, (size_t)fs->big_field_len);
			if (fs_field(&data, block, name, v, (size_t)fs->big_field_len, 0) != 0) {
				free(v);
				goto done;
			}
		}
		free(v);
	} else {
		static const char name[] = "TAN AH KOW \"AK\" \xe9\x99\x88"; /* quote and CJK */
		if (fs_field(&data, block, "myinfo.name", name, sizeof(name) - 1,
		             mode == FS_USERINFO_BAD_JWE) != 0 ||
		    fs_field(&data, block, "myinfo.nationality", "SINGAPORE CITIZEN", 17, 0) != 0 ||
		    /* sgID's own iceCream would collide with the SPA's choice */
		    fs_field(&data, block, "iceCream", "Durian", 6, 0) != 0)
			goto done;
		if (fs->extra_name[0] && fs_field(&data, block, fs->extra_name, fs->extra_value,
		                                  strlen(fs->extra_value), 0) != 0)
			goto done;
	}
	buf_append_char(&data, '}');
	buf_append_char(&body, '{');
	fs_json_member(&body, "sub", mode == FS_USERINFO_SUB_MISMATCH ? "u=someone-else" : fs->sub);
	fs_json_member(&body, "key", buf_cstr(&key));
	buf_append_str(&body, ",\"data\":");
	buf_append(&body, data.data, data.len);
	buf_append_char(&body, '}');
	rc = fs_json(fd, "200 OK", &body);
done:
	buf_free(&jwk);
	buf_free(&key);
	buf_free(&data);
	buf_free(&body);
	return rc;
}

static inline int fs_answer(int fd, const struct fh_request *rq)
{
	if (strcmp(rq->path, "/v2/oauth/token") == 0)
		return fs_token(fd, rq);
	if (strcmp(rq->path, "/v2/.well-known/jwks.json") == 0)
		return fs_jwks(fd);
	if (strcmp(rq->path, "/v2/oauth/userinfo") == 0)
		return fs_userinfo(fd, rq);
	return fh_respond(fd, "404 Not Found", "Content-Type: application/json\r\n",
		"{\"error\":\"not_found\"}", 21) != 0;
}

/* Loads the keys, maps fs, starts the server. Fill fs->issuer etc. after
 * (fs is shared: the fake reads it on every request). */
static inline int fs_start(void)
{
	fs_sign_key = fs_read_pem(FS_SIGNING_KEY, 1);
	fs_client_pub = fs_read_pem(FS_CLIENT_PUB, 0);
	if (!fs_sign_key || !fs_client_pub ||
	    fs_bn_b64(fs_sign_key, OSSL_PKEY_PARAM_RSA_N, fs_n, sizeof(fs_n)) != 0 ||
	    fs_bn_b64(fs_sign_key, OSSL_PKEY_PARAM_RSA_E, fs_e, sizeof(fs_e)) != 0)
		return -1;
	void *p = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || fh_init() != 0)
		return -1;
	fs = p;
	fh_track("/v2/oauth/token");
	fh_track("/v2/.well-known/jwks.json");
	fh_track("/v2/oauth/userinfo");
	return fh_start(fs_answer);
}

static inline void fs_free(void)
{
	EVP_PKEY_free(fs_sign_key);
	EVP_PKEY_free(fs_client_pub);
	fs_sign_key = fs_client_pub = NULL;
}

static inline int fs_tokens(void) { return fh_count("/v2/oauth/token"); }
static inline int fs_jwks_fetches(void) { return fh_count("/v2/.well-known/jwks.json"); }
static inline int fs_userinfos(void) { return fh_count("/v2/oauth/userinfo"); }

#endif
