/*
 * policy.c - pools' load policies; see policy.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "orch/counters.h"
#include "orch/policy.h"
#include "orch/scale.h"

static const char *const keys[] = {"scale_out_pps", "scale_in_pps", "interval_ms", "cooldown_ms",
				   NULL};

static int get_num(json_t *pol, const char *key, double *out, struct orch_verr *e)
{
	json_t *v = json_object_get(pol, key);
	char field[64];

	snprintf(field, sizeof(field), "policy.%s", key);
	if (!v)
		return orch_verr_set(e, 400, field, "missing (required: packets per second)");
	if (!json_is_number(v) || json_number_value(v) < 0)
		return orch_verr_set(e, 400, field, "expected a number of packets per second >= 0");
	*out = json_number_value(v);
	return 0;
}

static int get_ms(json_t *pol, const char *key, unsigned min, unsigned def, struct orch_verr *e)
{
	json_t *v = json_object_get(pol, key);
	char field[64];

	snprintf(field, sizeof(field), "policy.%s", key);
	if (!v) {
		json_object_set_new(pol, key, json_integer(def)); /* defaults shown */
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > 3600000)
		return orch_verr_set(e, 400, field, "expected an integer in %u..3600000", min);
	return 0;
}

int orch_policy_check(json_t *pool, struct orch_verr *e)
{
	json_t *pol = json_object_get(pool, "policy"), *v;
	const char *key;
	double out, in;

	if (!pol)
		return 0;
	if (!json_is_object(pol))
		return orch_verr_set(e, 400, "policy",
				     "expected an object (scale_out_pps, scale_in_pps, "
				     "interval_ms, cooldown_ms)");
	json_object_foreach(pol, key, v)
	{
		unsigned i;
		char field[96];

		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		snprintf(field, sizeof(field), "policy.%s", key);
		if (!keys[i])
			return orch_verr_set(e, 400, field,
					     "unknown key (expected one of scale_out_pps, "
					     "scale_in_pps, interval_ms or cooldown_ms)");
	}
	if (get_num(pol, "scale_out_pps", &out, e) || get_num(pol, "scale_in_pps", &in, e))
		return -1;
	if (in >= out)
		return orch_verr_set(e, 400, "policy.scale_in_pps",
				     "must be below scale_out_pps (%g): the gap is the hysteresis",
				     out);
	return get_ms(pol, "interval_ms", 100, 1000, e) || get_ms(pol, "cooldown_ms", 0, 5000, e);
}

bool orch_policy_of(json_t *pool, struct orch_policy *p)
{
	json_t *pol = json_object_get(pool, "policy");

	if (!json_is_object(pol))
		return false;
	p->out_pps = json_number_value(json_object_get(pol, "scale_out_pps"));
	p->in_pps = json_number_value(json_object_get(pol, "scale_in_pps"));
	p->interval_ms = (unsigned)json_integer_value(json_object_get(pol, "interval_ms"));
	p->cooldown_ms = (unsigned)json_integer_value(json_object_get(pol, "cooldown_ms"));
	if (!p->interval_ms)
		p->interval_ms = 1000;
	return true;
}

int orch_policy_decide(const struct orch_policy *p, double avg_pps, unsigned count, unsigned min,
		       unsigned max, uint64_t now, uint64_t last_action_ms)
{
	if (last_action_ms && now - last_action_ms < p->cooldown_ms)
		return 0;
	if (count < min)
		return +1;
	if (count > max)
		return -1;
	if (avg_pps < 0)
		return 0;
	if (avg_pps > p->out_pps && count < max)
		return +1;
	/* in only when the load spread over one fewer stays below the out threshold */
	if (avg_pps < p->in_pps && count > min && count > 1 &&
	    avg_pps * count / (count - 1) <= p->out_pps)
		return -1;
	return 0;
}

struct orch_pool_rt *orch_pool_rt_get(struct slnf_orch *o, const char *name, bool create)
{
	struct orch_pool_rt *rt;

	for (unsigned i = 0; i < o->n_pools; i++)
		if (!strcmp(o->pools[i].name, name))
			return &o->pools[i];
	if (!create || o->n_pools == ORCH_MAX_POOLS)
		return NULL;
	rt = &o->pools[o->n_pools++];
	memset(rt, 0, sizeof(*rt));
	snprintf(rt->name, sizeof(rt->name), "%s", name);
	rt->pps = -1;
	return rt;
}

/* The average packets/s of the pool's up instances (-1: none measured). */
static double measure(struct slnf_orch *o, const char *pool, uint64_t now, unsigned *sampled)
{
	json_t *e;
	double sum = 0;
	size_t i;

	*sampled = 0;
	json_array_foreach(orch_desired_list(o->desired.doc, ORCH_INSTANCES), i, e)
	{
		const char *p = json_string_value(json_object_get(e, "pool"));
		struct orch_inst *in =
		    orch_inst_get(o, json_string_value(json_object_get(e, "name")), false);
		uint64_t rx, tx;

		if (!p || strcmp(p, pool) || !in || in->state != ORCH_INST_UP)
			continue;
		if (orch_inst_counters(in, &rx, &tx, orch_probe_timeout(o))) {
			in->pps = -1;
			continue;
		}
		if (in->pol_ms && now > in->pol_ms && rx >= in->pol_pkts) {
			in->pps = (double)(rx - in->pol_pkts) * 1000.0 / (double)(now - in->pol_ms);
			sum += in->pps;
			(*sampled)++;
		}
		in->pol_pkts = rx;
		in->pol_ms = now;
	}
	return *sampled ? sum / *sampled : -1;
}

void orch_policy_tick(struct slnf_orch *o)
{
	json_t *pools = orch_desired_list(o->desired.doc, ORCH_POOLS), *p;
	size_t i;

	json_array_foreach(pools, i, p)
	{
		char name[32];
		struct orch_policy pol;
		struct orch_pool_rt *rt;
		struct orch_verr e;
		uint64_t now = orch_now_ms();
		unsigned count, min, max;
		int d;

		/* a copy: scaling saves a new document, freeing this one */
		snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(p, "name")));
		if (!orch_policy_of(p, &pol) || !(rt = orch_pool_rt_get(o, name, true)) ||
		    now < rt->next_ms)
			continue;
		rt->next_ms = now + pol.interval_ms;
		rt->pps = measure(o, name, now, &rt->sampled);
		count = orch_pool_count(o->desired.doc, name);
		min = (unsigned)json_integer_value(json_object_get(p, "min"));
		max = (unsigned)json_integer_value(json_object_get(p, "max"));
		d = orch_policy_decide(&pol, rt->pps, count, min, max, now, rt->last_action_ms);
		if (!d)
			continue;
		rt->last_action_ms = now;
		snprintf(rt->last_action, sizeof(rt->last_action), "%s to %u at %.0f pps",
			 d > 0 ? "out" : "in", count + d, rt->pps);
		SLNF_INFO("orch", "pool %s: policy scales %s", name, rt->last_action);
		if (orch_scale_to(o, name, count + d, &e))
			SLNF_WARN("orch", "pool %s: scaling failed: %s%s%s", name, e.field,
				  e.field[0] ? ": " : "", e.msg);
		/* the pool list may have moved: one scaling per tick */
		return;
	}
}
