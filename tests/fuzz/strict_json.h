/* A strict RFC 8259 validator for the fuzz properties, written apart from
 * src/json.c (and from json-c) so that it can catch their mistakes: one
 * JSON text, the grammar of sections 2-7 exactly (no leading zeros, no
 * bare '.', no NaN, no comments, no trailing commas, no control character
 * in a string, only the eight short escapes and \uXXXX), at most
 * STRICT_JSON_DEPTH containers deep, bytes of UTF-8 checked separately
 * (fuzz_utf8_valid). What JSON.parse and Python's json accept in their
 * strict modes, minus NaN. */
#ifndef SGID_FUZZ_STRICT_JSON_H
#define SGID_FUZZ_STRICT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define STRICT_JSON_DEPTH 512

struct strict_json {
	const unsigned char *p;
	size_t n, i;
};

static inline void sj_ws(struct strict_json *j)
{
	while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' ||
	                       j->p[j->i] == '\r'))
		j->i++;
}

/* The number grammar as a state machine: states start, minus, zero, int,
 * dot, frac, e, esign, exp; the accepting ones are zero, int, frac and exp.
 * SJ_END: the character ends the number (accepted only in an accepting
 * state); SJ_BAD: it cannot follow. */
enum { SJ_START, SJ_MINUS, SJ_ZERO, SJ_INT, SJ_DOT, SJ_FRAC, SJ_E, SJ_ESIGN, SJ_EXP,
	SJ_END, SJ_BAD };

static inline int sj_step(int st, int c)
{
	bool digit = c >= '0' && c <= '9', e = c == 'e' || c == 'E';
	switch (st) {
	case SJ_START:
		return c == '-' ? SJ_MINUS : c == '0' ? SJ_ZERO : digit ? SJ_INT : SJ_BAD;
	case SJ_MINUS:
		return c == '0' ? SJ_ZERO : digit ? SJ_INT : SJ_BAD;
	case SJ_ZERO:
		return c == '.' ? SJ_DOT : e ? SJ_E : SJ_END;
	case SJ_INT:
		return digit ? SJ_INT : c == '.' ? SJ_DOT : e ? SJ_E : SJ_END;
	case SJ_DOT:
		return digit ? SJ_FRAC : SJ_BAD;
	case SJ_FRAC:
		return digit ? SJ_FRAC : e ? SJ_E : SJ_END;
	case SJ_E:
		return c == '+' || c == '-' ? SJ_ESIGN : digit ? SJ_EXP : SJ_BAD;
	case SJ_ESIGN:
		return digit ? SJ_EXP : SJ_BAD;
	case SJ_EXP:
		return digit ? SJ_EXP : SJ_END;
	default:
		return SJ_BAD;
	}
}

static inline bool sj_number(struct strict_json *j)
{
	int st = SJ_START;
	for (;;) {
		int next = sj_step(st, j->i < j->n ? j->p[j->i] : -1);
		if (next == SJ_END)
			return true;
		if (next == SJ_BAD)
			return false;
		st = next;
		j->i++;
	}
}

static inline bool sj_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool sj_string(struct strict_json *j)
{
	if (j->i >= j->n || j->p[j->i] != '"')
		return false;
	for (j->i++; j->i < j->n; j->i++) {
		unsigned char c = j->p[j->i];
		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++j->i >= j->n)
			return false;
		c = j->p[j->i];
		if (c == 'u') {
			for (int k = 1; k <= 4; k++)
				if (j->i + (size_t)k >= j->n || !sj_hex(j->p[j->i + (size_t)k]))
					return false;
			j->i += 4;
		} else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
		             c == 'r' || c == 't')) {
			return false;
		}
	}
	return false;
}

static inline bool sj_word(struct strict_json *j, const char *w)
{
	size_t k = 0;
	for (; w[k]; k++)
		if (j->i + k >= j->n || j->p[j->i + k] != (unsigned char)w[k])
			return false;
	j->i += k;
	return true;
}

static inline bool sj_value(struct strict_json *j, int depth);

/* An array or object after its opening bracket. */
static inline bool sj_container(struct strict_json *j, int depth, bool object)
{
	unsigned char close = object ? '}' : ']';
	j->i++;
	sj_ws(j);
	if (j->i < j->n && j->p[j->i] == close) {
		j->i++;
		return true;
	}
	for (;;) {
		if (object) {
			if (!sj_string(j))
				return false;
			sj_ws(j);
			if (j->i >= j->n || j->p[j->i] != ':')
				return false;
			j->i++;
		}
		if (!sj_value(j, depth + 1))
			return false;
		if (j->i >= j->n)
			return false;
		if (j->p[j->i] == close) {
			j->i++;
			return true;
		}
		if (j->p[j->i] != ',')
			return false;
		j->i++;
		sj_ws(j);
	}
}

/* A value with the whitespace around it. */
static inline bool sj_value(struct strict_json *j, int depth)
{
	bool ok;
	sj_ws(j);
	if (depth > STRICT_JSON_DEPTH || j->i >= j->n)
		return false;
	switch (j->p[j->i]) {
	case '{': ok = sj_container(j, depth, true); break;
	case '[': ok = sj_container(j, depth, false); break;
	case '"': ok = sj_string(j); break;
	case 't': ok = sj_word(j, "true"); break;
	case 'f': ok = sj_word(j, "false"); break;
	case 'n': ok = sj_word(j, "null"); break;
	default: ok = sj_number(j); break;
	}
	sj_ws(j);
	return ok;
}

/* Whether s[0..n) is exactly one JSON text. */
static inline bool strict_json_valid(const void *s, size_t n)
{
	struct strict_json j = { s, n, 0 };
	return sj_value(&j, 0) && j.i == n;
}

#endif
