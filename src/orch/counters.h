/*
 * counters.h - an instance's packet counters, from its "stats" answer
 * (docs/stats.md): rx_packets and tx_packets summed over its ports. The
 * drain waits for them to stop moving; the load policy turns rx into
 * packets per second.
 */
#ifndef SLNF_ORCH_COUNTERS_H
#define SLNF_ORCH_COUNTERS_H

#include <stdint.h>

#include <jansson.h>

#include "orch/orch.h"

/* The sums from a stats document. 0, or -EBADMSG without ports. */
int orch_counters_of(json_t *stats, uint64_t *rx, uint64_t *tx);

/* Ask the instance within timeout_ms. 0, or a negative errno. */
int orch_inst_counters(const struct orch_inst *in, uint64_t *rx, uint64_t *tx, unsigned timeout_ms);

#endif
