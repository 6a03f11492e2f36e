/*
 * chain.h - the chain runner: one tenant's NFs applied to a burst.
 *
 * For each NF in order: prepare() over the packets still forwarded, the
 * requested records from the worker's cache or, for the misses, one batched
 * store round trip, process(), then one batched flush of the queued writes.
 * A packet whose write is not acknowledged is dropped (write before
 * forward). Packets dropped by an NF are not shown to later NFs.
 */
#ifndef SLNF_DP_CHAIN_H
#define SLNF_DP_CHAIN_H

#include "slnf/config.h"
#include "slnf/error.h"
#include "slnf/nf.h"
#include "slnf/store.h"
#include "store/cache.h"

#define SLNF_CHAIN_REQS_MAX (SLNF_BURST_MAX * 4)

struct slnf_chain {
	unsigned n;
	const struct slnf_nf_type *types[SLNF_MAX_CHAIN];
	void *ctx[SLNF_MAX_CHAIN];
};

/* Per-worker scratch space, so the runner never allocates, and the
 * worker's instance cache (NULL: every read goes to the store). */
struct slnf_chain_scratch {
	struct slnf_state_req reads[SLNF_CHAIN_REQS_MAX];
	struct slnf_state_req writes[SLNF_CHAIN_REQS_MAX];
	struct slnf_store_op ops[SLNF_CHAIN_REQS_MAX];
	uint16_t miss[SLNF_CHAIN_REQS_MAX]; /* read request behind each op */
	struct slnf_cache *cache;
};

/* Build the chain of cfg->tenants[tenant]: find each NF type and create it. */
int slnf_chain_create(const struct slnf_config *cfg, unsigned tenant, struct slnf_chain **out,
		      struct slnf_error *err);
void slnf_chain_destroy(struct slnf_chain *c);

/* Validate every tenant's chain (NF names and parameters) without DPDK:
 * the NFs run create() with check_only set. 0 or the first error. */
int slnf_chain_check(const struct slnf_config *cfg, struct slnf_error *err);

/* Run b through c. Afterwards every packet's verdict is final. */
void slnf_chain_run(struct slnf_chain *c, struct slnf_burst *b, struct slnf_store *store,
		    struct slnf_chain_scratch *s);

/* Add every NF's counters to arr (a JSON array of {"nf":..., counters...}). */
void slnf_chain_stats(const struct slnf_chain *c, json_t *arr);

#endif
