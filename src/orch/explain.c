/*
 * explain.c - GET /v1/explain; see explain.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "orch/control.h"
#include "orch/explain.h"

static const char *const params[] = {"tenant", "proto", "src",	"sport",
				     "dst",    "dport", "port", NULL};

/* A decimal integer in min..max. */
static bool get_int(const char *s, long min, long max, long *out)
{
	char *end;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 6)
		return false;
	*out = strtol(s, &end, 10);
	return *out >= min && *out <= max;
}

static int get_addr(json_t *q, json_t *out, const char *key, struct orch_verr *e)
{
	const char *s = json_string_value(json_object_get(q, key));
	struct in_addr a;

	if (!s)
		return orch_verr_set(e, 400, key, "missing (required: an IPv4 address)");
	if (inet_pton(AF_INET, s, &a) != 1)
		return orch_verr_set(e, 400, key, "'%s' is not an IPv4 address", s);
	json_object_set_new(out, key, json_string(s));
	return 0;
}

static int get_port(json_t *q, json_t *out, const char *key, bool required, struct orch_verr *e)
{
	const char *s = json_string_value(json_object_get(q, key));
	long v = 0;

	if (!s && required)
		return orch_verr_set(e, 400, key, "missing (required for tcp and udp: 0..65535)");
	if (s && !get_int(s, 0, 65535, &v))
		return orch_verr_set(e, 400, key, "'%s' is not a port number (0..65535)", s);
	json_object_set_new(out, key, json_integer(v));
	return 0;
}

int orch_explain_request(json_t *doc, json_t *query, json_t **out, struct orch_verr *e)
{
	const char *key, *tenant, *proto, *port;
	json_t *v, *r;
	bool ports;
	long num;

	*out = NULL;
	json_object_foreach(query, key, v)
	{
		unsigned i;

		for (i = 0; params[i] && strcmp(params[i], key); i++)
			;
		if (!params[i])
			return orch_verr_set(e, 400, key,
					     "unknown parameter (expected tenant, proto, src, "
					     "sport, dst, dport or port)");
		if (!json_is_string(v))
			return orch_verr_set(e, 400, key, "given more than once");
	}
	tenant = json_string_value(json_object_get(query, "tenant"));
	if (!tenant)
		return orch_verr_set(e, 400, "tenant", "missing (required: a tenant name)");
	if (!orch_desired_find(doc, ORCH_TENANTS, tenant, NULL))
		return orch_verr_set(e, 400, "tenant", "no tenant named '%s'", tenant);
	r = json_pack("{s:s}", "tenant", tenant);
	port = json_string_value(json_object_get(query, "port"));
	if (port && !orch_name_ok(port)) {
		json_decref(r);
		return orch_verr_set(e, 400, "port", "'%s' is not a port name", port);
	}
	if (port)
		json_object_set_new(r, "port", json_string(port));
	proto = json_string_value(json_object_get(query, "proto"));
	if (!proto) {
		json_decref(r);
		return orch_verr_set(e, 400, "proto",
				     "missing (required: tcp, udp, icmp or 0..255)");
	}
	if (!strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "icmp")) {
		json_object_set_new(r, "proto", json_string(proto));
		ports = strcmp(proto, "icmp") != 0;
	} else if (get_int(proto, 0, 255, &num)) {
		json_object_set_new(r, "proto", json_integer(num));
		ports = num == 6 || num == 17;
	} else {
		json_decref(r);
		return orch_verr_set(e, 400, "proto", "'%s' is not tcp, udp, icmp or 0..255",
				     proto);
	}
	if (get_addr(query, r, "src", e) || get_port(query, r, "sport", ports, e) ||
	    get_addr(query, r, "dst", e) || get_port(query, r, "dport", ports, e)) {
		json_decref(r);
		return -1;
	}
	*out = r;
	return 0;
}

void orch_api_explain(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs)
{
	char socks[ORCH_STEER_SOCKETS_MAX][ORCH_SOCKET_PATH_MAX], *text;
	unsigned n = o->cfg.n_steer_sockets, timeout = 1000;
	json_t *r, *a = NULL;
	struct orch_verr e = {0};
	int rc = -ENOENT;

	if (strcmp(rq->method, "GET")) {
		rs->allow = "GET";
		orch_api_error(rs, 405, "", "%s is not allowed here (GET only)", rq->method);
		return;
	}
	if (orch_explain_request(o->desired.doc, rq->query, &r, &e)) {
		orch_api_error(rs, e.status, e.field, "%s", e.msg);
		return;
	}
	text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	memcpy(socks, o->cfg.steer_sockets, sizeof(socks));
	pthread_mutex_unlock(&o->lock); /* the main loop goes on meanwhile */
	for (unsigned k = 0; text && k < n && rc < 0; k++)
		rc = orch_control_json(socks[k], "explain", text, &a, timeout);
	pthread_mutex_lock(&o->lock);
	free(text);
	if (rc < 0) {
		orch_api_error(rs, 503, "", "%s",
			       n ? "no steering node answered"
				 : "no steering node is configured (steering.sockets)");
	} else if (json_is_string(json_object_get(a, "error"))) {
		orch_api_error(rs, 502, "", "the steering node refused: %s",
			       json_string_value(json_object_get(a, "error")));
	} else {
		rs->status = 200;
		rs->body = json_incref(a);
	}
	json_decref(a);
}
