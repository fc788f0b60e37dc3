/* An in-memory store behind the store.h function table, for tests of the
 * modules above it (session, api): SET with its NX/XX conditions, GET/GETEX,
 * GETDEL, DEL, PING, the write probe (refusing as told), a switch that makes every call fail, and counters of
 * the calls so a test can assert that a path made no store round trip. */
#ifndef SGID_TEST_MEM_STORE_H
#define SGID_TEST_MEM_STORE_H

#include <string.h>
#include "store.h"

#define MEM_SLOTS 64
struct mem_entry { char key[80]; struct buf val; int ttl; int used; };
struct mem_store {
	struct mem_entry e[MEM_SLOTS];
	int fail;              /* non-zero: every call fails as a dead Redis would */
	enum store_write_state refuse_writes; /* what probe_write answers when
	                          not failing (STORE_WRITABLE: 0) */
	int last_get_ttl;
	int drop_before_getdel; /* a concurrent DEL lands just before each GETDEL */
	unsigned calls;        /* every call, ping included */
	unsigned sets, gets, getdels, dels;
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
	if (m->drop_before_getdel && mem_find(s, k, kl))
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

static const struct store_ops mem_store_ops = {
	.set = mem_set, .get = mem_get, .getdel = mem_getdel, .del = mem_del,
	.ping = mem_ping, .probe_write = mem_probe_write, .destroy = mem_destroy,
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
