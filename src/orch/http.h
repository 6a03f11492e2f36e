/*
 * http.h - the REST API's HTTP server (libmicrohttpd, one internal polling
 * thread): request bodies up to max_body, bearer tokens, JSON responses.
 */
#ifndef SLNF_ORCH_HTTP_H
#define SLNF_ORCH_HTTP_H

#include <stdint.h>

#include "orch/orch.h"
#include "slnf/error.h"

struct orch_http;

/* Listen on o->cfg.address:port (port 0: any free port); *port gets the
 * port bound. */
int orch_http_start(struct slnf_orch *o, struct orch_http **out, uint16_t *port,
		    struct slnf_error *err);
void orch_http_stop(struct orch_http *h);

#endif
