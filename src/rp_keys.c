/* rp_keys: the Singpass relying party's key set. rp_keys_load reads
 * SINGPASS_{SIGNING,ENCRYPTION}_KEY[_PREVIOUS]_FILE (the message names the
 * variable at fault); the provider serves rp_keys_jwks at /api/jwks, signs
 * rp_client_assertion per PAR and token request, and hands
 * rp_keys_decrypters to jwe_decrypt_ecdh. */
#include "rp_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "util.h"

static const char *key_name(enum rp_key_use use, bool previous)
{
	if (use == RP_KEY_SIG)
		return previous ? "previous signing key" : "signing key";
	return previous ? "previous encryption key" : "encryption key";
}

static void fail_msg(char *err, size_t err_len, const char *who, const char *why)
{
	if (err && err_len)
		snprintf(err, err_len, "%s: %s", who, why);
}

static bool kid_ok(const char *kid)
{
	size_t n = strlen(kid);
	if (n == 0 || n >= JWK_KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (kid[i] < 0x21 || kid[i] > 0x7e || kid[i] == '"' || kid[i] == '\\')
			return false;
	return true;
}

const struct rp_key *rp_keys_get(const struct rp_keys *ks, enum rp_key_use use, bool previous)
{
	for (size_t i = 0; ks && i < ks->n; i++)
		if (ks->keys[i].use == use && ks->keys[i].previous == previous)
			return &ks->keys[i];
	return NULL;
}

/* The refusal of a key for a slot as why[] (without the key's name), or
 * 0. name() names the other key a clash is with. */
static int check_new_key(const struct rp_keys *ks, enum rp_key_use use, bool previous,
	const crypto_ec_key *key, const char *kid, char tp[JWK_THUMBPRINT_LEN + 1],
	const char *(*name)(enum rp_key_use, bool), char *why, size_t why_len)
{
	const char *fixed = NULL;

	if (!ks || ks->n >= RP_KEYS_MAX || rp_keys_get(ks, use, previous))
		fixed = "configured twice";
	else if (!crypto_ec_key_has_private(key))
		fixed = "not a P-256 private key";
	else if (kid && *kid && !kid_ok(kid))
		fixed = "kid must be 1 to 127 printable characters without spaces, '\"' or '\\'";
	else if ((!kid || !*kid) && jwk_ec_thumbprint(key, tp) != 0)
		fixed = "cannot compute the key's thumbprint";
	if (fixed) {
		snprintf(why, why_len, "%s", fixed);
		return -1;
	}
	const char *id = kid && *kid ? kid : tp;
	for (size_t i = 0; i < ks->n; i++) {
		const struct rp_key *o = &ks->keys[i];
		if (crypto_ec_key_same_public(o->key, key))
			fixed = "the same key pair as ";
		else if (strcmp(o->kid, id) == 0)
			fixed = "kid already used by ";
		if (fixed) {
			snprintf(why, why_len, "%s%s", fixed, name(o->use, o->previous));
			return -1;
		}
	}
	return 0;
}

static void put_key(struct rp_keys *ks, enum rp_key_use use, bool previous, crypto_ec_key *key,
	const char *id)
{
	struct rp_key *k = &ks->keys[ks->n++];
	k->key = key;
	k->use = use;
	k->previous = previous;
	snprintf(k->kid, sizeof(k->kid), "%s", id);
}

/* "the signing key" for the messages of rp_keys_add */
static const char *the_key_name(enum rp_key_use use, bool previous)
{
	static const char *const names[2][2] = {
		{ "the signing key", "the previous signing key" },
		{ "the encryption key", "the previous encryption key" },
	};
	return names[use == RP_KEY_ENC][previous];
}

int rp_keys_add(struct rp_keys *ks, enum rp_key_use use, bool previous, crypto_ec_key *key,
	const char *kid, char *err, size_t err_len)
{
	char tp[JWK_THUMBPRINT_LEN + 1], why[160];

	if (check_new_key(ks, use, previous, key, kid, tp, the_key_name, why, sizeof(why)) != 0) {
		fail_msg(err, err_len, key_name(use, previous), why);
		return -1;
	}
	put_key(ks, use, previous, key, kid && *kid ? kid : tp);
	return 0;
}

int rp_keys_add_pem(struct rp_keys *ks, enum rp_key_use use, bool previous, const char *pem,
	size_t len, const char *kid, char *err, size_t err_len)
{
	char why[160];
	crypto_ec_key *key = crypto_ec_key_load_pem(pem, len, why, sizeof(why));

	if (!key) {
		fail_msg(err, err_len, key_name(use, previous), why);
		return -1;
	}
	if (rp_keys_add(ks, use, previous, key, kid, err, err_len) != 0) {
		crypto_ec_key_free(key);
		return -1;
	}
	return 0;
}

/* ---- from the configuration ---- */

/* Slot i of singpass_config.key_files: 0 signing, 1 signing previous, 2
 * encryption, 3 encryption previous. */
static enum rp_key_use slot_use(size_t i)
{
	return i < 2 ? RP_KEY_SIG : RP_KEY_ENC;
}

static size_t slot_of(enum rp_key_use use, bool previous)
{
	return (use == RP_KEY_ENC ? 2 : 0) + (previous ? 1 : 0);
}

static const char *file_var_name(enum rp_key_use use, bool previous)
{
	return cfg_singpass_key_var(slot_of(use, previous), false);
}

/* One key file: a regular file of at most RP_KEY_FILE_MAX bytes holding a
 * P-256 private key. Open to others: loaded, with a warning. The packaged
 * layout is root:sgid-fcgi 0640, so group access is not warned about, and
 * the sgID key has no mode rule to follow. */
static crypto_ec_key *load_key_file(const char *var, const char *path, char *err,
	size_t err_len)
{
	struct buf pem = BUF_INIT;
	unsigned mode = 0;
	char why[160];

	if (file_read_all(path, RP_KEY_FILE_MAX, &pem, &mode) != 0) {
		int e = errno;
		snprintf(why, sizeof(why), "cannot read the file: %s", e == EFBIG ?
			"larger than 64 KiB" : e == EINVAL ? "not a regular file" : strerror(e));
		fail_msg(err, err_len, var, why);
		return NULL;
	}
	crypto_ec_key *key = crypto_ec_key_load_pem(pem.data, pem.len, why, sizeof(why));
	buf_free(&pem); /* wipes */
	if (!key) {
		fail_msg(err, err_len, var, why);
		return NULL;
	}
	if (mode & 007)
		log_warn("%s: the key file is open to other users (mode %04o): make it 0600, or "
			"0640 for the service's group", var, mode);
	return key;
}

int rp_keys_load(struct rp_keys *ks, const struct singpass_config *sp, char *err, size_t err_len)
{
	memset(ks, 0, sizeof(*ks));
	for (size_t i = 0; i < CFG_SINGPASS_KEY_FILES; i++) {
		const char *var = cfg_singpass_key_var(i, false), *kid = sp->key_kids[i];
		enum rp_key_use use = slot_use(i);
		bool previous = i % 2 == 1;
		char tp[JWK_THUMBPRINT_LEN + 1], why[160];

		if (!sp->key_files[i][0]) {
			if (previous)
				continue;
			fail_msg(err, err_len, var, "is required (a P-256 PEM key file)");
			goto fail;
		}
		crypto_ec_key *key = load_key_file(var, sp->key_files[i], err, err_len);
		if (!key)
			goto fail;
		if (check_new_key(ks, use, previous, key, kid, tp, file_var_name, why,
		                  sizeof(why)) != 0) {
			/* a configured kid at fault is named by its own variable */
			fail_msg(err, err_len, *kid && has_prefix(why, "kid") ?
				cfg_singpass_key_var(i, true) : var, why);
			crypto_ec_key_free(key);
			goto fail;
		}
		put_key(ks, use, previous, key, *kid ? kid : tp);
	}
	return 0;
fail:
	rp_keys_free(ks);
	return -1;
}

int rp_keys_check(const struct rp_keys *ks, char *err, size_t err_len)
{
	for (int use = RP_KEY_SIG; use <= RP_KEY_ENC; use++) {
		if (!rp_keys_get(ks, (enum rp_key_use)use, false)) {
			fail_msg(err, err_len, key_name((enum rp_key_use)use, false), "missing");
			return -1;
		}
	}
	return 0;
}

void rp_keys_free(struct rp_keys *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n && i < RP_KEYS_MAX; i++)
		crypto_ec_key_free(ks->keys[i].key);
	memset(ks, 0, sizeof(*ks));
}

