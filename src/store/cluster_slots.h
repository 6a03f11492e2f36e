/*
 * cluster_slots.h - Redis Cluster routing logic with no I/O in it.
 *
 * A Redis Cluster splits the key space into 16384 hash slots; a key's slot
 * is CRC16 (the XMODEM variant) of the key modulo 16384, or of its hash tag
 * when the key holds a non-empty "{...}" substring, so keys that share a tag
 * share a slot. Each slot is served by one master. The client learns the
 * slot -> master map from CLUSTER SLOTS and corrects single entries when a
 * node answers "MOVED <slot> <host:port>" (the slot now lives there) or
 * "ASK <slot> <host:port>" (ask there once, during a slot migration).
 *
 * Everything here is pure: the backend (redis_cluster.c) owns the sockets,
 * and the unit tests check the arithmetic and the parsers without servers.
 * The map keeps a small table of master addresses; slots point into it by
 * index, so a backend can keep one connection per table entry and reuse it
 * across refreshes of the map (the same address keeps its index).
 */
#ifndef SLNF_CLUSTER_SLOTS_H
#define SLNF_CLUSTER_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#define SLNF_CLUSTER_SLOTS 16384
/* Distinct master addresses a map remembers at once. */
#define SLNF_CLUSTER_MAX_NODES 64
/* A slot no master serves (or not known yet). */
#define SLNF_CLUSTER_NODE_NONE 0xffff
#define SLNF_CLUSTER_HOST_MAX 64

struct redisReply;

struct slnf_cluster_addr {
	char host[SLNF_CLUSTER_HOST_MAX];
	uint16_t port;
};

struct slnf_cluster_node {
	struct slnf_cluster_addr addr;
	uint8_t in_use;
	uint32_t slots; /* slots currently mapped to this node */
};

struct slnf_cluster_map {
	uint16_t slot_node[SLNF_CLUSTER_SLOTS]; /* node index or NODE_NONE */
	struct slnf_cluster_node nodes[SLNF_CLUSTER_MAX_NODES];
	unsigned n_nodes; /* entries of nodes[] ever used (in_use or not) */
};

enum slnf_cluster_redirect_kind {
	SLNF_CLUSTER_REDIRECT_NONE = 0,
	SLNF_CLUSTER_MOVED,
	SLNF_CLUSTER_ASK,
};

struct slnf_cluster_redirect {
	enum slnf_cluster_redirect_kind kind;
	unsigned slot;
	struct slnf_cluster_addr addr;
};

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no reflection),
 * the checksum Redis Cluster hashes keys with. */
uint16_t slnf_cluster_crc16(const void *buf, size_t len);

/* The part of a key that is hashed: the bytes between the first '{' and the
 * first '}' after it when there is at least one, otherwise the whole key. */
void slnf_cluster_hash_part(const void *key, size_t len, const uint8_t **part, size_t *part_len);

/* The slot of a key (0..16383), hash tags honoured. */
unsigned slnf_cluster_key_slot(const void *key, size_t len);

/* Parse "host:port" (len bytes, no NUL needed; the last ':' splits, so
 * "[::1]:7000" and "::1:7000" both work). 0 or -EINVAL. */
int slnf_cluster_addr_parse(const char *s, size_t len, struct slnf_cluster_addr *out);

/* Parse an error reply's text. Returns 0 and fills out for "MOVED <slot>
 * <host:port>" or "ASK <slot> <host:port>"; -ENOENT when the error is some
 * other error; -EINVAL when it starts like a redirect but is malformed. A
 * redirect whose host is empty (":7000", Redis's unknown endpoint) gets
 * default_host (may be NULL: then -EINVAL). */
int slnf_cluster_redirect_parse(const char *err, size_t len, const char *default_host,
				struct slnf_cluster_redirect *out);

/* An empty map: no nodes, every slot NODE_NONE. */
void slnf_cluster_map_init(struct slnf_cluster_map *m);

/* The index of addr in the node table, adding it (in a free entry) when it
 * is not there. -ENOSPC when the table is full. */
int slnf_cluster_map_node(struct slnf_cluster_map *m, const struct slnf_cluster_addr *addr);

/* Point one slot at addr (after MOVED). Returns the node index or -ENOSPC
 * / -EINVAL (slot out of range). */
int slnf_cluster_map_set(struct slnf_cluster_map *m, unsigned slot,
			 const struct slnf_cluster_addr *addr);

/* Forget a node: every slot it served becomes NODE_NONE and its entry is
 * free for reuse. */
void slnf_cluster_map_drop(struct slnf_cluster_map *m, unsigned node);

/* Replace the slot assignment with a CLUSTER SLOTS reply. Each range's
 * master is the first address array after the two slot numbers; an empty,
 * NULL or "?" endpoint means "the host you asked" (asked_host). Slots the
 * reply leaves out become NODE_NONE. Node entries keep their indexes; new
 * masters take free entries. On error (-EINVAL: malformed reply, -ENOSPC:
 * node table full) the map is unchanged and why says what was wrong.
 * Returns the number of slots covered. */
int slnf_cluster_map_parse(struct slnf_cluster_map *m, const struct redisReply *r,
			   const char *asked_host, char *why, size_t why_len);

#endif
