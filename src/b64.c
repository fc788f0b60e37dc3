/* b64: strict unpadded base64url (RFC 4648 §5). */
#include "b64.h"

#include <stdint.h>

#include "util.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

int b64url_encode(const uint8_t *in, size_t len, struct buf *out)
{
	if (len > (SIZE_MAX / 4) * 3 - 3)
		return -1;
	size_t n = b64url_encoded_len(len);
	if (buf_reserve(out, n) != 0)
		return -1;
	char *p = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
		*p++ = alphabet[(v >> 6) & 63];
		*p++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
		*p++ = alphabet[(v >> 6) & 63];
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* Value of one alphabet character, or -1. */
static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '-') return 62;
	if (c == '_') return 63;
	return -1;
}

int b64url_decode(const char *in, size_t len, struct buf *out)
{
	if (len % 4 == 1)
		return -1;
	if (len && !in)
		return -1;
	size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (buf_reserve(out, n) != 0)
		return -1;
	uint8_t *p = (uint8_t *)out->data + out->len;
	uint32_t acc = 0;
	size_t bits = 0, w = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_val((unsigned char)in[i]);
		if (v < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[w++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: one canonical encoding per byte string. */
	if (acc != 0)
		goto fail;
	out->len += w;
	out->data[out->len] = '\0';
	return 0;
fail:
	secure_zero(p, w); /* may be secret key bytes */
	out->data[out->len] = '\0';
	return -1;
}
