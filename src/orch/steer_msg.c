/*
 * steer_msg.c - the steer message and the tenants' member lists; see
 * steer_msg.h. An instance's MACs come from its "ports" answer, asked when
 * it came up (an instance that has not answered it yet has no MACs: the
 * message lists it with an empty map).
 */
#include <stdlib.h>
#include <string.h>

#include "orch/steer_msg.h"
#include "orch/validate.h"

bool orch_inst_steered(const struct orch_inst *in)
{
	return in && in->state == ORCH_INST_UP;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct orch_inst *const *)a)->name, (*(struct orch_inst *const *)b)->name);
}

unsigned orch_tenant_members(struct slnf_orch *o, const char *tenant, struct orch_inst **out,
			     unsigned max)
{
	json_t *insts = orch_desired_list(o->desired.doc, ORCH_INSTANCES), *e;
	unsigned n = 0;
	size_t i;

	json_array_foreach(insts, i, e)
	{
		json_t *t = orch_instance_tenant(e, o->desired.doc);
		struct orch_inst *in =
		    orch_inst_get(o, json_string_value(json_object_get(e, "name")), false);

		if (t && !strcmp(json_string_value(json_object_get(t, "name")), tenant) &&
		    orch_inst_steered(in) && n < max)
			out[n++] = in;
	}
	qsort(out, n, sizeof(out[0]), by_name);
	return n;
}

static json_t *macs_of(const struct orch_inst *in)
{
	json_t *m = json_object(), *p;
	size_t i;

	json_array_foreach(in->ports, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *mac = json_string_value(json_object_get(p, "mac"));

		if (name && mac)
			json_object_set_new(m, name, json_string(mac));
	}
	return m;
}

json_t *orch_steer_message(struct slnf_orch *o)
{
	json_t *tenants = orch_desired_list(o->desired.doc, ORCH_TENANTS), *t, *ta = json_array();
	struct orch_inst *m[ORCH_MAX_INSTANCES];
	size_t i;

	json_array_foreach(tenants, i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		unsigned n = orch_tenant_members(o, name, m, ORCH_MAX_INSTANCES);
		json_t *ia = json_array();

		for (unsigned k = 0; k < n; k++)
			json_array_append_new(
			    ia, json_pack("{s:s, s:o}", "name", m[k]->name, "macs", macs_of(m[k])));
		json_array_append_new(ta, json_pack("{s:s, s:o}", "name", name, "instances", ia));
	}
	return json_pack("{s:I, s:o}", "epoch", (json_int_t)o->steer_epoch, "tenants", ta);
}
