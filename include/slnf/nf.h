/*
 * nf.h - the network function interface.
 *
 * An NF is pure: a function of (packets, state records) to (verdicts,
 * rewrites, writes). It works on a whole burst in two phases:
 *
 *   prepare(): look at each packet and ask for the state records it needs
 *              (slnf_state_get); no I/O;
 *   the chain runner fetches all requested records in one batch;
 *   process(): decide each packet's fate with the records in hand, rewrite
 *              headers, and queue writes (slnf_state_write). The runner
 *              flushes the writes as one batch and transmits a packet only
 *              after its writes are acknowledged (write before forward).
 *
 * Stateless NFs leave prepare NULL. NFs register with SLNF_NF_REGISTER, so
 * adding an NF touches only its own file. An NF context is shared by all
 * workers: after create() it is read-only except for atomic counters.
 */
#ifndef SLNF_NF_H
#define SLNF_NF_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "slnf/config.h"
#include "slnf/error.h"
#include "slnf/pkt.h"
#include "slnf/store.h"

/* The packets of one tenant in one rx burst, in arrival order. */
struct slnf_burst {
	uint16_t n;
	bool reverse; /* the packets came from outside the tenant's "inside"
			 ports: the chain runs in reverse (see chain.h) */
	struct slnf_pkt *pkts[SLNF_BURST_MAX];
};

struct slnf_state_req {
	struct slnf_store_op op;
	uint16_t pkt; /* index in the burst this request belongs to */
	int16_t unless_hit; /* -1, or a read whose cache hit cancels this one */
};

/* Requests of one NF phase. */
struct slnf_state_batch {
	struct slnf_state_req *reqs;
	uint16_t n, cap;
};

/* What an NF knows of the instance it runs in. */
struct slnf_nf_env {
	const struct slnf_config *cfg;
	unsigned tenant;    /* index in cfg->tenants */
	unsigned position;  /* index in the tenant's chain */
	const char *field;  /* "tenants[0].chain[1]" for error messages */
	bool check_only;    /* validate only: EAL may not be running, so create()
			       must not build DPDK objects; the context it returns
			       is only passed to destroy() */
};

struct slnf_nf_type {
	const char *name;  /* the "nf" value in a chain element */
	uint16_t id;       /* namespaces state keys; unique, never reused */
	const char *summary;
	/* Validate params (the chain element object) and build a context.
	 * Errors name env->cfg->file, the field under env->field and why. */
	int (*create)(const struct slnf_nf_env *env, json_t *params, void **ctx,
		      struct slnf_error *err);
	void (*destroy)(void *ctx);
	void (*prepare)(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads);
	void (*process)(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			struct slnf_state_batch *writes);
	/* process() never changes a packet, only decides and writes: a packet
	 * whose write lost a race (-ESTALE, -EEXIST) is then run through this
	 * NF again, with the record the store returned, instead of being
	 * dropped as store_conflict (SLNF_CHAIN_RETRIES times at most). */
	bool retry_conflicts;
	/* Add this NF's counters to obj (may be NULL). */
	void (*stats)(void *ctx, json_t *obj);
	/* Optional: one of this NF's store records as a listing entry (what
	 * `slnfctl flows` prints: proto, src, sport, dst, dport, state, ...),
	 * or NULL to leave the record out. Slow path. */
	json_t *(*describe)(const struct slnf_store_record *r);
};

void slnf_nf_register(const struct slnf_nf_type *t);
const struct slnf_nf_type *slnf_nf_find(const char *name);
/* Iterate registered types: returns NULL past the end. */
const struct slnf_nf_type *slnf_nf_at(unsigned i);

#define SLNF_NF_REGISTER(t)                                                         \
	static void __attribute__((constructor)) slnf_nf_register_##t(void)        \
	{                                                                           \
		slnf_nf_register(&t);                                               \
	}

/* Ask for a record for burst packet pkt; returns the op to fill further
 * (opcode GET, key set) or NULL when the batch is full. Sets the packet's
 * state_req to the first request it made. */
struct slnf_store_op *slnf_state_get(struct slnf_state_batch *reads, struct slnf_burst *b,
				     uint16_t pkt, const struct slnf_store_key *key);
/* Like slnf_state_get, but the read is not made (its status is
 * -ECANCELED) when read number primary of this batch is answered by the
 * instance cache with a record. For reads only needed when the primary
 * record is missing, such as the claims of candidate ports behind a
 * mapping: a flow whose mapping is cached then costs no store access.
 * An NF that shares reads between packets must clear unless_hit (set -1)
 * when another packet needs the same record unconditionally. */
struct slnf_store_op *slnf_state_get_unless_hit(struct slnf_state_batch *reads,
						struct slnf_burst *b, uint16_t pkt,
						const struct slnf_store_key *key, int16_t primary);
/* Queue a write for burst packet pkt (opcode and key set; caller fills value,
 * ttl, version, delta). NULL when the batch is full. */
struct slnf_store_op *slnf_state_write(struct slnf_state_batch *writes, uint16_t pkt,
				       enum slnf_store_opcode opcode,
				       const struct slnf_store_key *key);

#endif
