/*
 * scale.c - scale out and in; see scale.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "orch/drain.h"
#include "orch/scale.h"
#include "orch/template.h"

static bool member(json_t *inst, const char *pool)
{
	const char *p = json_string_value(json_object_get(inst, "pool"));

	return p && !strcmp(p, pool) && !orch_drain_marked(inst);
}

unsigned orch_pool_count(json_t *doc, const char *pool)
{
	json_t *e;
	size_t i;
	unsigned n = 0;

	json_array_foreach(orch_desired_list(doc, ORCH_INSTANCES), i, e) n += member(e, pool);
	return n;
}

/* n of a name "<pool>-<n>", or -1 for any other name. */
static long number_of(const char *name, const char *pool)
{
	size_t pl = strlen(pool);
	char *end;
	long n;

	if (strncmp(name, pool, pl) || name[pl] != '-' || name[pl + 1] < '1' || name[pl + 1] > '9')
		return -1;
	n = strtol(name + pl + 1, &end, 10);
	return *end ? -1 : n;
}

struct victim {
	const char *name;
	long n;
};

static int highest_first(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return -strcmp(x->name, y->name);
}

int orch_scale_plan(json_t *doc, const char *pool, unsigned target, json_t **create, json_t **drain)
{
	json_t *insts = orch_desired_list(doc, ORCH_INSTANCES), *e;
	unsigned count = orch_pool_count(doc, pool), m = 0;
	struct victim v[ORCH_MAX_INSTANCES];
	char name[64];
	size_t i;

	*create = json_array();
	*drain = json_array();
	for (unsigned n = 1; count + json_array_size(*create) < target; n++) {
		snprintf(name, sizeof(name), "%s-%u", pool, n);
		if (!orch_name_ok(name)) {
			json_decref(*create);
			json_decref(*drain);
			*create = *drain = NULL;
			return -ENAMETOOLONG;
		}
		if (!orch_desired_find(doc, ORCH_INSTANCES, name, NULL))
			json_array_append_new(*create, json_integer(n));
	}
	if (count <= target)
		return 0;
	json_array_foreach(insts, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));

		if (member(e, pool) && m < ORCH_MAX_INSTANCES)
			v[m++] = (struct victim){.name = n, .n = number_of(n, pool)};
	}
	qsort(v, m, sizeof(v[0]), highest_first);
	for (unsigned k = 0; k < count - target && k < m; k++)
		json_array_append_new(*drain, json_string(v[k].name));
	return 0;
}

