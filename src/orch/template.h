/*
 * template.h - a pool's instance template: the instance body fields
 * (ports overrides, workers, eal, mbufs, neighbours) that scaling gives each
 * new instance, with "{n}" in any string value replaced by the instance's
 * number ("veth{n}" -> "veth3" for instance <pool>-3).
 */
#ifndef SLNF_ORCH_TEMPLATE_H
#define SLNF_ORCH_TEMPLATE_H

#include <jansson.h>

#include "orch/orch_config.h"
#include "orch/validate.h"

/* A deep copy of v with every "{n}" in its string values replaced by n
 * (object keys are left alone). NULL on out of memory. */
json_t *orch_template_expand(json_t *v, unsigned n);

/* The instance body "<pool>-<n>" made from pool's template (or none). */
json_t *orch_template_instance(json_t *pool, unsigned n);

/* The pool's "template", if any: an object with only instance body fields,
 * whose expansion for instance 1 is a valid instance of this pool in doc
 * (doc need not hold the pool yet). Fields are named "template....". */
int orch_template_check(json_t *pool, json_t *doc, const struct orch_config *cfg,
			struct orch_verr *e);

#endif
