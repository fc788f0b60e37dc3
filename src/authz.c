/* authz: the access-rule language of the gateway (grammar in authz.h): a
 * bounded recursive-descent parser over (buf, len) into a fixed-size tree,
 * its evaluation against a session, and a small per-thread cache. */
#include "authz.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A piece of the rule's pool: a NUL-terminated copy (field, segment, value). */
struct span {
	uint16_t off, len;
};

enum node_kind { N_AND, N_OR, N_EQ, N_IN, N_HAS, N_LIST };

struct node {
	enum node_kind kind;
	uint8_t left, right;              /* N_AND, N_OR */
	bool is_sub;                      /* the ref is the sub */
	struct span field;
	struct span seg[AUTHZ_PATH_MAX];
	uint8_t nseg;
	uint16_t first, nval;             /* N_EQ (one), N_IN: values[first..] */
	const struct sublist *list;       /* N_LIST */
};

#define NODES_MAX (2 * AUTHZ_TESTS_MAX - 1)
_Static_assert(NODES_MAX <= UINT8_MAX, "node indices are uint8_t");
_Static_assert(AUTHZ_RULE_MAX < UINT16_MAX, "spans are uint16_t");

struct authz_rule {
	struct node node[NODES_MAX];
	size_t n_nodes, n_tests, n_values;
	uint8_t root;
	struct span value[AUTHZ_VALUES_MAX];
	char pool[AUTHZ_RULE_MAX + 1];    /* unescaped copies, each NUL-ended:
	                                     never longer than the text */
	size_t pool_len;
};

static const char *const err_names[AUTHZ_ERR__MAX] = {
	[AUTHZ_OK] = "ok",
	[AUTHZ_ERR_SYNTAX] = "syntax error",
	[AUTHZ_ERR_LIMIT] = "over a limit (length, tests, values, nesting or path)",
	[AUTHZ_ERR_LIST] = "unknown allowlist",
	[AUTHZ_ERR_NOMEM] = "out of memory",
};

const char *authz_strerror(enum authz_err e)
{
	return (unsigned)e < AUTHZ_ERR__MAX ? err_names[e] : "unknown error";
}

/* ---- the parser ---------------------------------------------------------- */

struct parser {
	const char *s;
	size_t n, pos;
	struct authz_rule *r;
	const struct sublist *lists;
	size_t n_lists;
	enum authz_err err;
	size_t at;
};

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static int fail(struct parser *p, enum authz_err e)
{
	if (p->err == AUTHZ_OK) {
		p->err = e;
		p->at = p->pos;
	}
	return -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

static bool peek(struct parser *p, char c)
{
	skip_ws(p);
	return p->pos < p->n && p->s[p->pos] == c;
}

static bool eat(struct parser *p, char c)
{
	if (!peek(p, c))
		return false;
	p->pos++;
	return true;
}

/* The keyword w, standing alone (not the start of a longer name). */
static bool eat_word(struct parser *p, const char *w)
{
	size_t wn = strlen(w);
	skip_ws(p);
	if (p->n - p->pos < wn || memcmp(p->s + p->pos, w, wn) != 0 ||
	    (p->pos + wn < p->n && is_name_char(p->s[p->pos + wn])))
		return false;
	p->pos += wn;
	return true;
}

/* Copies len bytes into the pool (NUL-ended); the pool holds at most the
 * text's own length plus one NUL per copy, and every copy stands for at
 * least one byte of text plus a separator or quote. */
static int pool_add(struct parser *p, const char *b, size_t len, struct span *out)
{
	struct authz_rule *r = p->r;
	if (r->pool_len + len + 1 > sizeof(r->pool))
		return fail(p, AUTHZ_ERR_LIMIT);
	memcpy(r->pool + r->pool_len, b, len);
	r->pool[r->pool_len + len] = '\0';
	out->off = (uint16_t)r->pool_len;
	out->len = (uint16_t)len;
	r->pool_len += len + 1;
	return 0;
}

static int name(struct parser *p, struct span *out, bool star)
{
	size_t start = p->pos;
	if (star && p->pos < p->n && p->s[p->pos] == '*')
		p->pos++;
	else
		while (p->pos < p->n && is_name_char(p->s[p->pos]))
			p->pos++;
	if (p->pos == start)
		return fail(p, AUTHZ_ERR_SYNTAX);
	return pool_add(p, p->s + start, p->pos - start, out);
}

/* ref: "sub" or a field, then its path. */
static int ref(struct parser *p, struct node *nd)
{
	skip_ws(p);
	if (name(p, &nd->field, false) != 0)
		return -1;
	while (p->pos < p->n && p->s[p->pos] == '/') {
		if (nd->nseg == AUTHZ_PATH_MAX)
			return fail(p, AUTHZ_ERR_LIMIT);
		p->pos++;
		if (name(p, &nd->seg[nd->nseg], true) != 0)
			return -1;
		nd->nseg++;
	}
	nd->is_sub = nd->field.len == 3 && memcmp(p->r->pool + nd->field.off, "sub", 3) == 0;
	if (nd->is_sub && nd->nseg > 0)
		return fail(p, AUTHZ_ERR_SYNTAX); /* the sub is a string, no JSON */
	return 0;
}

/* A quoted string, unescaped into the values. */
static int string(struct parser *p)
{
	struct authz_rule *r = p->r;
	char tmp[AUTHZ_RULE_MAX];
	size_t n = 0;
	if (!eat(p, '"'))
		return fail(p, AUTHZ_ERR_SYNTAX);
	for (;;) {
		if (p->pos >= p->n)
			return fail(p, AUTHZ_ERR_SYNTAX);
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '"')
			break;
		if (c < 0x20 || c == 0x7f)
			return fail(p, AUTHZ_ERR_SYNTAX);
		if (c == '\\') {
			p->pos++;
			if (p->pos >= p->n || (p->s[p->pos] != '"' && p->s[p->pos] != '\\'))
				return fail(p, AUTHZ_ERR_SYNTAX);
			c = (unsigned char)p->s[p->pos];
		}
		tmp[n++] = (char)c; /* n < len <= AUTHZ_RULE_MAX */
		p->pos++;
	}
	p->pos++;
	if (r->n_values == AUTHZ_VALUES_MAX)
		return fail(p, AUTHZ_ERR_LIMIT);
	if (pool_add(p, tmp, n, &r->value[r->n_values]) != 0)
		return -1;
	r->n_values++;
	return 0;
}

