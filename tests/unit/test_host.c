/*
 * test_host.c - ARP and ICMP echo for slnfd's own addresses: replies built
 * in place, neighbours learned only from ARP addressed to us, held packets
 * released by the answer, and local/broadcast destinations recognised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ether.h>

#include "core/icmp.h"
#include "dp/host.h"
#include "slnf/csum.h"
#include "testutil.h"

static struct slnf_host host;
static struct slnf_config cfg;
static const uint8_t PEER_MAC[6] = {2, 0, 0, 0, 0, 0x22};

static int setup(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_ports = 2;
	cfg.ports[0].n_addrs = 1;
	cfg.ports[0].addrs[0] = (struct slnf_ipv4_prefix){slnf_test_ip("10.1.0.1"), 24};
	cfg.ports[1].n_addrs = 2;
	cfg.ports[1].addrs[0] = (struct slnf_ipv4_prefix){slnf_test_ip("10.2.0.1"), 24};
	cfg.ports[1].addrs[1] = (struct slnf_ipv4_prefix){slnf_test_ip("10.3.0.1"), 16};
	struct rte_ether_addr macs[2] = {{{2, 0, 0, 0, 1, 0}}, {{2, 0, 0, 0, 1, 1}}};
	slnf_host_init(&host, &cfg, macs);
	return 0;
}

static struct rte_mbuf *arp_frame(uint16_t op, uint32_t sip, uint32_t tip)
{
	uint8_t buf[60] = {0};
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	memset(&eth->dst_addr, 0xff, 6);
	memcpy(&eth->src_addr, PEER_MAC, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	memcpy(&a->arp_data.arp_sha, PEER_MAC, 6);
	a->arp_data.arp_sip = rte_cpu_to_be_32(sip);
	a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	return slnf_test_mbuf(buf, sizeof(buf));
}

static enum slnf_host_action do_arp(struct slnf_neigh_table *nt, struct rte_mbuf *m,
				    uint16_t port, unsigned *reason, unsigned *n_rel,
				    struct rte_mbuf **rel)
{
	struct slnf_host_stats st = {0};
	uint8_t mac[6];
	return slnf_host_arp(&host, nt, m, port, 0, &st, reason, rel, 8, n_rel, mac);
}

static void test_arp_reply_for_our_address(void **state)
{
	struct slnf_neigh_table nt;
	slnf_neigh_init(&nt, 16, 30, 4);
	struct rte_mbuf *m = arp_frame(RTE_ARP_OP_REQUEST, slnf_test_ip("10.3.9.9"),
				       slnf_test_ip("10.3.0.1"));
	unsigned reason = 0, n_rel = 0;
	struct rte_mbuf *rel[8];
	assert_int_equal(do_arp(&nt, m, 1, &reason, &n_rel, rel), SLNF_HOST_TX);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	assert_int_equal(rte_be_to_cpu_16(a->arp_opcode), RTE_ARP_OP_REPLY);
	assert_memory_equal(&eth->dst_addr, PEER_MAC, 6);
	assert_memory_equal(&a->arp_data.arp_sha, &host.ports[1].mac, 6);
	assert_memory_equal(&eth->src_addr, &host.ports[1].mac, 6);
	assert_int_equal(rte_be_to_cpu_32(a->arp_data.arp_sip), slnf_test_ip("10.3.0.1"));
	assert_int_equal(rte_be_to_cpu_32(a->arp_data.arp_tip), slnf_test_ip("10.3.9.9"));
	/* the asker was learned */
	uint8_t mac[6];
	assert_int_equal(slnf_neigh_resolve(&nt, 1, slnf_test_ip("10.3.9.9"), 1, NULL, mac),
			 SLNF_NEIGH_HIT);
	assert_memory_equal(mac, PEER_MAC, 6);
	rte_pktmbuf_free(m);
	slnf_neigh_fini(&nt);
}

static void test_arp_not_ours(void **state)
{
	struct slnf_neigh_table nt;
	slnf_neigh_init(&nt, 16, 30, 4);
	unsigned reason = 0, n_rel = 0;
	struct rte_mbuf *rel[8];
	/* our address, but on the other port: not answered, not learned */
	struct rte_mbuf *m = arp_frame(RTE_ARP_OP_REQUEST, slnf_test_ip("10.1.0.7"),
				       slnf_test_ip("10.2.0.1"));
	assert_int_equal(do_arp(&nt, m, 0, &reason, &n_rel, rel), SLNF_HOST_DROP);
	assert_int_equal(reason, SLNF_DROP_ARP_NOT_OURS);
	struct slnf_neigh_entry snap[2];
	assert_int_equal(slnf_neigh_snapshot(&nt, 0, snap, 2), 0);
	rte_pktmbuf_free(m);
	/* truncated */
	uint8_t shortf[20] = {0};
	shortf[12] = 0x08;
	shortf[13] = 0x06;
	m = slnf_test_mbuf(shortf, sizeof(shortf));
	assert_int_equal(do_arp(&nt, m, 0, &reason, &n_rel, rel), SLNF_HOST_DROP);
	assert_int_equal(reason, SLNF_DROP_ARP_MALFORMED);
	rte_pktmbuf_free(m);
	slnf_neigh_fini(&nt);
}

