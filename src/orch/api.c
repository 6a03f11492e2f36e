/*
 * api.c - routing and the create/read/replace/delete of tenants, pools and
 * instances; see api.h.
 *
 * A change is made on a copy of the desired-state document, saved to the
 * store, and only then becomes the current document: a request that fails
 * half way, or a store that refuses the save, leaves nothing changed.
 * Instances are launched by the next heartbeat tick, not by the request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orch/api.h"
#include "orch/drain.h"
#include "orch/explain.h"
#include "orch/flows.h"
#include "orch/health.h"
#include "orch/policy.h"
#include "orch/scale.h"
#include "orch/template.h"
#include "orch/validate.h"

void orch_api_error(struct orch_response *rs, int status, const char *field, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(rs->body);
	rs->status = status;
	rs->body = json_pack("{s:s}", "error", msg);
	if (field && *field)
		json_object_set_new(rs->body, "field", json_string(field));
}

static const char *const singular[ORCH_KINDS] = {"tenant", "pool", "instance"};

static json_t *view(struct slnf_orch *o, enum orch_kind k, json_t *e)
{
	if (k == ORCH_INSTANCES)
		return orch_view_instance(o, e);
	if (k == ORCH_POOLS)
		return orch_view_pool(o, e);
	return json_deep_copy(e);
}

static json_t *parse_body(const struct orch_request *rq, struct orch_response *rs)
{
	json_error_t jerr;
	json_t *b;

	if (!rq->body || !rq->body_len) {
		orch_api_error(rs, 400, "", "a JSON body is required");
		return NULL;
	}
	b = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!b)
		orch_api_error(rs, 400, "", "invalid JSON at line %d, column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	else if (!json_is_object(b)) {
		orch_api_error(rs, 400, "", "the body must be a JSON object");
		json_decref(b);
		b = NULL;
	}
	return b;
}

/* The first element of kind k whose member key equals value (skip: a name
 * to ignore), or NULL. */
static json_t *find_ref(json_t *doc, enum orch_kind k, const char *key, const char *value,
			const char *skip)
{
	json_t *a = orch_desired_list(doc, k), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		const char *v = json_string_value(json_object_get(e, key));
		const char *n = json_string_value(json_object_get(e, "name"));
		if (v && !strcmp(v, value) && (!skip || strcmp(n, skip)))
			return e;
	}
	return NULL;
}

/* Every instance of tenant name must still be valid in doc. */
static int recheck_instances(struct slnf_orch *o, json_t *doc, const char *tenant,
			     struct orch_verr *e)
{
	json_t *a = orch_desired_list(doc, ORCH_INSTANCES), *inst, *cfg;
	size_t i;

	json_array_foreach(a, i, inst)
	{
		json_t *t = orch_instance_tenant(inst, doc);
		struct orch_verr ie;

		if (!t || strcmp(json_string_value(json_object_get(t, "name")), tenant))
			continue;
		if (orch_validate_instance(inst, doc, &o->cfg, &cfg, &ie))
			return orch_verr_set(e, 409, ie.field, "instance '%s' would not fit: %s",
					     json_string_value(json_object_get(inst, "name")),
					     ie.msg);
		json_decref(cfg);
	}
	return 0;
}

static int check_tenant_id(json_t *doc, json_t *body, const char *name, struct orch_verr *e)
{
	json_t *id = json_object_get(body, "id"), *a = orch_desired_list(doc, ORCH_TENANTS), *t;
	size_t i;

	json_array_foreach(a, i, t)
	{
		const char *n = json_string_value(json_object_get(t, "name"));
		if (strcmp(n, name) && json_equal(json_object_get(t, "id"), id))
			return orch_verr_set(e, 409, "id", "tenant '%s' has this id", n);
	}
	return 0;
}

