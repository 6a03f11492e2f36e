/*
 * control.h - the local control socket (a Unix stream socket) that lets an
 * operator read a running instance's counters (`slnfd --stats`) and reload
 * its chains (`slnfd --reload`, dp/reload.h).
 *
 * Protocol: the client sends one command line ("stats\n", "reload\n",
 * "ping\n" answered {"ping": "ok"}, "ports\n", "epoch N\n", "flows\n"
 * (dp/flows.h), and on a
 * steering node "steer JSON\n", "steering\n", "explain JSON\n": see
 * docs/steering.md);
 * the server answers with one JSON document and closes. "reload" answers
 * {"reload": "ok", "generation": N, "rebuilt": K} or {"reload": "refused",
 * "error": "file: field: reason", "generation": N}. A plain thread serves
 * it, off the data path.
 */
#ifndef SLNF_DP_CONTROL_H
#define SLNF_DP_CONTROL_H

#include <pthread.h>
#include <sys/un.h>

#include "slnf/error.h"
#include "dp/instance.h"

struct slnf_control {
	int fd;
	pthread_t thread;
	struct slnf_instance *inst;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int running;
};

/* The longest request line (a steering push with 64 tenants of 64
 * instances fits). */
#define SLNF_CONTROL_LINE_MAX (1u << 20)

/* Bind the socket (creating its directory) and start serving. */
int slnf_control_start(struct slnf_control *c, struct slnf_instance *inst, struct slnf_error *err);
void slnf_control_stop(struct slnf_control *c);

/* How long `slnfd --reload` waits for the answer: building chains plus
 * the workers' grace period (SLNF_RELOAD_DRAIN_MS) fit in it. */
#define SLNF_CONTROL_RELOAD_WAIT_MS 30000

/* Client: send cmd to the socket at path and return the answer (malloc'd,
 * NUL-terminated) in *answer, waiting at most timeout_ms for each read.
 * 0 or negative errno with err saying what failed. */
int slnf_control_call(const char *path, const char *cmd, int timeout_ms, char **answer,
		      struct slnf_error *err);

/* Client: send cmd to the socket at path and print the answer to stdout.
 * 0 or negative errno with err saying what failed. */
int slnf_control_request(const char *path, const char *cmd, struct slnf_error *err);

/* Client: ask for a reload and print "reload: ok (generation N)". 0;
 * -ECANCELED when slnfd refused it (err holds its reason); another negative
 * errno when slnfd could not be asked. */
int slnf_control_reload(const char *path, struct slnf_error *err);

#endif
