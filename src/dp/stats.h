/*
 * stats.h - the instance's counters as one JSON document: ports, drops by
 * reason, host (ARP/ICMP) counters, tenants with each NF's counters,
 * neighbours and the store. Per-worker counters are summed here, off the
 * fast path.
 */
#ifndef SLNF_DP_STATS_H
#define SLNF_DP_STATS_H

#include <jansson.h>

#include "dp/instance.h"

json_t *slnf_stats_json(struct slnf_instance *inst);

#endif
