/*
 * control.h - the local control socket (a Unix stream socket) that lets an
 * operator read a running instance's counters: `slnfd --stats`.
 *
 * Protocol: the client sends one command line ("stats\n"); the server
 * answers with one JSON document and closes. A plain thread serves it, off
 * the data path.
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

/* Bind the socket (creating its directory) and start serving. */
int slnf_control_start(struct slnf_control *c, struct slnf_instance *inst, struct slnf_error *err);
void slnf_control_stop(struct slnf_control *c);

/* Client: send cmd to the socket at path and print the answer to stdout.
 * 0 or negative errno with err saying what failed. */
int slnf_control_request(const char *path, const char *cmd, struct slnf_error *err);

#endif