/* Kind-specific checks of body as the new element named name of doc. */
static int validate(struct slnf_orch *o, enum orch_kind k, json_t *doc, json_t *body, json_t *old,
		    const char *name, struct orch_verr *e)
{
	json_t *cfg;

	switch (k) {
	case ORCH_TENANTS:
		return orch_validate_tenant(body, e) || check_tenant_id(doc, body, name, e);
	case ORCH_POOLS:
		if (orch_validate_pool(body, doc, e) || orch_policy_check(body, e) ||
		    orch_template_check(body, doc, &o->cfg, e))
			return -1;
		if (old &&
		    !json_equal(json_object_get(old, "tenant"), json_object_get(body, "tenant")) &&
		    find_ref(doc, ORCH_INSTANCES, "pool", name, NULL))
			return orch_verr_set(e, 409, "tenant",
					     "the pool has instances: its tenant cannot change");
		return 0;
	case ORCH_INSTANCES:
		if (json_object_get(body, "draining"))
			return orch_verr_set(e, 400, "draining",
					     "set by POST /v1/instances/NAME/drain, not given");
		if (old)
			return orch_verr_set(e, 409, "",
					     "an instance cannot be changed in place: "
					     "delete it and create it again");
		if (!orch_inst_get(o, name, false) && o->n_insts == ORCH_MAX_INSTANCES)
			return orch_verr_set(e, 409, "", "too many instances (max %d)",
					     ORCH_MAX_INSTANCES);
		if (orch_validate_instance(body, doc, &o->cfg, &cfg, e))
			return -1;
		json_decref(cfg);
		return 0;
	default:
		return orch_verr_set(e, 500, "", "unknown resource");
	}
}

static bool save(struct slnf_orch *o, json_t *doc, struct orch_response *rs)
{
	struct slnf_error err = {{0}};

	if (!orch_desired_save(&o->desired, o->store, doc, &err))
		return true;
	orch_api_error(rs, 503, "", "the desired state could not be saved: %s", err.msg);
	return false;
}

/* POST (url_name NULL) or PUT. */
static void put(struct slnf_orch *o, enum orch_kind k, const char *url_name,
		const struct orch_request *rq, struct orch_response *rs)
{
	json_t *body = parse_body(rq, rs), *doc, *old;
	struct orch_verr e = {0};
	const char *name;
	size_t idx = 0;

	if (!body)
		return;
	if (orch_check_name(body, url_name, &e)) {
		orch_api_error(rs, e.status, e.field, "%s", e.msg);
		goto out;
	}
	name = json_string_value(json_object_get(body, "name"));
	old = orch_desired_find(o->desired.doc, k, name, &idx);
	if (old && !url_name) {
		orch_api_error(rs, 409, "name", "a %s named '%s' exists", singular[k], name);
		goto out;
	}
	doc = json_deep_copy(o->desired.doc);
	if (validate(o, k, doc, body, old, name, &e) == 0) {
		if (old)
			json_array_set(orch_desired_list(doc, k), idx, body);
		else
			json_array_append(orch_desired_list(doc, k), body);
		if (k == ORCH_TENANTS && old && recheck_instances(o, doc, name, &e)) {
			orch_api_error(rs, e.status, e.field, "%s", e.msg);
		} else if (save(o, doc, rs)) {
			if (k == ORCH_INSTANCES)
				orch_inst_get(o, name, true);
			rs->status = old ? 200 : 201;
			rs->body = view(o, k, body);
		}
	} else {
		orch_api_error(rs, e.status, e.field, "%s", e.msg);
	}
	json_decref(doc);
out:
	json_decref(body);
}

static void del(struct slnf_orch *o, enum orch_kind k, const char *name, struct orch_response *rs)
{
	static const enum orch_kind user[ORCH_KINDS] = {ORCH_POOLS, ORCH_INSTANCES, ORCH_KINDS};
	static const char *const user_key[ORCH_KINDS] = {"tenant", "pool", NULL};
	json_t *doc, *ref;
	size_t idx;

	if (!orch_desired_find(o->desired.doc, k, name, &idx)) {
		orch_api_error(rs, 404, "", "no %s named '%s'", singular[k], name);
		return;
	}
	if (user[k] != ORCH_KINDS &&
	    (ref = find_ref(o->desired.doc, user[k], user_key[k], name, NULL))) {
		orch_api_error(rs, 409, "", "%s '%s' uses this %s: delete it first",
			       singular[user[k]], json_string_value(json_object_get(ref, "name")),
			       singular[k]);
		return;
	}
	doc = json_deep_copy(o->desired.doc);
	json_array_remove(orch_desired_list(doc, k), idx);
	if (save(o, doc, rs)) {
		if (k == ORCH_INSTANCES)
			orch_health_stop(o, name);
		rs->status = 204;
	}
	json_decref(doc);
}

