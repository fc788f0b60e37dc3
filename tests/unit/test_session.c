/* Sessions against an in-memory store (the function table lets tests swap
 * Redis out): encryption at rest, opaque keys, single use, expiry, and a
 * failing store. The real Redis path is covered by test_store and the
 * integration tests. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "session.h"
#include "util.h"
#include "mem_store.h"
#include "b64.h"
#include "resp.h"
#include "http.h"
#include "crypto.h"
#include <unistd.h>

static struct mem_store mem;
static struct store store = { &mem_store_ops, &mem, "", NULL };
static struct session_mgr mgr;
static bool legacy_ids;      /* SESSION_ACCEPT_LEGACY_IDS of the next manager */

#define SECRET_A "0123456789abcdef0123456789abcdef"
#define SECRET_B "the secret after the rotation!!!"
#define SECRET_C "and the one after the next one!!"

/* A manager m on the store under secret cur, and prev as
 * SESSION_SECRET_PREVIOUS (NULL: none). */
static void init_mgr(struct session_mgr *m, const char *cur, const char *prev)
{
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.session_secret, cur, 32);
	if (prev) {
		memcpy(cfg.session_secret_previous, prev, 32);
		cfg.has_session_secret_previous = true;
	}
	cfg.login_ttl = 300;
	cfg.session_ttl = 3600;
	cfg.session_idle_ttl = 900;
	cfg.http_max_body = 1024 * 1024;
	cfg.session_accept_legacy_ids = legacy_ids;
	CHECK_INT(session_mgr_init(m, &store, &cfg), 0);
}

/* The test's manager under cur and prev; the store keeps its contents. */
static void use_secrets(const char *cur, const char *prev)
{
	session_mgr_wipe(&mgr); /* the previous one; a zeroed manager is fine */
	init_mgr(&mgr, cur, prev);
}

static void setup(void)
{
	mem_destroy(&store);
	use_secrets(SECRET_A, NULL);
}

static int count_entries(void)
{
	return mem_count(&mem);
}

static int store_contains(const char *needle)
{
	return mem_contains(&mem, needle);
}

/* A base64url cookie value with one character changed (another one of
 * the alphabet, so it still decodes). */
static void flip_char(struct buf *b, size_t at)
{
	b->data[at] = b->data[at] == 'A' ? 'B' : 'A';
}

static void sample_attempt(struct session *s)
{
	session_init(s, SESSION_LOGIN);
	strcpy(s->state, "state-value-123");
	strcpy(s->nonce, "nonce-value-456");
	strcpy(s->code_verifier, "verifier-value-789");
	strcpy(s->icecream, "Vanilla");
}

static void test_login_attempt_in_cookie(void)
{
	setup();
	struct session s, out;
	struct buf c = BUF_INIT;
	sample_attempt(&s);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	/* sealing costs the store nothing */
	CHECK_INT(mem.calls, 0);
	CHECK_INT(count_entries(), 0);
	CHECK(c.len > SESSION_ID_LEN && c.len <= SESSION_ATTEMPT_MAX);
	CHECK(resp_is_cookie_value(c.data, c.len));
	/* opaque: no field readable in the cookie */
	CHECK(!strstr(c.data, "state-value") && !strstr(c.data, "Vanilla"));
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_OK);
	CHECK_STR(out.state, "state-value-123");
	CHECK_STR(out.nonce, "nonce-value-456");
	CHECK_STR(out.code_verifier, "verifier-value-789");
	CHECK_STR(out.icecream, "Vanilla");
	CHECK_INT(out.expires_at - out.created_at, 300);
	CHECK_INT(mem.calls, 0);
	/* single use: the first callback spends it, a replay is refused */
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_OK);
	CHECK_INT(count_entries(), 1);
	CHECK(mem.e[0].ttl > 295 && mem.e[0].ttl <= 300); /* the attempt's remaining lifetime */
	CHECK(!store_contains("state-value-123"));     /* the marker's name is a keyed hash */
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_ALREADY_USED);
	CHECK_STR(session_strerror(SESSION_ALREADY_USED), "login attempt already used");
	session_clear(&out);
	/* two attempts are two markers */
	struct buf c2 = BUF_INIT;
	strcpy(s.state, "state-value-other");
	CHECK_INT(session_seal_login(&mgr, &s, &c2), SESSION_OK);
	CHECK(strcmp(c.data, c2.data) != 0);
	CHECK_INT(session_open_login(&mgr, c2.data, c2.len, &out), SESSION_OK);
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_OK);
	CHECK_INT(count_entries(), 2);
	session_clear(&out);
	/* the store down: the seal still works, spending it does not */
	mem.fail = 1;
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_OK);
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_ERR_STORE);
	session_clear(&out);
	buf_free(&c);
	buf_free(&c2);
	session_clear(&s);
}