static int new_node(struct parser *p, enum node_kind k)
{
	struct authz_rule *r = p->r;
	if (r->n_nodes == NODES_MAX)
		return fail(p, AUTHZ_ERR_LIMIT);
	memset(&r->node[r->n_nodes], 0, sizeof(r->node[0]));
	r->node[r->n_nodes].kind = k;
	return (int)r->n_nodes++;
}

static int test(struct parser *p)
{
	struct authz_rule *r = p->r;
	if (r->n_tests == AUTHZ_TESTS_MAX)
		return fail(p, AUTHZ_ERR_LIMIT);
	r->n_tests++;
	int i = new_node(p, N_EQ);
	if (i < 0)
		return -1;
	struct node *nd = &r->node[i];
	if (eat_word(p, "has")) {
		nd->kind = N_HAS;
		return ref(p, nd) == 0 ? i : -1;
	}
	if (ref(p, nd) != 0)
		return -1;
	nd->first = (uint16_t)r->n_values;
	if (eat(p, '=')) {
		nd->nval = 1;
		return string(p) == 0 ? i : -1;
	}
	if (!eat_word(p, "in"))
		return fail(p, AUTHZ_ERR_SYNTAX);
	if (eat(p, '@')) {
		struct span ls;
		if (!nd->is_sub)
			return fail(p, AUTHZ_ERR_SYNTAX); /* allowlists hold subs */
		size_t start = p->pos;
		if (name(p, &ls, false) != 0)
			return -1;
		nd->kind = N_LIST;
		for (size_t k = 0; k < p->n_lists; k++)
			if (strcmp(p->lists[k].name, r->pool + ls.off) == 0)
				nd->list = &p->lists[k];
		if (!nd->list) {
			p->pos = start;
			return fail(p, AUTHZ_ERR_LIST);
		}
		return i;
	}
	if (!eat(p, '['))
		return fail(p, AUTHZ_ERR_SYNTAX);
	nd->kind = N_IN;
	do {
		if (string(p) != 0)
			return -1;
		nd->nval++;
	} while (eat(p, ','));
	return eat(p, ']') ? i : fail(p, AUTHZ_ERR_SYNTAX);
}

static int expr_or(struct parser *p, unsigned depth);

