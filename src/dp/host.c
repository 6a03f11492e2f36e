/*
 * host.c - ARP and ICMP echo for slnfd's own addresses; see host.h.
 *
 * ARP follows RFC 826 with the usual Linux refinements: we answer only for
 * addresses of the port the request arrived on, we learn the sender of any
 * request or reply addressed to us, and gratuitous ARP only refreshes an
 * entry we already have.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "core/icmp.h"
#include "dp/host.h"

void slnf_host_init(struct slnf_host *h, const struct slnf_config *cfg,
		    const struct rte_ether_addr *macs)
{
	memset(h, 0, sizeof(*h));
	h->n_ports = cfg->n_ports;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		struct slnf_host_port *hp = &h->ports[i];
		hp->mac = macs[i];
		hp->n_addrs = cfg->ports[i].n_addrs;
		for (unsigned k = 0; k < hp->n_addrs; k++) {
			hp->addrs[k] = cfg->ports[i].addrs[k].addr;
			hp->lens[k] = cfg->ports[i].addrs[k].len;
		}
	}
}

bool slnf_host_owns(const struct slnf_host *h, uint16_t port, uint32_t ip)
{
	if (port >= h->n_ports)
		return false;
	const struct slnf_host_port *hp = &h->ports[port];
	for (unsigned k = 0; k < hp->n_addrs; k++)
		if (hp->addrs[k] == ip)
			return true;
	return false;
}

bool slnf_host_is_local(const struct slnf_host *h, uint32_t ip)
{
	if (ip == 0xffffffffu || (ip >> 28) == 0xe)
		return true;
	for (unsigned i = 0; i < h->n_ports; i++) {
		const struct slnf_host_port *hp = &h->ports[i];
		for (unsigned k = 0; k < hp->n_addrs; k++) {
			uint32_t host_mask = hp->lens[k] >= 31 ? 0 : (0xffffffffu >> hp->lens[k]);
			if (hp->addrs[k] == ip || (host_mask && (ip | host_mask) == ip &&
						   (ip & ~host_mask) == (hp->addrs[k] & ~host_mask)))
				return true;
		}
	}
	return false;
}

uint32_t slnf_host_first_addr(const struct slnf_host *h, uint16_t port)
{
	return port < h->n_ports && h->ports[port].n_addrs ? h->ports[port].addrs[0] : 0;
}

uint32_t slnf_host_source_for(const struct slnf_host *h, uint16_t port, uint32_t ip)
{
	if (port >= h->n_ports)
		return 0;
	const struct slnf_host_port *hp = &h->ports[port];
	for (unsigned k = 0; k < hp->n_addrs; k++) {
		uint32_t mask = hp->lens[k] ? 0xffffffffu << (32 - hp->lens[k]) : 0;
		if ((hp->addrs[k] & mask) == (ip & mask))
			return hp->addrs[k];
	}
	return slnf_host_first_addr(h, port);
}

/* Offset of the payload after Ethernet and an optional 802.1Q tag. */
static uint16_t l2_len(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (rte_pktmbuf_data_len(m) >= 18 && eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN))
		return 18;
	return 14;
}

