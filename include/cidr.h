/* cidr: IP addresses and CIDR ranges (TRUSTED_PROXIES), IPv4 and IPv6.
 * An IPv4 address is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d),
 * so one comparison serves both families and a mapped peer address
 * matches an IPv4 range. */
#ifndef SGID_CIDR_H
#define SGID_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_MAX_RANGES 32
#define CIDR_TEXT_MAX 64        /* longest range text: an IPv6 address and /128 */
#define IP_TEXT_MAX 46          /* INET6_ADDRSTRLEN */

struct ip_addr { uint8_t b[16]; };

struct cidr {
	struct ip_addr net;          /* host bits cleared */
	unsigned prefix;             /* 0..128, IPv4 ranges as 96 + bits */
};

struct cidr_list {
	struct cidr v[CIDR_MAX_RANGES];
	size_t n;
};

/* s[0..n): "192.0.2.1", "2001:db8::1" (no zone, no port). 0 or -1. */
int ip_parse(const char *s, size_t n, struct ip_addr *out);
/* The address as text: dotted quad for IPv4 (mapped), RFC 5952 for IPv6. */
void ip_format(const struct ip_addr *a, char out[IP_TEXT_MAX]);
/* s[0..n): an address or address/prefix ("10.0.0.0/8", "fd00::/8"); a
 * bare address is a range of one. Host bits set below the prefix are
 * refused (a typo such as 10.0.0.1/8 names more than was meant). 0 or -1
 * with *why set. */
int cidr_parse(const char *s, size_t n, struct cidr *out, const char **why);
bool cidr_list_contains(const struct cidr_list *l, const struct ip_addr *a);

#endif
