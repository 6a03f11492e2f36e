/*
 * nat_icmp.h - ICMP error translation for the nat NF (RFC 5508 section
 * 4.2): the packet an ICMP error quotes is the one the NAT translated, so
 * translating the error means translating the quote back.
 *
 * An error from outside to a pool address quotes a packet the NAT sent out:
 * its source is the mapping's outside endpoint, rewritten to the inside
 * endpoint (and the outer destination to the inside host). An error from
 * inside quotes a packet the NAT sent in: its destination is the inside
 * endpoint, rewritten to the outside one (and the outer source to the
 * mapping's outside address). This file finds the quote and rewrites one
 * of its endpoints; nat.c decides which, with the mapping records.
 */
#ifndef SLNF_NF_NAT_ICMP_H
#define SLNF_NF_NAT_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include "slnf/pkt.h"
#include "nf/nat_rewrite.h"

/* The quoted packet, offsets from the start of the frame. */
struct slnf_nat_quote {
	uint16_t ip_off;       /* quoted IPv4 header */
	uint16_t l4_off;       /* quoted L4 header */
	uint16_t l4_len;       /* bytes of it present (at least 8) */
	uint8_t proto;	       /* TCP, UDP or ICMP (an echo request or reply) */
	uint32_t src, dst;     /* host order */
	uint16_t sport, dport; /* ICMP echo: the identifier in both */
};

/* True for the ICMP types whose message quotes a packet and that a NAT
 * translates: destination unreachable, source quench, time exceeded,
 * parameter problem. */
bool slnf_nat_icmp_is_error(uint8_t type);

/* Find the quote in ICMP error p (whole packet, not a fragment). Returns 0,
 * or -EINVAL when it is too short (under its IPv4 header plus 8 bytes), not
 * IPv4, a later fragment, or of a protocol the NAT does not map. */
int slnf_nat_quote_parse(const struct slnf_pkt *p, struct slnf_nat_quote *q);

/* Set the quote's side endpoint to addr:port (host order), updating the
 * quoted IPv4 header checksum, the quoted L4 checksum when the quote holds
 * it (UDP's 0 stays 0; TCP's only when 18 bytes or more are quoted), and
 * the ICMP checksum of the error, incrementally. q is updated. */
void slnf_nat_quote_rewrite(struct slnf_pkt *p, struct slnf_nat_quote *q, enum slnf_nat_side side,
			    uint32_t addr, uint16_t port);

#endif
