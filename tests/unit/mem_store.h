/* An in-memory store behind the store.h function table, for tests of the
 * modules above it (session, api): SET with its NX/XX conditions, GET/GETEX,
 * GETDEL, DEL, PING, the write probe (refusing as told), the per-user
 * index ops as store_redis.c's scripts do them, a switch that makes every
 * call fail, and counters of the calls so a test can assert that a path
 * made no store round trip. */
#ifndef SGID_TEST_MEM_STORE_H
#define SGID_TEST_MEM_STORE_H

#include <string.h>
#include "store.h"

#define MEM_SLOTS 64
#define MEM_INDEXES 8
#define MEM_INDEX_MAX 40
struct mem_entry { char key[128]; struct buf val; int ttl; int used; };
/* a sorted set of record keys, scored by absolute expiry (ms) */
struct mem_index {
	char key[128];
	int n, ttl;
	struct { char key[128]; long long score; } m[MEM_INDEX_MAX];
};
struct mem_store {
	struct mem_entry e[MEM_SLOTS];
	struct mem_index ix[MEM_INDEXES];
	int fail;              /* non-zero: every call fails as a dead Redis would */
	enum store_write_state refuse_writes; /* what probe_write answers when
	                          not failing (STORE_WRITABLE: 0) */
	int last_get_ttl;
	int drop_before_move;  /* a concurrent DEL of the old name lands just
	                          before each GETDEL and index move */
	unsigned calls;        /* every call, ping included */
	unsigned sets, gets, getdels, dels, index_ops;
};

static struct mem_entry *mem_find(struct store *s, const char *k, size_t kl)
{
	struct mem_store *m = s->impl;
	for (int i = 0; i < MEM_SLOTS; i++)
		if (m->e[i].used && strlen(m->e[i].key) == kl && memcmp(m->e[i].key, k, kl) == 0)
			return &m->e[i];
	return NULL;
}

static enum store_err mem_set(struct store *s, const char *k, size_t kl, const void *v, size_t vl,
	int ttl, enum store_set_cond cond)
{
	struct mem_store *m = s->impl;
	m->calls++;
	m->sets++;
	if (m->fail)
		return STORE_ERR_IO;
	if (ttl <= 0)
		return STORE_ERR_REPLY;
	struct mem_entry *e = mem_find(s, k, kl);
	if (cond == STORE_SET_NX && e)
		return STORE_EXISTS;
	if (cond == STORE_SET_XX && !e)
		return STORE_NOT_FOUND;
	for (int i = 0; !e && i < MEM_SLOTS; i++)
		if (!m->e[i].used)
			e = &m->e[i];
	if (!e || kl >= sizeof(e->key))
		return STORE_ERR_NOMEM;
	e->used = 1;
	memcpy(e->key, k, kl);
	e->key[kl] = '\0';
	buf_reset(&e->val);
	if (buf_append(&e->val, v, vl) != 0)
		return STORE_ERR_NOMEM;
	e->ttl = ttl;
	return STORE_OK;
}

static enum store_err mem_lookup(struct store *s, const char *k, size_t kl, int ttl, struct buf *out)
{
	struct mem_store *m = s->impl;
	buf_reset(out);
	if (m->fail)
		return STORE_ERR_IO;
	struct mem_entry *e = mem_find(s, k, kl);
	if (!e)
		return STORE_NOT_FOUND;
	if (ttl > 0)
		e->ttl = ttl;
	return buf_append(out, e->val.data, e->val.len) ? STORE_ERR_NOMEM : STORE_OK;
}

static enum store_err mem_get(struct store *s, const char *k, size_t kl, int ttl, struct buf *out)
{
	struct mem_store *m = s->impl;
	m->calls++;
	m->gets++;
	m->last_get_ttl = ttl;
	return mem_lookup(s, k, kl, ttl, out);
}

static void mem_drop(struct mem_entry *e)
{
	buf_free(&e->val);
	memset(e, 0, sizeof(*e));
}

static enum store_err mem_getdel(struct store *s, const char *k, size_t kl, struct buf *out)
{
	struct mem_store *m = s->impl;
	m->calls++;
	m->getdels++;
	if (m->drop_before_move && mem_find(s, k, kl))
		mem_drop(mem_find(s, k, kl));
	enum store_err rc = mem_lookup(s, k, kl, 0, out);
	struct mem_entry *e = mem_find(s, k, kl);
	if (rc == STORE_OK && e)
		mem_drop(e);
	return rc;
}

