/*
 * worker.h - the per-core data path loop: rx a burst from each port, parse,
 * answer ARP and ICMP for our addresses, classify to tenants, run each
 * tenant's chain, resolve next hops and transmit. Run to completion.
 */
#ifndef SLNF_DP_WORKER_H
#define SLNF_DP_WORKER_H

#include "dp/instance.h"

/* The loop; arg is a struct slnf_worker. Returns when inst->stop is set. */
int slnf_worker_main(void *arg);

/* Wait until every worker has finished the loop iteration it was in (each
 * iteration ends at a quiescent point), at most timeout_ms. For replacing
 * what workers read lock-free (the steering tables). True when they all
 * have, or the instance is stopping. arg is the struct slnf_instance. */
bool slnf_workers_quiesce(void *arg);

#endif
