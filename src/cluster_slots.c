/* Redis Cluster key slots and the slot map: see cluster_slots.h. */
#include "cluster_slots.h"

#include <string.h>

uint16_t cluster_crc16(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned cluster_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;
		const char *close = memchr(open + 1, '}', rest);
		if (close && close > open + 1)
			return cluster_crc16(open + 1, (size_t)(close - open - 1)) % CLUSTER_SLOTS;
	}
	return cluster_crc16(key, len) % CLUSTER_SLOTS;
}

void slot_map_clear_owners(struct slot_map *m)
{
	memset(m->owner, SLOT_UNKNOWN, sizeof(m->owner));
	memset(m->n_served, 0, sizeof(m->n_served));
	m->n_covered = 0;
}

void slot_map_reset(struct slot_map *m)
{
	memset(m->nodes, 0, sizeof(m->nodes));
	m->n_nodes = 0;
	slot_map_clear_owners(m);
}

int slot_map_node(struct slot_map *m, const char *host, size_t hlen, int port)
{
	if (hlen == 0 || hlen >= CLUSTER_HOST_LEN || memchr(host, '\0', hlen) ||
	    port < 1 || port > 65535)
		return -1;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hlen &&
		    memcmp(m->nodes[i].host, host, hlen) == 0)
			return (int)i;
	if (m->n_nodes == CLUSTER_MAX_NODES)
		return -1;
	struct cluster_node *n = &m->nodes[m->n_nodes];
	memcpy(n->host, host, hlen);
	n->host[hlen] = '\0';
	n->port = port;
	return (int)m->n_nodes++;
}

int slot_map_assign(struct slot_map *m, long lo, long hi, int node)
{
	if (lo < 0 || hi < lo || hi >= CLUSTER_SLOTS || node < 0 || (size_t)node >= m->n_nodes)
		return -1;
	for (long s = lo; s <= hi; s++) {
		if (m->owner[s] == SLOT_UNKNOWN)
			m->n_covered++;
		else
			m->n_served[m->owner[s]]--;
		m->owner[s] = (uint8_t)node;
		m->n_served[node]++;
	}
	return 0;
}

int slot_map_owner(const struct slot_map *m, unsigned slot)
{
	if (slot >= CLUSTER_SLOTS || m->owner[slot] == SLOT_UNKNOWN)
		return -1;
	return m->owner[slot];
}

int slot_map_serving_node(const struct slot_map *m, unsigned k)
{
	size_t serving = 0;
	for (size_t i = 0; i < m->n_nodes; i++)
		serving += m->n_served[i] > 0;
	if (serving == 0)
		return -1;
	k %= (unsigned)serving;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->n_served[i] > 0 && k-- == 0)
			return (int)i;
	return -1;
}

/* Digits only, at most max. */
static int parse_uint(const char *s, size_t n, long max, long *out)
{
	long v = 0;
	if (n == 0 || n > 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int cluster_parse_redirect(const char *text, size_t len, struct cluster_redirect *out)
{
	const char *end = text + len, *p;
	long slot, port;

	memset(out, 0, sizeof(*out));
	if (len > 6 && memcmp(text, "MOVED ", 6) == 0) {
		p = text + 6;
	} else if (len > 4 && memcmp(text, "ASK ", 4) == 0) {
		out->ask = true;
		p = text + 4;
	} else {
		return -1;
	}
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || parse_uint(p, (size_t)(sp - p), CLUSTER_SLOTS - 1, &slot) != 0)
		return -1;
	const char *addr = sp + 1, *colon = NULL;
	for (const char *q = addr; q < end; q++)
		if (*q == ':')
			colon = q;
	if (!colon || parse_uint(colon + 1, (size_t)(end - colon - 1), 65535, &port) != 0 ||
	    port == 0)
		return -1;
	size_t hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(out->host) || memchr(addr, '\0', hlen) || memchr(addr, ' ', hlen))
		return -1;
	memcpy(out->host, addr, hlen);
	out->host[hlen] = '\0';
	out->slot = (unsigned)slot;
	out->port = (int)port;
	return 0;
}
