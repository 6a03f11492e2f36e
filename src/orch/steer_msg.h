/*
 * steer_msg.h - what the steering tier is told: each tenant's steered
 * instances (up, not draining), in name order (the order the Maglev tables
 * are built in, here and on the steer nodes), with each instance's MAC per
 * port name. One builder for the push, one member list for the views.
 */
#ifndef SLNF_ORCH_STEER_MSG_H
#define SLNF_ORCH_STEER_MSG_H

#include <stdbool.h>

#include <jansson.h>

#include "orch/orch.h"

/* In the steering tables: up (a draining instance is not). */
bool orch_inst_steered(const struct orch_inst *in);

/* The steered instances of tenant (by name) in name order; their count. */
unsigned orch_tenant_members(struct slnf_orch *o, const char *tenant, struct orch_inst **out,
			     unsigned max);

/* The steer command's argument:
 *   {"epoch": E, "tenants": [{"name": T, "instances": [{"name": I,
 *     "macs": {"lan": "02:..", ...}}, ...]}, ...]}
 * with every tenant of the desired state (an empty list: drop its traffic). */
json_t *orch_steer_message(struct slnf_orch *o);

#endif
