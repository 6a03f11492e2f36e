/*
 * api.h - the REST API's request handling, independent of the HTTP server:
 * a method, a path and a body in; a status and a JSON body out. The HTTP
 * layer (http.c) has already checked the token and the body size. Every
 * error body is {"error": "<reason>", "field": "<path in the body>"}.
 * docs/api.md documents every endpoint.
 */
#ifndef SLNF_ORCH_API_H
#define SLNF_ORCH_API_H

#include <stddef.h>

#include <jansson.h>

#include "orch/orch.h"

struct orch_request {
	const char *method;
	const char *path; /* without the query string */
	const char *body; /* may be NULL */
	size_t body_len;
	json_t *query; /* the query parameters: name -> string (given twice: null); may be NULL */
};

struct orch_response {
	int status;
	json_t *body;	   /* NULL: no body (204) */
	const char *allow; /* for 405: the methods the resource takes */
};

/* Handle rq; the caller holds o->lock and owns rs->body afterwards.
 * Requests that ask instances or steer nodes (flows, explain) release the
 * lock while they wait, and take it again before returning. */
void orch_api_handle(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs);

/* Fill rs with an error. */
void orch_api_error(struct orch_response *rs, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Views (api_views.c). */
json_t *orch_view_instance(struct slnf_orch *o, json_t *inst);
/* A pool with its "status": instance count, states, measured load. */
json_t *orch_view_pool(struct slnf_orch *o, json_t *pool);
json_t *orch_view_stats(struct slnf_orch *o);
/* Steering summary of one tenant (NULL: all); NULL if no such tenant. */
json_t *orch_view_steering(struct slnf_orch *o, const char *tenant);
void orch_view_instance_stats(struct slnf_orch *o, const char *name, struct orch_response *rs);

#endif
