/*
 * http.c - libmicrohttpd glue for the REST API; see http.h.
 *
 * The token is checked on the first call for a request, before any body is
 * read: a request without one gets 401 (and a WWW-Authenticate header), a
 * wrong one 403. GETs pass without a token only with auth.read_open (not
 * those of /v1/explain and /v1/flows, which ask the data plane). A body
 * announced larger than max_body is refused at once with 413; a chunked one
 * that grows past it is read and dropped, then refused the same way. The
 * request itself goes to orch_api_handle under the orchestrator's lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "orch/api.h"
#include "orch/http.h"

struct orch_http {
	struct MHD_Daemon *d;
	struct slnf_orch *o;
};

struct req {
	char *buf;
	size_t len, cap;
	bool too_large;
};

static enum MHD_Result send_json(struct MHD_Connection *c, struct slnf_orch *o, int status,
				 json_t *body, const char *allow)
{
	char *text = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (text) {
		size_t n = strlen(text);
		text[n] = '\n'; /* replace the NUL: the response is a buffer */
		r = MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_FREE);
	} else {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (text)
		MHD_add_response_header(r, "Content-Type", "application/json");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	pthread_mutex_lock(&o->lock);
	o->requests++;
	if (status >= 400)
		o->errors++;
	pthread_mutex_unlock(&o->lock);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, struct slnf_orch *o, int status,
				  const char *msg)
{
	json_t *b = json_pack("{s:s}", "error", msg);
	enum MHD_Result r = send_json(c, o, status, b, NULL);

	json_decref(b);
	return r;
}

/* 0 when the request may go on, else the status to refuse it with. */
/* Reads that make the orchestrator ask the data plane (and show its flows)
 * need a token even with auth.read_open. */
static bool always_closed(const char *url)
{
	return !strncmp(url, "/v1/explain", 11) || !strncmp(url, "/v1/flows", 9);
}

static int check_auth(struct orch_http *h, struct MHD_Connection *c, const char *method,
		      const char *url)
{
	const char *hdr;

	if (h->o->cfg.read_open && (!strcmp(method, "GET") || !strcmp(method, "HEAD")) &&
	    !always_closed(url))
		return 0;
	hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	switch (orch_auth_check(&h->o->tokens, hdr)) {
	case ORCH_AUTH_OK:
		return 0;
	case ORCH_AUTH_MISSING:
		return 401;
	default:
		return 403;
	}
}

static enum MHD_Result first_call(struct orch_http *h, struct MHD_Connection *c, const char *url,
				  const char *method, void **con_cls)
{
	const char *cl =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int status = check_auth(h, c, method, url);
	struct req *r;

	if (status == 401)
		return send_error(c, h->o, 401,
				  "missing API token (Authorization: Bearer <token>)");
	if (status == 403)
		return send_error(c, h->o, 403, "wrong API token");
	if (cl && strtoull(cl, NULL, 10) > h->o->cfg.max_body)
		return send_error(c, h->o, 413, "request body too large");
	r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	*con_cls = r;
	return MHD_YES;
}

static void append(struct req *r, const char *data, size_t n, size_t max)
{
	if (r->too_large || r->len + n > max) {
		r->too_large = true;
		return;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = (r->len + n + 1) * 2;
		char *b = realloc(r->buf, cap > max + 1 ? max + 1 : cap);
		if (!b) {
			r->too_large = true;
			return;
		}
		r->buf = b;
		r->cap = cap > max + 1 ? max + 1 : cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
}

/* Query parameters into an object; one given twice becomes null. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	json_t *q = cls;

	if (json_object_get(q, key))
		json_object_set_new(q, key, json_null());
	else
		json_object_set_new(q, key, json_string(value ? value : ""));
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct orch_http *h = cls;
	struct req *r = *con_cls;
	struct orch_request rq;
	struct orch_response rs;
	enum MHD_Result ret;

	if (!r)
		return first_call(h, c, url, method, con_cls);
	if (*upload_data_size) {
		append(r, upload_data, *upload_data_size, h->o->cfg.max_body);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(c, h->o, 413, "request body too large");
	rq = (struct orch_request){.method = method,
				   .path = url,
				   .body = r->buf,
				   .body_len = r->len,
				   .query = json_object()};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, rq.query);
	pthread_mutex_lock(&h->o->lock);
	orch_api_handle(h->o, &rq, &rs);
	pthread_mutex_unlock(&h->o->lock);
	json_decref(rq.query);
	ret = send_json(c, h->o, rs.status, rs.body, rs.allow);
	json_decref(rs.body);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (r) {
		free(r->buf);
		free(r);
		*con_cls = NULL;
	}
}

int orch_http_start(struct slnf_orch *o, struct orch_http **out, uint16_t *port,
		    struct slnf_error *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(o->cfg.port)};
	struct orch_http *h = calloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;

	if (!h)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory");
	inet_pton(AF_INET, o->cfg.address, &sa.sin_addr);
	h->o = o;
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, o->cfg.port, NULL,
				NULL, handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, completed, h,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return slnf_errorf(err, EADDRINUSE, o->cfg.file, "listen", "cannot listen on %s:%u",
				   o->cfg.address, o->cfg.port);
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : o->cfg.port;
	*out = h;
	return 0;
}

void orch_http_stop(struct orch_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
