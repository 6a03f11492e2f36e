/*
 * steer.h - the steering tier (slnfd with role "steer").
 *
 * A steering node classifies each packet to a tenant (the same classifier
 * as an NF instance: ingress port and VLAN) and sends it to one of the
 * tenant's healthy instances, chosen by a Maglev table over them
 * (core/maglev.h): the frame's destination MAC becomes the instance's MAC
 * on its port of the same name, its source MAC the steering port's, and it
 * leaves by the port it came in on (the instances hang off the same L2
 * segment; it is what a switch does in a hardware deployment).
 *
 * The tables come from the orchestrator (the control command "steer", see
 * docs/steering.md): one message lists, per tenant, the instances and their
 * MACs and carries the steering epoch. Every table of the message is built
 * first, then each tenant's pointer is swapped at once; the old tables are
 * freed only after every worker has passed a quiescent point (the
 * quiesce callback), so a reader never sees half a table or a freed one.
 *
 * The flow hash is symmetric, so both directions of a flow reach one
 * instance, and leaves the inside address out when the tenant names
 * inside ports: a request from inside is hashed on (its destination, its
 * destination port, its source port), a reply from outside on (its source,
 * its source port, its destination port). A NAT that preserves the
 * client's port (the nat NF does where it can) then keeps both directions
 * of a translated flow on one instance as well; when it cannot, the reply
 * lands elsewhere and that instance finds the state in the store.
 */
#ifndef SLNF_STEER_H
#define SLNF_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_ether.h>

#include "slnf/config.h"
#include "slnf/pkt.h"
#include "core/maglev.h"

#define SLNF_STEER_TABLE_SIZE	 SLNF_MAGLEV_DEFAULT_SIZE
#define SLNF_STEER_MAX_INSTANCES 64

/* One instance a tenant's flows can be sent to. */
struct slnf_steer_target {
	char name[SLNF_NAME_MAX];
	struct rte_ether_addr mac[SLNF_MAX_PORTS]; /* by the steering node's port index */
	bool has_mac[SLNF_MAX_PORTS];
	unsigned entries; /* Maglev entries it owns */
	uint64_t base;	  /* packets sent to it under earlier tables */
	uint64_t packets; /* under this table (atomic, relaxed) */
};

/* One tenant's table, immutable once published but for packet counts. */
struct slnf_steer_table {
	uint64_t epoch;
	unsigned n; /* 0: the tenant has no healthy instance, its packets are dropped */
	struct slnf_steer_target targets[SLNF_STEER_MAX_INSTANCES];
	uint16_t entries[SLNF_STEER_TABLE_SIZE];
};

struct slnf_steer {
	const struct slnf_config *cfg;
	struct slnf_steer_table *tables[SLNF_MAX_TENANTS]; /* atomic; NULL: nothing pushed */
	uint64_t epoch;					   /* of the last push */
	uint64_t pushes, push_errors;
	uint64_t last_push_ms;
	/* Returns once no worker can still be reading a table it loaded before
	 * the call (false: it could not tell in time; the old tables leak). */
	bool (*quiesce)(void *arg);
	void *quiesce_arg;
};

void slnf_steer_init(struct slnf_steer *s, const struct slnf_config *cfg,
		     bool (*quiesce)(void *arg), void *quiesce_arg);
void slnf_steer_fini(struct slnf_steer *s);

/* The steering hash of a flow that came in on port in_port of tenant tc. */
uint32_t slnf_steer_hash(const struct slnf_tenant_config *tc, uint16_t in_port,
			 const struct slnf_flow_key *k);

/* The instance a packet goes to, or NULL when the tenant has none. Counts
 * the packet against it. For the data path: lock-free. */
static inline struct slnf_steer_target *slnf_steer_pick(struct slnf_steer *s, uint16_t tenant,
							uint16_t in_port,
							const struct slnf_flow_key *k)
{
	struct slnf_steer_table *t = __atomic_load_n(&s->tables[tenant], __ATOMIC_ACQUIRE);
	if (!t || !t->n)
		return NULL;
	uint32_t h = slnf_steer_hash(&s->cfg->tenants[tenant], in_port, k);
	struct slnf_steer_target *x =
	    &t->targets[slnf_maglev_lookup(t->entries, SLNF_STEER_TABLE_SIZE, h)];
	__atomic_fetch_add(&x->packets, 1, __ATOMIC_RELAXED);
	return x;
}

/* The control commands, each answering one JSON document (never NULL):
 *   steer    apply a push: {"epoch": N, "tenants": [{"name": T, "instances":
 *            [{"name": I, "macs": {"PORT": "MAC", ...}}, ...]}, ...]}
 *   explain  {"tenant": T, "port": P, "proto": "tcp"|"udp"|"icmp"|N, "src": A,
 *            "sport": N, "dst": B, "dport": N}: which instance, and why
 *   steering the tables: epoch, per tenant its instances, entries, packets
 * Called from the control thread only. */
json_t *slnf_steer_push(struct slnf_steer *s, const char *text, uint64_t now_ms);
json_t *slnf_steer_explain(struct slnf_steer *s, const char *text);
json_t *slnf_steer_json(struct slnf_steer *s);

#endif
