/*
 * api_views.c - the read-only views of the API: an instance with its
 * run-time status, an instance's own stats (asked over its control
 * socket), the orchestrator's stats, and the steering tables.
 *
 * A steering table is what the steering tier will use: a Maglev table
 * (src/core/maglev.c, SLNF_MAGLEV_DEFAULT_SIZE entries) over the tenant's
 * healthy instances, built from their names with equal weights. The view
 * reports its epoch and each instance's share of the entries; pushing
 * tables to the steering tier comes with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/maglev.h"
#include "orch/api.h"
#include "orch/health.h"
#include "orch/policy.h"
#include "orch/scale.h"
#include "orch/steer.h"
#include "orch/steer_msg.h"
#include "orch/validate.h"

#define INSTANCE_STATS_MAX (1u << 20)

json_t *orch_view_instance(struct slnf_orch *o, json_t *inst)
{
	json_t *v = json_deep_copy(inst), *st;
	struct orch_inst *in =
	    orch_inst_get(o, json_string_value(json_object_get(inst, "name")), false);
	uint64_t now = orch_now_ms();

	if (!in) {
		json_object_set_new(v, "status", json_pack("{s:s}", "state", "new"));
		return v;
	}
	st = json_pack("{s:s, s:I, s:I}", "state", orch_inst_state_name(in->state), "pid",
		       (json_int_t)(in->proc.pid > 0 ? in->proc.pid : 0), "since_ms_ago",
		       (json_int_t)(now - in->since_ms));
	if (in->last_ok_ms)
		json_object_set_new(st, "last_heartbeat_ms_ago",
				    json_integer((json_int_t)(now - in->last_ok_ms)));
	json_object_set_new(st, "probes", json_integer((json_int_t)in->probes));
	json_object_set_new(st, "probe_failures", json_integer((json_int_t)in->probe_failures));
	json_object_set_new(st, "restarts", json_integer((json_int_t)in->restarts));
	if (in->reason[0])
		json_object_set_new(st, "reason", json_string(in->reason));
	if (in->proc.socket_path[0])
		json_object_set_new(st, "control_socket", json_string(in->proc.socket_path));
	if (in->proc.log_path[0])
		json_object_set_new(st, "log", json_string(in->proc.log_path));
	if (in->ports) {
		json_t *ports = json_object(), *p;
		size_t i;
		json_array_foreach(in->ports, i, p)
		{
			const char *pn = json_string_value(json_object_get(p, "name"));
			json_t *d = json_deep_copy(p);
			if (!pn || !d) {
				json_decref(d);
				continue;
			}
			json_object_del(d, "name");
			json_object_set_new(ports, pn, d);
		}
		json_object_set_new(st, "ports", ports);
	}
	if (in->pps >= 0)
		json_object_set_new(st, "pps", json_real(in->pps));
	if (in->epoch_sent)
		json_object_set_new(st, "epoch", json_integer((json_int_t)in->epoch_sent));
	json_object_set_new(v, "status", st);
	return v;
}

json_t *orch_view_pool(struct slnf_orch *o, json_t *pool)
{
	const char *name = json_string_value(json_object_get(pool, "name"));
	struct orch_pool_rt *rt = orch_pool_rt_get(o, name, false);
	json_t *v = json_deep_copy(pool), *list = orch_view_pool_instances(o, name);
	json_t *st =
	    json_pack("{s:I, s:O}", "count", (json_int_t)orch_pool_count(o->desired.doc, name),
		      "instances", json_object_get(list, "instances"));

	if (json_object_get(pool, "policy")) {
		json_object_set_new(st, "pps",
				    rt && rt->pps >= 0 ? json_real(rt->pps) : json_null());
		json_object_set_new(st, "sampled", json_integer(rt ? rt->sampled : 0));
		if (rt && rt->last_action[0])
			json_object_set_new(st, "last_scaling", json_string(rt->last_action));
	}
	json_decref(list);
	json_object_set_new(v, "status", st);
	return v;
}

void orch_view_instance_stats(struct slnf_orch *o, const char *name, struct orch_response *rs)
{
	struct orch_inst *in = orch_inst_get(o, name, false);
	char *buf, sock[ORCH_SOCKET_PATH_MAX];
	json_error_t jerr;
	int rc;

	if (!orch_desired_find(o->desired.doc, ORCH_INSTANCES, name, NULL)) {
		orch_api_error(rs, 404, "", "no instance named '%s'", name);
		return;
	}
	if (!in || (in->state != ORCH_INST_UP && in->state != ORCH_INST_DRAINING)) {
		orch_api_error(rs, 503, "", "instance '%s' is %s", name,
			       orch_inst_state_name(in ? in->state : ORCH_INST_NEW));
		return;
	}
	buf = malloc(INSTANCE_STATS_MAX);
	if (!buf) {
		orch_api_error(rs, 500, "", "out of memory");
		return;
	}
	snprintf(sock, sizeof(sock), "%s", in->proc.socket_path);
	pthread_mutex_unlock(&o->lock); /* the heartbeats go on meanwhile */
	rc = orch_control_ask(sock, "stats\n", buf, INSTANCE_STATS_MAX, 1000);
	pthread_mutex_lock(&o->lock);
	rs->body = rc ? NULL : json_loads(buf, 0, &jerr);
	if (rs->body)
		rs->status = 200;
	else
		orch_api_error(rs, 502, "", "instance '%s' did not answer with its stats", name);
	free(buf);
}

