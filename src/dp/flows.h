/*
 * flows.h - the "flows" control command: the connections in the store, as
 * the NFs that keep them describe them (the firewall's tracked
 * connections), in the spirit of `conntrack -L`. The store is the truth, so
 * every instance sharing it lists the same flows, whichever handled them.
 */
#ifndef SLNF_DP_FLOWS_H
#define SLNF_DP_FLOWS_H

#include <jansson.h>

#include "dp/instance.h"

/* At most this many flows are listed; "truncated" says when there were more. */
#define SLNF_FLOWS_MAX 10000

/* {"flows": [{"tenant", "nf", "proto", "src", "sport", "dst", "dport",
 * "state", "ttl_s", "version"}, ...], "truncated": bool}, or {"error": ...}. */
json_t *slnf_flows_json(struct slnf_instance *inst);

#endif
