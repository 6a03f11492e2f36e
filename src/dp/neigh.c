/*
 * neigh.c - the neighbour (ARP) table; see neigh.h for the states and
 * timers. Open addressing with linear probing keyed by (port, ip); removal
 * shifts later entries back so lookups never need tombstones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dp/neigh.h"

static unsigned slot_of(const struct slnf_neigh_table *t, uint16_t port, uint32_t ip)
{
	uint32_t h = ip * 2654435761u ^ (uint32_t)port * 40503u;
	return (h ^ (h >> 16)) & (t->capacity - 1);
}

static struct slnf_neigh_entry *find(struct slnf_neigh_table *t, uint16_t port, uint32_t ip)
{
	unsigned i = slot_of(t, port, ip);
	for (unsigned n = 0; n < t->capacity; n++, i = (i + 1) & (t->capacity - 1)) {
		struct slnf_neigh_entry *e = &t->entries[i];
		if (e->state == SLNF_NEIGH_FREE)
			return NULL;
		if (e->ip == ip && e->port == port)
			return e;
	}
	return NULL;
}

/* A free slot for (port, ip), keeping the table at most 3/4 full. */
static struct slnf_neigh_entry *insert(struct slnf_neigh_table *t, uint16_t port, uint32_t ip)
{
	if ((t->used + 1) * 4 > t->capacity * 3)
		return NULL;
	unsigned i = slot_of(t, port, ip);
	while (t->entries[i].state != SLNF_NEIGH_FREE)
		i = (i + 1) & (t->capacity - 1);
	struct slnf_neigh_entry *e = &t->entries[i];
	struct rte_mbuf **pending = e->pending;
	memset(e, 0, sizeof(*e));
	e->pending = pending;
	e->ip = ip;
	e->port = port;
	t->used++;
	return e;
}

/* Remove e; move later entries of the same probe run back into the hole.
 * Held packets must have been taken out before. */
static void erase(struct slnf_neigh_table *t, struct slnf_neigh_entry *e)
{
	unsigned mask = t->capacity - 1;
	unsigned hole = (unsigned)(e - t->entries);
	unsigned i = hole;
	for (;;) {
		i = (i + 1) & mask;
		struct slnf_neigh_entry *n = &t->entries[i];
		if (n->state == SLNF_NEIGH_FREE)
			break;
		unsigned home = slot_of(t, n->port, n->ip);
		/* n may move to the hole if its home is not in (hole, i] */
		bool stays = hole < i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (stays)
			continue;
		struct rte_mbuf **hole_pending = t->entries[hole].pending;
		t->entries[hole] = *n;
		n->pending = hole_pending;
		hole = i;
	}
	t->entries[hole].state = SLNF_NEIGH_FREE;
	t->entries[hole].n_pending = 0;
	t->used--;
}

int slnf_neigh_init(struct slnf_neigh_table *t, unsigned capacity, unsigned reachable_s,
		    unsigned max_pending)
{
	memset(t, 0, sizeof(*t));
	unsigned cap = 16;
	while (cap < capacity)
		cap <<= 1;
	t->capacity = cap;
	t->reachable_ms = (uint64_t)reachable_s * 1000;
	t->max_pending = max_pending;
	rte_spinlock_init(&t->lock);
	t->entries = calloc(cap, sizeof(*t->entries));
	t->pending_store = calloc((size_t)cap * (max_pending ? max_pending : 1), sizeof(void *));
	if (!t->entries || !t->pending_store) {
		free(t->entries);
		free(t->pending_store);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cap; i++)
		t->entries[i].pending = t->pending_store + (size_t)i * (max_pending ? max_pending : 1);
	return 0;
}

void slnf_neigh_fini(struct slnf_neigh_table *t)
{
	if (!t->entries)
		return;
	for (unsigned i = 0; i < t->capacity; i++)
		for (unsigned k = 0; k < t->entries[i].n_pending; k++)
			rte_pktmbuf_free(t->entries[i].pending[k]);
	free(t->entries);
	free(t->pending_store);
	t->entries = NULL;
	t->pending_store = NULL;
}

static bool hold(struct slnf_neigh_table *t, struct slnf_neigh_entry *e, struct rte_mbuf *m)
{
	if (!m)
		return true;
	if (e->n_pending >= t->max_pending)
		return false;
	e->pending[e->n_pending++] = m;
	return true;
}

enum slnf_neigh_result slnf_neigh_resolve(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
					  uint64_t now_ms, struct rte_mbuf *m, uint8_t mac[6])
{
	enum slnf_neigh_result r;
	rte_spinlock_lock(&t->lock);
	struct slnf_neigh_entry *e = find(t, port, ip);
	if (!e) {
		e = insert(t, port, ip);
		if (!e) {
			r = SLNF_NEIGH_FULL;
		} else {
			e->state = SLNF_NEIGH_INCOMPLETE;
			e->probes = 1;
			e->last_probe_ms = now_ms;
			r = hold(t, e, m) ? SLNF_NEIGH_HELD_PROBE : SLNF_NEIGH_FULL;
		}
		goto out;
	}
	switch (e->state) {
	case SLNF_NEIGH_INCOMPLETE:
		r = hold(t, e, m) ? SLNF_NEIGH_HELD : SLNF_NEIGH_FULL;
		break;
	case SLNF_NEIGH_STATIC:
		memcpy(mac, e->mac, 6);
		r = SLNF_NEIGH_HIT;
		break;
	default:
		memcpy(mac, e->mac, 6);
		r = SLNF_NEIGH_HIT;
		if (now_ms - e->confirmed_ms >= t->reachable_ms) {
			e->state = SLNF_NEIGH_STALE;
			if (now_ms - e->last_probe_ms >= SLNF_NEIGH_PROBE_INTERVAL_MS) {
				e->last_probe_ms = now_ms;
				e->probes++;
				r = SLNF_NEIGH_HIT_PROBE;
			}
		}
	}
out:
	rte_spinlock_unlock(&t->lock);
	return r;
}

