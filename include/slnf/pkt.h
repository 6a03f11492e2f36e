/*
 * pkt.h - the per-packet metadata the data path computes once and every
 * NF reads: header offsets, the flow key, the tenant and the verdict.
 *
 * The data path parses and validates each received frame exactly once
 * (slnf_pkt_parse); NFs never re-parse. A burst is an array of these next
 * to the mbufs, processed a whole vector at a time.
 */
#ifndef SLNF_PKT_H
#define SLNF_PKT_H

#include <stdint.h>
#include <stdbool.h>

#include <netinet/in.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "slnf/counters.h"

#define SLNF_BURST_MAX 32

/* The 5-tuple of an IPv4 packet, addresses and ports in host byte order.
 * ICMP echo packets put the identifier in both ports; other ICMP and
 * non-first fragments have ports 0. */
struct slnf_flow_key {
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t proto;
	uint8_t pad[3]; /* always zero so the key can be hashed and compared as bytes */
};

enum slnf_verdict {
	SLNF_VERDICT_FORWARD = 0, /* carry on down the chain, then transmit */
	SLNF_VERDICT_DROP,        /* free, count drop_reason */
};

/* flag bits */
#define SLNF_PKT_F_FRAG 0x01       /* a fragment (MF set or offset > 0) */
#define SLNF_PKT_F_FIRST_FRAG 0x02 /* offset 0: L4 header present */
#define SLNF_PKT_F_VLAN 0x04       /* frame carried an 802.1Q tag */

struct slnf_pkt {
	struct rte_mbuf *m;
	uint16_t in_port;  /* ingress port index */
	uint16_t vlan;     /* VLAN id, 0 when untagged */
	uint16_t l3_off;   /* offset of the IPv4 header in the frame */
	uint16_t l4_off;   /* offset of the L4 header (l3_off + IHL*4) */
	uint16_t l3_len;   /* IPv4 total length */
	uint8_t flags;     /* SLNF_PKT_F_* */
	uint8_t verdict;   /* enum slnf_verdict */
	uint8_t drop_reason; /* enum slnf_drop_reason when verdict is DROP. With
				FORWARD and non-zero: this packet is an ICMP error
				that replaced a packet dropped for this reason; the
				drop is counted, then the ICMP error transmitted */
	uint16_t tenant;   /* tenant index in the config */
	uint16_t out_port; /* egress port index; SLNF_PORT_NONE until chosen */
	uint32_t next_hop; /* host order IPv4 next hop for ARP; 0 = not chosen */
	int16_t state_req; /* index of this packet's first state request in the
			      current NF phase, -1 when none */
	struct slnf_flow_key key;
	uint32_t hash; /* slnf_flow_hash(&key) */
};

#define SLNF_PORT_NONE 0xffff

/* Parse and validate the frame in p->m (Ethernet, optional 802.1Q, IPv4).
 * Fills offsets, flags, key and hash, and returns SLNF_DROP_NONE for a
 * well-formed IPv4 packet, or the reason it must be dropped. ARP frames
 * return SLNF_DROP_L2_UNSUPPORTED with *ethertype set so the caller can
 * hand them to the ARP handler; ethertype may be NULL. Never reads past
 * the frame. Does not touch in_port, tenant or verdict. */
unsigned slnf_pkt_parse(struct slnf_pkt *p, uint16_t *ethertype);

/* Symmetric-free, seeded hash of a flow key (CRC32C over its bytes). */
uint32_t slnf_flow_hash(const struct slnf_flow_key *k);
/* Hash that is equal for both directions of a flow (for steering). */
uint32_t slnf_flow_hash_symmetric(const struct slnf_flow_key *k);

/* Pointer to the IPv4 header of a parsed packet. */
static inline struct rte_ipv4_hdr *slnf_pkt_ip(const struct slnf_pkt *p)
{
	return rte_pktmbuf_mtod_offset(p->m, struct rte_ipv4_hdr *, p->l3_off);
}

static inline void slnf_pkt_drop(struct slnf_pkt *p, unsigned reason)
{
	p->verdict = SLNF_VERDICT_DROP;
	p->drop_reason = (uint8_t)reason;
}

#endif
