/*
 * cluster_slots.c - key slots, redirects and the slot map of a Redis Cluster.
 *
 * The CRC16 is table driven; the table is built once from the polynomial
 * by a constructor, so there is no magic table to get wrong and no lazy
 * initialisation race between workers. A CLUSTER SLOTS reply is parsed into
 * a scratch copy of the map and only copied over the live one when the whole
 * reply made sense, so a truncated or strange reply never leaves the
 * backend with half a map. Node entries are matched by address: a master
 * that keeps its address keeps its index (and the backend its connection)
 * across refreshes, and a promoted replica simply gets a new entry.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/cluster_slots.h"

#define CRC16_POLY 0x1021

static uint16_t crc16_table[256];

static void __attribute__((constructor)) crc16_table_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t crc = (uint16_t)(i << 8);
		for (unsigned bit = 0; bit < 8; bit++)
			crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ CRC16_POLY : crc << 1);
		crc16_table[i] = crc;
	}
}

uint16_t slnf_cluster_crc16(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
	return crc;
}

void slnf_cluster_hash_part(const void *key, size_t len, const uint8_t **part, size_t *part_len)
{
	const uint8_t *k = key;
	*part = k;
	*part_len = len;
	const uint8_t *open = memchr(k, '{', len);
	if (!open)
		return;
	size_t start = (size_t)(open - k) + 1;
	const uint8_t *close = memchr(k + start, '}', len - start);
	/* "{}" hashes the whole key, as Redis does. */
	if (!close || close == k + start)
		return;
	*part = k + start;
	*part_len = (size_t)(close - (k + start));
}

unsigned slnf_cluster_key_slot(const void *key, size_t len)
{
	const uint8_t *part;
	size_t part_len;
	slnf_cluster_hash_part(key, len, &part, &part_len);
	return slnf_cluster_crc16(part, part_len) & (SLNF_CLUSTER_SLOTS - 1);
}

/* Parse a decimal number of at most max from s[0..len). */
static int parse_uint(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	if (len == 0 || len > 10)
		return -EINVAL;
	unsigned long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int addr_set(struct slnf_cluster_addr *out, const char *host, size_t host_len,
		    unsigned long port)
{
	/* Accept "[v6]" by dropping the brackets. */
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	}
	if (host_len >= sizeof(out->host) || port == 0)
		return -EINVAL;
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

int slnf_cluster_addr_parse(const char *s, size_t len, struct slnf_cluster_addr *out)
{
	const char *colon = NULL;
	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	if (!colon || colon == s)
		return -EINVAL;
	/* Redis may append the bus port ("host:port@cport"). */
	const char *end = memchr(colon, '@', (size_t)(s + len - colon));
	if (!end)
		end = s + len;
	unsigned long port;
	if (parse_uint(colon + 1, (size_t)(end - colon - 1), 65535, &port) < 0)
		return -EINVAL;
	return addr_set(out, s, (size_t)(colon - s), port);
}

int slnf_cluster_redirect_parse(const char *err, size_t len, const char *default_host,
				struct slnf_cluster_redirect *out)
{
	enum slnf_cluster_redirect_kind kind;
	size_t at;
	if (len >= 6 && memcmp(err, "MOVED ", 6) == 0) {
		kind = SLNF_CLUSTER_MOVED;
		at = 6;
	} else if (len >= 4 && memcmp(err, "ASK ", 4) == 0) {
		kind = SLNF_CLUSTER_ASK;
		at = 4;
	} else {
		return -ENOENT;
	}
	const char *sp = memchr(err + at, ' ', len - at);
	if (!sp)
		return -EINVAL;
	unsigned long slot;
	if (parse_uint(err + at, (size_t)(sp - (err + at)), SLNF_CLUSTER_SLOTS - 1, &slot) < 0)
		return -EINVAL;
	const char *addr = sp + 1;
	size_t addr_len = (size_t)(err + len - addr);
	/* Tolerate trailing whitespace (a reply read with its CRLF). */
	while (addr_len && (addr[addr_len - 1] == '\r' || addr[addr_len - 1] == '\n' ||
			    addr[addr_len - 1] == ' '))
		addr_len--;
	struct slnf_cluster_redirect r = {.kind = kind, .slot = (unsigned)slot};
	if (addr_len && addr[0] == ':') {
		unsigned long port;
		if (!default_host || parse_uint(addr + 1, addr_len - 1, 65535, &port) < 0 ||
		    addr_set(&r.addr, default_host, strlen(default_host), port) < 0)
			return -EINVAL;
	} else if (slnf_cluster_addr_parse(addr, addr_len, &r.addr) < 0) {
		return -EINVAL;
	}
	*out = r;
	return 0;
}

void slnf_cluster_map_init(struct slnf_cluster_map *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < SLNF_CLUSTER_SLOTS; i++)
		m->slot_node[i] = SLNF_CLUSTER_NODE_NONE;
}