static int primary(struct parser *p, unsigned depth)
{
	if (!eat(p, '('))
		return test(p);
	if (depth == AUTHZ_DEPTH_MAX)
		return fail(p, AUTHZ_ERR_LIMIT);
	int i = expr_or(p, depth + 1);
	if (i < 0)
		return -1;
	return eat(p, ')') ? i : fail(p, AUTHZ_ERR_SYNTAX);
}

/* One level of binary operator: operands joined by word, left to right. */
static int chain(struct parser *p, unsigned depth, const char *word, enum node_kind k,
	int (*operand)(struct parser *, unsigned))
{
	int left = operand(p, depth);
	while (left >= 0 && eat_word(p, word)) {
		int right = operand(p, depth);
		if (right < 0)
			return -1;
		int i = new_node(p, k);
		if (i < 0)
			return -1;
		p->r->node[i].left = (uint8_t)left;
		p->r->node[i].right = (uint8_t)right;
		left = i;
	}
	return left;
}

static int expr_and(struct parser *p, unsigned depth)
{
	return chain(p, depth, "and", N_AND, primary);
}

static int expr_or(struct parser *p, unsigned depth)
{
	return chain(p, depth, "or", N_OR, expr_and);
}

enum authz_err authz_compile(const char *buf, size_t len, const struct sublist *lists, size_t n,
	struct authz_rule **out, size_t *at)
{
	struct parser p = { .s = buf, .n = len, .lists = lists, .n_lists = n };
	*out = NULL;
	*at = 0;
	if (len > AUTHZ_RULE_MAX)
		return AUTHZ_ERR_LIMIT;
	p.r = calloc(1, sizeof(*p.r));
	if (!p.r)
		return AUTHZ_ERR_NOMEM;
	int root = expr_or(&p, 0);
	skip_ws(&p);
	if (root >= 0 && p.pos != p.n)
		fail(&p, AUTHZ_ERR_SYNTAX); /* trailing text, an unopened ')' */
	if (p.err != AUTHZ_OK) {
		*at = p.at;
		free(p.r);
		return p.err;
	}
	p.r->root = (uint8_t)root;
	*out = p.r;
	return AUTHZ_OK;
}

void authz_rule_free(struct authz_rule *r)
{
	free(r);
}

/* ---- evaluation ------------------------------------------------------------ */

static const char *pool_at(const struct authz_rule *r, struct span s)
{
	return r->pool + s.off;
}

static bool string_passes(const struct authz_rule *r, const struct node *nd, const char *v,
	size_t len)
{
	if (nd->kind == N_HAS)
		return len > 0 && !(len == 2 && memcmp(v, "NA", 2) == 0); /* sgID's "no value" */
	for (size_t i = 0; i < nd->nval; i++) {
		struct span s = r->value[nd->first + i];
		if (s.len == len && memcmp(pool_at(r, s), v, len) == 0)
			return true;
	}
	return false;
}

struct walk {
	const struct authz_rule *r;
	const struct node *nd;
	size_t depth;                 /* the segment the member callback is at */
	size_t visits;                /* bounded by AUTHZ_MATCHES_MAX */
	bool found;
};

static void walk(struct walk *w, const json_value *v, size_t seg);

static int walk_member(const char *key, const json_value *val, void *ud)
{
	struct walk *w = ud;
	(void)key;
	walk(w, val, w->depth + 1); /* a nested "*" puts depth back when done */
	return w->found || w->visits >= AUTHZ_MATCHES_MAX;
}

/* Parses a decimal array index; SIZE_MAX when s is no index. */
static size_t index_of(const char *s, size_t n)
{
	size_t v = 0;
	if (n == 0 || n > 6)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SIZE_MAX;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	return v;
}

