/* Shared by every fuzz target: the libFuzzer entry points (also driven by
 * replay_main.c without libFuzzer), a property check that aborts so both
 * libFuzzer and the replay driver see a failure, and small independent
 * helpers the properties are written with. Nothing here calls the code
 * under test, so a property never trusts what it checks. */
#ifndef SGID_FUZZ_H
#define SGID_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that does not hold is a bug: report it and abort, which
 * libFuzzer saves as a crash and the replay driver counts as a failure. */
#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Set-up that cannot fail on a sane build (embedded keys): stop loudly. */
#define FUZZ_REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: fuzz set-up failed: %s\n", __FILE__, __LINE__, #cond); \
		exit(2); \
	} \
} while (0)

/* A NUL-terminated heap copy of d[0..n). */
static inline char *fuzz_strndup(const void *d, size_t n)
{
	char *s = malloc(n + 1);
	FUZZ_REQUIRE(s != NULL);
	if (n)
		memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, at most
 * U+10FFFF. NUL bytes are allowed here; callers decide about them. */
static inline bool fuzz_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1fu; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0fu; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07u; min = 0x10000; }
		else return false;
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* Number of times needle (non-empty) occurs in hay[0..len). */
static inline size_t fuzz_count(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), c = 0;

	for (size_t i = 0; n && i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			c++;
	return c;
}

/* FNV-1a: picks deterministic positions from the input (no randomness, so
 * libFuzzer and the replay driver see the same behaviour). */
static inline uint32_t fuzz_hash(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h;
}

/* Replaces one character of a compact JOSE token (not a '.') by another
 * base64url character, at a position chosen by h. Returns false when the
 * token has no such character. Used to check that an accepted token is
 * accepted for its exact bytes only. */
static inline bool fuzz_flip_char(char *tok, size_t len, uint32_t h)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t cand = 0;

	for (size_t i = 0; i < len; i++)
		cand += tok[i] != '.';
	if (cand == 0)
		return false;
	size_t pick = h % cand;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '.')
			continue;
		if (pick-- == 0) {
			const char *at = memchr(b64, tok[i], 64);
			size_t idx = at ? (size_t)(at - b64) : 0;
			tok[i] = b64[(idx + 1 + (h >> 8) % 63) % 64];
			return true;
		}
	}
	return false;
}

#endif