static enum store_err mem_del(struct store *s, const char *k, size_t kl)
{
	struct mem_store *m = s->impl;
	m->calls++;
	m->dels++;
	if (m->fail)
		return STORE_ERR_IO;
	struct mem_entry *e = mem_find(s, k, kl);
	if (e)
		mem_drop(e);
	return STORE_OK;
}

static enum store_err mem_ping(struct store *s)
{
	struct mem_store *m = s->impl;
	m->calls++;
	return m->fail ? STORE_ERR_CONNECT : STORE_OK;
}

static enum store_write_state mem_probe_write(struct store *s)
{
	struct mem_store *m = s->impl;
	m->calls++;
	m->sets++;
	return m->fail ? STORE_UNREACHABLE : m->refuse_writes;
}

/* Empties the store (the struct store itself is static in the tests). */
static void mem_destroy(struct store *s)
{
	struct mem_store *m = s->impl;
	for (int i = 0; i < MEM_SLOTS; i++)
		buf_free(&m->e[i].val);
	memset(m, 0, sizeof(*m));
}

/* ---- the index ops, as the scripts in store_redis.c do them ---- */

static void mem_drop_key(struct store *s, const char *key)
{
	struct mem_entry *e = mem_find(s, key, strlen(key));
	if (e)
		mem_drop(e);
}

static struct mem_index *mem_index_find(struct mem_store *m, const char *idx, int create)
{
	struct mem_index *free_ix = NULL;
	for (int i = 0; i < MEM_INDEXES; i++) {
		if (m->ix[i].key[0] && strcmp(m->ix[i].key, idx) == 0)
			return &m->ix[i];
		if (!m->ix[i].key[0] && !free_ix)
			free_ix = &m->ix[i];
	}
	if (!create || !free_ix || strlen(idx) >= sizeof(free_ix->key))
		return NULL;
	memset(free_ix, 0, sizeof(*free_ix));
	strcpy(free_ix->key, idx);
	return free_ix;
}

static void mem_index_remove_at(struct mem_index *x, int i)
{
	memmove(&x->m[i], &x->m[i + 1], (size_t)(x->n - i - 1) * sizeof(x->m[0]));
	x->n--;
}

static void mem_index_zrem(struct mem_index *x, const char *key)
{
	for (int i = 0; x && i < x->n; i++)
		if (strcmp(x->m[i].key, key) == 0) {
			mem_index_remove_at(x, i);
			return;
		}
}

/* ZADD: kept in score order, ties by key as Redis does */
static int mem_index_zadd(struct mem_index *x, const char *key, long long score)
{
	mem_index_zrem(x, key);
	if (x->n >= MEM_INDEX_MAX || strlen(key) >= sizeof(x->m[0].key))
		return -1;
	int at = x->n;
	while (at > 0 && (x->m[at - 1].score > score ||
	       (x->m[at - 1].score == score && strcmp(x->m[at - 1].key, key) > 0)))
		at--;
	memmove(&x->m[at + 1], &x->m[at], (size_t)(x->n - at) * sizeof(x->m[0]));
	strcpy(x->m[at].key, key);
	x->m[at].score = score;
	x->n++;
	return 0;
}

/* One script call: counted; fails as a dead Redis when asked to. */
static int mem_index_call(struct mem_store *m)
{
	m->calls++;
	m->index_ops++;
	return m->fail ? -1 : 0;
}

static enum store_err mem_index_add(struct store *s, const char *idx, const char *key,
	const void *v, size_t vl, int ttl, long long expires_ms, long long now_ms, int max, int idx_ttl,
	int *evicted)
{
	struct mem_store *m = s->impl;
	*evicted = 0;
	if (mem_index_call(m) != 0)
		return STORE_ERR_IO;
	enum store_err e = mem_set(s, key, strlen(key), v, vl, ttl, STORE_SET_ALWAYS);
	m->calls--, m->sets--; /* one call: the script */
	struct mem_index *x = mem_index_find(m, idx, 1);
	if (e != STORE_OK || !x || mem_index_zadd(x, key, expires_ms) != 0)
		return e != STORE_OK ? e : STORE_ERR_NOMEM;
	/* expired, or the record idled out: gone before counting */
	for (int i = 0; i < x->n;) {
		if (x->m[i].score <= now_ms || !mem_find(s, x->m[i].key, strlen(x->m[i].key)))
			mem_index_remove_at(x, i);
		else
			i++;
	}
	/* the ones expiring first, never the record just written */
	for (int i = 0; x->n > max && i < x->n;) {
		if (strcmp(x->m[i].key, key) == 0) {
			i++;
			continue;
		}
		mem_drop_key(s, x->m[i].key);
		(*evicted)++;
		mem_index_remove_at(x, i);
	}
	if (x->ttl < idx_ttl)
		x->ttl = idx_ttl;
	return STORE_OK;
}

