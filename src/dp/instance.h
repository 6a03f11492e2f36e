/*
 * instance.h - one running slnfd: its config, ports, chains, store,
 * neighbour table and workers. Built by main.c, read by the workers and by
 * the control thread that answers stats requests.
 *
 * Counters are per worker (no sharing on the fast path) and summed when read.
 *
 * A worker keeps up to SLNF_INFLIGHT rx bursts in flight (struct
 * slnf_slot): each owns its packets, its per-tenant bursts, the chain run
 * of the tenant it is at and a scratch; the worker's instance cache is
 * shared by its slots. See worker.c for the rules.
 *
 * Chains are replaced live (dp/reload.h): inst->chains[t] is swapped
 * atomically and inst->generation advanced. A running slot remembers the
 * generation it started in; each worker publishes in active_gen the oldest
 * generation it still has in flight (the current one when it has none), so
 * the reloader knows when no worker can still be inside an old chain.
 */
#ifndef SLNF_DP_INSTANCE_H
#define SLNF_DP_INSTANCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "slnf/config.h"
#include "slnf/counters.h"
#include "slnf/store.h"
#include "dp/chain.h"
#include "dp/classify.h"
#include "dp/host.h"
#include "dp/neigh.h"
#include "dp/reload.h"
#include "steer/steer.h"


struct slnf_port_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[SLNF_DROP__COUNT];
};

/* rx bursts a worker keeps in flight while their chains wait on the store. */
#define SLNF_INFLIGHT 4
/* Flow hash buckets (a power of two) counting packets of started slots. */
#define SLNF_FLOW_HOLDS 1024

enum slnf_slot_state {
	SLNF_SLOT_FREE = 0,
	SLNF_SLOT_HELD,    /* received, not started: shares a flow with a running slot */
	SLNF_SLOT_RUNNING, /* its groups' chains are running, one after the other */
	SLNF_SLOT_DONE,    /* every verdict final, waiting for its turn to transmit */
};

/* One rx burst's chain traffic in flight. */
struct slnf_slot {
	enum slnf_slot_state state;
	bool holds;        /* its packets are counted in the worker's holds */
	uint16_t n_pkts;
	uint16_t n_groups, cur; /* tenant groups with packets; the one running */
	uint16_t groups[SLNF_BURST_MAX];
	struct slnf_pkt pkts[SLNF_BURST_MAX];
	uint16_t buckets[SLNF_BURST_MAX]; /* each packet's hold bucket, taken on rx */
	/* the packets of tenant t that run its chain forward are in
	 * by_group[2t], those that run it in reverse in by_group[2t + 1];
	 * groups[] lists the groups with packets, in first-seen order */
	struct slnf_burst by_group[2 * SLNF_MAX_TENANTS];
	uint64_t gen;      /* inst->generation when it started running */
	struct slnf_chain_run run;
	struct slnf_chain_scratch scratch;
};

struct slnf_worker {
	unsigned index;
	unsigned lcore;
	uint16_t queue;
	struct slnf_instance *inst;
	struct slnf_port_counters ports[SLNF_MAX_PORTS];
	struct slnf_host_stats host;
	uint64_t tenant_rx[SLNF_MAX_TENANTS];
	uint64_t idle_sleeps;
	uint64_t loops;      /* loop iterations (atomic): a quiescent point each */
	uint64_t active_gen; /* oldest generation in flight (atomic, see above) */
	struct slnf_cache *cache; /* the worker's instance cache, shared by its slots */
	unsigned slot_head, n_slots; /* FIFO ring of slots in rx order */
	struct slnf_slot slots[SLNF_INFLIGHT];
	uint16_t holds[SLNF_FLOW_HOLDS];
} __rte_cache_aligned;

struct slnf_instance {
	struct slnf_config cfg;
	struct rte_mempool *pool;
	uint16_t port_ids[SLNF_MAX_PORTS]; /* DPDK port id of each config port */
	struct rte_ether_addr macs[SLNF_MAX_PORTS];
	struct slnf_host host;
	struct slnf_neigh_table neigh;
	struct slnf_store *store;
	struct slnf_chain *chains[SLNF_MAX_TENANTS]; /* swapped atomically on reload */
	uint64_t generation;                         /* chains' generation (atomic) */
	struct slnf_reload reload;                   /* the control thread's */
	struct slnf_classifier *classifier;
	struct slnf_steer *steer;  /* role steer: the steering tables; NULL for role nf */
	uint64_t epoch;            /* role nf: the steering epoch the caches were told */
	struct slnf_worker *workers;
	unsigned n_workers;
	volatile bool stop;
	volatile sig_atomic_t reload_requested; /* SIGHUP */
	uint64_t start_ms;
	double eal_init_ms;
};

/* Monotonic milliseconds. */
uint64_t slnf_now_ms(void);

#endif