static void test_login_attempt_refused(void)
{
	setup();
	struct session s, out;
	struct buf c = BUF_INIT, other = BUF_INIT;
	sample_attempt(&s);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	/* altered anywhere: not ours */
	for (size_t at = 0; at < c.len; at += 7) {
		struct buf t = BUF_INIT;
		buf_append(&t, c.data, c.len);
		flip_char(&t, at);
		CHECK_INT(session_open_login(&mgr, t.data, t.len, &out), SESSION_NOT_FOUND);
		session_clear(&out);
		buf_free(&t);
	}
	CHECK_INT(session_open_login(&mgr, c.data, c.len - 4, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(session_open_login(&mgr, "", 0, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* a session id, and junk of an attempt's length, are not attempts */
	CHECK_INT(session_open_login(&mgr, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 43, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* sealed under another secret: not ours */
	struct session_mgr mgr2;
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.session_secret, "another secret, 32 bytes long!!!", 32);
	cfg.login_ttl = 300;
	cfg.session_ttl = 3600;
	cfg.http_max_body = 1024 * 1024;
	CHECK_INT(session_mgr_init(&mgr2, &store, &cfg), 0);
	CHECK_INT(session_seal_login(&mgr2, &s, &other), SESSION_OK);
	CHECK_INT(session_open_login(&mgr, other.data, other.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* a record of the store is no attempt, even under the same secret: the
	 * keys and the AAD differ by purpose */
	struct session u;
	char id[SESSION_ID_LEN + 1];
	session_init(&u, SESSION_USER);
	strcpy(u.sub, "u=x");
	buf_append_str(&u.access_token, "t");
	CHECK_INT(session_create(&mgr, &u, id), SESSION_OK);
	struct buf rec = BUF_INIT;
	b64url_encode((const uint8_t *)mem.e[0].val.data, mem.e[0].val.len, &rec);
	CHECK_INT(session_open_login(&mgr, rec.data, rec.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* expired: judged from the sealed time, with no store involved */
	mgr.login_ttl = 1;
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	sleep(2);
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* spending one whose lifetime ran out meanwhile writes nothing */
	out.kind = SESSION_LOGIN;
	strcpy(out.state, "late");
	out.expires_at = now_unix();
	int before = count_entries();
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_NOT_FOUND);
	CHECK_INT(count_entries(), before);
	session_clear(&out);
	/* sealed with a lifetime longer than the configured one: refused */
	mgr.login_ttl = 300;
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	mgr.login_ttl = 60;
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	session_mgr_wipe(&mgr2);
	session_clear(&u);
	session_clear(&s);
	buf_free(&c);
	buf_free(&other);
	buf_free(&rec);
}

/* A gateway attempt carries its flag and return URL; the longest rd with
 * the longest other fields still seals to a cookie value the Cookie reader
 * takes (HTTP_MAX_VALUE_LEN); attempts of the old format, or with a flag
 * and tail that disagree, do not open. */
static int seal_raw(int version, const char *aad, const char *plain, struct buf *cookie)
{
	uint8_t iv[12] = { 1, 2, 3 }, tag[16];
	struct buf ct = BUF_INIT, sealed = BUF_INIT;
	int rc = -1;
	if (crypto_aes_gcm_encrypt(mgr.cur.attempt_key, 32, iv, sizeof(iv), (const uint8_t *)aad, strlen(aad),
	                           (const uint8_t *)plain, strlen(plain), &ct, tag) == 0 &&
	    buf_append_char(&sealed, (char)version) == 0 && buf_append(&sealed, iv, sizeof(iv)) == 0 &&
	    buf_append(&sealed, ct.data, ct.len) == 0 && buf_append(&sealed, tag, sizeof(tag)) == 0 &&
	    b64url_encode((const uint8_t *)sealed.data, sealed.len, cookie) == 0)
		rc = 0;
	buf_free(&ct);
	buf_free(&sealed);
	return rc;
}

/* s sealed afresh into c and opened into out: what the opening says. */
static enum session_err reseal(struct session *s, struct buf *c, struct session *out)
{
	buf_reset(c);
	CHECK_INT(session_seal_login(&mgr, s, c), SESSION_OK);
	return session_open_login(&mgr, c->data, c->len, out);
}

static void test_gateway_attempt(void)
{
	setup();
	struct session s, out;
	struct buf c = BUF_INIT;
	sample_attempt(&s);
	s.gateway = true;
	strcpy(s.rd, "/app?x=1&y=<b>\"q\"");
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	CHECK(!strstr(c.data, "app"));
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_OK);
	CHECK(out.gateway);
	CHECK_STR(out.rd, "/app?x=1&y=<b>\"q\"");
	CHECK_STR(out.state, "state-value-123");
	session_clear(&out);
	/* an SPA attempt has neither */
	sample_attempt(&s);
	CHECK_INT(reseal(&s, &c, &out), SESSION_OK);
	CHECK(!out.gateway);
	CHECK_STR(out.rd, "");
	session_clear(&out);

	/* the largest attempt: every field at its longest, rd of 1024 bytes
	 * that JSON would have written six-fold */
	session_init(&s, SESSION_LOGIN);
	memset(s.state, 'S', 43);
	memset(s.nonce, 'N', 43);
	memset(s.code_verifier, 'V', 43);
	memset(s.icecream, 'I', 32);
	s.gateway = true;
	s.rd[0] = '/';
	memset(s.rd + 1, '&', RETURNURL_MAX - 1);
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_OK);
	CHECK(c.len <= SESSION_ATTEMPT_MAX && c.len <= HTTP_MAX_VALUE_LEN);
	fprintf(stderr, "session: the largest gateway attempt seals to %zu of %d bytes\n", c.len,
	        HTTP_MAX_VALUE_LEN);
	CHECK(resp_is_cookie_value(c.data, c.len));
	struct buf hdr = BUF_INIT;
	struct own_cookies jar;
	buf_append_strs(&hdr, "other=1; exampleAppSession=", c.data, "; x=y", NULL);
	CHECK_INT(http_find_cookies(hdr.data, hdr.len, "exampleAppSession", &jar), HTTP_OK);
	CHECK_INT(jar.n, 1);
	CHECK_INT(jar.skipped, 0);
	CHECK_INT(session_open_login(&mgr, jar.v[0].val, jar.v[0].len, &out), SESSION_OK);
	CHECK_INT(strlen(out.rd), RETURNURL_MAX);
	CHECK(memcmp(out.rd, s.rd, RETURNURL_MAX) == 0);
	session_clear(&out);
	buf_free(&hdr);

	/* the flag and the URL go together */
	sample_attempt(&s);
	s.gateway = true;
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_ERR_INTERNAL);
	sample_attempt(&s);
	strcpy(s.rd, "/x");
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_ERR_INTERNAL);

	/* hand-sealed: the old format (version 1) and disagreeing tails */
	char json[512];
	long long now = (long long)now_unix();
	snprintf(json, sizeof(json), "{\"v\":1,\"k\":0,\"c\":%lld,\"e\":%lld,\"ic\":\"V\",\"st\":\"s\","
	         "\"n\":\"n\",\"cv\":\"v\"}", now, now + 300);
	buf_free(&c);
	CHECK_INT(seal_raw(1, "sgid-fcgi login attempt v1", json, &c), 0);
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);
	static const struct { int v; const char *tail; } forms[] = {
		{ 2, "}" }, { 2, ",\"gw\":1}\n/x" },
		/* wrong: no rd, an rd without the flag, an empty rd, a bad flag,
		 * the old version inside */
		{ 2, ",\"gw\":1}" }, { 2, "}\n/x" }, { 2, ",\"gw\":1}\n" }, { 2, ",\"gw\":2}\n/x" },
		{ 1, "}" },
	};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		snprintf(json, sizeof(json), "{\"v\":%d,\"k\":0,\"c\":%lld,\"e\":%lld,\"ic\":\"V\","
		         "\"st\":\"s\",\"n\":\"n\",\"cv\":\"v\"%s", forms[i].v, now, now + 300, forms[i].tail);
		buf_free(&c);
		CHECK_INT(seal_raw(2, "sgid-fcgi login attempt v2", json, &c), 0);
		CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), i < 2 ? SESSION_OK : SESSION_NOT_FOUND);
		if (i == 1)
			CHECK_STR(out.rd, "/x");
		session_clear(&out);
		/* and under the old AAD or version byte, none opens */
		buf_free(&c);
		CHECK_INT(seal_raw(2, "sgid-fcgi login attempt v1", json, &c), 0);
		CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
		session_clear(&out);
		buf_free(&c);
		CHECK_INT(seal_raw(1, "sgid-fcgi login attempt v2", json, &c), 0);
		CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
		session_clear(&out);
	}
	session_clear(&s);
	buf_free(&c);
}

/* The provider's secret (Singpass: the DPoP key) travels sealed in the
 * attempt as an optional field: it comes back byte for byte, an attempt
 * without one (the format before the seam, and sgID's) opens with none,
 * a malformed one does not open, and the largest attempt with a 64-byte
 * secret still fits the cookie. */