static bool addr_equal(const struct slnf_cluster_addr *a, const struct slnf_cluster_addr *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

int slnf_cluster_map_node(struct slnf_cluster_map *m, const struct slnf_cluster_addr *addr)
{
	int free_idx = -1;
	for (unsigned i = 0; i < m->n_nodes; i++) {
		if (!m->nodes[i].in_use) {
			if (free_idx < 0)
				free_idx = (int)i;
			continue;
		}
		if (addr_equal(&m->nodes[i].addr, addr))
			return (int)i;
	}
	if (free_idx < 0) {
		if (m->n_nodes == SLNF_CLUSTER_MAX_NODES)
			return -ENOSPC;
		free_idx = (int)m->n_nodes++;
	}
	struct slnf_cluster_node *n = &m->nodes[free_idx];
	n->addr = *addr;
	n->in_use = 1;
	n->slots = 0;
	return free_idx;
}

int slnf_cluster_map_set(struct slnf_cluster_map *m, unsigned slot,
			 const struct slnf_cluster_addr *addr)
{
	if (slot >= SLNF_CLUSTER_SLOTS)
		return -EINVAL;
	int idx = slnf_cluster_map_node(m, addr);
	if (idx < 0)
		return idx;
	uint16_t old = m->slot_node[slot];
	if (old != SLNF_CLUSTER_NODE_NONE)
		m->nodes[old].slots--;
	m->slot_node[slot] = (uint16_t)idx;
	m->nodes[idx].slots++;
	return idx;
}

void slnf_cluster_map_drop(struct slnf_cluster_map *m, unsigned node)
{
	if (node >= m->n_nodes)
		return;
	if (m->nodes[node].slots) {
		for (unsigned i = 0; i < SLNF_CLUSTER_SLOTS; i++)
			if (m->slot_node[i] == node)
				m->slot_node[i] = SLNF_CLUSTER_NODE_NONE;
	}
	memset(&m->nodes[node], 0, sizeof(m->nodes[node]));
}

/* The master address of one CLUSTER SLOTS node array. */
static int slots_master_addr(const redisReply *n, const char *asked_host,
			     struct slnf_cluster_addr *out)
{
	if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
	    n->element[1]->type != REDIS_REPLY_INTEGER || n->element[1]->integer <= 0 ||
	    n->element[1]->integer > 65535)
		return -EINVAL;
	const redisReply *h = n->element[0];
	const char *host = asked_host;
	size_t host_len = asked_host ? strlen(asked_host) : 0;
	if (h->type == REDIS_REPLY_STRING && h->len > 0 && !(h->len == 1 && h->str[0] == '?')) {
		host = h->str;
		host_len = h->len;
	} else if (h->type != REDIS_REPLY_STRING && h->type != REDIS_REPLY_NIL) {
		return -EINVAL;
	}
	if (!host || host_len == 0)
		return -EINVAL;
	return addr_set(out, host, host_len, (unsigned long)n->element[1]->integer);
}

int slnf_cluster_map_parse(struct slnf_cluster_map *m, const struct redisReply *r,
			   const char *asked_host, char *why, size_t why_len)
{
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		snprintf(why, why_len, "CLUSTER SLOTS: expected an array, got reply type %d",
			 r ? r->type : -1);
		return -EINVAL;
	}
	struct slnf_cluster_map *t = malloc(sizeof(*t));
	if (!t) {
		snprintf(why, why_len, "CLUSTER SLOTS: out of memory");
		return -ENOMEM;
	}
	*t = *m;
	for (unsigned i = 0; i < SLNF_CLUSTER_SLOTS; i++)
		t->slot_node[i] = SLNF_CLUSTER_NODE_NONE;
	for (unsigned i = 0; i < t->n_nodes; i++)
		t->nodes[i].slots = 0;

	int covered = 0;
	for (size_t e = 0; e < r->elements; e++) {
		const redisReply *range = r->element[e];
		if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
		    range->element[0]->type != REDIS_REPLY_INTEGER ||
		    range->element[1]->type != REDIS_REPLY_INTEGER) {
			snprintf(why, why_len, "CLUSTER SLOTS: entry %zu is not [start, end, master...]",
				 e);
			covered = -EINVAL;
			break;
		}
		long long lo = range->element[0]->integer, hi = range->element[1]->integer;
		if (lo < 0 || hi < lo || hi >= SLNF_CLUSTER_SLOTS) {
			snprintf(why, why_len, "CLUSTER SLOTS: entry %zu has bad slot range %lld-%lld",
				 e, lo, hi);
			covered = -EINVAL;
			break;
		}
		struct slnf_cluster_addr addr;
		if (slots_master_addr(range->element[2], asked_host, &addr) < 0) {
			snprintf(why, why_len, "CLUSTER SLOTS: entry %zu (slots %lld-%lld) has a bad "
				 "master address", e, lo, hi);
			covered = -EINVAL;
			break;
		}
		int idx = slnf_cluster_map_node(t, &addr);
		if (idx < 0) {
			snprintf(why, why_len, "CLUSTER SLOTS: more than %d masters (at %s:%u)",
				 SLNF_CLUSTER_MAX_NODES, addr.host, addr.port);
			covered = idx;
			break;
		}
		for (long long s = lo; s <= hi; s++) {
			if (t->slot_node[s] != SLNF_CLUSTER_NODE_NONE)
				t->nodes[t->slot_node[s]].slots--;
			else
				covered++;
			t->slot_node[s] = (uint16_t)idx;
			t->nodes[idx].slots++;
		}
	}
	if (covered >= 0)
		*m = *t;
	free(t);
	return covered;
}
