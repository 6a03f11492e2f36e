/*
 * orch.c - the orchestrator context's small helpers: the clock, the probe
 * timeout, and the run-time records of instances (found by name, created
 * on demand, state changes logged and bumping the steering epoch when the
 * set of healthy instances changes; a fall from up to down is remembered
 * for the failover measurement).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "orch/orch.h"

static const char *const state_names[] = {
    [ORCH_INST_NEW] = "new",   [ORCH_INST_STARTING] = "starting", [ORCH_INST_UP] = "up",
    [ORCH_INST_DOWN] = "down", [ORCH_INST_FAILED] = "failed",	  [ORCH_INST_DRAINING] = "draining",
};

const char *orch_inst_state_name(enum orch_inst_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

uint64_t orch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct orch_inst *orch_inst_get(struct slnf_orch *o, const char *name, bool create)
{
	struct orch_inst *in;

	if (!name)
		return NULL;
	for (unsigned i = 0; i < o->n_insts; i++)
		if (!strcmp(o->insts[i].name, name))
			return &o->insts[i];
	if (!create || o->n_insts == ORCH_MAX_INSTANCES)
		return NULL;
	in = &o->insts[o->n_insts++];
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->state = ORCH_INST_NEW;
	in->since_ms = orch_now_ms();
	in->proc.exit_status = -1;
	in->pps = -1;
	return in;
}

void orch_inst_forget(struct slnf_orch *o, const char *name)
{
	struct orch_inst *in = orch_inst_get(o, name, false);

	if (!in)
		return;
	if (in->state == ORCH_INST_UP)
		o->steer_epoch++;
	json_decref(in->ports);
	*in = o->insts[--o->n_insts];
}

void orch_inst_set_state(struct slnf_orch *o, struct orch_inst *in, enum orch_inst_state s,
			 const char *reason)
{
	if ((in->state == ORCH_INST_UP) != (s == ORCH_INST_UP))
		o->steer_epoch++;
	if (in->state == ORCH_INST_UP && s == ORCH_INST_DOWN) {
		in->failover_last_ok_ms = in->last_ok_ms; /* measured at the push without it */
		in->failover_epoch = o->steer_epoch;
	} else if (s == ORCH_INST_UP) {
		in->ever_up = true;
		in->failover_last_ok_ms = 0;
		in->epoch_sent = 0; /* tell it the epoch again (it may have restarted) */
	}
	if (s != ORCH_INST_STARTING)
		in->adopted = false;
	if (in->state != s)
		SLNF_INFO("orch", "instance %s: %s -> %s%s%s", in->name,
			  orch_inst_state_name(in->state), orch_inst_state_name(s),
			  reason && *reason ? ": " : "", reason ? reason : "");
	in->state = s;
	in->since_ms = orch_now_ms();
	snprintf(in->reason, sizeof(in->reason), "%s", reason ? reason : "");
}

unsigned orch_probe_timeout(const struct slnf_orch *o)
{
	unsigned t = o->cfg.detection_ms / 2;

	return t < 5 ? 5 : t > 500 ? 500 : t;
}
