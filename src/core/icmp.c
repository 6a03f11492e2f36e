/*
 * icmp.c - ICMP errors and echo replies built in the buffer of the packet
 * they answer.
 *
 * An ICMP error quotes the offending IP header and the first 8 bytes of its
 * payload (RFC 792). That quote already sits in the frame right behind the
 * L2 header, so nothing is copied but the L2 header itself: it moves 28
 * bytes down into the mbuf headroom, the new IPv4 and ICMP headers fill the
 * gap it leaves in front of the quote, and the frame is cut after the quote.
 * The L2 header (with its VLAN tag, if any) is kept for the caller to
 * rewrite. Echo replies only swap addresses and patch both checksums with
 * RFC 1624 updates, so a large ping costs one pass (the checksum check).
 * Both re-parse the packet so its offsets, key and hash describe what is
 * sent.
 *
 * Whether an error may be sent at all follows RFC 1812 4.3.2.7: never about
 * an ICMP error, a non-first fragment, a link-layer or IP broadcast or
 * multicast, or a source that is not one host.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "slnf/csum.h"
#include "core/icmp.h"

#define ICMP_HLEN 8
#define ICMP_QUOTE_DATA 8 /* payload bytes quoted after the IP header */
#define ICMP_GAP (sizeof(struct rte_ipv4_hdr) + ICMP_HLEN)
#define ICMP_TTL 64
#define ICMP_ERROR_TOS 0xc0 /* precedence 6, internetwork control (RFC 1812 4.3.2.5) */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The 16-bit header word holding TTL and protocol, host order. */
static inline uint16_t ttl_word(const struct rte_ipv4_hdr *ip)
{
	return (uint16_t)(ip->time_to_live << 8 | ip->next_proto_id);
}

/* A source that names one host: not 0/8, loopback, multicast, class E or
 * broadcast (RFC 1812 4.3.2.7, 5.3.7). Host order. */
static inline bool one_host(uint32_t a)
{
	uint32_t top = a >> 24;

	return top != 0 && top != 127 && top < 224;
}

/* Every type that is not a known query counts as an error, so an unknown
 * type is never answered. */
static bool icmp_type_is_error(uint8_t type)
{
	switch (type) {
	case 0:  /* echo reply */
	case 8:  /* echo request */
	case 9:  /* router advertisement */
	case 10: /* router solicitation */
	case 13: /* timestamp */
	case 14: /* timestamp reply */
	case 15: /* information request */
	case 16: /* information reply */
	case 17: /* address mask request */
	case 18: /* address mask reply */
		return false;
	default:
		return true;
	}
}

static int reparse(struct slnf_pkt *p)
{
	return slnf_pkt_parse(p, NULL) == SLNF_DROP_NONE ? 0 : -EINVAL;
}

bool slnf_icmp_error_allowed(const struct slnf_pkt *p)
{
	const uint8_t *frame = rte_pktmbuf_mtod(p->m, const uint8_t *);
	const struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
	uint32_t src = rte_be_to_cpu_32(ip->src_addr);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);

	/* group bit of the destination MAC: link-layer broadcast or multicast */
	if (frame[0] & 0x01)
		return false;
	if (!one_host(src))
		return false;
	if (dst == 0xffffffffu || (dst >> 28) == 0xe)
		return false;
	if ((p->flags & SLNF_PKT_F_FRAG) && !(p->flags & SLNF_PKT_F_FIRST_FRAG))
		return false;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		if (p->l4_off >= rte_pktmbuf_data_len(p->m))
			return false;
		if (icmp_type_is_error(frame[p->l4_off]))
			return false;
	}
	return true;
}

/* Make the mbuf hold exactly len bytes in its first segment. */
static void cut_frame(struct rte_mbuf *m, uint16_t len)
{
	if (m->next) {
		rte_pktmbuf_free(m->next);
		m->next = NULL;
		m->nb_segs = 1;
	}
	m->data_len = len;
	m->pkt_len = len;
}

int slnf_icmp_error_inplace(struct slnf_pkt *p, uint8_t type, uint8_t code, uint32_t src_ip)
{
	struct rte_mbuf *m = p->m;
	uint16_t l2_len = p->l3_off, ihl = p->l4_off - p->l3_off, quote;
	const struct rte_ipv4_hdr *orig = slnf_pkt_ip(p);
	struct rte_ipv4_hdr *ip;
	uint8_t *old, *start, *icmp;
	rte_be32_t to;

	if (!slnf_icmp_error_allowed(p))
		return -EINVAL;
	if (ihl < sizeof(*orig) || p->l3_len < ihl)
		return -EINVAL;
	quote = ihl + RTE_MIN(p->l3_len - ihl, ICMP_QUOTE_DATA);
	if (l2_len + quote > rte_pktmbuf_data_len(m))
		return -EINVAL;
	if (rte_pktmbuf_headroom(m) < ICMP_GAP)
		return -ENOSPC;

	to = orig->src_addr;
	old = rte_pktmbuf_mtod(m, uint8_t *);
	start = (uint8_t *)rte_pktmbuf_prepend(m, ICMP_GAP);
	memmove(start, old, l2_len);

	/* the quote stays where it was; the new headers end right before it */
	ip = (struct rte_ipv4_hdr *)(start + l2_len);
	icmp = (uint8_t *)(ip + 1);
	memset(icmp, 0, ICMP_HLEN);
	icmp[0] = type;
	icmp[1] = code;
	wr16(icmp + 2, slnf_csum(icmp, ICMP_HLEN + quote));

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = ICMP_ERROR_TOS;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(ICMP_GAP + quote));
	/* no counter to draw from in a stateless instance; the flow hash
	 * spreads the identifiers well enough for a packet that is never
	 * fragmented (at most 28 + 68 bytes) */
	ip->packet_id = rte_cpu_to_be_16((uint16_t)p->hash);
	ip->time_to_live = ICMP_TTL;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(src_ip);
	ip->dst_addr = to;
	ip->hdr_checksum = rte_cpu_to_be_16(slnf_csum(ip, sizeof(*ip)));

	cut_frame(m, (uint16_t)(l2_len + ICMP_GAP + quote));
	return reparse(p);
}

int slnf_icmp_echo_reply_inplace(struct slnf_pkt *p)
{
	struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
	uint16_t ihl = p->l4_off - p->l3_off, old, csum;
	uint8_t *icmp;
	uint32_t len;
	rte_be32_t a;

	if (ip->next_proto_id != IPPROTO_ICMP || (p->flags & SLNF_PKT_F_FRAG))
		return -EINVAL;
	if (p->l3_len < ihl + ICMP_HLEN)
		return -EINVAL;
	len = p->l3_len - ihl;
	if (p->l4_off + len > rte_pktmbuf_data_len(p->m))
		return -EINVAL;
	icmp = rte_pktmbuf_mtod_offset(p->m, uint8_t *, p->l4_off);
	if (icmp[0] != SLNF_ICMP_ECHO_REQUEST || slnf_csum(icmp, len) != 0)
		return -EINVAL;

	old = rd16(icmp);
	icmp[0] = SLNF_ICMP_ECHO_REPLY;
	wr16(icmp + 2, slnf_csum_update16(rd16(icmp + 2), old, rd16(icmp)));

	/* swapping the addresses leaves the header sum as it was */
	a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	old = ttl_word(ip);
	ip->time_to_live = ICMP_TTL;
	csum = slnf_csum_update16(rte_be_to_cpu_16(ip->hdr_checksum), old, ttl_word(ip));
	ip->hdr_checksum = rte_cpu_to_be_16(csum);
	return reparse(p);
}
