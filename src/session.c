#include "session.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define RECORD_VERSION 1
/* 2: the gateway flag and return URL (attempts of version 1, sealed before
 * an upgrade, are not opened: the user starts the login again). */
#define ATTEMPT_VERSION 2
#define KEY_PREFIX_USER  "sgid:s:"
#define KEY_PREFIX_USED  "sgid:u:"   /* spent login attempts */
#define KEY_PREFIX_INDEX "sgid:i:"   /* a user's sessions, by tag */
#define REDIS_KEY_MAX 96
#define TAG_BYTES 15                 /* SESSION_TAG_LEN characters */
#define ID_RANDOM_BYTES 33
#define ID_MAC_BYTES 12              /* 96 bits: online guessing only */
#define ID_BYTES (TAG_BYTES + ID_RANDOM_BYTES + ID_MAC_BYTES)
_Static_assert(ID_BYTES * 4 / 3 == SESSION_ID_LEN, "id length");
_Static_assert((TAG_BYTES + ID_RANDOM_BYTES) * 4 / 3 == SESSION_ID_UNSIGNED_LEN, "id length");
_Static_assert(TAG_BYTES * 4 / 3 == SESSION_TAG_LEN, "tag length");
/* Binds a sealed attempt to its purpose: no other ciphertext under the
 * attempt key, and none of another version, opens as one. */
#define ATTEMPT_AAD "sgid-fcgi login attempt v2"
#define ATTEMPT_FUTURE_SKEW 60       /* seconds a sealed time may lie ahead */

_Static_assert(SESSION_ATTEMPT_MAX <= HTTP_MAX_VALUE_LEN,
	"a sealed attempt must pass the Cookie reader's limit per value");

static const char *const session_errstr[] = {
	[SESSION_OK] = "ok",
	[SESSION_NOT_FOUND] = "no such session",
	[SESSION_ALREADY_USED] = "login attempt already used",
	[SESSION_ERR_STORE] = "session store unavailable",
	[SESSION_ERR_INTERNAL] = "internal error",
};
_Static_assert(ARRAY_LEN(session_errstr) == SESSION_ERR__MAX, "session_errstr");

const char *session_strerror(enum session_err err)
{
	return (unsigned)err < SESSION_ERR__MAX ? session_errstr[err] : "unknown";
}

static int derive_keys(const uint8_t secret[32], struct session_keys *k)
{
	static const char salt[] = "sgid-fcgi session keys";
	uint8_t id_key[32];
	int rc = -1;
	if (crypto_hkdf_sha256(secret, 32, salt, sizeof(salt) - 1,
	                       "record encryption", 17, k->enc_key, sizeof(k->enc_key)) == 0 &&
	    crypto_hkdf_sha256(secret, 32, salt, sizeof(salt) - 1,
	                       "login attempt cookie", 20, k->attempt_key, sizeof(k->attempt_key)) == 0 &&
	    crypto_hkdf_sha256(secret, 32, salt, sizeof(salt) - 1,
	                       "record key", 10, id_key, sizeof(id_key)) == 0 &&
	    (k->id_mac = crypto_hmac_key_new(CRYPTO_SHA256, id_key, sizeof(id_key))) != NULL &&
	    crypto_hkdf_sha256(secret, 32, salt, sizeof(salt) - 1,
	                       "session id mac", 14, id_key, sizeof(id_key)) == 0 &&
	    (k->id_check = crypto_hmac_key_new(CRYPTO_SHA256, id_key, sizeof(id_key))) != NULL)
		rc = 0;
	secure_zero(id_key, sizeof(id_key));
	return rc;
}

static void wipe_keys(struct session_keys *k)
{
	secure_zero(k->enc_key, sizeof(k->enc_key));
	secure_zero(k->attempt_key, sizeof(k->attempt_key));
	crypto_hmac_key_free(k->id_mac);
	crypto_hmac_key_free(k->id_check);
	k->id_mac = NULL;
	k->id_check = NULL;
}

int session_mgr_init(struct session_mgr *m, struct store *store, const struct config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->store = store;
	m->login_ttl = cfg->login_ttl;
	m->session_ttl = cfg->session_ttl;
	m->idle_ttl = cfg->session_idle_ttl > 0 ? cfg->session_idle_ttl : cfg->session_ttl;
	/* Decrypted userinfo is at most 3/4 of the response; JSON escaping in
	 * the profile and again in the record grows a byte to 7 at worst. */
	m->max_record = cfg->http_max_body / 4 * 3 * 7 + 64 * 1024;
	/* equal to the current one it would only name markers twice (every
	 * login a replay): ignored; cfg.c warns */
	m->has_prev = cfg->has_session_secret_previous &&
		!crypto_ct_equal(cfg->session_secret, cfg->session_secret_previous,
		                 sizeof(cfg->session_secret));
	m->max_per_user = cfg->session_max_per_user > 0 ? cfg->session_max_per_user : 20;
	m->accept_legacy_ids = cfg->session_accept_legacy_ids;
	if (derive_keys(cfg->session_secret, &m->cur) != 0 ||
	    (m->has_prev && derive_keys(cfg->session_secret_previous, &m->prev) != 0)) {
		session_mgr_wipe(m);
		return -1;
	}
	return 0;
}

