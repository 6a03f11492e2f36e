/*
 * icmp.h - building ICMP messages in place.
 *
 * When a packet must be answered with an ICMP error (time exceeded, no
 * route), the offending packet is dropped anyway, so its buffer is reused:
 * the quoted part (IP header + 8 bytes, RFC 792) is moved behind a new IPv4
 * and ICMP header and the frame is trimmed. No allocation on the data path.
 */
#ifndef SLNF_ICMP_H
#define SLNF_ICMP_H

#include <stdint.h>

#include "slnf/pkt.h"

#define SLNF_ICMP_ECHO_REPLY 0
#define SLNF_ICMP_DEST_UNREACH 3
#define SLNF_ICMP_ECHO_REQUEST 8
#define SLNF_ICMP_TIME_EXCEEDED 11

#define SLNF_ICMP_NET_UNREACH 0
#define SLNF_ICMP_HOST_UNREACH 1
#define SLNF_ICMP_PORT_UNREACH 3
#define SLNF_ICMP_ADMIN_PROHIBITED 13
#define SLNF_ICMP_TTL_EXCEEDED 0

/* True when p may be answered with an ICMP error (RFC 1812 4.3.2.7: not an
 * ICMP error itself, not a non-first fragment, not to/from a broadcast,
 * multicast or zero address). */
bool slnf_icmp_error_allowed(const struct slnf_pkt *p);

/* Turn parsed packet p into an ICMP error (type, code) from src_ip (host
 * order) back to p's source, TTL 64. Re-parses p so its key, offsets and
 * hash describe the new packet. Ethernet addresses are left for the caller.
 * Returns 0 or -EINVAL (packet not suitable) / -ENOSPC (no headroom). */
int slnf_icmp_error_inplace(struct slnf_pkt *p, uint8_t type, uint8_t code, uint32_t src_ip);

/* Turn an ICMP echo request addressed to us into the echo reply in place
 * (swap addresses, type 0, checksums updated incrementally, TTL 64).
 * Returns 0, or -EINVAL when p is not a well-formed echo request (truncated,
 * bad ICMP checksum). */
int slnf_icmp_echo_reply_inplace(struct slnf_pkt *p);

#endif
