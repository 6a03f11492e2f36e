/*
 * reload.c - live reconfiguration of the chains; see reload.h.
 *
 * The swap is a grace period in the style of RCU. Workers never lock:
 * a slot reads inst->generation (acquire) when it starts running and only
 * then reads the tenants' chain pointers (acquire), and every worker, once
 * per loop, publishes in active_gen the oldest generation among its
 * running slots, or the current generation when none runs. The reloader
 * stores the new chain pointers, then the new generation G (release), and
 * waits until every worker published G or more: from then on no slot can
 * still hold an old pointer, because any slot that started before the
 * generation moved is still counted, and any slot that started after it
 * reads the new pointers. Packets are neither held nor dropped meanwhile:
 * bursts in flight finish in the chain they started with, new bursts run
 * in the new one.
 *
 * Only tenants whose chain JSON changed get a new chain: an unchanged
 * tenant keeps its NF contexts and their counters. The workers' instance
 * caches are not touched: they hold store records, keyed by tenant id and
 * NF type (never by chain position), and a reload changes neither the
 * store nor the tenant ids, so every cached record stays as true as the
 * store's own copy. What a record means under new parameters (a pin to a
 * backend no longer listed, a mapping to an old pool address) is the NF's
 * decision on the next packet, as it is for a record another instance
 * wrote.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "dp/instance.h"
#include "dp/reload.h"

static const struct slnf_config *active_config(const struct slnf_instance *inst)
{
	return inst->reload.active ? inst->reload.active : &inst->cfg;
}

/* Build a new chain for every tenant whose chain changed; all or nothing. */
static int build_changed(struct slnf_instance *inst, const struct slnf_config *cfg,
			 struct slnf_chain *fresh[SLNF_MAX_TENANTS], unsigned *n_fresh,
			 struct slnf_error *err)
{
	const struct slnf_config *old = active_config(inst);
	*n_fresh = 0;
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		fresh[t] = NULL;
		if (slnf_config_chain_equal(&old->tenants[t], &cfg->tenants[t]))
			continue;
		int rc = slnf_chain_create(cfg, t, &fresh[t], err);
		if (rc < 0) {
			for (unsigned u = 0; u < t; u++)
				slnf_chain_destroy(fresh[u]);
			return rc;
		}
		(*n_fresh)++;
	}
	return 0;
}

/* Has every worker left every generation before gen? */
static bool workers_past(const struct slnf_instance *inst, uint64_t gen)
{
	for (unsigned w = 0; w < inst->n_workers; w++)
		if (__atomic_load_n(&inst->workers[w].active_gen, __ATOMIC_ACQUIRE) < gen)
			return false;
	return true;
}

