/*
 * launcher.h - how the orchestrator starts and stops instances, behind an
 * interface other launchers (containers, remote hosts) can implement.
 *
 * A launcher gets an instance's name and its complete slnfd config (JSON)
 * and returns a process handle. start() must not block for long: it starts
 * the instance and returns; ready() then says when the instance has come
 * up (the health checker calls it until it does, bounded by the start
 * timeout). stop() ends the instance (gracefully first, then forcibly),
 * terminate() only sends the request (for callers that must not wait), and
 * alive() says whether the process still exists. adopt() takes over an
 * instance a previous orchestrator started (after a restart), if it still
 * runs.
 */
#ifndef SLNF_ORCH_LAUNCHER_H
#define SLNF_ORCH_LAUNCHER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "slnf/error.h"

struct orch_proc {
	pid_t pid;	     /* 0: none */
	uint64_t start_time; /* process start time (clock ticks since boot) */
	bool child;	     /* ours to reap with waitpid */
	int exit_status;     /* once gone, as from waitpid (-1 unknown) */
	char config_path[PATH_MAX];
	char log_path[PATH_MAX];
	char socket_path[108]; /* the instance's control socket */
};

struct orch_launcher {
	const char *name;
	int (*start)(const char *name, const json_t *slnfd_config, struct orch_proc *p,
		     struct slnf_error *err);
	/* 1: ready, 0: not yet, negative errno: it will not be (err says why). */
	int (*ready)(struct orch_proc *p, struct slnf_error *err);
	bool (*alive)(struct orch_proc *p);
	/* Stop within timeout_ms (then force). 0 or negative errno. */
	int (*stop)(struct orch_proc *p, unsigned timeout_ms);
	/* Ask it to stop (force: at once), without waiting; alive() tells when
	 * it is gone. 0 or negative errno. */
	int (*terminate)(struct orch_proc *p, bool force);
	/* A process started earlier with this pid and start time: true if it
	 * still runs and p now describes it. */
	bool (*adopt)(const char *name, pid_t pid, uint64_t start_time, struct orch_proc *p);
};

/* The local-process launcher: slnfd forked and exec'd on this host. */
void orch_launcher_local_setup(const char *slnfd, const char *run_dir);
extern const struct orch_launcher orch_launcher_local;

#endif
