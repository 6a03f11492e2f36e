/*
 * scale.h - scaling a pool to a number of instances.
 *
 * Scale out creates instances "<pool>-<n>" for the lowest unused n >= 1,
 * from the pool's template, each checked as POST /v1/instances checks one;
 * they join the steering tables once up. Scale in drains the pool's
 * highest-numbered instances (drain.h). Draining instances do not count.
 * The plan is a pure function of the desired state, for the tests.
 */
#ifndef SLNF_ORCH_SCALE_H
#define SLNF_ORCH_SCALE_H

#include <jansson.h>

#include "orch/api.h"
#include "orch/orch.h"
#include "orch/validate.h"

/* The pool's instances that are not draining. */
unsigned orch_pool_count(json_t *doc, const char *pool);

/* What scaling pool to target instances takes: *create, an array of the
 * instance numbers to create (lowest unused names first), *drain, an array
 * of instance names to drain (highest-numbered first). 0, or -ENAMETOOLONG
 * when "<pool>-<n>" would not be a valid name. */
int orch_scale_plan(json_t *doc, const char *pool, unsigned target, json_t **create,
		    json_t **drain);

/* Plan, check, save and begin (the caller holds the lock). 0, or -1 with e
 * filled (the field relative to the scale request). */
int orch_scale_to(struct slnf_orch *o, const char *pool, unsigned target, struct orch_verr *e);

/* {"pool": P, "instances": [{"name", "state"}, ...]}: the pool's instances. */
json_t *orch_view_pool_instances(struct slnf_orch *o, const char *pool);

/* POST /v1/pools/NAME/scale {"instances": N}: 202 with the pool's
 * instances; 400 (field "instances") outside the pool's min..max. */
void orch_api_scale(struct slnf_orch *o, const char *pool, const struct orch_request *rq,
		    struct orch_response *rs);

#endif