static void test_attempt_provider_secret(void)
{
	setup();
	struct session s, out;
	struct buf c = BUF_INIT;
	sample_attempt(&s);
	for (size_t i = 0; i < sizeof(s.provider_secret); i++)
		s.provider_secret[i] = (uint8_t)(i * 37); /* a zero byte first */
	s.provider_secret_len = sizeof(s.provider_secret);
	CHECK_INT(reseal(&s, &c, &out), SESSION_OK);
	CHECK_INT(out.provider_secret_len, sizeof(s.provider_secret));
	CHECK(memcmp(out.provider_secret, s.provider_secret, sizeof(s.provider_secret)) == 0);
	CHECK_STR(out.state, "state-value-123");
	session_clear(&out);
	/* none: none comes back */
	sample_attempt(&s);
	CHECK_INT(reseal(&s, &c, &out), SESSION_OK);
	CHECK_INT(out.provider_secret_len, 0);
	session_clear(&out);
	/* more than the field holds is refused at sealing */
	s.provider_secret_len = sizeof(s.provider_secret) + 1;
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &s, &c), SESSION_ERR_INTERNAL);

	/* hand-sealed: the format of the release before (no "ps") opens, as
	 * do "ps" of 1 and 64 bytes; an empty, non-base64url, non-string or
	 * 65-byte one does not */
	char json[512], ps65[100];
	memset(ps65, 'A', 87); /* 87 base64url characters: 65 bytes */
	ps65[87] = '\0';
	long long now = (long long)now_unix();
	char ps64[100];
	memset(ps64, '_', 85);    /* 86 characters: 64 bytes of 0xff (the */
	ps64[85] = 'w';           /* last one's spare bits zero) */
	ps64[86] = '\0';
	struct { const char *tail; enum session_err want; size_t len; } forms[] = {
		{ "", SESSION_OK, 0 },
		{ ",\"ps\":\"AQ\"", SESSION_OK, 1 },
		{ NULL, SESSION_OK, 64 },
		{ ",\"ps\":\"\"", SESSION_NOT_FOUND, 0 },
		{ ",\"ps\":\"AQ=\"", SESSION_NOT_FOUND, 0 },
		{ ",\"ps\":\"A+/B\"", SESSION_NOT_FOUND, 0 },
		{ ",\"ps\":1", SESSION_NOT_FOUND, 0 },
		{ ",\"ps\":null", SESSION_NOT_FOUND, 0 },
		{ NULL, SESSION_NOT_FOUND, 0 },
	};
	char tail64[120], tail65[120];
	snprintf(tail64, sizeof(tail64), ",\"ps\":\"%s\"", ps64);
	snprintf(tail65, sizeof(tail65), ",\"ps\":\"%s\"", ps65);
	forms[2].tail = tail64;
	forms[8].tail = tail65;
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		snprintf(json, sizeof(json), "{\"v\":2,\"k\":0,\"c\":%lld,\"e\":%lld,\"ic\":\"V\","
		         "\"st\":\"s\",\"n\":\"n\",\"cv\":\"v\"%s}", now, now + 300, forms[i].tail);
		buf_free(&c);
		CHECK_INT(seal_raw(2, "sgid-fcgi login attempt v2", json, &c), 0);
		CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), forms[i].want);
		CHECK_INT(out.provider_secret_len, forms[i].len);
		if (forms[i].len == 1)
			CHECK_INT(out.provider_secret[0], 1);
		if (forms[i].len == 64)
			CHECK(out.provider_secret[0] == 0xff && out.provider_secret[63] == 0xff);
		session_clear(&out);
	}

	/* the largest attempt: every field at its longest, the longest rd, a
	 * 64-byte secret */
	session_init(&s, SESSION_LOGIN);
	memset(s.state, 'S', sizeof(s.state) - 1);
	memset(s.nonce, 'N', sizeof(s.nonce) - 1);
	memset(s.code_verifier, 'V', 128);
	memset(s.icecream, 'I', 32);
	memset(s.provider_secret, 0xa5, sizeof(s.provider_secret));
	s.provider_secret_len = sizeof(s.provider_secret);
	s.gateway = true;
	s.rd[0] = '/';
	memset(s.rd + 1, '&', RETURNURL_MAX - 1);
	CHECK_INT(reseal(&s, &c, &out), SESSION_OK);
	CHECK(c.len <= SESSION_ATTEMPT_MAX && c.len <= HTTP_MAX_VALUE_LEN);
	fprintf(stderr, "session: the largest attempt with a provider secret seals to %zu of %d bytes\n",
	        c.len, SESSION_ATTEMPT_MAX);
	CHECK_INT(out.provider_secret_len, sizeof(s.provider_secret));
	CHECK(memcmp(out.provider_secret, s.provider_secret, sizeof(s.provider_secret)) == 0);
	CHECK_INT(strlen(out.rd), RETURNURL_MAX);
	session_clear(&out);
	session_clear(&s);
	buf_free(&c);
}

static void test_user_session_profile(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=abc");
	strcpy(s.icecream, "Chocolate");
	buf_append_str(&s.access_token, "secret-access-token");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	CHECK_INT(mem.e[0].ttl, 900); /* idle lifetime first */
	CHECK(!store_contains("secret-access-token"));
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_INT(mem.last_get_ttl, 900); /* GETEX refreshes the idle TTL */
	CHECK_STR(out.sub, "u=abc");
	CHECK_STR(buf_cstr(&out.access_token), "secret-access-token");
	CHECK_INT(out.profile.len, 0);
	buf_append_str(&out.profile, "{\"myinfo.name\":\"TAN \\\"AH\\\" KOW\"}");
	CHECK_INT(session_update_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK(!store_contains("TAN"));
	session_clear(&out);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_STR(buf_cstr(&out.profile), "{\"myinfo.name\":\"TAN \\\"AH\\\" KOW\"}");
	session_clear(&out);
	/* logout */
	CHECK_INT(session_destroy(&mgr, id, strlen(id)), SESSION_OK);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	session_clear(&s);
}

static void test_tampered_and_foreign_records(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1], id2[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=one");
	buf_append_str(&s.access_token, "t1");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	strcpy(s.sub, "u=two");
	CHECK_INT(session_create(&mgr, &s, id2), SESSION_OK);
	/* flip one ciphertext byte: the record is "no session" */
	mem.e[0].val.data[20] ^= 1;
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* move record two under key one: the AAD binds records to keys */
	buf_reset(&mem.e[0].val);
	buf_append(&mem.e[0].val, mem.e[1].val.data, mem.e[1].val.len);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(session_load_user(&mgr, id2, strlen(id2), &out), SESSION_OK);
	CHECK_STR(out.sub, "u=two");
	session_clear(&out);
	/* truncated record */
	mem.e[1].val.len = 10;
	CHECK_INT(session_load_user(&mgr, id2, strlen(id2), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	/* ids of the wrong shape never reach the store */
	mem.last_get_ttl = -7;
	CHECK_INT(session_load_user(&mgr, "short", 5, &out), SESSION_NOT_FOUND);
	CHECK_INT(mem.last_get_ttl, -7);
	char bad[SESSION_ID_LEN + 1];
	memset(bad, 'a', SESSION_ID_LEN);
	bad[SESSION_ID_LEN] = '\0';
	bad[5] = '=';
	CHECK(!session_id_valid(bad, SESSION_ID_LEN));
	session_clear(&out);
	session_clear(&s);
}

/* A logged-in session for sub, stored (id) and loaded again (out). */
static void logged_in(struct session *s, const char *sub, char id[SESSION_ID_LEN + 1],
	struct session *out)
{
	session_init(s, SESSION_USER);
	strcpy(s->sub, sub);
	buf_append_str(&s->access_token, "t");
	CHECK_INT(session_create(&mgr, s, id), SESSION_OK);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), out), SESSION_OK);
}

