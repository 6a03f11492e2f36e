/*
 * chain.h - the chain runner: one tenant's NFs applied to a burst.
 *
 * For each NF in order: prepare() over the packets still forwarded, the
 * requested records from the worker's cache or, for the misses, one batched
 * store round trip, process(), then one batched flush of the queued writes.
 * A packet whose write is not acknowledged is dropped (write before
 * forward). Packets dropped by an NF are not shown to later NFs.
 *
 * A run is resumable: slnf_chain_start goes as far as it can without an
 * answer from the store, submits the batch it needs and returns;
 * slnf_chain_poll picks it up when the batch completes. A worker keeps
 * several runs in flight that way (one per burst and tenant) instead of
 * idling through a round trip. slnf_chain_run is the synchronous form.
 */
#ifndef SLNF_DP_CHAIN_H
#define SLNF_DP_CHAIN_H

#include "slnf/config.h"
#include "slnf/error.h"
#include "slnf/nf.h"
#include "slnf/store.h"
#include "store/cache.h"

#define SLNF_CHAIN_REQS_MAX (SLNF_BURST_MAX * 4)

/* Built off the data path and then read-only: a live reload
 * (dp/reload.h) builds a new chain and swaps the tenant's pointer. The
 * chain holds a reference to each element's JSON, so it never depends on
 * the config it was built from staying loaded. */
struct slnf_chain {
	unsigned n;
	const struct slnf_nf_type *types[SLNF_MAX_CHAIN];
	void *ctx[SLNF_MAX_CHAIN];
	json_t *params[SLNF_MAX_CHAIN];
	/* order[0]: the NFs in the order written; order[1]: the order for a
	 * reverse burst (from outside the tenant's inside ports): backwards,
	 * except that a final router stays last. */
	uint8_t order[2][SLNF_MAX_CHAIN];
	struct slnf_chain *retired_next; /* dp/reload.c: waiting to be destroyed */
};

/* Per-worker scratch space, so the runner never allocates, and the
 * worker's instance cache (NULL: every read goes to the store). */
struct slnf_chain_scratch {
	struct slnf_state_req reads[SLNF_CHAIN_REQS_MAX];
	struct slnf_state_req writes[SLNF_CHAIN_REQS_MAX];
	struct slnf_store_op ops[SLNF_CHAIN_REQS_MAX];
	struct slnf_cache *cache;
};

/* Where a run stands: about to start the next NF, or waiting for the read
 * or write batch of the current one. */
enum slnf_chain_phase {
	SLNF_CHAIN_NEXT_NF = 0,
	SLNF_CHAIN_READING,
	SLNF_CHAIN_WRITING,
	SLNF_CHAIN_DONE,
};

/* A batch still unfinished this long after its submit is given up with
 * -ETIMEDOUT. Every backend completes its batches by its own deadline (the
 * longest, redis, 4 s), so this only guards against a broken backend. */
#define SLNF_CHAIN_BATCH_GUARD_MS 6000
/* How often a packet of a retry_conflicts NF is run again after its write
 * lost a race before it is dropped as store_conflict. */
#define SLNF_CHAIN_RETRIES 2

/* One burst of one tenant going through its chain. The caller owns it and
 * must not move or reuse it while a batch is in flight: the store holds a
 * pointer to batch until it completes. */
struct slnf_chain_run {
	struct slnf_chain *chain;
	struct slnf_burst *burst;
	struct slnf_store *store;
	struct slnf_chain_scratch *scratch;
	unsigned nf;                 /* index of the NF being run */
	enum slnf_chain_phase phase;
	struct slnf_burst sb;        /* the packets that NF sees */
	struct slnf_burst again;     /* of those, the ones to run through it again */
	unsigned retries;            /* times the current NF was run again */
	struct slnf_state_batch reads, writes;
	struct slnf_store_batch batch; /* the store batch of this phase */
	uint16_t miss[SLNF_CHAIN_REQS_MAX]; /* read request behind each op */
	uint64_t now;                /* cache clock, read before the NF's I/O */
	uint64_t deadline_ns;        /* SLNF_CHAIN_BATCH_GUARD_MS after submit */
};

/* Build the chain of cfg->tenants[tenant]: find each NF type and create it. */
int slnf_chain_create(const struct slnf_config *cfg, unsigned tenant, struct slnf_chain **out,
		      struct slnf_error *err);
void slnf_chain_destroy(struct slnf_chain *c);

/* Validate every tenant's chain (NF names and parameters) without DPDK:
 * the NFs run create() with check_only set. 0 or the first error. */
int slnf_chain_check(const struct slnf_config *cfg, struct slnf_error *err);

/* Start running b through c: go as far as possible without waiting for
 * the store. s stays the run's until it is done. */
void slnf_chain_start(struct slnf_chain_run *r, struct slnf_chain *c, struct slnf_burst *b,
		      struct slnf_store *store, struct slnf_chain_scratch *s);

/* Make progress without waiting: true when every packet's verdict is final
 * (the run is done), false while a store batch is outstanding. */
bool slnf_chain_poll(struct slnf_chain_run *r);

/* Run b through c synchronously: start, then poll until done. The
 * backends' deadlines and SLNF_CHAIN_BATCH_GUARD_MS bound the wait.
 * Afterwards every packet's verdict is final. */
void slnf_chain_run(struct slnf_chain *c, struct slnf_burst *b, struct slnf_store *store,
		    struct slnf_chain_scratch *s);

/* Add every NF's counters to arr (a JSON array of {"nf":..., counters...}). */
void slnf_chain_stats(const struct slnf_chain *c, json_t *arr);

#endif
