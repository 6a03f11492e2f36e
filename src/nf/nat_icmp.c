/*
 * nat_icmp.c - finding and rewriting the packet an ICMP error quotes; see
 * nat_icmp.h.
 *
 * Every field the rewrite changes is a 16-bit word at an even offset from
 * the start of the ICMP message (the quote starts 8 bytes in, its IPv4
 * header is a multiple of 4 long), so each change is one RFC 1624 update
 * of the checksum that covers it, and the ICMP checksum gets the same
 * update for every word changed inside the quote, checksum words
 * included. The error's checksum is never recomputed from scratch: a
 * corrupt error stays corrupt and the receiver drops it.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "slnf/csum.h"
#include "nf/nat_icmp.h"

#define ICMP_HLEN     8
#define QUOTE_L4_MIN  8

bool slnf_nat_icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 11 || type == 12;
}

int slnf_nat_quote_parse(const struct slnf_pkt *p, struct slnf_nat_quote *q)
{
	const uint8_t *f = rte_pktmbuf_mtod(p->m, const uint8_t *);
	unsigned end = (unsigned)p->l3_off + p->l3_len, ihl;
	const uint8_t *ip, *l4;

	q->ip_off = (uint16_t)(p->l4_off + ICMP_HLEN);
	if ((p->flags & SLNF_PKT_F_FRAG) || end > rte_pktmbuf_data_len(p->m) ||
	    q->ip_off + 20u > end)
		return -EINVAL;
	ip = f + q->ip_off;
	ihl = (ip[0] & 0x0fu) * 4u;
	if (ip[0] >> 4 != 4 || ihl < 20 || q->ip_off + ihl + QUOTE_L4_MIN > end)
		return -EINVAL;
	if (slnf_get16(ip + 6) & 0x1fff) /* a later fragment: no ports */
		return -EINVAL;
	q->l4_off = (uint16_t)(q->ip_off + ihl);
	q->l4_len = (uint16_t)(end - q->l4_off);
	q->proto = ip[9];
	q->src = (uint32_t)slnf_get16(ip + 12) << 16 | slnf_get16(ip + 14);
	q->dst = (uint32_t)slnf_get16(ip + 16) << 16 | slnf_get16(ip + 18);
	l4 = f + q->l4_off;
	if (q->proto == IPPROTO_TCP || q->proto == IPPROTO_UDP) {
		q->sport = slnf_get16(l4);
		q->dport = slnf_get16(l4 + 2);
		return 0;
	}
	if (q->proto == IPPROTO_ICMP && (l4[0] == 8 || l4[0] == 0)) {
		q->sport = q->dport = slnf_get16(l4 + SLNF_ICMP_ID_OFF);
		return 0;
	}
	return -EINVAL;
}

/* Set the 16-bit word at w, inside the quote, and update the error's ICMP
 * checksum at icsum for it. */
static void word(uint8_t *w, uint16_t v, uint8_t *icsum)
{
	uint16_t old = slnf_get16(w);

	slnf_put16(icsum, slnf_csum_update16(slnf_get16(icsum), old, v));
	slnf_put16(w, v);
}

/* Update the checksum word at c for a change of a covered 32-bit value
 * (has_addr) and 16-bit value (has_port), and carry the checksum's own change into
 * the ICMP checksum. udp: a 0 checksum stays 0. */
static void fix_csum(uint8_t *c, bool udp, bool has_addr, uint32_t old_addr, uint32_t addr,
		     bool has_port, uint16_t old_port, uint16_t port, uint8_t *icsum)
{
	uint16_t v = slnf_get16(c);

	if (has_addr)
		v = udp ? slnf_csum_update32_udp(v, old_addr, addr)
			: slnf_csum_update32(v, old_addr, addr);
	if (has_port)
		v = udp ? slnf_csum_update16_udp(v, old_port, port)
			: slnf_csum_update16(v, old_port, port);
	word(c, v, icsum);
}

void slnf_nat_quote_rewrite(struct slnf_pkt *p, struct slnf_nat_quote *q, enum slnf_nat_side side,
			    uint32_t addr, uint16_t port)
{
	uint8_t *f = rte_pktmbuf_mtod(p->m, uint8_t *);
	uint8_t *icsum = f + p->l4_off + SLNF_ICMP_CSUM_OFF, *ip = f + q->ip_off, *l4 = f + q->l4_off;
	uint8_t *a = ip + (side == SLNF_NAT_SRC ? 12 : 16);
	uint32_t old_addr = side == SLNF_NAT_SRC ? q->src : q->dst;
	uint16_t old_port = side == SLNF_NAT_SRC ? q->sport : q->dport;

	/* the quoted IPv4 header: address and its header checksum */
	fix_csum(ip + 10, false, true, old_addr, addr, false, 0, 0, icsum);
	word(a, (uint16_t)(addr >> 16), icsum);
	word(a + 2, (uint16_t)addr, icsum);
	if (q->proto == IPPROTO_ICMP) {
		/* echo: the identifier, covered by the quoted echo checksum */
		fix_csum(l4 + SLNF_ICMP_CSUM_OFF, false, false, 0, 0, true, old_port, port, icsum);
		word(l4 + SLNF_ICMP_ID_OFF, port, icsum);
		q->sport = q->dport = port;
	} else {
		bool udp = q->proto == IPPROTO_UDP;
		unsigned coff = udp ? SLNF_UDP_CSUM_OFF : SLNF_TCP_CSUM_OFF;

		if (q->l4_len >= coff + 2)
			fix_csum(l4 + coff, udp, true, old_addr, addr, true, old_port, port, icsum);
		word(l4 + (side == SLNF_NAT_SRC ? 0 : 2), port, icsum);
		if (side == SLNF_NAT_SRC)
			q->sport = port;
		else
			q->dport = port;
	}
	if (side == SLNF_NAT_SRC)
		q->src = addr;
	else
		q->dst = addr;
}
