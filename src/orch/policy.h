/*
 * policy.h - a pool's load policy:
 *   "policy": {"scale_out_pps": X, "scale_in_pps": Y, "interval_ms": 1000,
 *              "cooldown_ms": 5000}
 * Every interval the main loop reads the packet counters (rx) of the
 * pool's up instances and averages their packets per second; above X it
 * scales out by one (up to max), below Y in by one (down to min). The gap
 * between X and Y, a scale in only when the remaining instances would stay
 * below X, and the cooldown after any change keep it from flapping.
 */
#ifndef SLNF_ORCH_POLICY_H
#define SLNF_ORCH_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orch/orch.h"
#include "orch/validate.h"

struct orch_policy {
	double out_pps, in_pps;
	unsigned interval_ms, cooldown_ms;
};

/* Check the pool's "policy" (absent: fine) and fill in its defaults. */
int orch_policy_check(json_t *pool, struct orch_verr *e);
/* The pool's checked policy; false when it has none. */
bool orch_policy_of(json_t *pool, struct orch_policy *p);

/* +1 (scale out), -1 (scale in) or 0, for count instances (min..max)
 * averaging avg_pps each (negative: not measured); last_action_ms 0: none. */
int orch_policy_decide(const struct orch_policy *p, double avg_pps, unsigned count, unsigned min,
		       unsigned max, uint64_t now, uint64_t last_action_ms);

/* The pool's run-time record (created if absent and create), or NULL. */
struct orch_pool_rt *orch_pool_rt_get(struct slnf_orch *o, const char *name, bool create);

/* One round over the pools with a policy; the caller holds o->lock. */
void orch_policy_tick(struct slnf_orch *o);

#endif