void session_mgr_wipe(struct session_mgr *m)
{
	wipe_keys(&m->cur);
	wipe_keys(&m->prev);
	m->has_prev = false;
}

void session_init(struct session *s, enum session_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
}

void session_clear(struct session *s)
{
	if (!s)
		return;
	buf_free(&s->access_token);
	buf_free(&s->profile);
	secure_zero(s, sizeof(*s));
}

int session_id_valid(const char *id, size_t len)
{
	if (!id || (len != SESSION_ID_LEN && len != SESSION_ID_UNSIGNED_LEN &&
	            len != SESSION_ID_LEGACY_LEN))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* The MAC of an id's tag and random part under keys k. */
static int id_mac(const struct session_keys *k, const uint8_t body[TAG_BYTES + ID_RANDOM_BYTES],
	uint8_t out[ID_MAC_BYTES])
{
	uint8_t mac[64];
	size_t mac_len = 0;
	if (!k->id_check || crypto_hmac_keyed(k->id_check, body, TAG_BYTES + ID_RANDOM_BYTES, mac,
	                                      &mac_len) != 0 || mac_len < ID_MAC_BYTES)
		return -1;
	memcpy(out, mac, ID_MAC_BYTES);
	return 0;
}

static bool id_mac_matches(const struct session_keys *k, const uint8_t raw[ID_BYTES])
{
	uint8_t want[ID_MAC_BYTES];
	return id_mac(k, raw, want) == 0 &&
	       crypto_ct_equal(want, raw + TAG_BYTES + ID_RANDOM_BYTES, ID_MAC_BYTES);
}

bool session_id_issued(const struct session_mgr *m, const char *id, size_t len)
{
	if (!session_id_valid(id, len))
		return false;
	if (len != SESSION_ID_LEN)
		return m->accept_legacy_ids;
	struct buf raw = BUF_INIT;
	bool ok = b64url_decode(id, len, &raw) == 0 && raw.len == ID_BYTES &&
	          (id_mac_matches(&m->cur, (const uint8_t *)raw.data) ||
	           (m->has_prev && id_mac_matches(&m->prev, (const uint8_t *)raw.data)));
	buf_free(&raw);
	return ok;
}

/* Redis key = prefix + [{tag}] + base64url(HMAC-SHA256(id key, prefix ||
 * id)); id is a cookie value or an attempt's state. tag_len > 0 puts the
 * id's first tag_len characters in braces: Redis Cluster's hash tag. */
static int redis_key(const struct session_keys *k, const char *prefix, const char *id, size_t len,
	size_t tag_len, char out[REDIS_KEY_MAX])
{
	uint8_t mac[64];
	size_t mac_len = 0;
	char input[16 + SESSION_ID_LEN];
	size_t plen = strlen(prefix);
	if (plen > 16 || len > SESSION_ID_LEN || tag_len > len)
		return -1;
	memcpy(input, prefix, plen);
	memcpy(input + plen, id, len);
	if (crypto_hmac_keyed(k->id_mac, input, plen + len, mac, &mac_len) != 0)
		return -1;
	struct buf enc = BUF_INIT;
	int rc = -1;
	if (b64url_encode(mac, 32, &enc) == 0 && plen + tag_len + 2 + enc.len < REDIS_KEY_MAX) {
		size_t o = 0;
		memcpy(out, prefix, plen);
		o += plen;
		if (tag_len) {
			out[o++] = '{';
			memcpy(out + o, id, tag_len);
			o += tag_len;
			out[o++] = '}';
		}
		memcpy(out + o, enc.data, enc.len + 1);
		rc = 0;
	}
	buf_free(&enc);
	return rc;
}

/* The names of a logged-in session under keys k: its record, and its
 * user's index (idx "" for a legacy id: in no index). */
struct record_name {
	char key[REDIS_KEY_MAX];
	char idx[REDIS_KEY_MAX];
};

static void index_name(const char *tag, char idx[REDIS_KEY_MAX])
{
	snprintf(idx, REDIS_KEY_MAX, "%s{%.*s}", KEY_PREFIX_INDEX, SESSION_TAG_LEN, tag);
}

static int record_name(const struct session_keys *k, const char *id, size_t len,
	struct record_name *out)
{
	size_t tag_len = len == SESSION_ID_LEN || len == SESSION_ID_UNSIGNED_LEN ? SESSION_TAG_LEN : 0;
	out->idx[0] = '\0';
	if (tag_len)
		index_name(id, out->idx);
	return redis_key(k, KEY_PREFIX_USER, id, len, tag_len, out->key);
}

/* The user's tag under keys k: the start of each session id of sub. */
static int user_tag(const struct session_keys *k, const char *sub, uint8_t tag[TAG_BYTES])
{
	static const char domain[] = "sgid-fcgi user tag\n";
	struct buf in = BUF_INIT;
	uint8_t mac[64];
	size_t mac_len = 0;
	int rc = -1;
	if (buf_append(&in, domain, sizeof(domain) - 1) == 0 && buf_append_str(&in, sub) == 0 &&
	    crypto_hmac_keyed(k->id_mac, in.data, in.len, mac, &mac_len) == 0 && mac_len >= TAG_BYTES) {
		memcpy(tag, mac, TAG_BYTES);
		rc = 0;
	}
	buf_free(&in);
	return rc;
}

/* The user's tag under keys k as the id's first SESSION_TAG_LEN chars. */
static int user_tag_text(const struct session_keys *k, const char *sub,
	char text[SESSION_TAG_LEN + 1])
{
	uint8_t tag[TAG_BYTES];
	struct buf enc = BUF_INIT;
	int rc = -1;
	if (user_tag(k, sub, tag) == 0 && b64url_encode(tag, sizeof(tag), &enc) == 0 &&
	    enc.len == SESSION_TAG_LEN) {
		memcpy(text, enc.data, SESSION_TAG_LEN + 1);
		rc = 0;
	}
	buf_free(&enc);
	return rc;
}

static int user_index(const struct session_keys *k, const char *sub, char idx[REDIS_KEY_MAX])
{
	char tag[SESSION_TAG_LEN + 1];
	if (user_tag_text(k, sub, tag) != 0)
		return -1;
	index_name(tag, idx);
	return 0;
}

/* Whether a tagged id's tag is its sub's under the current or the
 * previous secret: only those indexes are what revoke looks at. */
static bool tag_current(const struct session_mgr *m, const char *id, const char *sub)
{
	const struct session_keys *keys[2] = { &m->cur, m->has_prev ? &m->prev : NULL };
	for (size_t i = 0; i < 2 && keys[i]; i++) {
		char tag[SESSION_TAG_LEN + 1];
		if (user_tag_text(keys[i], sub, tag) == 0 && memcmp(tag, id, SESSION_TAG_LEN) == 0)
			return true;
	}
	return false;
}

static int append_field(struct buf *b, const char *name, const char *val, size_t len)
{
	if (buf_append_strs(b, ",\"", name, "\":", NULL) != 0)
		return -1;
	return json_append_string(b, val, len);
}

static int format_version(enum session_kind kind)
{
	return kind == SESSION_LOGIN ? ATTEMPT_VERSION : RECORD_VERSION;
}

/* The provider's secret of an attempt, as "ps": base64url; none: absent
 * (the attempts of older versions have none, and open as before). */
static int append_provider_secret(struct buf *out, const struct session *s)
{
	if (s->provider_secret_len == 0)
		return 0;
	if (s->provider_secret_len > sizeof(s->provider_secret) ||
	    buf_append_str(out, ",\"ps\":\""))
		return -1;
	if (b64url_encode(s->provider_secret, s->provider_secret_len, out) != 0)
		return -1;
	return buf_append_char(out, '"');
}

static int copy_provider_secret(const json_value *rec, struct session *s)
{
	size_t len = 0;
	const char *v = json_get_str(rec, "ps", &len);
	struct buf raw = BUF_INIT;
	int rc = -1;
	if (!v)
		return json_has(rec, "ps") ? -1 : 0;
	if (b64url_decode(v, len, &raw) == 0 && raw.len > 0 && raw.len <= sizeof(s->provider_secret)) {
		memcpy(s->provider_secret, raw.data, raw.len);
		s->provider_secret_len = raw.len;
		rc = 0;
	}
	buf_free(&raw); /* wipes */
	return rc;
}

static int serialize(const struct session *s, struct buf *out)
{
	if (buf_append_str(out, "{\"v\":") || buf_append_int(out, format_version(s->kind)) ||
	    buf_append_str(out, ",\"k\":") || buf_append_int(out, (int)s->kind) ||
	    buf_append_str(out, ",\"c\":") || buf_append_int(out, s->created_at) ||
	    buf_append_str(out, ",\"e\":") || buf_append_int(out, s->expires_at))
		return -1;
	if (append_field(out, "ic", s->icecream, strlen(s->icecream)) != 0)
		return -1;
	if (s->kind == SESSION_LOGIN) {
		if (append_field(out, "st", s->state, strlen(s->state)) ||
		    append_field(out, "n", s->nonce, strlen(s->nonce)) ||
		    append_field(out, "cv", s->code_verifier, strlen(s->code_verifier)) ||
		    append_provider_secret(out, s) ||
		    (s->gateway && buf_append_str(out, ",\"gw\":1")))
			return -1;
	} else {
		if (append_field(out, "sub", s->sub, strlen(s->sub)) ||
		    append_field(out, "at", buf_cstr(&s->access_token), s->access_token.len))
			return -1;
		if (s->profile.len && append_field(out, "p", s->profile.data, s->profile.len) != 0)
			return -1;
	}
	return buf_append_char(out, '}');
}

static int copy_str(const json_value *rec, const char *name, char *dst, size_t cap, int required)
{
	size_t len = 0;
	const char *v = json_get_str(rec, name, &len);
	if (!v)
		return required ? -1 : 0;
	if (len >= cap)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static int copy_buf(const json_value *rec, const char *name, struct buf *dst)
{
	size_t len = 0;
	const char *v = json_get_str(rec, name, &len);
	return v ? buf_append(dst, v, len) : 0;
}

static int deserialize(const char *text, size_t len, enum session_kind want, struct session *s)
{
	json_value *rec = json_parse(text, len, len);
	int64_t v = 0, k = 0;
	int rc = -1;
	if (!rec || json_get_int64(rec, "v", &v) != 0 || v != format_version(want) ||
	    json_get_int64(rec, "k", &k) != 0 || k != (int64_t)want)
		goto fail;
	session_init(s, want);
	if (json_get_int64(rec, "c", &s->created_at) != 0 || json_get_int64(rec, "e", &s->expires_at) != 0 ||
	    copy_str(rec, "ic", s->icecream, sizeof(s->icecream), 1) != 0)
		goto fail;
	if (want == SESSION_LOGIN) {
		if (copy_str(rec, "st", s->state, sizeof(s->state), 1) ||
		    copy_str(rec, "n", s->nonce, sizeof(s->nonce), 1) ||
		    copy_str(rec, "cv", s->code_verifier, sizeof(s->code_verifier), 1) ||
		    copy_provider_secret(rec, s))
			goto fail;
		int64_t gw = 0;
		if (json_has(rec, "gw") && (json_get_int64(rec, "gw", &gw) != 0 || gw != 1))
			goto fail;
		s->gateway = gw == 1;
	} else {
		size_t at_len = 0;
		const char *at = json_get_str(rec, "at", &at_len);
		if (copy_str(rec, "sub", s->sub, sizeof(s->sub), 1) || !at ||
		    buf_append(&s->access_token, at, at_len) != 0)
			goto fail;
		if (copy_buf(rec, "p", &s->profile) != 0)
			goto fail;
	}
	rc = 0;
fail:
	json_free(rec);
	if (rc != 0)
		session_clear(s);
	return rc;
}

/* Sealed: version byte || 12-byte IV || ciphertext || 16-byte tag, with
 * AES-256-GCM. Records use the Redis key as AAD, so they cannot be moved
 * between keys; attempts use ATTEMPT_AAD under a key of their own. */
static int seal(const uint8_t key[32], int version, const char *aad, const struct buf *plain,
	struct buf *out)
{
	uint8_t iv[12], tag[16];
	struct buf ct = BUF_INIT;
	int rc = -1;
	if (crypto_random(iv, sizeof(iv)) != 0)
		goto fail;
	if (crypto_aes_gcm_encrypt(key, 32, iv, sizeof(iv), (const uint8_t *)aad, strlen(aad),
	                           (const uint8_t *)plain->data, plain->len, &ct, tag) != 0)
		goto fail;
	if (buf_append_char(out, (char)version) || buf_append(out, iv, sizeof(iv)) ||
	    buf_append(out, ct.data, ct.len) || buf_append(out, tag, sizeof(tag)))
		goto fail;
	rc = 0;
fail:
	buf_free(&ct);
	return rc;
}

static int unseal(const uint8_t key[32], int version, const char *aad, const uint8_t *p,
	size_t len, size_t max, struct buf *plain)
{
	if (len < 1 + 12 + 16 || len > max || p[0] != version)
		return -1;
	size_t ct_len = len - 1 - 12 - 16;
	return crypto_aes_gcm_decrypt(key, 32, p + 1, 12, (const uint8_t *)aad, strlen(aad),
	                              p + 13, ct_len, p + 13 + ct_len, 16, plain);
}

static enum session_err store_result(enum store_err e)
{
	switch (e) {
	case STORE_OK: return SESSION_OK;
	case STORE_NOT_FOUND: return SESSION_NOT_FOUND;
	case STORE_ERR_NOMEM: return SESSION_ERR_INTERNAL;
	default: return SESSION_ERR_STORE;
	}
}

/* Seals s for rkey with the current key. */
static int seal_record(const struct session_mgr *m, const char *rkey, const struct session *s,
	struct buf *sealed)
{
	struct buf plain = BUF_INIT;
	int rc = -1;
	if (serialize(s, &plain) == 0 && plain.len <= m->max_record - 64 &&
	    seal(m->cur.enc_key, RECORD_VERSION, rkey, &plain, sealed) == 0)
		rc = 0;
	buf_free(&plain);
	return rc;
}

/* Writes s under rkey with the given TTL, sealed with the current key;
 * SESSION_ALREADY_USED when an NX write finds the key taken. */
static enum session_err write_record(struct session_mgr *m, const char *rkey,
	const struct session *s, int ttl, enum store_set_cond cond)
{
	struct buf sealed = BUF_INIT;
	enum session_err rc;
	if (ttl <= 0)
		return SESSION_NOT_FOUND;
	if (seal_record(m, rkey, s, &sealed) != 0) {
		rc = SESSION_ERR_INTERNAL;
	} else {
		enum store_err e = store_set(m->store, rkey, strlen(rkey), sealed.data, sealed.len, ttl, cond);
		rc = e == STORE_EXISTS ? SESSION_ALREADY_USED : store_result(e);
	}
	buf_free(&sealed);
	return rc;
}

enum session_err session_create(struct session_mgr *m, struct session *s,
	char id[SESSION_ID_LEN + 1])
{
	uint8_t raw[ID_BYTES];
	struct buf enc = BUF_INIT, sealed = BUF_INIT;
	struct record_name name;
	enum session_err rc = SESSION_ERR_INTERNAL;
	int ttl = m->session_ttl, evicted = 0;

	if (s->kind != SESSION_USER || user_tag(&m->cur, s->sub, raw) != 0 ||
	    crypto_random(raw + TAG_BYTES, ID_RANDOM_BYTES) != 0 ||
	    id_mac(&m->cur, raw, raw + TAG_BYTES + ID_RANDOM_BYTES) != 0 ||
	    b64url_encode(raw, sizeof(raw), &enc) != 0 || enc.len != SESSION_ID_LEN)
		goto fail;
	memcpy(id, enc.data, SESSION_ID_LEN + 1);
	if (record_name(&m->cur, id, SESSION_ID_LEN, &name) != 0)
		goto fail;
	int64_t now_ms = now_unix_ms();
	s->created_at = now_ms / 1000;
	s->expires_at = s->created_at + ttl;
	/* it starts with the idle lifetime, extended on use */
	if (m->idle_ttl < ttl)
		ttl = m->idle_ttl;
	if (seal_record(m, name.key, s, &sealed) != 0)
		goto fail;
	/* scored by absolute expiry in ms: entries past it leave the index
	 * whatever SESSION_TTL_SECONDS says now, and logins within one second
	 * still order; the index lives as long as its youngest session can */
	rc = store_result(store_index_add(m->store, name.idx, name.key, sealed.data, sealed.len, ttl,
		now_ms + (int64_t)m->session_ttl * 1000, now_ms, m->max_per_user, m->session_ttl,
		&evicted));
	if (rc == SESSION_OK && evicted > 0)
		log_info("session: %d older sessions of this user ended (SESSION_MAX_PER_USER %d)",
		         evicted, m->max_per_user);
fail:
	secure_zero(raw, sizeof(raw));
	buf_free(&enc);
	buf_free(&sealed);
	return rc;
}

/* Parses an opened record or attempt; anything wrong or expired is "no
 * session". */
static enum session_err parse_opened(const char *text, size_t len, enum session_kind kind,
	struct session *out)
{
	if (deserialize(text, len, kind, out) != 0)
		return SESSION_NOT_FOUND;
	if (now_unix() >= out->expires_at) {
		session_clear(out);
		return SESSION_NOT_FOUND;
	}
	return SESSION_OK;
}

/* Reads and opens the record under the name keys k give id; GETEX
 * extends its idle expiry. */
static enum session_err load_record(struct session_mgr *m, const struct session_keys *k,
	const char *id, size_t len, struct record_name *name, struct session *out)
{
	struct buf sealed = BUF_INIT, plain = BUF_INIT;
	if (record_name(k, id, len, name) != 0)
		return SESSION_ERR_INTERNAL;
	const char *rkey = name->key;
	enum session_err rc = store_result(store_get(m->store, rkey, strlen(rkey), m->idle_ttl, &sealed));
	if (rc == SESSION_OK)
		rc = unseal(k->enc_key, RECORD_VERSION, rkey, (const uint8_t *)sealed.data, sealed.len,
		            m->max_record, &plain) == 0
			? parse_opened(plain.data, plain.len, SESSION_USER, out) : SESSION_NOT_FOUND;
	buf_free(&sealed);
	buf_free(&plain);
	return rc;
}

/* Idle lifetime left to a record, capped by its absolute expiry. */
static int record_ttl(const struct session_mgr *m, const struct session *s)
{
	int64_t left = s->expires_at - now_unix();
	return left < m->idle_ttl ? (int)left : m->idle_ttl;
}

/* A record found under the previous secret's name (old) moves to the
 * current one. A tagged id: one script moves the record and its index
 * entry, only while the old one exists. A legacy id (the two names in
 * different slots): SET NX, where a concurrent load that moved it first
 * wins and its copy stays; then GETDEL of the old name: finding it gone
 * means a logout (which deletes the old name before the current one) ran
 * meanwhile, so the copy just written goes too. SESSION_NOT_FOUND: ended
 * meanwhile. A store failure leaves the record where it was. */
static enum session_err move_to_current(struct session_mgr *m, const char *id, size_t len,
	const struct record_name *old, const struct session *s)
{
	struct record_name cur;
	struct buf sealed = BUF_INIT;
	int ttl = record_ttl(m, s);
	if (record_name(&m->cur, id, len, &cur) != 0)
		return SESSION_ERR_INTERNAL;
	if (ttl <= 0)
		return SESSION_NOT_FOUND;
	if (old->idx[0]) {
		enum session_err rc = seal_record(m, cur.key, s, &sealed) != 0 ? SESSION_ERR_INTERNAL
			: store_result(store_index_move(m->store, old->idx, old->key, cur.key, sealed.data,
			                                sealed.len, ttl, s->expires_at * 1000));
		buf_free(&sealed);
		return rc;
	}
	enum session_err rc = write_record(m, cur.key, s, ttl, STORE_SET_NX);
	if (rc == SESSION_ALREADY_USED)
		return SESSION_OK;
	if (rc != SESSION_OK)
		return rc;
	rc = store_result(store_getdel(m->store, old->key, strlen(old->key), &sealed));
	buf_free(&sealed);
	if (rc == SESSION_NOT_FOUND)
		store_del(m->store, cur.key, strlen(cur.key));
	return rc;
}

/* Logged-in sessions are read with GETEX, extending the idle expiry in the
 * same round trip; one past its absolute expiry is refused here and expires
 * by itself. */
enum session_err session_load_user(struct session_mgr *m, const char *id, size_t len,
	struct session *out)
{
	struct record_name name;
	session_init(out, SESSION_USER);
	if (!session_id_issued(m, id, len))
		return SESSION_NOT_FOUND;
	bool under_prev = false;
	enum session_err rc = load_record(m, &m->cur, id, len, &name, out);
	if (rc == SESSION_NOT_FOUND && m->has_prev) {
		rc = load_record(m, &m->prev, id, len, &name, out);
		under_prev = true;
	}
	if (rc != SESSION_OK)
		return rc;
	/* Tagged by a secret older than the previous one (two rotations
	 * since the login): its index is one revoke no longer looks at, so
	 * it ends here rather than escape a revocation. */
	if (name.idx[0] && !tag_current(m, id, out->sub)) {
		store_index_del(m->store, name.idx, name.key, NULL);
		rc = SESSION_NOT_FOUND;
	} else if (under_prev && move_to_current(m, id, len, &name, out) == SESSION_NOT_FOUND) {
		rc = SESSION_NOT_FOUND;
	}
	if (rc != SESSION_OK) {
		session_clear(out);
		session_init(out, SESSION_USER);
	}
	return rc;
}

enum session_err session_update_user(struct session_mgr *m, const char *id, size_t len,
	const struct session *s)
{
	struct record_name name;
	if (!session_id_issued(m, id, len) || s->kind != SESSION_USER)
		return SESSION_NOT_FOUND;
	if (record_name(&m->cur, id, len, &name) != 0)
		return SESSION_ERR_INTERNAL;
	/* XX: a logout that ran meanwhile must stay a logout */
	return write_record(m, name.key, s, record_ttl(m, s), STORE_SET_XX);
}

static enum session_err delete_legacy(struct session_mgr *m, const struct record_name *name)
{
	enum session_err e = store_result(store_del(m->store, name->key, strlen(name->key)));
	return e == SESSION_NOT_FOUND ? SESSION_OK : e;
}

enum session_err session_destroy(struct session_mgr *m, const char *id, size_t len)
{
	struct record_name cur, prev;
	if (!session_id_issued(m, id, len))
		return SESSION_OK;
	if (record_name(&m->cur, id, len, &cur) != 0 ||
	    (m->has_prev && record_name(&m->prev, id, len, &prev) != 0))
		return SESSION_ERR_INTERNAL;
	/* a tagged id: both names and the index entries in one script */
	if (cur.idx[0])
		return store_result(store_index_del(m->store, cur.idx, cur.key,
		                                    m->has_prev ? prev.key : NULL));
	/* the old name first: see move_to_current */
	enum session_err e = m->has_prev ? delete_legacy(m, &prev) : SESSION_OK;
	return e == SESSION_OK ? delete_legacy(m, &cur) : e;
}

/* The user's index under the current and the previous secret. */
static enum session_err scan_user(struct session_mgr *m, const char *sub, int purge, long long *n)
{
	const struct session_keys *keys[2] = { &m->cur, m->has_prev ? &m->prev : NULL };
	*n = 0;
	for (size_t i = 0; i < 2 && keys[i]; i++) {
		char idx[REDIS_KEY_MAX];
		long long found = 0;
		if (user_index(keys[i], sub, idx) != 0)
			return SESSION_ERR_INTERNAL;
		enum session_err e = store_result(store_index_scan(m->store, idx, purge, &found));
		if (e != SESSION_OK)
			return e;
		*n += found;
	}
	return SESSION_OK;
}

enum session_err session_revoke_user(struct session_mgr *m, const char *sub, long long *n)
{
	return scan_user(m, sub, 1, n);
}

enum session_err session_count_user(struct session_mgr *m, const char *sub, long long *n)
{
	return scan_user(m, sub, 0, n);
}

enum session_err session_seal_login(struct session_mgr *m, struct session *s, struct buf *cookie)
{
	struct buf plain = BUF_INIT, sealed = BUF_INIT;
	enum session_err rc = SESSION_ERR_INTERNAL;
	if (s->kind != SESSION_LOGIN)
		goto fail;
	s->created_at = now_unix();
	s->expires_at = s->created_at + m->login_ttl;
	/* A gateway login's return URL follows the JSON, after a newline and
	 * unescaped: JSON would write '&', '<' and '>' as six bytes each, and
	 * a 1024-byte rd must fit the 2048-byte cookie. */
	size_t rd_len = strlen(s->rd);
	if (s->gateway != (rd_len > 0) || serialize(s, &plain) != 0 ||
	    (s->gateway && (buf_append_char(&plain, '\n') || buf_append(&plain, s->rd, rd_len))) ||
	    seal(m->cur.attempt_key, ATTEMPT_VERSION, ATTEMPT_AAD, &plain, &sealed) != 0 ||
	    b64url_encode((const uint8_t *)sealed.data, sealed.len, cookie) != 0 || cookie->len > SESSION_ATTEMPT_MAX)
		goto fail;
	rc = SESSION_OK;
fail:
	buf_free(&plain); /* wipes */
	buf_free(&sealed);
	return rc;
}

/* A gateway attempt carries its return URL after the newline, and only it
 * does; tail_len counts the newline. */
static int attach_rd(struct session *s, const char *nl, size_t tail_len)
{
	if (!s->gateway)
		return nl ? -1 : 0;
	if (!nl || tail_len < 2 || tail_len - 1 > RETURNURL_MAX || memchr(nl + 1, '\0', tail_len - 1))
		return -1;
	memcpy(s->rd, nl + 1, tail_len - 1);
	s->rd[tail_len - 1] = '\0';
	return 0;
}

enum session_err session_open_login(struct session_mgr *m, const char *val, size_t len,
	struct session *out)
{
	struct buf sealed = BUF_INIT, plain = BUF_INIT;
	enum session_err rc = SESSION_NOT_FOUND;
	session_init(out, SESSION_LOGIN);
	if (len <= SESSION_ID_LEN || len > SESSION_ATTEMPT_MAX)
		return SESSION_NOT_FOUND;
	/* an attempt started before a rotation finishes after it */
	if (b64url_decode(val, len, &sealed) != 0)
		goto done;
	bool by_prev = false;
	if (unseal(m->cur.attempt_key, ATTEMPT_VERSION, ATTEMPT_AAD, (const uint8_t *)sealed.data,
	           sealed.len, SESSION_ATTEMPT_MAX, &plain) != 0) {
		if (!m->has_prev ||
		    unseal(m->prev.attempt_key, ATTEMPT_VERSION, ATTEMPT_AAD, (const uint8_t *)sealed.data,
		           sealed.len, SESSION_ATTEMPT_MAX, &plain) != 0)
			goto done;
		by_prev = true;
	}
	/* the return URL follows the JSON after a newline (the JSON has none) */
	const char *nl = memchr(plain.data, '\n', plain.len);
	size_t json_len = nl ? (size_t)(nl - plain.data) : plain.len;
	rc = parse_opened(plain.data, json_len, SESSION_LOGIN, out);
	out->sealed_by_prev = by_prev;
	if (rc == SESSION_OK && attach_rd(out, nl, plain.len - json_len) != 0) {
		session_clear(out);
		session_init(out, SESSION_LOGIN);
		rc = SESSION_NOT_FOUND;
	}
	/* sealed by us but dated ahead: a clock gone wrong, not a usable attempt */
	if (rc == SESSION_OK && (out->created_at > now_unix() + ATTEMPT_FUTURE_SKEW ||
	                         out->expires_at - out->created_at > m->login_ttl)) {
		session_clear(out);
		session_init(out, SESSION_LOGIN);
		rc = SESSION_NOT_FOUND;
	}
done:
	buf_free(&sealed);
	buf_free(&plain); /* wipes */
	return rc;
}

/* Calls fn for each '.'-separated part of val that opens as an attempt,
 * at most SESSION_ATTEMPTS_MAX + 1 parts looked at; fn returns non-zero
 * to stop. */
static void each_attempt(struct session_mgr *m, const char *val, size_t len,
	int (*fn)(const char *part, size_t plen, struct session *opened, void *ctx), void *ctx)
{
	size_t at = 0;
	for (int seen = 0; val && at < len && seen <= SESSION_ATTEMPTS_MAX; seen++) {
		const char *dot = memchr(val + at, '.', len - at);
		size_t plen = dot ? (size_t)(dot - (val + at)) : len - at;
		struct session s;
		int stop = 0;
		if (session_open_login(m, val + at, plen, &s) == SESSION_OK)
			stop = fn(val + at, plen, &s, ctx);
		session_clear(&s);
		if (stop)
			return;
		at += plen + 1;
	}
}

struct push_ctx { struct buf *out; int n; };

static int push_part(const char *part, size_t plen, struct session *opened, void *ctx)
{
	struct push_ctx *p = ctx;
	(void)opened;
	if (p->n >= SESSION_ATTEMPTS_MAX || p->out->len + 1 + plen > SESSION_ATTEMPT_MAX)
		return 1;
	if (buf_append_char(p->out, '.') || buf_append(p->out, part, plen))
		return 1;
	p->n++;
	return 0;
}

enum session_err session_attempts_push(struct session_mgr *m, const struct buf *sealed,
	const char *prev, size_t prev_len, struct buf *out)
{
	buf_reset(out);
	if (!sealed->len || sealed->len > SESSION_ATTEMPT_MAX || buf_append(out, sealed->data, sealed->len))
		return SESSION_ERR_INTERNAL;
	struct push_ctx p = { out, 1 };
	each_attempt(m, prev, prev_len, push_part, &p);
	return SESSION_OK;
}

struct pick_ctx {
	const char *state;
	size_t state_len;
	struct session *out;
	struct buf *rest;
	size_t n_open;
	bool found;
};

static int pick_part(const char *part, size_t plen, struct session *opened, void *ctx)
{
	struct pick_ctx *p = ctx;
	/* with no match the caller still learns whether the newest was a gateway's */
	if (p->n_open++ == 0 && !p->found)
		p->out->gateway = opened->gateway;
	size_t want = strlen(opened->state);
	if (!p->found && p->state_len == want && crypto_ct_equal(p->state, opened->state, want)) {
		*p->out = *opened;       /* moved: the caller's to clear */
		session_init(opened, SESSION_LOGIN);
		p->found = true;
		return 0;
	}
	if (p->rest->len)
		buf_append_char(p->rest, '.');
	buf_append(p->rest, part, plen);
	return 0;
}

enum session_err session_open_attempt(struct session_mgr *m, const char *val, size_t len,
	const char *state, size_t state_len, struct session *out, struct buf *rest, size_t *n_open)
{
	struct pick_ctx p = { state, state_len, out, rest, 0, false };
	session_init(out, SESSION_LOGIN);
	buf_reset(rest);
	if (len <= SESSION_ATTEMPT_MAX)
		each_attempt(m, val, len, pick_part, &p);
	*n_open = p.n_open;
	return p.found ? SESSION_OK : SESSION_NOT_FOUND;
}

enum session_err session_consume_login(struct session_mgr *m, const struct session *login)
{
	char rkey[REDIS_KEY_MAX];
	int64_t left = login->expires_at - now_unix();
	if (login->kind != SESSION_LOGIN || left <= 0)
		return SESSION_NOT_FOUND;
	/* named with the secret that sealed the attempt: every worker that
	 * can open it (holding that secret as current or as previous, in any
	 * phase of a rotation) agrees on one marker */
	const struct session_keys *k = login->sealed_by_prev && m->has_prev ? &m->prev : &m->cur;
	if (redis_key(k, KEY_PREFIX_USED, login->state, strlen(login->state), 0, rkey) != 0)
		return SESSION_ERR_INTERNAL;
	enum store_err e = store_set(m->store, rkey, strlen(rkey), "1", 1,
	                             left > INT_MAX ? INT_MAX : (int)left, STORE_SET_NX);
	return e == STORE_EXISTS ? SESSION_ALREADY_USED : store_result(e);
}
