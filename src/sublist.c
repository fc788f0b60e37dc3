/* sublist: the allowlist file's parser and a sorted set to look subs up in. */
#include "sublist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_sub(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A sub: printable ASCII without spaces (sgID's are u=<uuid>-like). */
static bool sub_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int sublist_parse(const char *buf, size_t len, struct sublist *out, char *err, size_t err_len)
{
	size_t cap = 0, line = 0;
	out->subs = NULL;
	out->n = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len, a = pos, b = end;
		line++;
		pos = end + 1;
		while (a < b && is_blank(buf[a]))
			a++;
		while (b > a && is_blank(buf[b - 1]))
			b--;
		if (a == b || buf[a] == '#')
			continue;
		if (b - a > SUBLIST_SUB_MAX || !sub_chars_ok(buf + a, b - a)) {
			snprintf(err, err_len, "line %zu: a sub is 1-%d printable characters without spaces",
			         line, SUBLIST_SUB_MAX);
			goto fail;
		}
		if (out->n == SUBLIST_MAX_ENTRIES) {
			snprintf(err, err_len, "more than %d subs", SUBLIST_MAX_ENTRIES);
			goto fail;
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **ns = realloc(out->subs, ncap * sizeof(*ns));
			if (!ns)
				goto nomem;
			out->subs = ns;
			cap = ncap;
		}
		char *s = malloc(b - a + 1);
		if (!s)
			goto nomem;
		memcpy(s, buf + a, b - a);
		s[b - a] = '\0';
		out->subs[out->n++] = s;
	}
	if (out->n > 1)
		qsort(out->subs, out->n, sizeof(*out->subs), cmp_sub);
	/* duplicates are harmless: drop them so the set stays a set */
	size_t w = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (w > 0 && strcmp(out->subs[w - 1], out->subs[i]) == 0)
			free(out->subs[i]);
		else
			out->subs[w++] = out->subs[i];
	}
	out->n = w;
	return 0;
nomem:
	snprintf(err, err_len, "out of memory");
fail:
	sublist_free(out);
	return -1;
}

bool sublist_has(const struct sublist *l, const char *sub, size_t len)
{
	size_t lo = 0, hi = l->n;
	if (len > SUBLIST_SUB_MAX)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = l->subs[mid];
		size_t sn = strlen(s);
		int c = memcmp(s, sub, sn < len ? sn : len);
		if (c == 0)
			c = sn < len ? -1 : sn > len ? 1 : 0;
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool sublist_name_valid(const char *name, size_t len)
{
	if (len == 0 || len >= SUBLIST_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void sublist_free(struct sublist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->subs[i]);
	free(l->subs);
	l->subs = NULL;
	l->n = 0;
}
