/*
 * orch_config.h - slnf-orch's own configuration (one JSON file): where the
 * API listens, the token file, the store holding the desired state (the
 * same "store" section as slnfd's config, parsed by the same code), the
 * slnfd binary and directory for local instances, the heartbeat, and the
 * steering nodes (slnfd role steer) that get the steering tables.
 * docs/orchestrator.md documents every field.
 */
#ifndef SLNF_ORCH_CONFIG_H
#define SLNF_ORCH_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "slnf/error.h"
#include "slnf/store.h"

#define ORCH_STEER_SOCKETS_MAX 16
#define ORCH_SOCKET_PATH_MAX   108 /* sizeof(sockaddr_un.sun_path) */

struct orch_config {
	char file[PATH_MAX];
	char address[64]; /* listen.address, an IPv4 address */
	uint16_t port;	  /* listen.port */
	char tokens_file[PATH_MAX];
	bool read_open; /* GETs without a token */
	struct slnf_store_config store;
	json_t *store_json; /* the "store" section as given, for instance configs */
	json_t *instance_store_json; /* instances.store, when instances get another store */
	char slnfd[PATH_MAX];
	char run_dir[72];      /* instance configs, logs, control sockets (short: socket paths) */
	unsigned interval_ms;  /* heartbeat interval */
	unsigned detection_ms; /* no answer this long: down */
	unsigned start_timeout_ms, stop_timeout_ms;
	unsigned drain_timeout_ms; /* a draining instance is stopped by then at the latest */
	unsigned restart_ms;       /* an exited instance is started again after this (0: never) */
	/* steering: the steer nodes' control sockets, and the resend interval */
	char steer_sockets[ORCH_STEER_SOCKETS_MAX][ORCH_SOCKET_PATH_MAX];
	unsigned n_steer_sockets;
	unsigned push_interval_ms;
	unsigned max_body; /* request bodies larger than this: 413 */
};

/* Parse a config text (file only names it in messages). 0, or a negative
 * errno with err holding "file: field: reason". */
int orch_config_parse(const char *text, const char *file, struct orch_config *cfg,
		      struct slnf_error *err);
int orch_config_load(const char *path, struct orch_config *cfg, struct slnf_error *err);
void orch_config_free(struct orch_config *cfg);

#endif