static enum store_err mem_index_del(struct store *s, const char *idx, const char *key,
	const char *key2)
{
	struct mem_store *m = s->impl;
	if (mem_index_call(m) != 0)
		return STORE_ERR_IO;
	struct mem_index *x = mem_index_find(m, idx, 0);
	const char *keys[2] = { key, key2 };
	for (int i = 0; i < 2 && keys[i]; i++) {
		mem_drop_key(s, keys[i]);
		mem_index_zrem(x, keys[i]);
	}
	if (x && x->n == 0)
		memset(x, 0, sizeof(*x));
	return STORE_OK;
}

static enum store_err mem_index_move(struct store *s, const char *idx, const char *old,
	const char *key, const void *v, size_t vl, int ttl, long long expires_ms)
{
	struct mem_store *m = s->impl;
	if (mem_index_call(m) != 0)
		return STORE_ERR_IO;
	if (m->drop_before_move)
		mem_drop_key(s, old);
	if (!mem_find(s, old, strlen(old)))
		return mem_find(s, key, strlen(key)) ? STORE_OK : STORE_NOT_FOUND;
	if (!mem_find(s, key, strlen(key))) {
		enum store_err e = mem_set(s, key, strlen(key), v, vl, ttl, STORE_SET_NX);
		m->calls--, m->sets--;
		if (e != STORE_OK)
			return e;
	}
	struct mem_index *x = mem_index_find(m, idx, 1);
	if (!x || mem_index_zadd(x, key, expires_ms) != 0)
		return STORE_ERR_NOMEM;
	mem_drop_key(s, old);
	mem_index_zrem(x, old);
	return STORE_OK;
}

static enum store_err mem_index_scan(struct store *s, const char *idx, int purge, long long *n)
{
	struct mem_store *m = s->impl;
	*n = 0;
	if (mem_index_call(m) != 0)
		return STORE_ERR_IO;
	struct mem_index *x = mem_index_find(m, idx, 0);
	for (int i = 0; x && i < x->n;) {
		struct mem_entry *e = mem_find(s, x->m[i].key, strlen(x->m[i].key));
		if (e)
			(*n)++;
		if (purge && e)
			mem_drop(e);
		if (!purge && !e)
			mem_index_remove_at(x, i);
		else
			i++;
	}
	if (x && (purge || *n == 0))
		memset(x, 0, sizeof(*x));
	return STORE_OK;
}

/* Members of idx, -1 when there is no such index. */
static inline int mem_index_len(struct mem_store *m, const char *idx)
{
	struct mem_index *x = mem_index_find(m, idx, 0);
	return x ? x->n : -1;
}

static const struct store_ops mem_store_ops = {
	.set = mem_set, .get = mem_get, .getdel = mem_getdel, .del = mem_del,
	.ping = mem_ping, .probe_write = mem_probe_write, .destroy = mem_destroy,
	.index_add = mem_index_add, .index_del = mem_index_del,
	.index_move = mem_index_move, .index_scan = mem_index_scan,
};

static inline int mem_count(const struct mem_store *m)
{
	int n = 0;
	for (int i = 0; i < MEM_SLOTS; i++)
		n += m->e[i].used;
	return n;
}

/* True when needle occurs anywhere in any stored key or value. */
static inline int mem_contains(const struct mem_store *m, const char *needle)
{
	size_t nl = strlen(needle);
	for (int i = 0; i < MEM_SLOTS; i++) {
		if (!m->e[i].used)
			continue;
		if (strstr(m->e[i].key, needle))
			return 1;
		for (size_t j = 0; j + nl <= m->e[i].val.len; j++)
			if (memcmp(m->e[i].val.data + j, needle, nl) == 0)
				return 1;
	}
	return 0;
}

#endif
