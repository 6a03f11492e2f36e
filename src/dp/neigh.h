/*
 * neigh.h - the neighbour (ARP) table: IPv4 next hop -> MAC per port.
 *
 * Entries are REACHABLE for reachable_ms after the neighbour last confirmed
 * itself (an ARP reply, or an ARP request it sent us). After that they are
 * STALE: still used, but each use asks the caller to send a fresh ARP
 * request (at most one a second). A stale entry that is not re-confirmed is
 * removed SLNF_NEIGH_GC_GRACE_MS later, so a neighbour that went away or
 * changed its MAC is forgotten. Unknown next hops are INCOMPLETE: packets
 * wait in a small per-entry queue while up to SLNF_NEIGH_PROBES requests go
 * out a second apart; if none is answered the entry fails and its packets
 * are handed back to be dropped and counted. Static entries never age.
 *
 * All times are passed in (milliseconds, monotonic) so the logic is tested
 * without clocks or ports. One table serves every worker; a spinlock guards
 * it (lookups are short, updates rare).
 */
#ifndef SLNF_DP_NEIGH_H
#define SLNF_DP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_spinlock.h>

struct rte_mbuf;

#define SLNF_NEIGH_PROBES 3
#define SLNF_NEIGH_PROBE_INTERVAL_MS 1000
#define SLNF_NEIGH_GC_GRACE_MS 5000

enum slnf_neigh_state {
	SLNF_NEIGH_FREE = 0,
	SLNF_NEIGH_INCOMPLETE,
	SLNF_NEIGH_REACHABLE,
	SLNF_NEIGH_STALE,
	SLNF_NEIGH_STATIC,
};

struct slnf_neigh_entry {
	uint32_t ip;
	uint16_t port;
	uint8_t state;
	uint8_t probes; /* requests sent since the last confirmation */
	uint8_t mac[6];
	uint16_t n_pending;
	uint64_t confirmed_ms;
	uint64_t last_probe_ms;
	struct rte_mbuf **pending; /* max_pending slots */
};

struct slnf_neigh_table {
	rte_spinlock_t lock;
	unsigned capacity; /* power of two */
	unsigned used;
	uint64_t reachable_ms;
	unsigned max_pending;
	struct slnf_neigh_entry *entries;
	struct rte_mbuf **pending_store;
};

enum slnf_neigh_result {
	SLNF_NEIGH_HIT,          /* mac filled: transmit */
	SLNF_NEIGH_HIT_PROBE,    /* mac filled: transmit, and send an ARP request */
	SLNF_NEIGH_HELD,         /* packet held until the neighbour answers */
	SLNF_NEIGH_HELD_PROBE,   /* packet held: send an ARP request now */
	SLNF_NEIGH_FULL,         /* cannot hold it: drop (queue or table full) */
};

/* capacity is rounded up to a power of two. 0 or -ENOMEM. */
int slnf_neigh_init(struct slnf_neigh_table *t, unsigned capacity, unsigned reachable_s,
		    unsigned max_pending);
/* Frees the table and any held packets. */
void slnf_neigh_fini(struct slnf_neigh_table *t);

/* Find the MAC for (port, ip). On a miss, hold m (may be NULL: then just
 * start resolving) and report whether to send a request. */
enum slnf_neigh_result slnf_neigh_resolve(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
					  uint64_t now_ms, struct rte_mbuf *m, uint8_t mac[6]);

/* The neighbour (port, ip) told us its MAC. Creates the entry when create
 * is true (an ARP request addressed to us), otherwise only updates an
 * existing one. Packets that waited for it are moved to released (up to
 * max; the rest stay held) and their count returned. */
unsigned slnf_neigh_confirm(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
			    const uint8_t mac[6], bool create, uint64_t now_ms,
			    struct rte_mbuf **released, unsigned max);

/* Install a static entry (never ages). 0 or -ENOSPC. */
int slnf_neigh_add_static(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
			  const uint8_t mac[6]);

/* Periodic maintenance. For each INCOMPLETE entry due a retry, probe(port,
 * ip, arg) is called; entries out of retries are removed and their held
 * packets moved to dropped (up to max; any excess is freed here and still
 * counted); stale entries past their grace are removed. Returns the number
 * of dropped packets (including any freed here). */
unsigned slnf_neigh_tick(struct slnf_neigh_table *t, uint64_t now_ms,
			 void (*probe)(uint16_t port, uint32_t ip, void *arg), void *arg,
			 struct rte_mbuf **dropped, unsigned max, unsigned *n_dropped);

/* Copy of the entries in use, for stats. Returns how many were written. */
unsigned slnf_neigh_snapshot(struct slnf_neigh_table *t, uint64_t now_ms,
			     struct slnf_neigh_entry *out, unsigned max);

const char *slnf_neigh_state_name(unsigned state);

#endif
