/*
 * eal.h - DPDK EAL arguments derived from the config, so an operator never
 * writes EAL flags by hand: --no-huge by default (works on any machine),
 * hugepages when asked, one file prefix per instance, a vdev per port.
 */
#ifndef SLNF_DP_EAL_H
#define SLNF_DP_EAL_H

#include "slnf/config.h"

#define SLNF_EAL_ARGS_MAX 64

struct slnf_eal_args {
	int argc;
	char *argv[SLNF_EAL_ARGS_MAX];
	char buf[8192];
	unsigned used;
};

/* Build the EAL argument vector for cfg. 0 or -E2BIG. */
int slnf_eal_args_build(const struct slnf_config *cfg, struct slnf_eal_args *a);

/* The DPDK device name of port i ("net_af_packet0", or the PCI address). */
void slnf_eal_port_devname(const struct slnf_config *cfg, unsigned i, char *out, size_t len);

#endif
