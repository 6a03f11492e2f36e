/*
 * epoch.h - the steering epoch in the store, so that a restarted
 * orchestrator (even after SIGKILL) goes on with a larger epoch than any it
 * pushed before. Key "orch/epoch" in the orchestrator's namespace
 * (ORCH_STORE_TENANT, ORCH_STORE_NF), 8 bytes.
 */
#ifndef SLNF_ORCH_EPOCH_H
#define SLNF_ORCH_EPOCH_H

#include <stdint.h>

#include "slnf/store.h"

/* The stored epoch (0 when none was stored). 0, or a negative errno. */
int orch_epoch_load(struct slnf_store *s, uint64_t *epoch);
int orch_epoch_save(struct slnf_store *s, uint64_t epoch);

#endif
