/*
 * orch.h - the orchestrator's shared context: its config, the store that
 * holds its desired state, that state, and what it knows at run time about
 * each instance (process, health, ports, drain, load), the steering push
 * state and the pools' load policy state. One mutex guards all of it: the
 * HTTP thread takes it per request, the main loop per heartbeat tick.
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
#define ORCH_MAX_POOLS	   64

enum orch_inst_state {
	ORCH_INST_NEW,	    /* desired, not launched by this orchestrator yet */
	ORCH_INST_STARTING, /* launched, not answering yet */
	ORCH_INST_UP,	    /* answers its heartbeat */
	ORCH_INST_DOWN,	    /* missed heartbeats for the detection time, or exited */
	ORCH_INST_FAILED,   /* did not become ready in time, or could not start */
	ORCH_INST_DRAINING, /* out of the steering tables, stopped once quiet */
	ORCH_INST_STATES
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
	char reason[160];    /* why it is down or failed */
	json_t *ports;	     /* its "ports" answer (array of name, mac, addrs); NULL: not yet */
	uint64_t epoch_sent; /* the steering epoch it acknowledged (0: none yet) */
	bool epoch_refused;  /* it answered "epoch N" with an error (logged once) */
	bool adopted;	     /* adopted after a restart, not probed yet: no push meanwhile */
	uint64_t adopted_ms;
	/* failover measurement: it went down from up */
	uint64_t failover_last_ok_ms; /* its last answered heartbeat (0: nothing pending) */
	uint64_t failover_epoch;      /* the first epoch without it */
	/* draining (drain.c) */
	uint64_t drain_start_ms, drain_moved_ms, drain_pkts, term_sent_ms;
	bool drain_have_pkts, term_sent, kill_sent;
	bool ever_up;	 /* has been up under this orchestrator */
	bool drain_idle; /* drained before it ever carried traffic: stopped at once */
	/* load policy (policy.c): the last sample of its packet counter */
	uint64_t pol_pkts, pol_ms;
	double pps; /* packets/s over the last interval (-1: unknown) */
	/* restarts (health.c): of a process that exited while down */
	uint64_t restarts;       /* in all */
	unsigned restart_streak; /* in a row without reaching up: the back-off */
};

/* The push state of one steer node (cfg.steer_sockets[i]). */
struct orch_steer_node {
	uint64_t pushed_hash; /* the message it last acknowledged (0: none) */
	uint64_t pushed_key;  /* what that message was built from (steer.c) */
	uint64_t next_ms;     /* periodic resend */
	uint64_t last_ok_ms, pushes, failures;
	bool ok;
	char error[200]; /* the last failure */
};

struct orch_steer {
	struct orch_steer_node nodes[ORCH_STEER_SOCKETS_MAX];
	uint64_t pushes, failures; /* steer messages sent (acknowledged), refused/unanswered */
	uint64_t last_push_ms, last_push_epoch; /* the last acknowledged push */
	uint64_t saved_epoch, save_failures;	/* the epoch in the store */
	uint64_t epoch_sends, epoch_failures;	/* "epoch N" to instances */
	uint64_t last_failover_ms; /* last heartbeat of a failed instance -> push without it */
	bool have_failover;
	bool gate_waiting;  /* adopted instances not probed yet (logged once) */
	uint64_t ports_gen; /* bumped when an instance's ports are learnt */
};

/* Run-time state of a pool's load policy (policy.c). */
struct orch_pool_rt {
	char name[32];
	uint64_t next_ms, last_action_ms;
	double pps; /* average packets/s per up instance at the last interval (-1: unknown) */
	unsigned sampled;
	char last_action[96];
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
	struct orch_steer steer;
	struct orch_pool_rt pools[ORCH_MAX_POOLS];
	unsigned n_pools;
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

/* The probe timeout: half the detection time, within 5..500 ms. Every
 * exchange of the main loop with one peer is bounded by it. */
unsigned orch_probe_timeout(const struct slnf_orch *o);

#endif
