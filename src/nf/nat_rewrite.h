/*
 * nat_rewrite.h - rewriting one endpoint of a parsed IPv4 packet in place,
 * for the nat NF.
 *
 * A NAT changes the source (outbound) or the destination (inbound) address
 * and port of a TCP or UDP packet, or the identifier of an ICMP echo. Every
 * checksum that covers a changed field is updated incrementally (RFC 1624):
 * the IPv4 header checksum for the address, the TCP/UDP checksum for the
 * address (pseudo-header) and the port, the ICMP checksum for the
 * identifier (ICMP has no pseudo-header). A UDP checksum of 0 ("none")
 * stays 0 and a computed 0 is sent as 0xffff. The packet's flow key and
 * hash are updated to match, so later NFs (the filter reads p->key, the
 * router the IP header) see the translated packet.
 */
#ifndef SLNF_NF_NAT_REWRITE_H
#define SLNF_NF_NAT_REWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "slnf/pkt.h"

/* Offsets of the checksums and the echo identifier in their L4 headers. */
#define SLNF_TCP_CSUM_OFF 16
#define SLNF_UDP_CSUM_OFF 6
#define SLNF_ICMP_CSUM_OFF 2
#define SLNF_ICMP_ID_OFF 4

/* Big-endian 16-bit fields at any alignment. */
static inline uint16_t slnf_get16(const uint8_t *at)
{
	return (uint16_t)(at[0] << 8 | at[1]);
}

static inline void slnf_put16(uint8_t *at, uint16_t v)
{
	at[0] = (uint8_t)(v >> 8);
	at[1] = (uint8_t)v;
}

/* Which endpoint of the packet to rewrite. */
enum slnf_nat_side { SLNF_NAT_SRC, SLNF_NAT_DST };

/* Set the side's address to addr and its port (ICMP echo: the identifier)
 * to port, both host order. p must be TCP, UDP or an ICMP echo with its L4
 * header present (not a later fragment). */
void slnf_nat_rewrite(struct slnf_pkt *p, enum slnf_nat_side side, uint32_t addr,
		      uint16_t port);

/* Set only the side's address of the outer IPv4 header (the header
 * checksum updated; an ICMP error's own checksum does not cover it), and
 * p->key and p->hash. For ICMP errors, whose quote nat_icmp.h rewrites. */
void slnf_nat_rewrite_addr(struct slnf_pkt *p, enum slnf_nat_side side, uint32_t addr);

#endif
