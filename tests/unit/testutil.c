/*
 * testutil.c - see testutil.h. EAL runs with --no-huge and a file prefix
 * unique to the process so unit tests can run beside a live slnfd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "testutil.h"
#include "slnf/csum.h"

static struct rte_mempool *pool;

struct rte_mempool *slnf_test_eal(void)
{
	if (pool)
		return pool;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=slnf-unit-%d", (int)getpid());
	char *argv[] = {"test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			prefix, "-l", "0", "--log-level", "error", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "testutil: rte_eal_init failed\n");
		abort();
	}
	pool = rte_pktmbuf_pool_create("test_pool", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (!pool) {
		fprintf(stderr, "testutil: mbuf pool failed\n");
		abort();
	}
	return pool;
}

struct rte_mbuf *slnf_test_mbuf(const void *bytes, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(slnf_test_eal());
	assert_non_null(m);
	char *d = rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(d);
	memcpy(d, bytes, len);
	return m;
}

uint32_t slnf_test_ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

struct rte_mbuf *slnf_test_ipv4(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
				uint16_t dport, uint8_t ttl, size_t payload_len)
{
	uint8_t buf[2048];
	size_t l4len = proto == IPPROTO_TCP ? 20 : proto == IPPROTO_UDP ? 8 : proto == IPPROTO_ICMP ? 8 : 0;
	size_t total = 14 + 20 + l4len + payload_len;
	assert_true(total <= sizeof(buf));
	memset(buf, 0, total);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
	memcpy(&eth->dst_addr, dmac, 6);
	memcpy(&eth->src_addr, smac, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + 14);
	ip->version_ihl = 0x45;
	ip->total_length = htons((uint16_t)(20 + l4len + payload_len));
	ip->packet_id = htons(1);
	ip->time_to_live = ttl;
	ip->next_proto_id = proto;
	ip->src_addr = htonl(src);
	ip->dst_addr = htonl(dst);
	ip->hdr_checksum = htons(slnf_csum(ip, 20));
	uint8_t *l4 = buf + 34;
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = htons(sport);
		t->dst_port = htons(dport);
		t->data_off = 0x50;
		t->tcp_flags = RTE_TCP_SYN_FLAG;
		t->rx_win = htons(65535);
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	} else if (proto == IPPROTO_UDP) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = htons(sport);
		u->dst_port = htons(dport);
		u->dgram_len = htons((uint16_t)(8 + payload_len));
		u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
	} else if (proto == IPPROTO_ICMP) {
		l4[0] = 8; /* echo request */
		l4[4] = (uint8_t)(sport >> 8);
		l4[5] = (uint8_t)sport;
		uint16_t c = slnf_csum(l4, 8 + payload_len);
		l4[2] = (uint8_t)(c >> 8);
		l4[3] = (uint8_t)c;
	}
	return slnf_test_mbuf(buf, total);
}

void slnf_test_parse(struct slnf_pkt *p, struct rte_mbuf *m)
{
	memset(p, 0, sizeof(*p));
	p->m = m;
	p->out_port = SLNF_PORT_NONE;
	p->state_req = -1;
	assert_int_equal(slnf_pkt_parse(p, NULL), SLNF_DROP_NONE);
}
