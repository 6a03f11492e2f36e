/*
 * classify.c - build the (port, vlan) -> tenant table; see classify.h.
 * The config loader has already refused overlapping claims.
 */
#include <stdlib.h>

#include "dp/classify.h"

struct slnf_classifier *slnf_classifier_create(const struct slnf_config *cfg)
{
	struct slnf_classifier *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	for (unsigned p = 0; p < SLNF_MAX_PORTS; p++)
		for (unsigned v = 0; v < SLNF_VLAN_IDS; v++)
			c->tenant_of[p][v] = SLNF_NO_TENANT;
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		const struct slnf_tenant_config *tc = &cfg->tenants[t];
		for (unsigned i = 0; i < tc->n_ports; i++) {
			if (!tc->n_vlans)
				c->tenant_of[tc->ports[i]][0] = (uint16_t)t;
			for (unsigned v = 0; v < tc->n_vlans; v++)
				c->tenant_of[tc->ports[i]][tc->vlans[v]] = (uint16_t)t;
		}
	}
	return c;
}

void slnf_classifier_destroy(struct slnf_classifier *c)
{
	free(c);
}
