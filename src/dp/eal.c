/*
 * eal.c - build the EAL command line from the config; see eal.h.
 *
 * Without hugepages EAL needs --no-huge with an explicit -m and --no-shconf
 * (--in-memory conflicts with --no-huge). With hugepages we use --in-memory
 * so instances never share or leave behind runtime files. Each port becomes
 * a --vdev (or a PCI allow-list entry), named after its index so the port is
 * found again after probing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dp/eal.h"

static int add(struct slnf_eal_args *a, const char *fmt, ...)
{
	if (a->argc >= SLNF_EAL_ARGS_MAX - 1)
		return -E2BIG;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->used)
		return -E2BIG;
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += (unsigned)n + 1;
	return 0;
}

static const char *vdev_driver(enum slnf_port_type t)
{
	switch (t) {
	case SLNF_PORT_AF_PACKET:
		return "net_af_packet";
	case SLNF_PORT_AF_XDP:
		return "net_af_xdp";
	case SLNF_PORT_TAP:
		return "net_tap";
	case SLNF_PORT_PCAP:
		return "net_pcap";
	case SLNF_PORT_RING:
		return "net_ring";
	case SLNF_PORT_NULL:
		return "net_null";
	default:
		return NULL;
	}
}

void slnf_eal_port_devname(const struct slnf_config *cfg, unsigned i, char *out, size_t len)
{
	const struct slnf_port_config *p = &cfg->ports[i];
	if (p->type == SLNF_PORT_PCI)
		snprintf(out, len, "%s", p->pci);
	else
		snprintf(out, len, "%s%u", vdev_driver(p->type), i);
}

static int add_port(struct slnf_eal_args *a, const struct slnf_config *cfg, unsigned i)
{
	const struct slnf_port_config *p = &cfg->ports[i];
	unsigned q = cfg->workers.count;
	char dev[96];
	slnf_eal_port_devname(cfg, i, dev, sizeof(dev));
	switch (p->type) {
	case SLNF_PORT_PCI:
		return add(a, "-a") ?: add(a, "%s", p->pci);
	case SLNF_PORT_AF_PACKET:
		return add(a, "--vdev") ?: add(a, "%s,iface=%s,qpairs=%u", dev, p->iface, q);
	case SLNF_PORT_AF_XDP:
		return add(a, "--vdev") ?:
			add(a, "%s,iface=%s,start_queue=0,queue_count=%u", dev, p->iface, q);
	case SLNF_PORT_TAP:
		return add(a, "--vdev") ?: add(a, "%s,iface=%s", dev, p->iface[0] ? p->iface : p->name);
	case SLNF_PORT_PCAP:
		return add(a, "--vdev") ?:
			add(a, "%s%s%s%s%s", dev, p->rx_pcap[0] ? ",rx_pcap=" : "", p->rx_pcap,
			    p->tx_pcap[0] ? ",tx_pcap=" : "", p->tx_pcap);
	default:
		return add(a, "--vdev") ?: add(a, "%s", dev);
	}
}

int slnf_eal_args_build(const struct slnf_config *cfg, struct slnf_eal_args *a)
{
	memset(a, 0, sizeof(*a));
	bool any_pci = false;
	int rc = add(a, "slnfd") ?: add(a, "--file-prefix=%s", cfg->eal.file_prefix) ?:
		 add(a, "-l") ?: add(a, "%s", cfg->eal.lcores) ?: add(a, "-m") ?:
		 add(a, "%u", cfg->eal.memory_mb) ?: add(a, "--log-level=%s", cfg->eal.log_level);
	if (rc)
		return rc;
	rc = cfg->eal.hugepages ? add(a, "--in-memory") : (add(a, "--no-huge") ?: add(a, "--no-shconf"));
	for (unsigned i = 0; i < cfg->n_ports && !rc; i++) {
		any_pci |= cfg->ports[i].type == SLNF_PORT_PCI;
		rc = add_port(a, cfg, i);
	}
	if (!rc && !any_pci)
		rc = add(a, "--no-pci");
	return rc;
}
