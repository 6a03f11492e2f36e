/*
 * reload.h - live reconfiguration of a running slnfd's chains.
 *
 * `slnfd --reload` (the control socket's "reload" command) and SIGHUP re-read
 * the file slnfd was started with and validate it as at start-up. Only the
 * tenants' chains may change; anything else (ports, store, workers, EAL,
 * tenant names, ids and matches, neighbours) refuses the reload with the
 * first differing field, and nothing changes. Otherwise the chains whose JSON
 * changed are built off the data path, each tenant's chain pointer is
 * swapped atomically, the generation advances, and once every worker has
 * left the old generation (bounded wait) the old chains are destroyed.
 * Flow state lives in the store, so it is untouched. docs/config.md, "Live
 * reload", says what an operator sees.
 *
 * Everything here runs on the control thread, which also answers stats, so
 * a reload and a stats request never overlap.
 */
#ifndef SLNF_DP_RELOAD_H
#define SLNF_DP_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "slnf/config.h"
#include "slnf/error.h"

/* The longest wait for the workers to leave an old generation. A chain run
 * waits on the store at most SLNF_CHAIN_BATCH_GUARD_MS per batch; past this
 * the old chains are kept (retired) and destroyed at shutdown instead. */
#define SLNF_RELOAD_DRAIN_MS 15000

struct slnf_chain;
struct slnf_instance;

struct slnf_reload {
	struct slnf_config *active; /* the config now applied; NULL: the start-up one */
	uint64_t ok, failed;
	char last_error[SLNF_ERROR_MAX]; /* empty while no reload failed */
	struct slnf_chain *retired;	 /* old chains not known to be unused */
};

/* Apply the config file again. 0, with *rebuilt the number of tenants whose
 * chain was rebuilt; or a negative errno with err saying why (file, field,
 * reason) and nothing changed. Logs the outcome and counts it. */
int slnf_reload_apply(struct slnf_instance *inst, unsigned *rebuilt, struct slnf_error *err);

/* The control socket's answer to "reload", after applying it. */
json_t *slnf_reload_command(struct slnf_instance *inst);

/* The "reload" object of the stats. */
json_t *slnf_reload_stats(struct slnf_instance *inst);

/* At shutdown, after the workers stopped: free retired chains and the
 * applied config. */
void slnf_reload_fini(struct slnf_instance *inst);

#endif