size_t rp_keys_decrypters(const struct rp_keys *ks, struct jwe_ec_key out[2])
{
	size_t n = 0;
	for (int prev = 0; prev <= 1; prev++) {
		const struct rp_key *k = rp_keys_get(ks, RP_KEY_ENC, prev);
		if (k) {
			out[n].key = k->key;
			out[n].kid = k->kid;
			n++;
		}
	}
	return n;
}

/* One public JWK: the RFC 7638 members, then use, alg and kid. */
static int append_jwk(const struct rp_key *k, struct buf *out)
{
	size_t start = out->len;
	if (jwk_ec_public_json(k->key, out) != 0)
		return -1;
	out->len--; /* reopen the object: drop its '}' */
	return buf_append_strs(out, ",\"use\":\"", k->use == RP_KEY_SIG ? "sig" : "enc",
			"\",\"alg\":\"", k->use == RP_KEY_SIG ? "ES256" : RP_ENC_ALG, "\",\"kid\":",
			(char *)NULL) != 0 ||
		json_append_string(out, k->kid, strlen(k->kid)) != 0 ||
		buf_append_char(out, '}') != 0 || out->len <= start ? -1 : 0;
}

int rp_keys_jwks(const struct rp_keys *ks, struct buf *out)
{
	static const struct { enum rp_key_use use; bool previous; } order[] = {
		{ RP_KEY_SIG, false }, { RP_KEY_SIG, true }, { RP_KEY_ENC, false }, { RP_KEY_ENC, true },
	};
	size_t start = out->len;
	bool first = true;

	if (buf_append_str(out, "{\"keys\":[") != 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_LEN(order); i++) {
		const struct rp_key *k = rp_keys_get(ks, order[i].use, order[i].previous);
		if (!k)
			continue;
		if ((!first && buf_append_char(out, ',') != 0) || append_jwk(k, out) != 0)
			goto fail;
		first = false;
	}
	if (buf_append_str(out, "]}") != 0)
		goto fail;
	return 0;
fail:
	if (out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return -1;
}

int rp_client_assertion(const struct rp_keys *ks, const char *client_id, const char *audience,
	int64_t now, struct buf *out)
{
	const struct rp_key *k = rp_keys_get(ks, RP_KEY_SIG, false);
	struct buf hdr = BUF_INIT, pl = BUF_INIT;
	char jti[JWT_JTI_LEN + 1];
	size_t cid_len = client_id ? strlen(client_id) : 0;
	int rc = -1;

	if (!k || !out || cid_len == 0 || cid_len > RP_CLIENT_ID_MAX || !audience || !*audience ||
	    now <= 0 || now > INT64_MAX - RP_ASSERTION_LIFETIME || jwt_new_jti(jti) != 0)
		goto fail;
	if (buf_append_str(&hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":") != 0 ||
	    json_append_string(&hdr, k->kid, strlen(k->kid)) != 0 || buf_append_char(&hdr, '}') != 0)
		goto fail;
	if (buf_append_str(&pl, "{\"iss\":") != 0 || json_append_string(&pl, client_id, cid_len) != 0 ||
	    buf_append_str(&pl, ",\"sub\":") != 0 || json_append_string(&pl, client_id, cid_len) != 0 ||
	    buf_append_str(&pl, ",\"aud\":") != 0 ||
	    json_append_string(&pl, audience, strlen(audience)) != 0 ||
	    buf_append_str(&pl, ",\"iat\":") != 0 || buf_append_int(&pl, now) != 0 ||
	    buf_append_str(&pl, ",\"exp\":") != 0 || buf_append_int(&pl, now + RP_ASSERTION_LIFETIME) != 0 ||
	    buf_append_strs(&pl, ",\"jti\":\"", jti, "\"}", (char *)NULL) != 0)
		goto fail;
	rc = jws_sign_es256(hdr.data, hdr.len, pl.data, pl.len, k->key, out) == JOSE_OK ? 0 : -1;
fail:
	buf_free(&hdr);
	buf_free(&pl);
	return rc;
}
