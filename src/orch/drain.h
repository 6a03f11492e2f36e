/*
 * drain.h - taking an instance out of service without cutting its flows.
 *
 * A drained instance is marked "draining": true in the desired state (so a
 * restarted orchestrator goes on with the drain) and gets the run-time state
 * draining: out of the steering tables at once (the epoch moves, the next
 * steering round pushes). The main loop then reads its packet counters each
 * tick; once they have not moved for ORCH_DRAIN_QUIET_MS (or
 * instances.drain_timeout_ms has passed) it is sent SIGTERM (SIGKILL after
 * instances.stop_timeout_ms), and once gone it is removed from the desired
 * state. Nothing here waits: each tick does one bounded step.
 */
#ifndef SLNF_ORCH_DRAIN_H
#define SLNF_ORCH_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orch/api.h"
#include "orch/orch.h"

#define ORCH_DRAIN_QUIET_MS 200

/* Is this desired instance element marked draining? */
bool orch_drain_marked(json_t *inst);

/* The run-time side of starting a drain (the caller saved the mark). */
void orch_drain_begin(struct slnf_orch *o, struct orch_inst *in, uint64_t now);

/* One step for a marked instance; true once it is stopped (to remove). */
bool orch_drain_step(struct slnf_orch *o, struct orch_inst *in, uint64_t now);

/* Remove the stopped instances names[0..n) from the desired state. */
void orch_drain_finish(struct slnf_orch *o, char (*names)[32], unsigned n);

/* POST /v1/instances/NAME/drain: mark it (saved), begin, answer 202. */
void orch_api_drain(struct slnf_orch *o, const char *name, const struct orch_request *rq,
		    struct orch_response *rs);

#endif
