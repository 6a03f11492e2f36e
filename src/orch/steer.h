/*
 * steer.h - keeping the steering tier and the instances in step with the
 * steering epoch, from the main loop.
 *
 * Each tick (after the heartbeats): instances that came up are asked their
 * ports (name -> MAC); a changed epoch is written to the store; every steer
 * node whose last acknowledged message differs from the current one, or
 * whose push_interval_ms has passed, gets one "steer" message (a failed one
 * is retried at the next tick); then every up or draining instance that has
 * not acknowledged the current epoch is sent "epoch N". Every exchange is
 * bounded so that one tick's steering I/O stays within the probe timeout
 * for the steer nodes and within it again for the instances. Nothing is
 * pushed while an instance adopted after a restart has not had its first
 * probe: a restart never pushes a table missing a healthy instance.
 */
#ifndef SLNF_ORCH_STEER_H
#define SLNF_ORCH_STEER_H

#include <stdbool.h>

#include <jansson.h>

#include "orch/orch.h"

/* At start-up, after loading the desired state: the epoch goes on from the
 * store's, plus one. 0, or a negative errno (the store). */
int orch_steer_init(struct slnf_orch *o);

/* One round; the caller holds o->lock. */
void orch_steer_tick(struct slnf_orch *o);

/* False while an adopted instance waits for its first probe. */
bool orch_steer_gate_open(struct slnf_orch *o, uint64_t now);

/* The push counters, for /v1/steering and /v1/stats. */
json_t *orch_steer_status(struct slnf_orch *o);

#endif