static void test_absolute_expiry(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	logged_in(&s, "u=old", id, &out);
	/* pretend the absolute lifetime ran out: rewriting is refused ... */
	out.expires_at = now_unix() - 1;
	CHECK_INT(session_update_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	session_clear(&s);
}

static void test_profile_write_after_logout(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	logged_in(&s, "u=race", id, &out);
	/* logout lands while the first userinfo waits for sgID */
	CHECK_INT(session_destroy(&mgr, id, strlen(id)), SESSION_OK);
	buf_append_str(&out.profile, "{\"myinfo.name\":\"X\"}");
	CHECK_INT(session_update_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	CHECK_INT(count_entries(), 0);
	session_clear(&out);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	session_clear(&s);
}

/* The largest profile a userinfo response within SGID_HTTP_MAX_BODY can
 * carry is cached: 3/4 of the body decrypted, every byte one that JSON
 * escapes to six. */
static void test_large_profile_cached(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	logged_in(&s, "u=big", id, &out);
	size_t plain = 1024 * 1024 / 4 * 3;
	struct buf big = BUF_INIT;
	CHECK_INT(buf_append_str(&out.profile, "{\"myinfo.x\":\""), 0);
	for (size_t i = 0; i < plain; i++)
		buf_append_str(&out.profile, "\\u003c");
	buf_append_str(&out.profile, "\"}");
	CHECK_INT(session_update_user(&mgr, id, strlen(id), &out), SESSION_OK);
	buf_append(&big, out.profile.data, out.profile.len);
	session_clear(&out);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_INT(out.profile.len, big.len);
	CHECK(out.profile.len == big.len && memcmp(out.profile.data, big.data, big.len) == 0);
	session_clear(&out);
	buf_free(&big);
	session_clear(&s);
}

static void test_store_down(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=down");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	mem.fail = 1;
	CHECK_INT(session_create(&mgr, &s, id), SESSION_ERR_STORE);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_ERR_STORE);
	session_clear(&out);
	CHECK_INT(session_destroy(&mgr, id, strlen(id)), SESSION_ERR_STORE);
	mem.fail = 0;
	mem_destroy(&store);
	/* a value that is no session id names nothing: no store call */
	unsigned calls = mem.calls;
	CHECK_INT(session_destroy(&mgr, "not-an-id", 9), SESSION_OK);
	CHECK_INT(mem.calls, calls);
	CHECK_INT(count_entries(), 0);
	session_clear(&s);
}

static void test_ids_are_unique(void)
{
	setup();
	char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
	struct session s;
	session_init(&s, SESSION_USER);
	CHECK_INT(session_create(&mgr, &s, a), SESSION_OK);
	CHECK_INT(session_create(&mgr, &s, b), SESSION_OK);
	CHECK(strcmp(a, b) != 0);
	/* a login attempt is never stored */
	session_init(&s, SESSION_LOGIN);
	CHECK_INT(session_create(&mgr, &s, a), SESSION_ERR_INTERNAL);
	session_clear(&s);
}

/* SESSION_SECRET_PREVIOUS: a session of the old secret loads, moves to
 * the new name at once (one record, never two), and logout ends it; an
 * attempt sealed before the rotation opens after it; a marker spent under
 * the old name still counts. Without the previous secret none of it. */
static void test_secret_rotation(void)
{
	setup();
	struct session s, out, att;
	struct buf c = BUF_INIT, rec = BUF_INIT;
	char id[SESSION_ID_LEN + 1], id2[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=rot");
	buf_append_str(&s.access_token, "tok");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	CHECK_INT(session_create(&mgr, &s, id2), SESSION_OK);
	sample_attempt(&att);
	CHECK_INT(session_seal_login(&mgr, &att, &c), SESSION_OK);
	char old_key[128];
	snprintf(old_key, sizeof(old_key), "%s", mem.e[0].key);

	use_secrets(SECRET_B, NULL); /* rotated without the previous: all gone */
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_NOT_FOUND);
	session_clear(&out);

	use_secrets(SECRET_B, SECRET_A);
	CHECK_INT(count_entries(), 2);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_STR(out.sub, "u=rot");
	session_clear(&out);
	/* moved: the old name is gone, one record under the new one */
	CHECK_INT(count_entries(), 2);
	CHECK(store_get(&store, old_key, strlen(old_key), 0, &rec) == STORE_NOT_FOUND);
	unsigned gets = mem.gets;
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_INT(mem.gets, gets + 1); /* found under the current name at once,
	                                  so sealed with the current secret */
	session_clear(&out);
	/* logout of a session still under the old name */
	CHECK_INT(session_destroy(&mgr, id2, strlen(id2)), SESSION_OK);
	CHECK_INT(count_entries(), 1);
	CHECK_INT(session_load_user(&mgr, id2, strlen(id2), &out), SESSION_NOT_FOUND);
	session_clear(&out);

	/* the attempt opens; spent under the old secret, it stays spent */
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_OK);
	CHECK_STR(out.state, "state-value-123");
	use_secrets(SECRET_A, NULL);
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_OK);
	use_secrets(SECRET_B, SECRET_A);
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_ALREADY_USED);
	CHECK_INT(session_consume_login(&mgr, &out), SESSION_ALREADY_USED);
	session_clear(&out);
	/* new attempts are sealed with the new secret */
	buf_reset(&c);
	CHECK_INT(session_seal_login(&mgr, &att, &c), SESSION_OK);
	use_secrets(SECRET_B, NULL);
	CHECK_INT(session_open_login(&mgr, c.data, c.len, &out), SESSION_OK);
	session_clear(&out);
	use_secrets(SECRET_A, NULL);
	session_clear(&s);
	session_clear(&att);
	buf_free(&c);
	buf_free(&rec);
}

/* A record of an earlier form, as the releases before wrote it, sealed
 * with the manager's current keys; its id goes to id. tagged: 64
 * characters, the user's tag and random bytes, no MAC (in no index here);
 * else 43, random bytes only. */