int orch_scale_to(struct slnf_orch *o, const char *pool, unsigned target, struct orch_verr *e)
{
	json_t *p = orch_desired_find(o->desired.doc, ORCH_POOLS, pool, NULL);
	json_t *create, *drain, *doc, *x, *cfg;
	struct slnf_error err = {{0}};
	struct orch_verr ie;
	int rc = 0;
	size_t i;

	if (!p)
		return orch_verr_set(e, 404, "", "no pool named '%s'", pool);
	if (orch_scale_plan(o->desired.doc, pool, target, &create, &drain))
		return orch_verr_set(e, 400, "instances",
				     "instance names '%s-<n>' would be longer than 31 characters",
				     pool);
	if (o->n_insts + json_array_size(create) > ORCH_MAX_INSTANCES) {
		rc = orch_verr_set(e, 409, "instances", "too many instances (max %d)",
				   ORCH_MAX_INSTANCES);
		goto out;
	}
	doc = json_deep_copy(o->desired.doc);
	json_array_foreach(create, i, x)
	{
		json_t *inst = orch_template_instance(p, (unsigned)json_integer_value(x));

		if (orch_validate_instance(inst, doc, &o->cfg, &cfg, &ie)) {
			rc = orch_verr_set(e, ie.status, "instances", "instance '%s': %s%s%s",
					   json_string_value(json_object_get(inst, "name")),
					   ie.field[0] ? "template." : "", ie.field,
					   ie.field[0] ? ": " : "");
			snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg), "%.300s",
				 ie.msg);
			json_decref(inst);
			break;
		}
		json_decref(cfg);
		json_array_append_new(orch_desired_list(doc, ORCH_INSTANCES), inst);
	}
	json_array_foreach(drain, i, x)
	{
		json_t *inst = orch_desired_find(doc, ORCH_INSTANCES, json_string_value(x), NULL);
		json_object_set_new(inst, "draining", json_true());
	}
	if (!rc && orch_desired_save(&o->desired, o->store, doc, &err))
		rc = orch_verr_set(e, 503, "", "the desired state could not be saved: %s", err.msg);
	json_decref(doc);
	if (rc)
		goto out;
	if (json_array_size(create) || json_array_size(drain))
		SLNF_INFO("orch", "pool %s: scaling to %u instance(s): %zu new, %zu to drain", pool,
			  target, json_array_size(create), json_array_size(drain));
	json_array_foreach(create, i, x)
	{
		char name[64];
		snprintf(name, sizeof(name), "%s-%u", pool, (unsigned)json_integer_value(x));
		orch_inst_get(o, name, true);
	}
	json_array_foreach(drain, i, x)
	{
		struct orch_inst *in = orch_inst_get(o, json_string_value(x), true);
		if (in && in->state != ORCH_INST_NEW && in->state != ORCH_INST_FAILED)
			orch_drain_begin(o, in, orch_now_ms());
	}
out:
	json_decref(create);
	json_decref(drain);
	return rc;
}

json_t *orch_view_pool_instances(struct slnf_orch *o, const char *pool)
{
	json_t *a = json_array(), *e;
	size_t i;

	json_array_foreach(orch_desired_list(o->desired.doc, ORCH_INSTANCES), i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *p = json_string_value(json_object_get(e, "pool"));
		struct orch_inst *in = orch_inst_get(o, n, false);

		if (!p || strcmp(p, pool))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", n, "state",
						   orch_drain_marked(e) ? "draining"
						   : in ? orch_inst_state_name(in->state)
							: "new"));
	}
	return json_pack("{s:s, s:o}", "pool", pool, "instances", a);
}

void orch_api_scale(struct slnf_orch *o, const char *pool, const struct orch_request *rq,
		    struct orch_response *rs)
{
	json_t *p = orch_desired_find(o->desired.doc, ORCH_POOLS, pool, NULL), *b, *n;
	struct orch_verr e = {0};
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (strcmp(rq->method, "POST")) {
		rs->allow = "POST";
		orch_api_error(rs, 405, "", "%s is not allowed here (POST only)", rq->method);
		return;
	}
	if (!p) {
		orch_api_error(rs, 404, "", "no pool named '%s'", pool);
		return;
	}
	b = rq->body_len ? json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(b)) {
		orch_api_error(rs, 400, "", "expected a JSON object: {\"instances\": N}");
		json_decref(b);
		return;
	}
	json_object_foreach(b, key, v) if (strcmp(key, "instances"))
	{
		orch_api_error(rs, 400, key, "unknown key (expected instances)");
		json_decref(b);
		return;
	}
	n = json_object_get(b, "instances");
	long long min = json_integer_value(json_object_get(p, "min"));
	long long max = json_integer_value(json_object_get(p, "max"));
	if (!json_is_integer(n) || json_integer_value(n) < min || json_integer_value(n) > max) {
		orch_api_error(rs, 400, "instances",
			       "%s: expected an integer in %lld..%lld (the pool's min..max)",
			       n ? "out of range" : "missing", min, max);
		json_decref(b);
		return;
	}
	if (orch_scale_to(o, pool, (unsigned)json_integer_value(n), &e))
		orch_api_error(rs, e.status, e.field, "%s", e.msg);
	else {
		rs->status = 202;
		rs->body = orch_view_pool_instances(o, pool);
	}
	json_decref(b);
}
