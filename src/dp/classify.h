/*
 * classify.h - which tenant a packet belongs to, by ingress port and VLAN.
 *
 * A table indexed by [port][vlan id] (vlan 0 = untagged) built once from the
 * tenants' match sections. A tenant that lists VLANs gets exactly those tags
 * on its ports; a tenant that lists none gets untagged frames on its ports
 * and any tag no other tenant claimed there.
 */
#ifndef SLNF_DP_CLASSIFY_H
#define SLNF_DP_CLASSIFY_H

#include <stdint.h>

#include "slnf/config.h"

#define SLNF_NO_TENANT 0xffff
#define SLNF_VLAN_IDS 4096

struct slnf_classifier {
	uint16_t tenant_of[SLNF_MAX_PORTS][SLNF_VLAN_IDS];
};

/* Allocate and fill a classifier for cfg; NULL when out of memory. */
struct slnf_classifier *slnf_classifier_create(const struct slnf_config *cfg);
void slnf_classifier_destroy(struct slnf_classifier *c);

/* The tenant index for a frame, or SLNF_NO_TENANT. */
static inline uint16_t slnf_classify(const struct slnf_classifier *c, uint16_t port, uint16_t vlan)
{
	if (port >= SLNF_MAX_PORTS || vlan >= SLNF_VLAN_IDS)
		return SLNF_NO_TENANT;
	uint16_t t = c->tenant_of[port][vlan];
	return t == SLNF_NO_TENANT && vlan ? c->tenant_of[port][0] : t;
}

#endif
