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

#endif