static void walk(struct walk *w, const json_value *v, size_t seg)
{
	if (w->found || ++w->visits > AUTHZ_MATCHES_MAX || !v)
		return;
	if (seg == w->nd->nseg) {
		size_t len;
		const char *s = json_str(v, &len);
		if (s && string_passes(w->r, w->nd, s, len))
			w->found = true;
		else if (!s && w->nd->kind == N_HAS)
			w->found = json_kind_of(v) != JSON_NULL; /* an object or array is there */
		return;
	}
	struct span sp = w->nd->seg[seg];
	const char *name = pool_at(w->r, sp);
	enum json_kind k = json_kind_of(v);
	if (sp.len == 1 && name[0] == '*') {
		if (k == JSON_ARRAY) {
			size_t n = json_array_len(v);
			for (size_t i = 0; i < n && !w->found && w->visits < AUTHZ_MATCHES_MAX; i++)
				walk(w, json_array_at(v, i), seg + 1);
		} else if (k == JSON_OBJECT) {
			size_t saved = w->depth;
			w->depth = seg;
			json_object_foreach(v, walk_member, w);
			w->depth = saved;
		}
	} else if (k == JSON_OBJECT) {
		walk(w, json_get(v, name), seg + 1);
	} else if (k == JSON_ARRAY) {
		size_t i = index_of(name, sp.len);
		if (i < json_array_len(v))
			walk(w, json_array_at(v, i), seg + 1);
	}
}

/* A field's value with a path: its JSON (a string is parsed as sgID's
 * stringified JSON when it looks like it, as parseData does). */
static bool path_passes(const struct authz_rule *r, const struct node *nd, const json_value *v)
{
	json_value *parsed = NULL;
	size_t len;
	const char *s = json_str(v, &len);
	if (s) {
		if (len < 2 || !((s[0] == '[' && s[len - 1] == ']') || (s[0] == '{' && s[len - 1] == '}')))
			return false;
		parsed = json_parse(s, len, len);
		if (!parsed)
			return false;
		v = parsed;
	}
	struct walk w = { .r = r, .nd = nd };
	walk(&w, v, 0);
	json_free(parsed);
	return w.found;
}

static bool test_passes(const struct authz_rule *r, const struct node *nd, const char *sub,
	const json_value *profile)
{
	if (nd->kind == N_LIST)
		return sublist_has(nd->list, sub, strlen(sub));
	if (nd->is_sub)
		return string_passes(r, nd, sub, strlen(sub));
	const json_value *v = profile ? json_get(profile, pool_at(r, nd->field)) : NULL;
	if (!v)
		return false;
	if (nd->nseg > 0)
		return path_passes(r, nd, v);
	size_t len;
	const char *s = json_str(v, &len);
	if (s)
		return string_passes(r, nd, s, len);
	/* an array or object (SGID_PARSE_DATA) compares to no string */
	return nd->kind == N_HAS && json_kind_of(v) != JSON_NULL;
}

static bool eval(const struct authz_rule *r, uint8_t i, const char *sub, const json_value *profile)
{
	const struct node *nd = &r->node[i];
	switch (nd->kind) {
	case N_AND:
		return eval(r, nd->left, sub, profile) && eval(r, nd->right, sub, profile);
	case N_OR:
		return eval(r, nd->left, sub, profile) || eval(r, nd->right, sub, profile);
	default:
		return test_passes(r, nd, sub, profile);
	}
}

bool authz_allows(const struct authz_rule *r, const char *sub, const json_value *profile)
{
	return eval(r, r->root, sub, profile);
}

bool authz_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > AUTHZ_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i]))
			return false;
	return true;
}

/* ---- the cache ------------------------------------------------------------- */

enum authz_err authz_cache_get(struct authz_cache *c, const char *text, size_t len,
	const struct sublist *lists, size_t n, const struct authz_rule **out, size_t *at)
{
	struct authz_rule *r;
	*at = 0;
	for (size_t i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		struct authz_cache_slot *s = &c->slot[i];
		if (s->rule && s->len == len && memcmp(s->text, text, len) == 0) {
			*out = s->rule;
			return AUTHZ_OK;
		}
	}
	*out = NULL;
	enum authz_err e = authz_compile(text, len, lists, n, &r, at);
	if (e != AUTHZ_OK)
		return e; /* a bad rule is compiled again each time: it is logged each time */
	char *copy = malloc(len + 1);
	if (!copy) {
		authz_rule_free(r);
		return AUTHZ_ERR_NOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	struct authz_cache_slot *s = &c->slot[c->next];
	free(s->text);
	authz_rule_free(s->rule);
	*s = (struct authz_cache_slot){ copy, len, r };
	c->next = (c->next + 1) % AUTHZ_CACHE_SLOTS;
	*out = r;
	return AUTHZ_OK;
}

void authz_cache_free(struct authz_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < AUTHZ_CACHE_SLOTS; i++) {
		free(c->slot[i].text);
		authz_rule_free(c->slot[i].rule);
		c->slot[i] = (struct authz_cache_slot){ 0 };
	}
	c->next = 0;
}