/* Wait, bounded, until no worker can be inside a chain older than gen. */
static bool wait_workers(const struct slnf_instance *inst, uint64_t gen)
{
	const struct timespec tick = {.tv_nsec = 200 * 1000};
	uint64_t deadline = slnf_now_ms() + SLNF_RELOAD_DRAIN_MS;
	while (!workers_past(inst, gen)) {
		if (inst->stop || slnf_now_ms() >= deadline)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

/* Publish the new chains and retire the old ones once no worker uses them. */
static void swap_chains(struct slnf_instance *inst, struct slnf_chain *fresh[SLNF_MAX_TENANTS],
			unsigned n_tenants, uint64_t gen)
{
	struct slnf_chain *old[SLNF_MAX_TENANTS] = {0};
	for (unsigned t = 0; t < n_tenants; t++) {
		if (!fresh[t])
			continue;
		old[t] = inst->chains[t];
		__atomic_store_n(&inst->chains[t], fresh[t], __ATOMIC_RELEASE);
	}
	__atomic_store_n(&inst->generation, gen, __ATOMIC_RELEASE);
	bool drained = wait_workers(inst, gen);
	if (!drained)
		SLNF_WARN("slnfd",
			  "reload: workers still in generation %llu after %d ms; the old "
			  "chains are kept until shutdown",
			  (unsigned long long)gen - 1, SLNF_RELOAD_DRAIN_MS);
	for (unsigned t = 0; t < n_tenants; t++) {
		if (!old[t])
			continue;
		if (drained) {
			slnf_chain_destroy(old[t]);
		} else {
			old[t]->retired_next = inst->reload.retired;
			inst->reload.retired = old[t];
		}
	}
}

static int refuse(struct slnf_instance *inst, int rc, struct slnf_error *err)
{
	inst->reload.failed++;
	snprintf(inst->reload.last_error, sizeof(inst->reload.last_error), "%s", err->msg);
	SLNF_ERR("slnfd", "reload: refused: %s", err->msg);
	return rc;
}

int slnf_reload_apply(struct slnf_instance *inst, unsigned *rebuilt, struct slnf_error *err)
{
	struct slnf_config *cfg = calloc(1, sizeof(*cfg));
	char field[128];
	int rc;

	*rebuilt = 0;
	if (!cfg)
		return refuse(inst, slnf_errorf(err, ENOMEM, NULL, NULL, "reload: out of memory"),
			      err);
	rc = slnf_config_load(inst->cfg.file, cfg, err);
	if (!rc && slnf_config_diff(active_config(inst), cfg, field, sizeof(field)))
		rc = slnf_errorf(err, EINVAL, cfg->file, field,
				 "differs from the running config; a reload may only change "
				 "tenants' chains (restart slnfd to change the rest)");
	struct slnf_chain *fresh[SLNF_MAX_TENANTS];
	if (!rc)
		rc = build_changed(inst, cfg, fresh, rebuilt, err);
	if (rc) {
		slnf_config_free(cfg);
		free(cfg);
		return refuse(inst, rc, err);
	}
	uint64_t gen = __atomic_load_n(&inst->generation, __ATOMIC_RELAXED) + 1;
	swap_chains(inst, fresh, cfg->n_tenants, gen);
	if (inst->reload.active) {
		slnf_config_free(inst->reload.active);
		free(inst->reload.active);
	}
	inst->reload.active = cfg;
	inst->reload.ok++;
	SLNF_INFO("slnfd", "reload: ok (generation %llu, %u of %u chain(s) rebuilt)",
		  (unsigned long long)gen, *rebuilt, cfg->n_tenants);
	return 0;
}

json_t *slnf_reload_command(struct slnf_instance *inst)
{
	struct slnf_error err = {{0}};
	unsigned rebuilt = 0;
	int rc = slnf_reload_apply(inst, &rebuilt, &err);
	json_int_t gen = (json_int_t)__atomic_load_n(&inst->generation, __ATOMIC_RELAXED);
	if (rc)
		return json_pack("{s:s, s:s, s:I}", "reload", "refused", "error", err.msg,
				 "generation", gen);
	return json_pack("{s:s, s:I, s:i}", "reload", "ok", "generation", gen, "rebuilt",
			 (int)rebuilt);
}

json_t *slnf_reload_stats(struct slnf_instance *inst)
{
	const struct slnf_reload *r = &inst->reload;
	return json_pack("{s:I, s:I, s:I, s:o}", "generation",
			 (json_int_t)__atomic_load_n(&inst->generation, __ATOMIC_RELAXED), "ok",
			 (json_int_t)r->ok, "failed", (json_int_t)r->failed, "last_error",
			 r->last_error[0] ? json_string(r->last_error) : json_null());
}

void slnf_reload_fini(struct slnf_instance *inst)
{
	while (inst->reload.retired) {
		struct slnf_chain *c = inst->reload.retired;
		inst->reload.retired = c->retired_next;
		slnf_chain_destroy(c);
	}
	if (inst->reload.active) {
		slnf_config_free(inst->reload.active);
		free(inst->reload.active);
		inst->reload.active = NULL;
	}
}
