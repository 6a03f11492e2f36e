/*
 * testutil.h - shared helpers for the cmocka unit tests: a small DPDK
 * environment (--no-huge, no PCI, its own file prefix) and mbufs built from
 * byte strings, so NF and parser tests work on real rte_mbufs without ports.
 */
#ifndef SLNF_TESTUTIL_H
#define SLNF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "slnf/pkt.h"

/* Start EAL once per process; returns the shared mbuf pool. Aborts on failure. */
struct rte_mempool *slnf_test_eal(void);
/* A fresh mbuf holding a copy of len bytes. */
struct rte_mbuf *slnf_test_mbuf(const void *bytes, size_t len);
/* Build an Ethernet + IPv4 frame: proto, addresses (host order), ports
 * (for TCP/UDP), payload_len zero bytes; checksums valid. Returns mbuf. */
struct rte_mbuf *slnf_test_ipv4(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
				uint16_t dport, uint8_t ttl, size_t payload_len);
/* Parse m into p (in_port 0) and assert the parse succeeded. */
void slnf_test_parse(struct slnf_pkt *p, struct rte_mbuf *m);
/* IPv4 from dotted string, host order. */
uint32_t slnf_test_ip(const char *s);

#endif
