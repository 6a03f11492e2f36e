/*
 * explain.h - GET /v1/explain: which instance the steering tier sends a
 * flow to. The query (tenant, proto, src, sport, dst, dport, optional port)
 * is checked here (400 naming the parameter), then the first steer node
 * that answers is asked its "explain" command and its answer returned
 * (503 when no steer node answers).
 */
#ifndef SLNF_ORCH_EXPLAIN_H
#define SLNF_ORCH_EXPLAIN_H

#include <jansson.h>

#include "orch/api.h"
#include "orch/validate.h"

/* The explain command's argument from the query parameters (an object of
 * strings). 0, or -1 with e naming the parameter. */
int orch_explain_request(json_t *doc, json_t *query, json_t **out, struct orch_verr *e);

/* The handler; the caller holds o->lock, released while asking. */
void orch_api_explain(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs);

#endif
