/* cluster_slots: the pure half of Redis Cluster routing (no I/O, no
 * hiredis): CRC16 key slots with hash tags, the slot -> node map, and the
 * MOVED/ASK redirect text. store_redis.c owns the connections and fills
 * the map from CLUSTER SLOTS. One map per store, so per request thread. */
#ifndef SGID_CLUSTER_SLOTS_H
#define SGID_CLUSTER_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384
#define CLUSTER_MAX_NODES 64         /* primaries known at once, per map */
#define CLUSTER_HOST_LEN 256

/* CRC16-XMODEM (poly 0x1021, init 0), as Redis: "123456789" -> 0x31C3 */
uint16_t cluster_crc16(const void *data, size_t len);
/* The hash slot of a key: only what is between the first '{' and the
 * first '}' after it counts, when that is non-empty; else the whole key. */
unsigned cluster_key_slot(const char *key, size_t len);

struct cluster_node {
	char host[CLUSTER_HOST_LEN];
	int port;
};

struct slot_map {
	struct cluster_node nodes[CLUSTER_MAX_NODES]; /* append-only until reset */
	size_t n_nodes;
	uint8_t owner[CLUSTER_SLOTS];    /* index into nodes, or SLOT_UNKNOWN */
	size_t n_covered;                /* slots with a known owner */
	uint16_t n_served[CLUSTER_MAX_NODES]; /* slots per node */
};
#define SLOT_UNKNOWN 0xff
_Static_assert(CLUSTER_MAX_NODES < SLOT_UNKNOWN, "owner index must fit");

void slot_map_reset(struct slot_map *m);           /* no nodes, no owners */
void slot_map_clear_owners(struct slot_map *m);    /* keeps the nodes */
/* The index of host:port, added when new; -1 when the host is empty or
 * too long, the port out of range, or the map full. */
int slot_map_node(struct slot_map *m, const char *host, size_t hlen, int port);
/* Slots lo..hi (inclusive) now belong to node; -1 for a bad range. */
int slot_map_assign(struct slot_map *m, long lo, long hi, int node);
/* The node serving slot, or -1 when none is known. */
int slot_map_owner(const struct slot_map *m, unsigned slot);
/* The k-th node (counting from 0, wrapping) that serves a slot, or -1:
 * where a command without a key goes, another one on each retry. */
int slot_map_serving_node(const struct slot_map *m, unsigned k);

/* A redirect error text: "MOVED 3999 127.0.0.1:6381" or "ASK ...". The
 * host may be empty (":6381": the node that answered) and IPv6 hosts keep
 * their colons (the port follows the last one). 0 on success. */
struct cluster_redirect {
	bool ask;
	unsigned slot;
	char host[CLUSTER_HOST_LEN];     /* "" = the node that sent it */
	int port;
};
int cluster_parse_redirect(const char *text, size_t len, struct cluster_redirect *out);

#endif
