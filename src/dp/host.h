/*
 * host.h - what lets ordinary Linux hosts use slnfd as their gateway: ARP
 * for its own addresses, learning neighbours from ARP, ARP requests for
 * next hops, and ICMP echo replies for its own addresses.
 *
 * Replies are built in place in the received buffer (no allocation), so the
 * functions are plain transformations, unit-tested without ports.
 */
#ifndef SLNF_DP_HOST_H
#define SLNF_DP_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "slnf/config.h"
#include "slnf/pkt.h"
#include "dp/neigh.h"

/* The addresses and MAC of every port, as the host code needs them. */
struct slnf_host_port {
	struct rte_ether_addr mac;
	uint32_t addrs[SLNF_MAX_ADDRS]; /* host order */
	uint8_t lens[SLNF_MAX_ADDRS];
	unsigned n_addrs;
};

struct slnf_host {
	struct slnf_host_port ports[SLNF_MAX_PORTS];
	unsigned n_ports;
};

struct slnf_host_stats {
	uint64_t arp_requests_rx;
	uint64_t arp_replies_tx;
	uint64_t arp_requests_tx;
	uint64_t arp_replies_rx;
	uint64_t icmp_echo_replies;
};

enum slnf_host_action {
	SLNF_HOST_TX,   /* reply built in place: transmit on the ingress port */
	SLNF_HOST_FREE, /* consumed (e.g. an ARP reply we learned from): free */
	SLNF_HOST_DROP, /* drop and count *reason */
};

/* Fill h from the config (addresses) and the ports' MACs. */
void slnf_host_init(struct slnf_host *h, const struct slnf_config *cfg,
		    const struct rte_ether_addr *macs);

/* True when ip is one of port's addresses. */
bool slnf_host_owns(const struct slnf_host *h, uint16_t port, uint32_t ip);
/* True when ip is ours on any port, or a broadcast/multicast destination we
 * must not forward (limited broadcast, a port's subnet broadcast, 224/4). */
bool slnf_host_is_local(const struct slnf_host *h, uint32_t ip);
/* The first address of port, 0 if it has none. */
uint32_t slnf_host_first_addr(const struct slnf_host *h, uint16_t port);
/* The address of port on the same subnet as ip, else its first address. */
uint32_t slnf_host_source_for(const struct slnf_host *h, uint16_t port, uint32_t ip);

/* Handle an ARP frame received on port. Learns the sender when the frame
 * is for us (released packets that waited for it are returned in released,
 * their count in *n_released: transmit them with the learned MAC, which is
 * in released_mac), and turns a request for our address into the reply. */
enum slnf_host_action slnf_host_arp(const struct slnf_host *h, struct slnf_neigh_table *nt,
				    struct rte_mbuf *m, uint16_t port, uint64_t now_ms,
				    struct slnf_host_stats *st, unsigned *reason,
				    struct rte_mbuf **released, unsigned max_released,
				    unsigned *n_released, uint8_t released_mac[6]);

/* True when the host path answers or drops p itself: ICMP echo requests to
 * one of our addresses, and anything to a broadcast or multicast address.
 * Other traffic to our unicast addresses goes through the tenant's chain,
 * so an NF that owns such an address (a NAT pool on the port address) sees
 * its return traffic; the router drops what nothing claimed. */
bool slnf_host_takes(const struct slnf_host *h, const struct slnf_pkt *p);

/* Handle an IPv4 packet addressed to us (slnf_host_is_local was true):
 * ICMP echo request -> reply in place (Ethernet addresses swapped). */
enum slnf_host_action slnf_host_local(const struct slnf_host *h, struct slnf_pkt *p,
				      struct slnf_host_stats *st, unsigned *reason);

/* Write an ARP request for ip from port into m (m must be empty). 0 or
 * -ENOSPC. */
int slnf_host_arp_request(const struct slnf_host *h, struct rte_mbuf *m, uint16_t port,
			  uint32_t ip);

/* Set the Ethernet addresses of a frame about to leave on port. */
void slnf_host_set_l2(const struct slnf_host *h, struct rte_mbuf *m, uint16_t port,
		      const uint8_t dst[6]);

#endif
