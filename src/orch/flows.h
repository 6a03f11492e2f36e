/*
 * flows.h - GET /v1/flows: every running instance's "flows" answer,
 * merged (identical entries once), with what each instance answered:
 *   {"flows": [...], "instances": {"i1": "ok", "i2": "error: ..."}}
 */
#ifndef SLNF_ORCH_FLOWS_H
#define SLNF_ORCH_FLOWS_H

#include <jansson.h>

#include "orch/api.h"

/* Append the entries of flows (an array) to merged that seen (an object
 * used as a set of their canonical texts) has not seen yet. */
void orch_flows_merge(json_t *merged, json_t *seen, json_t *flows);

/* The handler; the caller holds o->lock, released while asking. */
void orch_api_flows(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs);

#endif