static void put_old_record(const char *sub, bool tagged, char id[SESSION_ID_UNSIGNED_LEN + 1])
{
	uint8_t raw[48], mac[64], iv[12] = {0}, tag[16];
	size_t mac_len = 0, raw_len = tagged ? 48 : 32;
	struct buf enc = BUF_INIT, key = BUF_INIT, ct = BUF_INIT, plain = BUF_INIT, sealed = BUF_INIT;
	char input[128];
	memset(raw, 0x5a, sizeof(raw));
	raw[raw_len - 1] = (uint8_t)sub[strlen(sub) - 1];
	if (tagged) {
		snprintf(input, sizeof(input), "sgid-fcgi user tag\n%s", sub);
		CHECK(crypto_hmac_keyed(mgr.cur.id_mac, input, strlen(input), mac, &mac_len) == 0);
		memcpy(raw, mac, 15);
	}
	CHECK(b64url_encode(raw, raw_len, &enc) == 0 &&
	      enc.len == (tagged ? SESSION_ID_UNSIGNED_LEN : SESSION_ID_LEGACY_LEN));
	memcpy(id, enc.data, enc.len + 1);
	snprintf(input, sizeof(input), "sgid:s:%s", id);
	CHECK(crypto_hmac_keyed(mgr.cur.id_mac, input, strlen(input), mac, &mac_len) == 0);
	buf_append_str(&key, "sgid:s:");
	if (tagged) {
		buf_append_char(&key, '{');
		buf_append(&key, id, SESSION_TAG_LEN);
		buf_append_char(&key, '}');
	}
	CHECK(b64url_encode(mac, 32, &ct) == 0);
	buf_append(&key, ct.data, ct.len);
	buf_reset(&ct);
	long long now = (long long)now_unix();
	char json[256];
	snprintf(json, sizeof(json), "{\"v\":1,\"k\":1,\"c\":%lld,\"e\":%lld,\"ic\":\"\",\"sub\":\"%s\",\"at\":\"t\"}",
	         now, now + 3600, sub);
	buf_append_str(&plain, json);
	CHECK(crypto_aes_gcm_encrypt(mgr.cur.enc_key, 32, iv, sizeof(iv), (const uint8_t *)key.data,
	      key.len, (const uint8_t *)plain.data, plain.len, &ct, tag) == 0);
	buf_append_char(&sealed, 1);
	buf_append(&sealed, iv, sizeof(iv));
	buf_append(&sealed, ct.data, ct.len);
	buf_append(&sealed, tag, sizeof(tag));
	CHECK_INT(store_set(&store, key.data, key.len, sealed.data, sealed.len, 900, STORE_SET_ALWAYS), STORE_OK);
	buf_free(&enc);
	buf_free(&key);
	buf_free(&ct);
	buf_free(&plain);
	buf_free(&sealed);
}

static void put_legacy_record(const char *sub, char id[SESSION_ID_LEGACY_LEN + 1])
{
	char any[SESSION_ID_UNSIGNED_LEN + 1];
	put_old_record(sub, false, any);
	memcpy(id, any, SESSION_ID_LEGACY_LEN + 1);
}

/* A logout that deletes the old name while a load moves the record: the
 * copy under the new name goes too, so the logout stays a logout. The
 * logout's DEL lands between the load's GETEX and its move: simulated by a
 * store that drops the old entry first. For a tagged id (the move script)
 * and a legacy one (SET NX, then GETDEL). */
