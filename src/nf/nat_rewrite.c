/*
 * nat_rewrite.c - address and port rewriting with incremental checksums;
 * see nat_rewrite.h.
 *
 * Checksum fields are read and written as network-order 16-bit words and
 * updated with the RFC 1624 helpers of csum.h on host-order values. The
 * IPv4 header checksum covers the addresses; TCP and UDP checksums cover
 * them through the pseudo-header and the ports directly; the ICMP echo
 * checksum covers only the identifier.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "slnf/csum.h"
#include "nf/nat_rewrite.h"

/* TCP or UDP: the pseudo-header address and the port at port_off. */
static void rewrite_l4(uint8_t *l4, bool udp, unsigned port_off, uint32_t old_addr,
		       uint32_t addr, uint16_t port)
{
	uint8_t *csum = l4 + (udp ? SLNF_UDP_CSUM_OFF : SLNF_TCP_CSUM_OFF);
	uint16_t old_port = slnf_get16(l4 + port_off), c = slnf_get16(csum);

	if (udp) {
		c = slnf_csum_update32_udp(c, old_addr, addr);
		c = slnf_csum_update16_udp(c, old_port, port);
	} else {
		c = slnf_csum_update32(c, old_addr, addr);
		c = slnf_csum_update16(c, old_port, port);
	}
	slnf_put16(csum, c);
	slnf_put16(l4 + port_off, port);
}

static void rewrite_echo_id(uint8_t *icmp, uint16_t id)
{
	uint16_t old = slnf_get16(icmp + SLNF_ICMP_ID_OFF);

	slnf_put16(icmp + SLNF_ICMP_CSUM_OFF, slnf_csum_update16(slnf_get16(icmp + SLNF_ICMP_CSUM_OFF), old, id));
	slnf_put16(icmp + SLNF_ICMP_ID_OFF, id);
}

/* Set the side's address in the IPv4 header; returns the old one. */
static uint32_t rewrite_ip(struct slnf_pkt *p, enum slnf_nat_side side, uint32_t addr)
{
	struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
	/* the address sits 2-byte aligned behind Ethernet: copy, never load */
	void *field = side == SLNF_NAT_SRC ? (void *)&ip->src_addr : (void *)&ip->dst_addr;
	rte_be32_t old_be, new_be = rte_cpu_to_be_32(addr);
	uint32_t old;

	memcpy(&old_be, field, sizeof(old_be));
	old = rte_be_to_cpu_32(old_be);
	memcpy(field, &new_be, sizeof(new_be));
	ip->hdr_checksum = rte_cpu_to_be_16(
		slnf_csum_update32(rte_be_to_cpu_16(ip->hdr_checksum), old, addr));
	return old;
}

void slnf_nat_rewrite_addr(struct slnf_pkt *p, enum slnf_nat_side side, uint32_t addr)
{
	rewrite_ip(p, side, addr);
	if (side == SLNF_NAT_SRC)
		p->key.src_ip = addr;
	else
		p->key.dst_ip = addr;
	p->hash = slnf_flow_hash(&p->key);
}

void slnf_nat_rewrite(struct slnf_pkt *p, enum slnf_nat_side side, uint32_t addr,
		      uint16_t port)
{
	uint8_t *l4 = rte_pktmbuf_mtod_offset(p->m, uint8_t *, p->l4_off);
	uint32_t old = rewrite_ip(p, side, addr);

	if (p->key.proto == IPPROTO_ICMP) {
		rewrite_echo_id(l4, port);
		p->key.src_port = p->key.dst_port = port;
	} else {
		rewrite_l4(l4, p->key.proto == IPPROTO_UDP, side == SLNF_NAT_SRC ? 0 : 2, old, addr,
			   port);
		if (side == SLNF_NAT_SRC)
			p->key.src_port = port;
		else
			p->key.dst_port = port;
	}
	if (side == SLNF_NAT_SRC)
		p->key.src_ip = addr;
	else
		p->key.dst_ip = addr;
	p->hash = slnf_flow_hash(&p->key);
}
