/*
 * counters.h - every reason slnf drops a packet, in one X-macro list.
 *
 * The list expands into the enum used on the data path and into the names
 * printed by `slnfd --stats`, so a new reason is added in exactly one place
 * and shows up in the stats for free (the VPP error-counter habit).
 */
#ifndef SLNF_COUNTERS_H
#define SLNF_COUNTERS_H

#define SLNF_DROP_REASONS(X)                                                          \
	X(NONE, "none", "not dropped")                                                  \
	X(RUNT, "runt", "frame shorter than an Ethernet header")                        \
	X(L2_UNSUPPORTED, "l2_unsupported", "ethertype neither IPv4 nor ARP")           \
	X(L2_NOT_OURS, "l2_not_ours", "frame for another MAC address (or multicast)")   \
	X(ARP_MALFORMED, "arp_malformed", "ARP packet truncated or not Ethernet/IPv4")  \
	X(ARP_NOT_OURS, "arp_not_ours", "ARP request for an address we do not own")    \
	X(IP_TRUNCATED, "ip_truncated", "frame too short for the IPv4 header")          \
	X(IP_BAD_VERSION, "ip_bad_version", "IP version field is not 4")                \
	X(IP_BAD_IHL, "ip_bad_ihl", "IPv4 header length below 5 words or beyond frame") \
	X(IP_BAD_LEN, "ip_bad_len", "IPv4 total length below header or beyond frame")   \
	X(IP_BAD_CSUM, "ip_bad_csum", "IPv4 header checksum wrong")                     \
	X(IP_BAD_SRC, "ip_bad_src", "source address is multicast, broadcast or zero")   \
	X(L4_TRUNCATED, "l4_truncated", "first fragment too short for its L4 header")   \
	X(TTL_EXCEEDED, "ttl_exceeded", "TTL expired; ICMP time exceeded sent")         \
	X(NO_ROUTE, "no_route", "no route to destination; ICMP unreachable sent")       \
	X(FILTER_DENY, "filter_deny", "denied by a filter rule")                        \
	X(NO_TENANT, "no_tenant", "no tenant matches the ingress port or VLAN")         \
	X(NO_CHAIN_PORT, "no_out_port", "chain forwarded without choosing a port")      \
	X(NEIGH_UNRESOLVED, "neigh_unresolved", "next hop did not answer ARP")          \
	X(NEIGH_QUEUE_FULL, "neigh_queue_full", "too many packets waiting for ARP")     \
	X(LOCAL_UNSUPPORTED, "local_unsupported", "addressed to us but not ICMP echo") \
	X(ICMP_MALFORMED, "icmp_malformed", "ICMP to us too short or bad checksum")     \
	X(STORE_ERROR, "store_error", "state store did not acknowledge a write")        \
	X(STORE_CONFLICT, "store_conflict", "state changed by another writer")          \
	X(TX_FULL, "tx_full", "transmit queue full")                                    \
	X(FW_INVALID, "fw_invalid", "firewall: packet invalid for its connection state") \
	X(FW_DENY, "fw_deny", "denied by a firewall rule")                               \
	X(NAT_UNMAPPED, "nat_unmapped", "nat: inbound to a pool address with no mapping") \
	X(NAT_UNSUPPORTED, "nat_unsupported", "nat: outbound protocol it cannot translate") \
	X(NAT_FILTERED, "nat_filtered", "nat: inbound from a remote the mapping never sent to") \
	X(LB_NO_BACKEND, "lb_no_backend", "lb: the VIP has no backend taking new flows")   \
	X(LB_NO_STATE, "lb_no_state", "lb: mid-flow or return packet with no pin")        \
	X(STEER_NO_INSTANCE, "steer_no_instance", "steer: the tenant has no healthy instance (on this port)") \
	X(NO_MBUF, "no_mbuf", "buffer pool empty")

enum slnf_drop_reason {
#define SLNF_X_ENUM(id, name, help) SLNF_DROP_##id,
	SLNF_DROP_REASONS(SLNF_X_ENUM)
#undef SLNF_X_ENUM
		SLNF_DROP__COUNT
};

/* Short snake_case name of a reason, as shown in stats. */
const char *slnf_drop_reason_name(unsigned reason);
/* One-line explanation of a reason. */
const char *slnf_drop_reason_help(unsigned reason);

#endif
