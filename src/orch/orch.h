/*
 * orch.h - the orchestrator's shared context: its config, the store that
 * holds its desired state, that state, and what it knows at run time about
 * each instance (process, health). One mutex guards all of it: the HTTP
 * thread takes it per request, the main loop per heartbeat tick.
 */
#ifndef SLNF_ORCH_ORCH_H
#define SLNF_ORCH_ORCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "orch/auth.h"
#include "orch/desired.h"
#include "orch/launcher.h"
#include "orch/orch_config.h"

#define ORCH_MAX_INSTANCES 256

enum orch_inst_state {
	ORCH_INST_NEW,	    /* desired, not launched by this orchestrator yet */
	ORCH_INST_STARTING, /* launched, not answering yet */
	ORCH_INST_UP,	    /* answers its heartbeat */
	ORCH_INST_DOWN,	    /* missed heartbeats for the detection time, or exited */
	ORCH_INST_FAILED,   /* did not become ready in time, or could not start */
};

const char *orch_inst_state_name(enum orch_inst_state s);

/* Run-time knowledge of one desired instance. */
struct orch_inst {
	char name[32];
	enum orch_inst_state state;
	struct orch_proc proc;
	uint64_t since_ms;   /* when state last changed */
	uint64_t last_ok_ms; /* last answered heartbeat */
	uint64_t probes, probe_failures;
	char reason[160]; /* why it is down or failed */
};

struct slnf_orch {
	pthread_mutex_t lock;
	struct orch_config cfg;
	struct orch_tokens tokens;
	struct slnf_store *store;
	struct orch_desired desired;
	const struct orch_launcher *launcher;
	struct orch_inst insts[ORCH_MAX_INSTANCES];
	unsigned n_insts;
	uint64_t steer_epoch; /* bumped whenever a tenant's healthy set changes */
	uint64_t started_ms;
	uint64_t requests, errors; /* API requests served, 4xx/5xx among them */
};

uint64_t orch_now_ms(void);

/* The run-time record of instance name (created in state NEW if absent and
 * create is set), or NULL. */
struct orch_inst *orch_inst_get(struct slnf_orch *o, const char *name, bool create);
void orch_inst_forget(struct slnf_orch *o, const char *name);
void orch_inst_set_state(struct slnf_orch *o, struct orch_inst *in, enum orch_inst_state s,
			 const char *reason);

#endif