static void test_arp_reply_releases_held(void **state)
{
	struct slnf_neigh_table nt;
	slnf_neigh_init(&nt, 16, 30, 4);
	uint8_t mac[6];
	struct rte_mbuf *held = slnf_test_ipv4(IPPROTO_UDP, 1, 2, 3, 4, 64, 0);
	uint32_t peer = slnf_test_ip("10.1.0.2");
	assert_int_equal(slnf_neigh_resolve(&nt, 0, peer, 0, held, mac), SLNF_NEIGH_HELD_PROBE);
	struct rte_mbuf *req = rte_pktmbuf_alloc(slnf_test_eal());
	assert_int_equal(slnf_host_arp_request(&host, req, 0, peer), 0);
	struct rte_arp_hdr *ra = rte_pktmbuf_mtod_offset(req, struct rte_arp_hdr *, 14);
	assert_int_equal(rte_be_to_cpu_32(ra->arp_data.arp_sip), slnf_test_ip("10.1.0.1"));
	assert_int_equal(rte_be_to_cpu_32(ra->arp_data.arp_tip), peer);
	rte_pktmbuf_free(req);

	struct rte_mbuf *reply = arp_frame(RTE_ARP_OP_REPLY, peer, slnf_test_ip("10.1.0.1"));
	unsigned reason = 0, n_rel = 0;
	struct rte_mbuf *rel[8];
	assert_int_equal(do_arp(&nt, reply, 0, &reason, &n_rel, rel), SLNF_HOST_FREE);
	assert_int_equal(n_rel, 1);
	assert_ptr_equal(rel[0], held);
	rte_pktmbuf_free(reply);
	rte_pktmbuf_free(held);
	slnf_neigh_fini(&nt);
}

static void test_local_addresses(void **state)
{
	assert_true(slnf_host_is_local(&host, slnf_test_ip("10.2.0.1")));
	assert_true(slnf_host_is_local(&host, slnf_test_ip("10.1.0.255")));   /* subnet bcast */
	assert_true(slnf_host_is_local(&host, slnf_test_ip("10.3.255.255"))); /* /16 bcast */
	assert_true(slnf_host_is_local(&host, slnf_test_ip("255.255.255.255")));
	assert_true(slnf_host_is_local(&host, slnf_test_ip("224.0.0.5")));
	assert_false(slnf_host_is_local(&host, slnf_test_ip("10.1.0.2")));
	assert_false(slnf_host_is_local(&host, slnf_test_ip("10.3.1.255")));
	assert_int_equal(slnf_host_source_for(&host, 1, slnf_test_ip("10.3.7.7")),
			 slnf_test_ip("10.3.0.1"));
	assert_int_equal(slnf_host_source_for(&host, 1, slnf_test_ip("192.0.2.1")),
			 slnf_test_ip("10.2.0.1"));
}

static void test_echo_reply(void **state)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_ICMP, slnf_test_ip("10.1.0.2"),
					    slnf_test_ip("10.1.0.1"), 0x1234, 0, 64, 32);
	struct slnf_pkt p;
	slnf_test_parse(&p, m);
	struct slnf_host_stats st = {0};
	unsigned reason = 0;
	assert_int_equal(slnf_host_local(&host, &p, &st, &reason), SLNF_HOST_TX);
	assert_int_equal(st.icmp_echo_replies, 1);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	assert_int_equal(rte_be_to_cpu_32(ip->dst_addr), slnf_test_ip("10.1.0.2"));
	assert_int_equal(rte_be_to_cpu_32(ip->src_addr), slnf_test_ip("10.1.0.1"));
	assert_int_equal(slnf_csum(ip, 20), 0);
	uint8_t *icmp = (uint8_t *)(ip + 1);
	assert_int_equal(icmp[0], SLNF_ICMP_ECHO_REPLY);
	assert_int_equal(slnf_csum(icmp, 8 + 32), 0);
	rte_pktmbuf_free(m);

	/* UDP to our address is not served */
	m = slnf_test_ipv4(IPPROTO_UDP, slnf_test_ip("10.1.0.2"), slnf_test_ip("10.1.0.1"), 1, 2, 64, 0);
	slnf_test_parse(&p, m);
	assert_int_equal(slnf_host_local(&host, &p, &st, &reason), SLNF_HOST_DROP);
	assert_int_equal(reason, SLNF_DROP_LOCAL_UNSUPPORTED);
	rte_pktmbuf_free(m);
}

/* Which packets to our addresses the host path keeps: echo requests and
 * broadcast/multicast; everything else goes to the chain (a NAT pool on a
 * port address needs its replies). */
static void test_host_takes(void **state)
{
	struct slnf_pkt p;
	struct rte_mbuf *m;
	struct {
		uint8_t proto;
		const char *dst;
		bool taken;
	} cases[] = {
		{IPPROTO_ICMP, "10.1.0.1", true},       /* echo request to us */
		{IPPROTO_UDP, "10.1.0.1", false},       /* to us, not echo: chain */
		{IPPROTO_TCP, "10.3.0.1", false},
		{IPPROTO_UDP, "10.1.0.255", true},      /* subnet broadcast */
		{IPPROTO_UDP, "224.0.0.9", true},       /* multicast */
		{IPPROTO_UDP, "10.1.0.2", false},       /* someone else */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = slnf_test_ipv4(cases[i].proto, slnf_test_ip("10.1.0.2"),
				   slnf_test_ip(cases[i].dst), 1, 2, 64, 0);
		slnf_test_parse(&p, m);
		assert_int_equal(slnf_host_takes(&host, &p), cases[i].taken);
		rte_pktmbuf_free(m);
	}
}

int main(void)
{
	slnf_test_eal();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_arp_reply_for_our_address, setup),
		cmocka_unit_test_setup(test_arp_not_ours, setup),
		cmocka_unit_test_setup(test_arp_reply_releases_held, setup),
		cmocka_unit_test_setup(test_local_addresses, setup),
		cmocka_unit_test_setup(test_echo_reply, setup),
		cmocka_unit_test_setup(test_host_takes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