unsigned slnf_neigh_confirm(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
			    const uint8_t mac[6], bool create, uint64_t now_ms,
			    struct rte_mbuf **released, unsigned max)
{
	unsigned n = 0;
	rte_spinlock_lock(&t->lock);
	struct slnf_neigh_entry *e = find(t, port, ip);
	if (!e && create)
		e = insert(t, port, ip);
	if (e && e->state != SLNF_NEIGH_STATIC) {
		memcpy(e->mac, mac, 6);
		e->state = SLNF_NEIGH_REACHABLE;
		e->confirmed_ms = now_ms;
		e->probes = 0;
		while (n < max && n < e->n_pending) {
			released[n] = e->pending[n];
			n++;
		}
		memmove(e->pending, e->pending + n, (e->n_pending - n) * sizeof(void *));
		e->n_pending = (uint16_t)(e->n_pending - n);
	}
	rte_spinlock_unlock(&t->lock);
	return n;
}

int slnf_neigh_add_static(struct slnf_neigh_table *t, uint16_t port, uint32_t ip,
			  const uint8_t mac[6])
{
	int rc = 0;
	rte_spinlock_lock(&t->lock);
	struct slnf_neigh_entry *e = find(t, port, ip);
	if (!e)
		e = insert(t, port, ip);
	if (e) {
		memcpy(e->mac, mac, 6);
		e->state = SLNF_NEIGH_STATIC;
	} else {
		rc = -ENOSPC;
	}
	rte_spinlock_unlock(&t->lock);
	return rc;
}

/* Take e's held packets out into dropped[] (freeing what does not fit). */
static unsigned drain(struct slnf_neigh_entry *e, struct rte_mbuf **dropped, unsigned max,
		      unsigned *n_dropped)
{
	unsigned count = e->n_pending;
	for (unsigned k = 0; k < e->n_pending; k++) {
		if (*n_dropped < max)
			dropped[(*n_dropped)++] = e->pending[k];
		else
			rte_pktmbuf_free(e->pending[k]);
	}
	e->n_pending = 0;
	return count;
}

unsigned slnf_neigh_tick(struct slnf_neigh_table *t, uint64_t now_ms,
			 void (*probe)(uint16_t port, uint32_t ip, void *arg), void *arg,
			 struct rte_mbuf **dropped, unsigned max, unsigned *n_dropped)
{
	unsigned lost = 0;
	*n_dropped = 0;
	rte_spinlock_lock(&t->lock);
	for (unsigned i = 0; i < t->capacity; i++) {
		struct slnf_neigh_entry *e = &t->entries[i];
		bool remove = false;
		if (e->state == SLNF_NEIGH_INCOMPLETE) {
			if (now_ms - e->last_probe_ms < SLNF_NEIGH_PROBE_INTERVAL_MS)
				continue;
			if (e->probes >= SLNF_NEIGH_PROBES) {
				lost += drain(e, dropped, max, n_dropped);
				remove = true;
			} else {
				e->probes++;
				e->last_probe_ms = now_ms;
				if (probe)
					probe(e->port, e->ip, arg);
			}
		} else if (e->state == SLNF_NEIGH_REACHABLE || e->state == SLNF_NEIGH_STALE) {
			if (now_ms - e->confirmed_ms >= t->reachable_ms)
				e->state = SLNF_NEIGH_STALE;
			remove = now_ms - e->confirmed_ms >= t->reachable_ms + SLNF_NEIGH_GC_GRACE_MS;
		}
		if (remove) {
			erase(t, e);
			i--; /* a later entry may have moved into this slot */
		}
	}
	rte_spinlock_unlock(&t->lock);
	return lost;
}

unsigned slnf_neigh_snapshot(struct slnf_neigh_table *t, uint64_t now_ms,
			     struct slnf_neigh_entry *out, unsigned max)
{
	unsigned n = 0;
	rte_spinlock_lock(&t->lock);
	for (unsigned i = 0; i < t->capacity && n < max; i++) {
		const struct slnf_neigh_entry *e = &t->entries[i];
		if (e->state == SLNF_NEIGH_FREE)
			continue;
		out[n] = *e;
		out[n].pending = NULL;
		if (e->state == SLNF_NEIGH_REACHABLE && now_ms - e->confirmed_ms >= t->reachable_ms)
			out[n].state = SLNF_NEIGH_STALE;
		n++;
	}
	rte_spinlock_unlock(&t->lock);
	return n;
}

const char *slnf_neigh_state_name(unsigned state)
{
	static const char *const names[] = {"free", "incomplete", "reachable", "stale", "static"};
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}
