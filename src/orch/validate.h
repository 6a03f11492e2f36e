/*
 * validate.h - checking API resources and building instance configs.
 *
 * A tenant is slnfd's tenant object (name, id, match, inside, chain) plus
 * "ports", the slnfd port objects its match and chain refer to: with both,
 * it is checked exactly as `slnfd --check` checks a config file (the same
 * parser, and every NF's create() with check_only). An instance's slnfd
 * config is its tenant's, with the instance's own port overrides, name and
 * control socket, and is checked the same way before it is accepted.
 * Errors carry the field as a path in the request body ("chain[1].pool",
 * "ports.wan.iface") and the reason.
 */
#ifndef SLNF_ORCH_VALIDATE_H
#define SLNF_ORCH_VALIDATE_H

#include <stdbool.h>

#include <jansson.h>

#include "orch/orch_config.h"

struct orch_verr {
	int status;	 /* HTTP status: 400 or 409 */
	char field[128]; /* path in the request body, may be empty */
	char msg[512];
};

/* 0, or -1 with e filled. */
int orch_verr_set(struct orch_verr *e, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* [A-Za-z0-9_-], 1..31 characters: names are used in URLs and file names. */
bool orch_name_ok(const char *s);

/* The body's "name": present, valid and (when url_name is set, as in a PUT)
 * equal to it. */
int orch_check_name(json_t *body, const char *url_name, struct orch_verr *e);

int orch_validate_tenant(json_t *tenant, struct orch_verr *e);
/* doc: the desired state, for the tenant reference. */
int orch_validate_pool(json_t *pool, json_t *doc, struct orch_verr *e);
/* Checks the instance and, on success, *config gets its slnfd config. */
int orch_validate_instance(json_t *inst, json_t *doc, const struct orch_config *cfg,
			   json_t **config, struct orch_verr *e);

/* The slnfd config of an already accepted instance (NULL if its pool or
 * tenant is gone). */
json_t *orch_instance_config(json_t *inst, json_t *doc, const struct orch_config *cfg);

/* The tenant an instance serves (through its pool), or NULL. */
json_t *orch_instance_tenant(json_t *inst, json_t *doc);

#endif
