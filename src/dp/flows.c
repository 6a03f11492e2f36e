/*
 * flows.c - list the flows in the store; see flows.h. For every tenant and
 * every NF of its chain that can describe its records, the store is
 * scanned for that (tenant id, NF id) and each record described.
 */
#include <errno.h>
#include <string.h>

#include "dp/flows.h"

struct flows_walk {
	const struct slnf_nf_type *nf;
	const char *tenant;
	json_t *out;
	bool truncated;
};

static bool add_flow(const struct slnf_store_record *r, void *arg)
{
	struct flows_walk *w = arg;
	if (json_array_size(w->out) >= SLNF_FLOWS_MAX) {
		w->truncated = true;
		return false;
	}
	json_t *j = w->nf->describe(r);
	if (j) {
		json_object_set_new(j, "tenant", json_string(w->tenant));
		json_object_set_new(j, "nf", json_string(w->nf->name));
		json_array_append_new(w->out, j);
	}
	return true;
}

/* Has NF type nf already been listed for tenant t (it may appear twice)? */
static bool listed_before(const struct slnf_tenant_config *t, unsigned k)
{
	for (unsigned j = 0; j < k; j++)
		if (!strcmp(t->chain[j].nf, t->chain[k].nf))
			return true;
	return false;
}

json_t *slnf_flows_json(struct slnf_instance *inst)
{
	if (inst->steer)
		return json_pack("{s:s}", "error",
				 "a steering node keeps no flows: ask an instance");
	struct flows_walk w = {.out = json_array()};
	for (unsigned t = 0; t < inst->cfg.n_tenants && !w.truncated; t++) {
		const struct slnf_tenant_config *tc = &inst->cfg.tenants[t];
		for (unsigned k = 0; k < tc->n_chain && !w.truncated; k++) {
			w.nf = slnf_nf_find(tc->chain[k].nf);
			w.tenant = tc->name;
			if (!w.nf || !w.nf->describe || listed_before(tc, k))
				continue;
			int rc = slnf_store_scan(inst->store, tc->id, w.nf->id, add_flow, &w);
			if (rc == -EOPNOTSUPP) {
				json_decref(w.out);
				return json_pack(
				    "{s:s}", "error",
				    "this store backend cannot list its records (shm, local "
				    "and redis can)");
			}
			if (rc < 0) {
				json_decref(w.out);
				return json_pack("{s:s, s:s}", "error", "store scan failed",
						 "reason", strerror(-rc));
			}
		}
	}
	return json_pack("{s:o, s:b}", "flows", w.out, "truncated", w.truncated);
}
