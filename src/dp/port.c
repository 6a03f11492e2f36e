/*
 * port.c - configure and start the ports; see port.h.
 *
 * Every worker owns queue <worker index> on every port, rx and tx, so
 * workers never share a queue and need no locks on the fast path. The mbuf
 * pool is sized explicitly (the DPDK default does not fit in -m 256).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "core/log.h"
#include "dp/eal.h"
#include "dp/port.h"

static int start_one(struct slnf_instance *inst, unsigned i, struct slnf_error *err)
{
	const struct slnf_config *cfg = &inst->cfg;
	const struct slnf_port_config *pc = &cfg->ports[i];
	char field[32], dev[96];
	snprintf(field, sizeof(field), "ports[%u]", i);
	slnf_eal_port_devname(cfg, i, dev, sizeof(dev));

	uint16_t pid;
	if (rte_eth_dev_get_port_by_name(dev, &pid) != 0)
		return slnf_errorf(err, ENODEV, cfg->file, field,
				   "port '%s': DPDK device %s did not probe (is interface '%s' present "
				   "and up? see the EAL messages above)",
				   pc->name, dev, pc->iface);
	inst->port_ids[i] = pid;

	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(pid, &info);
	if (rc)
		return slnf_errorf(err, -rc, cfg->file, field, "port '%s': cannot read device info",
				   pc->name);
	uint16_t nq = (uint16_t)cfg->workers.count;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues)
		return slnf_errorf(err, EINVAL, cfg->file, field,
				   "port '%s' supports %u rx / %u tx queues, %u workers need %u",
				   pc->name, info.max_rx_queues, info.max_tx_queues, nq, nq);

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(pid, nq, nq, &conf);
	if (rc)
		return slnf_errorf(err, -rc, cfg->file, field, "port '%s': configure failed: %s",
				   pc->name, rte_strerror(-rc));
	uint16_t nrx = pc->rx_desc, ntx = pc->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nrx, rte_eth_dev_socket_id(pid), NULL, inst->pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(pid, q, ntx, rte_eth_dev_socket_id(pid), NULL);
		if (rc)
			return slnf_errorf(err, -rc, cfg->file, field,
					   "port '%s': queue %u setup failed: %s", pc->name, q,
					   rte_strerror(-rc));
	}
	struct rte_ether_addr conf_mac;
	bool mac_set = pc->mac[0] && rte_ether_unformat_addr(pc->mac, &conf_mac) == 0;
	if (mac_set && rte_eth_dev_default_mac_addr_set(pid, &conf_mac) != 0)
		SLNF_INFO("port", "%s: driver cannot set MAC %s; slnfd uses it in software "
			  "(promiscuous receive, its own L2 filter)", pc->name, pc->mac);
	rc = rte_eth_dev_start(pid);
	if (rc)
		return slnf_errorf(err, -rc, cfg->file, field, "port '%s': start failed: %s",
				   pc->name, rte_strerror(-rc));
	rte_eth_promiscuous_enable(pid);
	rte_eth_macaddr_get(pid, &inst->macs[i]);
	if (mac_set) /* what the driver could not set, slnfd applies itself */
		inst->macs[i] = conf_mac;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &inst->macs[i]);
	SLNF_INFO("port", "%s: %s (%s) up, mac %s, %u queue(s)", pc->name, dev,
		  pc->iface[0] ? pc->iface : "-", mac, nq);
	return 0;
}

int slnf_ports_start(struct slnf_instance *inst, struct slnf_error *err)
{
	const struct slnf_config *cfg = &inst->cfg;
	inst->pool = rte_pktmbuf_pool_create("slnf_mbufs", cfg->mbufs, 256, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!inst->pool)
		return slnf_errorf(err, ENOMEM, cfg->file, "mbufs",
				   "cannot allocate %u mbufs (%s); lower mbufs or raise eal.memory_mb",
				   cfg->mbufs, rte_strerror(rte_errno));
	for (unsigned i = 0; i < SLNF_MAX_PORTS; i++)
		inst->port_ids[i] = RTE_MAX_ETHPORTS;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		int rc = start_one(inst, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

void slnf_ports_stop(struct slnf_instance *inst)
{
	for (unsigned i = 0; i < inst->cfg.n_ports; i++) {
		uint16_t pid = inst->port_ids[i];
		if (pid >= RTE_MAX_ETHPORTS)
			continue;
		rte_eth_dev_stop(pid);
		rte_eth_dev_close(pid);
		inst->port_ids[i] = RTE_MAX_ETHPORTS;
	}
}
