#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int ip_parse(const char *s, size_t n, struct ip_addr *out)
{
	char text[IP_TEXT_MAX];
	struct in_addr v4;

	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	if (inet_pton(AF_INET, text, &v4) == 1) {
		memcpy(out->b, v4_mapped, sizeof(v4_mapped));
		memcpy(out->b + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, text, out->b) == 1 ? 0 : -1;
}

void ip_format(const struct ip_addr *a, char out[IP_TEXT_MAX])
{
	bool mapped = memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0;
	if (!inet_ntop(mapped ? AF_INET : AF_INET6, mapped ? a->b + 12 : a->b, out, IP_TEXT_MAX))
		snprintf(out, IP_TEXT_MAX, "-");
}

/* True when the first bits of a and b agree. */
static bool prefix_equal(const struct ip_addr *a, const struct ip_addr *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a->b, b->b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->b[whole] & mask) == (b->b[whole] & mask);
}

int cidr_parse(const char *s, size_t n, struct cidr *out, const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	bool v4;

	if (ip_parse(s, alen, &out->net) != 0) {
		*why = "is not an IPv4 or IPv6 address";
		return -1;
	}
	v4 = memcmp(out->net.b, v4_mapped, sizeof(v4_mapped)) == 0 && memchr(s, ':', alen) == NULL;
	unsigned max = v4 ? 32 : 128, bits = max;
	if (slash) {
		char digits[4];
		size_t dl = n - alen - 1;
		char *end = NULL;
		if (dl == 0 || dl >= sizeof(digits) || slash[1] < '0' || slash[1] > '9') {
			*why = "has a bad prefix length";
			return -1;
		}
		memcpy(digits, slash + 1, dl);
		digits[dl] = '\0';
		unsigned long p = strtoul(digits, &end, 10);
		if (*end || p > max) {
			*why = v4 ? "has a prefix length over 32" : "has a prefix length over 128";
			return -1;
		}
		bits = (unsigned)p;
	}
	out->prefix = v4 ? 96 + bits : bits;
	struct ip_addr zero = { { 0 } };
	memcpy(zero.b, out->net.b, 16);
	for (unsigned i = out->prefix; i < 128; i++)
		zero.b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	if (memcmp(zero.b, out->net.b, 16) != 0) {
		*why = "has host bits set below its prefix length";
		return -1;
	}
	return 0;
}

bool cidr_list_contains(const struct cidr_list *l, const struct ip_addr *a)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (prefix_equal(&l->v[i].net, a, l->v[i].prefix))
			return true;
	return false;
}
