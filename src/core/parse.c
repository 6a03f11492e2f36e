/*
 * parse.c - validating a received frame and computing its flow key, once.
 *
 * Every check compares against the frame length (rte_pktmbuf_data_len of a
 * single-segment mbuf) before the bytes are read, so a truncated or hostile
 * frame can only end in a drop reason. The order of checks fixes which
 * reason a frame with several faults gets: L2, then the IPv4 header from the
 * outside in (length, version, IHL, total length, checksum, source), then
 * the L4 header of non-fragments and first fragments. Multi-byte fields are
 * read with memcpy, so unaligned frames (a VLAN tag shifts IPv4 by 4) are
 * fine. The only loop is the header checksum, at most 60 bytes.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "slnf/csum.h"
#include "slnf/pkt.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_MIN_HLEN 20
#define TCP_MIN_HLEN 20
#define UDP_HLEN 8
#define ICMP_MIN_HLEN 8

#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_16(v);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/* 0.0.0.0, 255.255.255.255 and 224.0.0.0/4 never send packets. */
static inline bool ip4_bad_src(uint32_t a)
{
	return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
}

/* Ports of the key from the L4 header at l4 with l4_len bytes inside the
 * IPv4 total length. Returns SLNF_DROP_NONE or SLNF_DROP_L4_TRUNCATED. */
static inline unsigned parse_l4(struct slnf_flow_key *key, const uint8_t *l4, uint32_t l4_len)
{
	uint32_t need, doff;

	switch (key->proto) {
	case PROTO_TCP:
		need = TCP_MIN_HLEN;
		break;
	case PROTO_UDP:
		need = UDP_HLEN;
		break;
	case PROTO_ICMP:
		need = ICMP_MIN_HLEN;
		break;
	default:
		return SLNF_DROP_NONE; /* no ports */
	}
	if (l4_len < need)
		return SLNF_DROP_L4_TRUNCATED;

	if (key->proto == PROTO_ICMP) {
		/* echo: the identifier stands for both ports */
		if (l4[0] == ICMP_ECHO_REQUEST || l4[0] == ICMP_ECHO_REPLY) {
			key->src_port = rd16(l4 + 4);
			key->dst_port = key->src_port;
		}
		return SLNF_DROP_NONE;
	}
	if (key->proto == PROTO_TCP) {
		/* data offset in 32-bit words, high nibble of byte 12 */
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < TCP_MIN_HLEN || doff > l4_len)
			return SLNF_DROP_L4_TRUNCATED;
	}
	key->src_port = rd16(l4);
	key->dst_port = rd16(l4 + 2);
	return SLNF_DROP_NONE;
}

unsigned slnf_pkt_parse(struct slnf_pkt *p, uint16_t *ethertype)
{
	const uint8_t *d = rte_pktmbuf_mtod(p->m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(p->m);
	uint32_t off = ETH_HLEN, hlen, tot, src;
	uint16_t et, frag;
	const uint8_t *ip;

	p->flags = 0;
	p->vlan = 0;
	p->l3_off = 0;
	p->l4_off = 0;
	p->l3_len = 0;
	memset(&p->key, 0, sizeof(p->key));
	p->hash = 0;

	if (len < ETH_HLEN)
		return SLNF_DROP_RUNT;
	et = rd16(d + 12);
	if (ethertype)
		*ethertype = et;
	if (et == RTE_ETHER_TYPE_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return SLNF_DROP_RUNT;
		p->flags |= SLNF_PKT_F_VLAN;
		p->vlan = rd16(d + 14) & 0x0fff;
		et = rd16(d + 16);
		if (ethertype)
			*ethertype = et;
		off += VLAN_HLEN;
	}
	if (et != RTE_ETHER_TYPE_IPV4)
		return SLNF_DROP_L2_UNSUPPORTED;

	p->l3_off = (uint16_t)off;
	if (len - off < IP4_MIN_HLEN)
		return SLNF_DROP_IP_TRUNCATED;
	ip = d + off;
	if ((ip[0] >> 4) != 4)
		return SLNF_DROP_IP_BAD_VERSION;
	hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hlen < IP4_MIN_HLEN || hlen > len - off)
		return SLNF_DROP_IP_BAD_IHL;
	tot = rd16(ip + 2);
	if (tot < hlen || tot > len - off)
		return SLNF_DROP_IP_BAD_LEN;
	/* A correct header, checksum included, sums to 0xffff. */
	if (slnf_csum(ip, hlen) != 0)
		return SLNF_DROP_IP_BAD_CSUM;
	src = rd32(ip + 12);
	if (ip4_bad_src(src))
		return SLNF_DROP_IP_BAD_SRC;

	p->l4_off = (uint16_t)(off + hlen);
	p->l3_len = (uint16_t)tot;
	p->key.src_ip = src;
	p->key.dst_ip = rd32(ip + 16);
	p->key.proto = ip[9];

	frag = rd16(ip + 6);
	if (frag & (IP4_MF | IP4_OFFMASK)) {
		p->flags |= SLNF_PKT_F_FRAG;
		if (!(frag & IP4_OFFMASK))
			p->flags |= SLNF_PKT_F_FIRST_FRAG;
	}
	/* Non-first fragments carry no L4 header: ports stay 0. */
	if (!(frag & IP4_OFFMASK)) {
		unsigned r = parse_l4(&p->key, ip + hlen, tot - hlen);

		if (r != SLNF_DROP_NONE) {
			p->key.src_port = 0;
			p->key.dst_port = 0;
			return r;
		}
	}
	p->hash = slnf_flow_hash(&p->key);
	return SLNF_DROP_NONE;
}