static void collection(struct slnf_orch *o, enum orch_kind k, const char *name,
		       const struct orch_request *rq, struct orch_response *rs)
{
	const char *m = rq->method;
	json_t *e;

	if (!name) {
		if (!strcmp(m, "GET")) {
			json_t *a = json_array(), *list = orch_desired_list(o->desired.doc, k);
			size_t i;
			json_array_foreach(list, i, e) json_array_append_new(a, view(o, k, e));
			rs->status = 200;
			rs->body = json_pack("{s:o}", orch_kind_names[k], a);
		} else if (!strcmp(m, "POST")) {
			put(o, k, NULL, rq, rs);
		} else {
			rs->allow = "GET, POST";
			orch_api_error(rs, 405, "", "%s is not allowed on /v1/%s", m,
				       orch_kind_names[k]);
		}
		return;
	}
	if (!strcmp(m, "GET")) {
		e = orch_desired_find(o->desired.doc, k, name, NULL);
		if (!e)
			orch_api_error(rs, 404, "", "no %s named '%s'", singular[k], name);
		else {
			rs->status = 200;
			rs->body = view(o, k, e);
		}
	} else if (!strcmp(m, "PUT")) {
		put(o, k, name, rq, rs);
	} else if (!strcmp(m, "DELETE")) {
		del(o, k, name, rs);
	} else {
		rs->allow = "GET, PUT, DELETE";
		orch_api_error(rs, 405, "", "%s is not allowed on /v1/%s/%s", m, orch_kind_names[k],
			       name);
	}
}

/* Split "/v1/a/b/c" into up to 3 segments; false if not under /v1. */
static bool split(const char *path, char seg[3][64], unsigned *n)
{
	*n = 0;
	if (strncmp(path, "/v1", 3) || (path[3] && path[3] != '/'))
		return false;
	path += 3;
	while (*path) {
		size_t len;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		len = strcspn(path, "/");
		if (*n == 3 || len >= 64)
			return false;
		memcpy(seg[*n], path, len);
		seg[(*n)++][len] = '\0';
		path += len;
	}
	return true;
}

static void only_get(const struct orch_request *rq, struct orch_response *rs)
{
	rs->allow = "GET";
	orch_api_error(rs, 405, "", "%s is not allowed here (GET only)", rq->method);
}

void orch_api_handle(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs)
{
	char seg[3][64];
	unsigned n;
	bool get = !strcmp(rq->method, "GET");

	rs->status = 500;
	rs->body = NULL;
	rs->allow = NULL;
	if (!split(rq->path, seg, &n) || n == 0) {
		orch_api_error(rs, 404, "", "no such resource: %s (the API is under /v1)",
			       rq->path);
		return;
	}
	if (n >= 2 && !orch_name_ok(seg[1])) {
		orch_api_error(rs, 404, "", "no such resource: %s", rq->path);
		return;
	}
	for (int k = 0; k < ORCH_KINDS; k++) {
		if (strcmp(seg[0], orch_kind_names[k]))
			continue;
		if (n == 3 && k == ORCH_INSTANCES && !strcmp(seg[2], "drain"))
			orch_api_drain(o, seg[1], rq, rs);
		else if (n == 3 && k == ORCH_POOLS && !strcmp(seg[2], "scale"))
			orch_api_scale(o, seg[1], rq, rs);
		else if (n == 3 && k == ORCH_INSTANCES && !strcmp(seg[2], "stats") && get)
			orch_view_instance_stats(o, seg[1], rs);
		else if (n == 3 && k == ORCH_INSTANCES && !strcmp(seg[2], "stats"))
			only_get(rq, rs);
		else if (n <= 2)
			collection(o, (enum orch_kind)k, n == 2 ? seg[1] : NULL, rq, rs);
		else
			orch_api_error(rs, 404, "", "no such resource: %s", rq->path);
		return;
	}
	if (!strcmp(seg[0], "steering") && n <= 2) {
		if (!get) {
			only_get(rq, rs);
			return;
		}
		rs->body = orch_view_steering(o, n == 2 ? seg[1] : NULL);
		if (rs->body)
			rs->status = 200;
		else
			orch_api_error(rs, 404, "", "no tenant named '%s'", seg[1]);
	} else if (!strcmp(seg[0], "stats") && n == 1) {
		if (!get) {
			only_get(rq, rs);
			return;
		}
		rs->status = 200;
		rs->body = orch_view_stats(o);
	} else if (!strcmp(seg[0], "flows") && n == 1) {
		if (!get)
			only_get(rq, rs);
		else
			orch_api_flows(o, rq, rs);
	} else if (!strcmp(seg[0], "explain") && n == 1) {
		orch_api_explain(o, rq, rs);
	} else {
		orch_api_error(rs, 404, "", "no such resource: %s", rq->path);
	}
}
