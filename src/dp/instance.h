/*
 * instance.h - one running slnfd: its config, ports, chains, store,
 * neighbour table and workers. Built by main.c, read by the workers and by
 * the control thread that answers stats requests.
 *
 * Counters are per worker (no sharing on the fast path) and summed when read.
 */
#ifndef SLNF_DP_INSTANCE_H
#define SLNF_DP_INSTANCE_H

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


struct slnf_port_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[SLNF_DROP__COUNT];
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
	struct slnf_chain_scratch scratch;
} __rte_cache_aligned;

struct slnf_instance {
	struct slnf_config cfg;
	struct rte_mempool *pool;
	uint16_t port_ids[SLNF_MAX_PORTS]; /* DPDK port id of each config port */
	struct rte_ether_addr macs[SLNF_MAX_PORTS];
	struct slnf_host host;
	struct slnf_neigh_table neigh;
	struct slnf_store *store;
	struct slnf_chain *chains[SLNF_MAX_TENANTS];
	struct slnf_classifier *classifier;
	struct slnf_worker *workers;
	unsigned n_workers;
	volatile bool stop;
	uint64_t start_ms;
	double eal_init_ms;
};

/* Monotonic milliseconds. */
uint64_t slnf_now_ms(void);

#endif
