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

static struct mem_store mem;
static struct store store = { &mem_store_ops, &mem, "" };
static struct session_mgr mgr;

static void setup(void)
{
	session_mgr_wipe(&mgr); /* the previous test's; a zeroed manager is fine */
	mem_destroy(&store);
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.session_secret, "0123456789abcdef0123456789abcdef", 32);
	cfg.login_ttl = 300;
	cfg.session_ttl = 3600;
	cfg.session_idle_ttl = 900;
	CHECK_INT(session_mgr_init(&mgr, &store, &cfg), 0);
}

static int count_entries(void)
{
	return mem_count(&mem);
}

static int store_contains(const char *needle)
{
	return mem_contains(&mem, needle);
}

static void test_login_single_use(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_LOGIN);
	strcpy(s.state, "state-value-123");
	strcpy(s.nonce, "nonce-value-456");
	strcpy(s.code_verifier, "verifier-value-789");
	strcpy(s.icecream, "Vanilla");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	CHECK_INT(strlen(id), SESSION_ID_LEN);
	CHECK(session_id_valid(id, strlen(id)));
	CHECK_INT(mem.e[0].ttl, 300);
	/* at rest: no plaintext field, no cookie value */
	CHECK(!store_contains("state-value-123"));
	CHECK(!store_contains("verifier-value-789"));
	CHECK(!store_contains("Vanilla"));
	CHECK(!store_contains(id));
	/* a login attempt is not a user session */
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	CHECK_INT(session_take_login(&mgr, id, strlen(id), &out), SESSION_OK);
	CHECK_STR(out.state, "state-value-123");
	CHECK_STR(out.nonce, "nonce-value-456");
	CHECK_STR(out.code_verifier, "verifier-value-789");
	CHECK_STR(out.icecream, "Vanilla");
	session_clear(&out);
	/* replay finds nothing */
	CHECK_INT(session_take_login(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	CHECK_INT(count_entries(), 0);
	session_clear(&out);
	session_clear(&s);
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

static void test_absolute_expiry(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_USER);
	strcpy(s.sub, "u=old");
	buf_append_str(&s.access_token, "t");
	CHECK_INT(session_create(&mgr, &s, id), SESSION_OK);
	CHECK_INT(session_load_user(&mgr, id, strlen(id), &out), SESSION_OK);
	/* pretend the absolute lifetime ran out: rewriting is refused ... */
	out.expires_at = now_unix() - 1;
	CHECK_INT(session_update_user(&mgr, id, strlen(id), &out), SESSION_NOT_FOUND);
	session_clear(&out);
	session_clear(&s);
}

static void test_store_down(void)
{
	setup();
	struct session s, out;
	char id[SESSION_ID_LEN + 1];
	session_init(&s, SESSION_LOGIN);
	mem.fail = 1;
	CHECK_INT(session_create(&mgr, &s, id), SESSION_ERR_STORE);
	CHECK_INT(session_take_login(&mgr, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 43, &out), SESSION_ERR_STORE);
	session_clear(&out);
	CHECK_INT(session_destroy(&mgr, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 43), SESSION_ERR_STORE);
	CHECK_INT(count_entries(), 0);
	session_clear(&s);
}

static void test_ids_are_unique(void)
{
	setup();
	char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
	struct session s;
	session_init(&s, SESSION_LOGIN);
	CHECK_INT(session_create(&mgr, &s, a), SESSION_OK);
	CHECK_INT(session_create(&mgr, &s, b), SESSION_OK);
	CHECK(strcmp(a, b) != 0);
	session_clear(&s);
}

int main(void)
{
	RUN(test_login_single_use);
	RUN(test_user_session_profile);
	RUN(test_tampered_and_foreign_records);
	RUN(test_absolute_expiry);
	RUN(test_store_down);
	RUN(test_ids_are_unique);
	mem_destroy(&store);
	session_mgr_wipe(&mgr);
	return harness_report("session");
}