json_t *orch_view_stats(struct slnf_orch *o)
{
	unsigned count[ORCH_INST_STATES] = {0};
	struct slnf_store_stats ss;
	json_t *insts = json_object();

	for (unsigned i = 0; i < o->n_insts; i++)
		count[o->insts[i].state]++;
	for (unsigned s = 0; s < ORCH_INST_STATES; s++)
		json_object_set_new(insts, orch_inst_state_name(s), json_integer(count[s]));
	json_object_set_new(insts, "total",
			    json_integer((json_int_t)json_array_size(
				orch_desired_list(o->desired.doc, ORCH_INSTANCES))));
	slnf_store_stats(o->store, &ss);
	json_t *v = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:{s:I, s:I}, s:{s:s, s:I, s:I}}", "uptime_ms",
	    (json_int_t)(orch_now_ms() - o->started_ms), "requests", (json_int_t)o->requests,
	    "errors", (json_int_t)o->errors, "tenants",
	    (json_int_t)json_array_size(orch_desired_list(o->desired.doc, ORCH_TENANTS)), "pools",
	    (json_int_t)json_array_size(orch_desired_list(o->desired.doc, ORCH_POOLS)), "instances",
	    insts, "steer_epoch", (json_int_t)o->steer_epoch, "desired", "generation",
	    (json_int_t)o->desired.gen, "chunks", (json_int_t)o->desired.n_chunks, "store",
	    "backend", o->cfg.store.backend, "entries", (json_int_t)ss.entries, "capacity",
	    (json_int_t)ss.capacity);

	json_object_set_new(v, "steering", orch_steer_status(o));
	json_object_set_new(v, "last_failover_ms",
			    o->steer.have_failover
				? json_integer((json_int_t)o->steer.last_failover_ms)
				: json_null());
	return v;
}

static json_t *tenant_table(struct slnf_orch *o, json_t *tenant)
{
	const char *tname = json_string_value(json_object_get(tenant, "name"));
	struct slnf_maglev_backend b[ORCH_MAX_INSTANCES];
	struct orch_inst *m[ORCH_MAX_INSTANCES];
	const uint32_t size = SLNF_MAGLEV_DEFAULT_SIZE;
	unsigned n, slots[ORCH_MAX_INSTANCES] = {0};
	json_t *out;

	n = orch_tenant_members(o, tname, m, ORCH_MAX_INSTANCES);
	for (unsigned k = 0; k < n; k++)
		b[k] = (struct slnf_maglev_backend){.name = m[k]->name, .weight = 1};
	out = json_pack("{s:s, s:O, s:I, s:I, s:[]}", "tenant", tname, "id",
			json_object_get(tenant, "id"), "epoch", (json_int_t)o->steer_epoch, "size",
			(json_int_t)size, "instances");
	if (n) {
		uint16_t *table = malloc(size * sizeof(*table));
		if (table && slnf_maglev_build(table, size, b, n) == 0)
			for (uint32_t k = 0; k < size; k++)
				slots[table[k]]++;
		free(table);
	}
	for (unsigned k = 0; k < n; k++)
		json_array_append_new(json_object_get(out, "instances"),
				      json_pack("{s:s, s:i, s:f}", "name", b[k].name, "entries",
						(int)slots[k], "share", (double)slots[k] / size));
	return out;
}

json_t *orch_view_steering(struct slnf_orch *o, const char *tenant)
{
	json_t *tenants = orch_desired_list(o->desired.doc, ORCH_TENANTS), *t, *a;
	size_t i;

	if (tenant) {
		t = orch_desired_find(o->desired.doc, ORCH_TENANTS, tenant, NULL);
		return t ? tenant_table(o, t) : NULL;
	}
	a = json_array();
	json_array_foreach(tenants, i, t) json_array_append_new(a, tenant_table(o, t));
	return json_pack("{s:I, s:o, s:o}", "epoch", (json_int_t)o->steer_epoch, "tenants", a,
			 "push", orch_steer_status(o));
}
