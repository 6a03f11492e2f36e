/*
 * health.h - heartbeats and the instance life cycle.
 *
 * Every heartbeat interval the main loop calls orch_health_tick: desired
 * instances not yet running are launched, starting ones are watched until
 * they are ready (or the start timeout passes), and running ones are probed
 * over their control socket. An instance whose process is gone is down at
 * once; one that stops answering is down once it has not answered for the
 * detection time, and up again when it answers.
 */
#ifndef SLNF_ORCH_HEALTH_H
#define SLNF_ORCH_HEALTH_H

#include <stddef.h>

#include "orch/control.h"
#include "orch/orch.h"

/* One heartbeat round; the caller holds o->lock. */
void orch_health_tick(struct slnf_orch *o);
/* How long a down instance whose process exited waits before it is started
 * again, after streak restarts in a row that did not come up. */
uint64_t orch_restart_delay(const struct orch_config *cfg, unsigned streak);

/* After loading the desired state: take over instances a previous
 * orchestrator started and that still run. */
void orch_health_adopt(struct slnf_orch *o);

/* Forget an instance and stop it (DELETE); the caller holds o->lock,
 * released while the process stops. */
void orch_health_stop(struct slnf_orch *o, const char *name);

#endif
