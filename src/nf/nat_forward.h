/*
 * nat_forward.h - the nat NF's port forwards (destination NAT): static
 * mappings from the config, "forwards": [{"proto": "tcp", "port": 8080,
 * "to": "10.0.1.2:80", "addr": "<pool address>"}].
 *
 * A forward is a mapping that never expires and is the same on every
 * instance because it comes from the config, so it needs no store record:
 * inbound packets to addr:port go to the inside endpoint, and packets from
 * the inside endpoint leave as addr:port. Its outside port is taken out of
 * dynamic allocation (the allocator treats it as used), so a forward may
 * sit inside the dynamic port range.
 */
#ifndef SLNF_NF_NAT_FORWARD_H
#define SLNF_NF_NAT_FORWARD_H

#include <stdint.h>

#include <jansson.h>

#include "slnf/nf.h"

#define SLNF_NAT_FORWARDS_MAX 256

struct slnf_nat_forward {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t out_port, in_port;
	uint32_t out_ip, in_ip; /* host order */
};

struct slnf_nat_forwards {
	unsigned n;
	struct slnf_nat_forward f[SLNF_NAT_FORWARDS_MAX];
};

/* Parse params.forwards (optional) into out. addr must be one of pool[]
 * (default pool[0]); two forwards may share neither their outside endpoint
 * nor their inside one. Errors name the element and field. */
int slnf_nat_forwards_parse(const struct slnf_nf_env *env, json_t *params, const uint32_t *pool,
			    unsigned n_pool, struct slnf_nat_forwards *out, struct slnf_error *err);

/* The forward whose outside (or inside) endpoint is ip:port/proto, or NULL. */
const struct slnf_nat_forward *slnf_nat_forward_out(const struct slnf_nat_forwards *fw,
						    uint8_t proto, uint32_t ip, uint16_t port);
const struct slnf_nat_forward *slnf_nat_forward_in(const struct slnf_nat_forwards *fw,
						   uint8_t proto, uint32_t ip, uint16_t port);

#endif