static void test_rotation_move_loses_to_logout(void)
{
	legacy_ids = true;
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1], legacy[SESSION_ID_LEGACY_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=race");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	put_legacy_record("u=legacy", legacy);
	/* a legacy record loads as it is */
	CHECK_INT(session_load_user(&mgr, legacy, strlen(legacy), &out), SESSION_OK);
	CHECK_STR(out.sub, "u=legacy");
	session_clear(&out);
	use_secrets(SECRET_B, SECRET_A);
	mem.drop_before_move = 1;
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(session_load_user(&mgr, legacy, strlen(legacy), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(count_entries(), 0);
	mem.drop_before_move = 0;
	/* without the race a legacy record moves and keeps working */
	use_secrets(SECRET_A, NULL);
	put_legacy_record("u=legacy", legacy);
	use_secrets(SECRET_B, SECRET_A);
	CHECK_INT(session_load_user(&mgr, legacy, strlen(legacy), &out), SESSION_OK);
	session_clear(&out);
	CHECK_INT(count_entries(), 1);
	use_secrets(SECRET_B, NULL);
	CHECK_INT(session_load_user(&mgr, legacy, strlen(legacy), &out), SESSION_OK);
	session_clear(&out);
	CHECK_INT(session_destroy(&mgr, legacy, strlen(legacy)), SESSION_OK);
	CHECK_INT(count_entries(), 0);
	legacy_ids = false;
	use_secrets(SECRET_A, NULL);
	session_clear(&s);
}

static void login_as(const char *sub, char id[SESSION_ID_LEN + 1])
{
	struct session s;
	session_init(&s, SESSION_USER);
	snprintf(s.sub, sizeof(s.sub), "%s", sub);
	buf_append_str(&s.access_token, "tok");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	session_clear(&s);
}

static enum session_err load_id(const char *id)
{
	struct session out;
	enum session_err e = session_load_user(&mgr, id, strlen(id), &out);
	session_clear(&out);
	return e;
}

/* The per-user index: ids of one user share their tag, count and revoke
 * find them all and nobody else's, logout leaves the index, the sub is
 * never in the store in clear. */
static void test_revoke_user(void)
{
	setup();
	char a[3][SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
	long long n = -1;
	for (int i = 0; i < 3; i++)
		login_as("u=alice", a[i]);
	login_as("u=bob", b);
	CHECK(memcmp(a[0], a[1], SESSION_TAG_LEN) == 0 && memcmp(a[0], a[2], SESSION_TAG_LEN) == 0);
	CHECK(memcmp(a[0], b, SESSION_TAG_LEN) != 0);
	CHECK(strcmp(a[0], a[1]) != 0);
	CHECK(!store_contains("alice") && !store_contains("bob"));
	CHECK_INT(session_count_user(&mgr, "u=alice", &n), SESSION_OK);
	CHECK_INT(n, 3);
	/* logout takes the session out of the index */
	CHECK_INT(session_destroy(&mgr, a[2], strlen(a[2])), SESSION_OK);
	CHECK_INT(session_count_user(&mgr, "u=alice", &n), SESSION_OK);
	CHECK_INT(n, 2);
	CHECK_INT(session_count_user(&mgr, "u=nobody", &n), SESSION_OK);
	CHECK_INT(n, 0);
	CHECK_INT(session_revoke_user(&mgr, "u=alice", &n), SESSION_OK);
	CHECK_INT(n, 2);
	CHECK_INT(load_id(a[0]), SESSION_NOT_FOUND);
	CHECK_INT(load_id(a[1]), SESSION_NOT_FOUND);
	CHECK_INT(load_id(b), SESSION_OK);
	CHECK_INT(session_count_user(&mgr, "u=alice", &n), SESSION_OK);
	CHECK_INT(n, 0);
	CHECK_INT(session_count_user(&mgr, "u=bob", &n), SESSION_OK);
	CHECK_INT(n, 1);
	CHECK_INT(count_entries(), 1);
	/* a store down is an error, not "none" */
	mem.fail = 1;
	CHECK_INT(session_revoke_user(&mgr, "u=bob", &n), SESSION_ERR_STORE);
	CHECK_INT(session_count_user(&mgr, "u=bob", &n), SESSION_ERR_STORE);
	mem.fail = 0;
}

/* Past SESSION_MAX_PER_USER the oldest session ends (record and entry);
 * a record gone by itself (idle expiry) is not counted. */
static void test_max_per_user(void)
{
	setup();
	mgr.max_per_user = 2;
	char id[3][SESSION_ID_LEN + 1];
	long long n = 0;
	for (int i = 0; i < 3; i++) {
		login_as("u=carol", id[i]);
		/* distinct creation times order them: the test's clock is seconds */
		struct mem_index *x = &mem.ix[0];
		for (int j = 0; j < x->n; j++)
			x->m[j].score -= 10;
	}
	CHECK_INT(load_id(id[0]), SESSION_NOT_FOUND);
	CHECK_INT(load_id(id[1]), SESSION_OK);
	CHECK_INT(load_id(id[2]), SESSION_OK);
	CHECK_INT(count_entries(), 2);
	CHECK_INT(mem.ix[0].n, 2);
	CHECK(mem.ix[0].ttl >= 3600); /* the index outlives its youngest session */
	/* an idle-expired record: pruned from the index when counted */
	for (int i = 0; i < MEM_SLOTS; i++)
		if (mem.e[i].used) {
			mem_drop(&mem.e[i]);
			break;
		}
	CHECK_INT(session_count_user(&mgr, "u=carol", &n), SESSION_OK);
	CHECK_INT(n, 1);
	CHECK_INT(mem.ix[0].n, 1);
}

/* After a rotation: revoke and count find the user's sessions of both
 * secrets (two tags), moved or not. */
static void test_revoke_across_rotation(void)
{
	setup();
	char before[2][SESSION_ID_LEN + 1], after[SESSION_ID_LEN + 1];
	long long n = 0;
	login_as("u=dave", before[0]);
	login_as("u=dave", before[1]);
	use_secrets(SECRET_B, SECRET_A);
	login_as("u=dave", after);
	CHECK(memcmp(before[0], after, SESSION_TAG_LEN) != 0); /* a new tag */
	CHECK_INT(load_id(before[0]), SESSION_OK);              /* moved */
	CHECK_INT(session_count_user(&mgr, "u=dave", &n), SESSION_OK);
	CHECK_INT(n, 3);
	CHECK_INT(session_revoke_user(&mgr, "u=dave", &n), SESSION_OK);
	CHECK_INT(n, 3);
	CHECK_INT(count_entries(), 0);
	CHECK_INT(load_id(before[0]), SESSION_NOT_FOUND);
	CHECK_INT(load_id(before[1]), SESSION_NOT_FOUND);
	CHECK_INT(load_id(after), SESSION_NOT_FOUND);
	use_secrets(SECRET_A, NULL);
}

/* Seals an attempt with state on m (into c) and opens it again on o. */
static void attempt_between(struct session_mgr *m, struct session_mgr *o, const char *state,
	struct session *out)
{
	struct session s;
	struct buf c = BUF_INIT;
	sample_attempt(&s);
	strcpy(s.state, state);
	CHECK_INT(session_seal_login(m, &s, &c), SESSION_OK);
	CHECK_INT(session_open_login(o, c.data, c.len, out), SESSION_OK);
	session_clear(&s);
	buf_free(&c);
}

/* An attempt sealed on host m: spent on first, then refused on second. */
static void spent_once(struct session_mgr *m, struct session_mgr *first,
	struct session_mgr *second, const char *state)
{
	struct session out;
	attempt_between(m, first, state, &out);
	CHECK_INT(session_consume_login(first, &out), SESSION_OK);
	session_clear(&out);
	attempt_between(m, second, state, &out);
	CHECK_INT(session_consume_login(second, &out), SESSION_ALREADY_USED);
	session_clear(&out);
}

/* SESSION_SECRET_PREVIOUS equal to SESSION_SECRET is ignored: a login is
 * spent once, not taken for a replay of itself. */
static void test_previous_equal_to_current(void)
{
	setup();
	use_secrets(SECRET_A, SECRET_A);
	CHECK(!mgr.has_prev);
	spent_once(&mgr, &mgr, &mgr, "state-equal");
	char id[SESSION_ID_LEN + 1];
	login_as("u=eq", id);
	CHECK_INT(load_id(id), SESSION_OK);
	use_secrets(SECRET_A, NULL);
}

/* Two rotations within a session's lifetime: its id's MAC (and tag) is
 * neither secret's, so revoke could not find it; it is refused at its
 * next load without a store call (its record and index entry expire by
 * themselves), and one of the previous secret still works. */
static void test_two_rotations_end_session(void)
{
	setup();
	char old[SESSION_ID_LEN + 1], mid[SESSION_ID_LEN + 1];
	long long n = -1;
	login_as("u=erin", old);
	use_secrets(SECRET_B, SECRET_A);
	CHECK_INT(load_id(old), SESSION_OK);    /* moved to B's name, tag A */
	login_as("u=erin", mid);
	use_secrets(SECRET_C, SECRET_B);
	CHECK_INT(session_revoke_user(&mgr, "u=nobody", &n), SESSION_OK);
	unsigned calls = mem.calls;
	CHECK_INT(load_id(old), SESSION_NOT_FOUND);
	CHECK_INT(load_id(old), SESSION_NOT_FOUND);
	CHECK_INT(mem.calls, calls);
	CHECK_INT(load_id(mid), SESSION_OK);    /* tag B: the previous secret's */
	CHECK_INT(count_entries(), 2);
	/* and revoke then ends every session that still loads */
	CHECK_INT(session_revoke_user(&mgr, "u=erin", &n), SESSION_OK);
	CHECK_INT(n, 1);
	CHECK_INT(load_id(mid), SESSION_NOT_FOUND);
	CHECK_INT(count_entries(), 1);          /* old's, until its TTL */
	use_secrets(SECRET_A, NULL);
}

/* An id of the earlier tagged form (64 characters, no MAC) read under
 * SESSION_ACCEPT_LEGACY_IDS, as it was: its record loads, the tag names
 * its slot, two rotations end it (record deleted), logout deletes it. */
static void test_unsigned_tagged_legacy(void)
{
	legacy_ids = true;
	setup();
	char id[SESSION_ID_UNSIGNED_LEN + 1];
	put_old_record("u=old", true, id);
	CHECK(store_contains("{") && mem_contains(&mem, "sgid:s:{"));
	CHECK_INT(load_id(id), SESSION_OK);
	CHECK_INT(session_destroy(&mgr, id, strlen(id)), SESSION_OK);
	CHECK_INT(count_entries(), 0);
	CHECK_INT(load_id(id), SESSION_NOT_FOUND);
	put_old_record("u=old", true, id);
	use_secrets(SECRET_B, SECRET_A);
	CHECK_INT(load_id(id), SESSION_OK);     /* moved to B's name, tag A */
	use_secrets(SECRET_C, SECRET_B);        /* A: two rotations ago */
	CHECK_INT(count_entries(), 1);
	CHECK_INT(load_id(id), SESSION_NOT_FOUND);
	CHECK_INT(count_entries(), 0);
	legacy_ids = false;
	use_secrets(SECRET_A, NULL);
}

/* Forged ids cost nothing: a cookie of the shape of an id that this
 * deployment (current or previous secret) did not issue is refused by
 * load, update and destroy with no store call; so is an id of an earlier
 * form unless SESSION_ACCEPT_LEGACY_IDS. Each character of a real id
 * counts. */
static void test_forged_ids_cost_nothing(void)
{
	setup();
	char id[SESSION_ID_LEN + 1], legacy[SESSION_ID_LEGACY_LEN + 1];
	char tagged[SESSION_ID_UNSIGNED_LEN + 1], other[SESSION_ID_LEN + 1];
	struct session s;
	login_as("u=frank", id);
	CHECK_INT((int)strlen(id), SESSION_ID_LEN);
	CHECK(session_id_issued(&mgr, id, strlen(id)));
	put_legacy_record("u=frank", legacy);
	put_old_record("u=frank", true, tagged);
	use_secrets(SECRET_C, NULL);
	login_as("u=frank", other);            /* issued under another secret */
	use_secrets(SECRET_A, NULL);
	int entries = count_entries();
	unsigned calls = mem.calls;
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=frank");
	s.expires_at = now_unix() + 60;
	/* every character changed in turn, to another one of the alphabet */
	for (size_t i = 0; i < SESSION_ID_LEN; i++) {
		char f[SESSION_ID_LEN + 1];
		memcpy(f, id, sizeof(f));
		f[i] = f[i] == 'A' ? 'B' : 'A';
		CHECK(!session_id_issued(&mgr, f, SESSION_ID_LEN));
		CHECK_INT(load_id(f), SESSION_NOT_FOUND);
		CHECK_INT(session_update_user(&mgr, f, SESSION_ID_LEN, &s), SESSION_NOT_FOUND);
		CHECK_INT(session_destroy(&mgr, f, SESSION_ID_LEN), SESSION_OK);
	}
	const char *forged[] = { other, legacy, tagged,
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	for (size_t i = 0; i < ARRAY_LEN(forged); i++) {
		CHECK(session_id_valid(forged[i], strlen(forged[i])));
		CHECK(!session_id_issued(&mgr, forged[i], strlen(forged[i])));
		CHECK_INT(load_id(forged[i]), SESSION_NOT_FOUND);
		CHECK_INT(session_update_user(&mgr, forged[i], strlen(forged[i]), &s), SESSION_NOT_FOUND);
		CHECK_INT(session_destroy(&mgr, forged[i], strlen(forged[i])), SESSION_OK);
	}
	CHECK_INT(mem.calls, calls);
	CHECK_INT(count_entries(), entries);
	/* the real one, and the earlier forms when the transition allows them */
	CHECK_INT(load_id(id), SESSION_OK);
	CHECK_INT(mem.calls, calls + 1);
	legacy_ids = true;
	use_secrets(SECRET_A, NULL);
	CHECK(session_id_issued(&mgr, legacy, strlen(legacy)));
	CHECK_INT(load_id(legacy), SESSION_OK);
	CHECK_INT(load_id(tagged), SESSION_OK);
	CHECK(!session_id_issued(&mgr, other, strlen(other)));
	legacy_ids = false;
	/* under rotation an id of the previous secret is ours, in both phases */
	use_secrets(SECRET_C, SECRET_A);
	CHECK(session_id_issued(&mgr, id, strlen(id)) && session_id_issued(&mgr, other, strlen(other)));
	CHECK_INT(load_id(id), SESSION_OK);
	use_secrets(SECRET_A, SECRET_C);
	CHECK_INT(load_id(other), SESSION_OK);
	CHECK_INT(load_id(id), SESSION_OK);
	use_secrets(SECRET_A, NULL);
	session_clear(&s);
}

/* The two-phase rotation: hosts with (old, new) and (new, old), and
 * during each reload hosts with (old) or (old, new) next to them, read
 * each other's sessions and attempts, and an attempt is spent once
 * whichever host sees it first. */
static void test_rotation_hosts_interoperate(void)
{
	setup();
	struct session_mgr x, y, z;
	struct session out;
	char id[SESSION_ID_LEN + 1], id2[SESSION_ID_LEN + 1];
	init_mgr(&x, SECRET_A, SECRET_B);   /* phase 1 */
	init_mgr(&y, SECRET_B, SECRET_A);   /* phase 2 */
	init_mgr(&z, SECRET_A, NULL);       /* not reloaded yet */
	struct session_mgr *hosts[3] = { &x, &y, &z };
	/* every pair that meets in a rollout: x-z (phase 1), x-y (phase 2) */
	static const int pairs[][2] = { { 0, 2 }, { 2, 0 }, { 0, 1 }, { 1, 0 } };
	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		struct session_mgr *a = hosts[pairs[i][0]], *b = hosts[pairs[i][1]];
		char state[32];
		snprintf(state, sizeof(state), "state-pair-%zu", i);
		/* sealed on a: spent on b first, or on a first */
		spent_once(a, b, a, state);
		snprintf(state, sizeof(state), "state-own-%zu", i);
		spent_once(a, a, b, state);
		/* a session created on a loads on b, then on a again */
		struct session s;
		session_init(&s, SESSION_USER);
		strcpy(s.sub, "u=frank");
		buf_append_str(&s.access_token, "t");
		CHECK_INT(session_create(a, &s, id), SESSION_OK);
		session_clear(&s);
		CHECK_INT(session_load_user(b, id, strlen(id), &out), SESSION_OK);
		CHECK_STR(out.sub, "u=frank");
		session_clear(&out);
		CHECK_INT(session_load_user(a, id, strlen(id), &out), SESSION_OK);
		session_clear(&out);
	}
	/* one-step rotation mid-reload, (new, old) next to (old): an attempt
	 * of the old host spent on the new one first stays spent on the old */
	spent_once(&z, &y, &z, "state-mixed");
	/* phase 1 seals nothing with the new secret: a host not yet given it
	 * reads everything a phase-1 host wrote */
	mem_destroy(&store);
	attempt_between(&x, &z, "state-phase1", &out);
	session_clear(&out);
	struct session s;
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=grace");
	CHECK_INT(session_create(&x, &s, id2), SESSION_OK);
	session_clear(&s);
	CHECK_INT(session_load_user(&z, id2, strlen(id2), &out), SESSION_OK);
	session_clear(&out);
	/* revoke on either host finds them */
	long long n = 0;
	CHECK_INT(session_create(&y, &(struct session){ .kind = SESSION_USER, .sub = "u=grace" }, id),
	          SESSION_OK);
	CHECK_INT(session_revoke_user(&x, "u=grace", &n), SESSION_OK);
	CHECK_INT(n, 2);
	CHECK_INT(count_entries(), 0);
	session_mgr_wipe(&x);
	session_mgr_wipe(&y);
	session_mgr_wipe(&z);
}

/* The session just created is never the one evicted (logins within one
 * second), and entries of records gone by themselves are not counted
 * against the limit (they never evict a live session). */
static void test_max_per_user_keeps_newest(void)
{
	setup();
	mgr.max_per_user = 1;
	char id[SESSION_ID_LEN + 1];
	long long n = 0;
	for (int i = 0; i < 20; i++) {
		login_as("u=heidi", id);
		CHECK_INT(load_id(id), SESSION_OK);
	}
	CHECK_INT(session_count_user(&mgr, "u=heidi", &n), SESSION_OK);
	CHECK_INT(n, 1);
	/* a live older session, two that idle out, then a new login */
	setup();
	mgr.max_per_user = 2;
	char live[SESSION_ID_LEN + 1], d[2][SESSION_ID_LEN + 1], fresh[SESSION_ID_LEN + 1];
	login_as("u=ivan", live);
	struct mem_index *x = &mem.ix[0];
	CHECK_INT(x->n, 1);
	char live_key[128];
	snprintf(live_key, sizeof(live_key), "%s", x->m[0].key);
	x->m[0].score -= 1000; /* the oldest, and still live */
	for (int k = 0; k < 2; k++) {
		login_as("u=ivan", d[k]);
		/* it idles out: every record but the live one goes */
		for (int i = 0; i < MEM_SLOTS; i++)
			if (mem.e[i].used && strcmp(mem.e[i].key, live_key) != 0)
				mem_drop(&mem.e[i]);
	}
	login_as("u=ivan", fresh);
	CHECK_INT(load_id(live), SESSION_OK);
	CHECK_INT(load_id(fresh), SESSION_OK);
	CHECK_INT(x->n, 2);
}

/* Lowering SESSION_TTL_SECONDS keeps the live sessions of the longer one
 * in the index: entries leave at their own expiry. */
static void test_lowered_session_ttl(void)
{
	setup();
	char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
	long long n = 0;
	login_as("u=judy", a);
	mem.ix[0].m[0].score -= 100 * 1000; /* logged in 100 s ago, 3600 s lifetime */
	mgr.session_ttl = 60;
	login_as("u=judy", b);
	CHECK_INT(session_count_user(&mgr, "u=judy", &n), SESSION_OK);
	CHECK_INT(n, 2);
	CHECK_INT(session_revoke_user(&mgr, "u=judy", &n), SESSION_OK);
	CHECK_INT(n, 2);
	CHECK_INT(load_id(a), SESSION_NOT_FOUND);
}

/* The attempts of one browser: newest first, at most 4 and 2048 bytes
 * (gateway attempts with a long rd: fewer, the newest always), parts that
 * do not open dropped, picked by state, the rest kept. */
static void test_attempt_bundle(void)
{
	setup();
	struct session s, out;
	struct buf one = BUF_INIT, jar = BUF_INIT, next = BUF_INIT, rest = BUF_INIT;
	size_t n_open = 0;
	char states[6][64];
	for (int i = 0; i < 6; i++) {
		sample_attempt(&s);
		snprintf(states[i], sizeof(states[i]), "state-%d-abcdefghijklmnopqrstuvwxyz0123456789", i);
		strcpy(s.state, states[i]);
		buf_reset(&one);
		CHECK_INT(session_seal_login(&mgr, &s, &one), SESSION_OK);
		CHECK_INT(session_attempts_push(&mgr, &one, jar.data, jar.len, &next), SESSION_OK);
		buf_reset(&jar);
		buf_append(&jar, next.data, next.len);
		session_clear(&s);
	}
	CHECK(jar.len <= SESSION_ATTEMPT_MAX && resp_is_cookie_value(jar.data, jar.len));
	CHECK_INT(mem.calls, 0);
	/* 5 and 4 are kept, 0 and 1 are gone */
	CHECK_INT(session_open_attempt(&mgr, jar.data, jar.len, states[0], strlen(states[0]), &out, &rest, &n_open),
	          SESSION_NOT_FOUND);
	CHECK_INT(n_open, SESSION_ATTEMPTS_MAX);
	session_clear(&out);
	CHECK_INT(session_open_attempt(&mgr, jar.data, jar.len, states[3], strlen(states[3]), &out, &rest, &n_open),
	          SESSION_OK);
	CHECK_STR(out.state, states[3]);
	session_clear(&out);
	/* the rest holds the three others and opens */
	CHECK_INT(session_open_attempt(&mgr, rest.data, rest.len, states[3], strlen(states[3]), &out, &next, &n_open),
	          SESSION_NOT_FOUND);
	CHECK_INT(n_open, 3);
	session_clear(&out);
	/* junk and foreign parts in front are dropped, not fatal */
	buf_reset(&next);
	buf_append_str(&next, "junk.");
	buf_append(&next, jar.data, jar.len);
	buf_reset(&rest);
	CHECK_INT(session_attempts_push(&mgr, &one, next.data, next.len, &rest), SESSION_OK);
	CHECK(strncmp(rest.data, one.data, one.len) == 0 && !strstr(rest.data, "junk"));
	/* gateway attempts with the longest rd: the newest alone fits */
	buf_reset(&jar);
	for (int i = 0; i < 3; i++) {
		sample_attempt(&s);
		s.gateway = true;
		memset(s.rd, 'r', RETURNURL_MAX);
		s.rd[0] = '/';
		s.rd[RETURNURL_MAX] = '\0';
		buf_reset(&one);
		CHECK_INT(session_seal_login(&mgr, &s, &one), SESSION_OK);
		CHECK_INT(session_attempts_push(&mgr, &one, jar.data, jar.len, &next), SESSION_OK);
		CHECK(next.len <= SESSION_ATTEMPT_MAX);
		CHECK(strncmp(next.data, one.data, one.len) == 0);
		buf_reset(&jar);
		buf_append(&jar, next.data, next.len);
		session_clear(&s);
	}
	buf_free(&one);
	buf_free(&jar);
	buf_free(&next);
	buf_free(&rest);
}

int main(void)
{
	RUN(test_login_attempt_in_cookie);
	RUN(test_login_attempt_refused);
	RUN(test_gateway_attempt);
	RUN(test_attempt_provider_secret);
	RUN(test_profile_write_after_logout);
	RUN(test_large_profile_cached);
	RUN(test_user_session_profile);
	RUN(test_tampered_and_foreign_records);
	RUN(test_absolute_expiry);
	RUN(test_store_down);
	RUN(test_ids_are_unique);
	RUN(test_secret_rotation);
	RUN(test_rotation_move_loses_to_logout);
	RUN(test_attempt_bundle);
	RUN(test_revoke_user);
	RUN(test_max_per_user);
	RUN(test_revoke_across_rotation);
	RUN(test_previous_equal_to_current);
	RUN(test_two_rotations_end_session);
	RUN(test_unsigned_tagged_legacy);
	RUN(test_forged_ids_cost_nothing);
	RUN(test_rotation_hosts_interoperate);
	RUN(test_max_per_user_keeps_newest);
	RUN(test_lowered_session_ttl);
	mem_destroy(&store);
	session_mgr_wipe(&mgr);
	return harness_report("session");
}