enum slnf_host_action slnf_host_arp(const struct slnf_host *h, struct slnf_neigh_table *nt,
				    struct rte_mbuf *m, uint16_t port, uint64_t now_ms,
				    struct slnf_host_stats *st, unsigned *reason,
				    struct rte_mbuf **released, unsigned max_released,
				    unsigned *n_released, uint8_t released_mac[6])
{
	*n_released = 0;
	uint16_t off = l2_len(m);
	if (rte_pktmbuf_data_len(m) < off + sizeof(struct rte_arp_hdr)) {
		*reason = SLNF_DROP_ARP_MALFORMED;
		return SLNF_HOST_DROP;
	}
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, off);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
	    arp->arp_plen != 4) {
		*reason = SLNF_DROP_ARP_MALFORMED;
		return SLNF_HOST_DROP;
	}
	uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
	uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
	uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
	bool for_us = slnf_host_owns(h, port, tip);
	bool gratuitous = sip == tip;

	if (op == RTE_ARP_OP_REPLY)
		st->arp_replies_rx++;
	else if (op == RTE_ARP_OP_REQUEST)
		st->arp_requests_rx++;
	if (sip != 0 && !slnf_host_owns(h, port, sip) && (for_us || gratuitous)) {
		memcpy(released_mac, &arp->arp_data.arp_sha, 6);
		*n_released = slnf_neigh_confirm(nt, port, sip, released_mac, for_us, now_ms,
						 released, max_released);
	}
	if (op == RTE_ARP_OP_REPLY)
		return SLNF_HOST_FREE;
	if (op != RTE_ARP_OP_REQUEST || !for_us) {
		*reason = op == RTE_ARP_OP_REQUEST ? SLNF_DROP_ARP_NOT_OURS : SLNF_DROP_ARP_MALFORMED;
		return gratuitous && op == RTE_ARP_OP_REQUEST ? SLNF_HOST_FREE : SLNF_HOST_DROP;
	}

	/* Turn the request into our reply. */
	const struct rte_ether_addr *mac = &h->ports[port].mac;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = *mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(tip);
	eth->dst_addr = arp->arp_data.arp_tha;
	eth->src_addr = *mac;
	st->arp_replies_tx++;
	return SLNF_HOST_TX;
}

/* ip is one of our unicast addresses, on any port. */
static bool owns_any(const struct slnf_host *h, uint32_t ip)
{
	for (unsigned i = 0; i < h->n_ports; i++)
		if (slnf_host_owns(h, (uint16_t)i, ip))
			return true;
	return false;
}

bool slnf_host_takes(const struct slnf_host *h, const struct slnf_pkt *p)
{
	if (!slnf_host_is_local(h, p->key.dst_ip))
		return false;
	if (!owns_any(h, p->key.dst_ip))
		return true; /* broadcast or multicast */
	if (p->key.proto != IPPROTO_ICMP || (p->flags & SLNF_PKT_F_FRAG))
		return false;
	const uint8_t *icmp = rte_pktmbuf_mtod_offset(p->m, const uint8_t *, p->l4_off);
	return icmp[0] == SLNF_ICMP_ECHO_REQUEST;
}

enum slnf_host_action slnf_host_local(const struct slnf_host *h, struct slnf_pkt *p,
				      struct slnf_host_stats *st, unsigned *reason)
{
	const struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
	if (!owns_any(h, dst) || p->key.proto != IPPROTO_ICMP || (p->flags & SLNF_PKT_F_FRAG)) {
		*reason = SLNF_DROP_LOCAL_UNSUPPORTED;
		return SLNF_HOST_DROP;
	}
	const uint8_t *icmp = rte_pktmbuf_mtod_offset(p->m, const uint8_t *, p->l4_off);
	if (icmp[0] != SLNF_ICMP_ECHO_REQUEST) {
		*reason = SLNF_DROP_LOCAL_UNSUPPORTED;
		return SLNF_HOST_DROP;
	}
	if (slnf_icmp_echo_reply_inplace(p) != 0) {
		*reason = SLNF_DROP_ICMP_MALFORMED;
		return SLNF_HOST_DROP;
	}
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	eth->dst_addr = eth->src_addr;
	eth->src_addr = h->ports[p->in_port].mac;
	st->icmp_echo_replies++;
	return SLNF_HOST_TX;
}

int slnf_host_arp_request(const struct slnf_host *h, struct rte_mbuf *m, uint16_t port,
			  uint32_t ip)
{
	uint16_t len = sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr);
	char *d = rte_pktmbuf_append(m, len);
	if (!d)
		return -ENOSPC;
	memset(d, 0, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	const struct rte_ether_addr *mac = &h->ports[port].mac;
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	eth->src_addr = *mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = *mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(slnf_host_source_for(h, port, ip));
	arp->arp_data.arp_tip = rte_cpu_to_be_32(ip);
	return 0;
}

void slnf_host_set_l2(const struct slnf_host *h, struct rte_mbuf *m, uint16_t port,
		      const uint8_t dst[6])
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memcpy(&eth->dst_addr, dst, 6);
	eth->src_addr = h->ports[port].mac;
}
