/*
 * test_icmp.c - ICMP messages built in place: echo replies (addresses
 * swapped, checksums still valid, malformed requests refused), errors
 * (headers, quote length, VLAN tag kept, no headroom) and the RFC 1812
 * rules for when an error may be sent at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>

#include "core/icmp.h"
#include "slnf/csum.h"
#include "testutil.h"

#define IP slnf_test_ip

static uint8_t *l4(const struct slnf_pkt *p)
{
	return rte_pktmbuf_mtod_offset(p->m, uint8_t *, p->l4_off);
}

static void fix_ip_csum(struct rte_ipv4_hdr *ip)
{
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_cpu_to_be_16(slnf_csum(ip, rte_ipv4_hdr_len(ip)));
}

static void fix_icmp_csum(struct slnf_pkt *p)
{
	uint8_t *icmp = l4(p);
	uint16_t c;

	icmp[2] = icmp[3] = 0;
	c = slnf_csum(icmp, p->l3_len - (p->l4_off - p->l3_off));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
}

static void parse(struct slnf_pkt *p, struct rte_mbuf *m)
{
	slnf_test_parse(p, m);
}

static void test_echo_reply(void **state)
{
	struct slnf_pkt p;
	struct rte_ipv4_hdr *ip;
	uint8_t *icmp;

	parse(&p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("10.10.1.1"), 0x1234, 0, 3, 57));
	/* a payload that is not all zeroes, odd length */
	for (int i = 0; i < 57; i++)
		l4(&p)[8 + i] = (uint8_t)(i * 7 + 1);
	fix_icmp_csum(&p);

	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), 0);
	ip = slnf_pkt_ip(&p);
	icmp = l4(&p);
	assert_int_equal(icmp[0], SLNF_ICMP_ECHO_REPLY);
	assert_int_equal(icmp[1], 0);
	assert_int_equal(icmp[4] << 8 | icmp[5], 0x1234);
	assert_int_equal(slnf_csum(icmp, 8 + 57), 0);
	assert_int_equal(slnf_csum(ip, sizeof(*ip)), 0);
	assert_int_equal(rte_be_to_cpu_32(ip->src_addr), IP("10.10.1.1"));
	assert_int_equal(rte_be_to_cpu_32(ip->dst_addr), IP("10.10.1.5"));
	assert_int_equal(ip->time_to_live, 64);
	/* re-parsed: the key is the reply's */
	assert_int_equal(p.key.src_ip, IP("10.10.1.1"));
	assert_int_equal(p.key.dst_ip, IP("10.10.1.5"));
	assert_int_equal(p.key.src_port, 0x1234);
	assert_int_equal(p.l3_len, 20 + 8 + 57);
	rte_pktmbuf_free(p.m);
}

static void test_echo_refused(void **state)
{
	struct slnf_pkt p;

	/* bad ICMP checksum */
	parse(&p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("10.10.1.1"), 1, 0, 64, 16));
	l4(&p)[10] ^= 0x40;
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	rte_pktmbuf_free(p.m);

	/* truncated: the IP length leaves 4 bytes of ICMP (the parser would
	 * refuse such a frame; the function must not rely on that) */
	parse(&p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("10.10.1.1"), 1, 0, 64, 0));
	p.l3_len = 24;
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	/* and a length past the frame */
	p.l3_len = 200;
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	rte_pktmbuf_free(p.m);

	/* not a request */
	parse(&p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("10.10.1.1"), 1, 0, 64, 0));
	l4(&p)[0] = SLNF_ICMP_ECHO_REPLY;
	fix_icmp_csum(&p);
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	rte_pktmbuf_free(p.m);

	/* not ICMP */
	parse(&p, slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP("10.10.1.1"), 1, 7, 64, 0));
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	rte_pktmbuf_free(p.m);

	/* a fragment of a large ping */
	parse(&p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("10.10.1.1"), 1, 0, 64, 16));
	slnf_pkt_ip(&p)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	fix_ip_csum(slnf_pkt_ip(&p));
	parse(&p, p.m);
	assert_int_equal(slnf_icmp_echo_reply_inplace(&p), -EINVAL);
	rte_pktmbuf_free(p.m);
}

/* Build the error for p and check its headers; returns the quote length. */
static size_t check_error(struct slnf_pkt *p, size_t want_quote)
{
	uint8_t orig[128];
	size_t l2 = p->l3_off, quote;
	struct rte_ipv4_hdr *ip;
	uint8_t *icmp;

	memcpy(orig, slnf_pkt_ip(p), want_quote);
	assert_int_equal(slnf_icmp_error_inplace(p, SLNF_ICMP_DEST_UNREACH,
						 SLNF_ICMP_HOST_UNREACH, IP("10.10.1.1")),
			 0);
	ip = slnf_pkt_ip(p);
	icmp = l4(p);
	quote = p->l3_len - 28;
	assert_int_equal(quote, want_quote);
	assert_int_equal(p->l3_off, l2);
	assert_int_equal(rte_pktmbuf_data_len(p->m), l2 + 28 + quote);
	assert_int_equal(rte_pktmbuf_pkt_len(p->m), l2 + 28 + quote);
	assert_int_equal(ip->version_ihl, 0x45);
	assert_int_equal(ip->next_proto_id, IPPROTO_ICMP);
	assert_int_equal(ip->time_to_live, 64);
	assert_int_equal(slnf_csum(ip, sizeof(*ip)), 0);
	assert_int_equal(rte_be_to_cpu_32(ip->src_addr), IP("10.10.1.1"));
	assert_int_equal(rte_be_to_cpu_32(ip->dst_addr), IP("10.10.1.5"));
	assert_int_equal(icmp[0], SLNF_ICMP_DEST_UNREACH);
	assert_int_equal(icmp[1], SLNF_ICMP_HOST_UNREACH);
	assert_int_equal(slnf_csum(icmp, 8 + quote), 0);
	assert_memory_equal(icmp + 8, orig, quote);
	assert_int_equal(p->key.proto, IPPROTO_ICMP);
	assert_int_equal(p->key.dst_ip, IP("10.10.1.5"));
	return quote;
}

static void test_error_quote_length(void **state)
{
	struct slnf_pkt p;

	/* long UDP: header + 8 bytes */
	parse(&p, slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP("8.8.8.8"), 5000, 53, 9, 1000));
	check_error(&p, 28);
	rte_pktmbuf_free(p.m);

	/* TCP without payload: the first 8 bytes of its header */
	parse(&p, slnf_test_ipv4(IPPROTO_TCP, IP("10.10.1.5"), IP("8.8.8.8"), 5000, 80, 9, 0));
	check_error(&p, 28);
	rte_pktmbuf_free(p.m);

	/* fewer than 8 payload bytes: all of them */
	parse(&p, slnf_test_ipv4(253, IP("10.10.1.5"), IP("8.8.8.8"), 0, 0, 9, 3));
	check_error(&p, 23);
	rte_pktmbuf_free(p.m);
}

static void test_error_with_options(void **state)
{
	uint8_t frame[14 + 24 + 8 + 40];
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP("8.8.8.8"), 1, 2, 9, 40);
	struct rte_ipv4_hdr *ip;
	struct slnf_pkt p;

	/* insert 4 bytes of options (NOPs) after the 20-byte header */
	memcpy(frame, rte_pktmbuf_mtod(m, uint8_t *), 34);
	memset(frame + 34, 0x01, 4);
	memcpy(frame + 38, rte_pktmbuf_mtod_offset(m, uint8_t *, 34), 48);
	rte_pktmbuf_free(m);
	ip = (struct rte_ipv4_hdr *)(frame + 14);
	ip->version_ihl = 0x46;
	ip->total_length = rte_cpu_to_be_16(24 + 48);
	fix_ip_csum(ip);
	parse(&p, slnf_test_mbuf(frame, sizeof(frame)));
	check_error(&p, 24 + 8);
	rte_pktmbuf_free(p.m);
}

static void test_error_keeps_vlan(void **state)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP("8.8.8.8"), 1, 2, 9, 10);
	uint8_t frame[14 + 4 + 20 + 8 + 10];
	struct slnf_pkt p;
	const uint8_t *d;

	memcpy(frame, rte_pktmbuf_mtod(m, uint8_t *), 12);
	frame[12] = 0x81;
	frame[13] = 0x00;
	frame[14] = 0x00;
	frame[15] = 42;
	memcpy(frame + 16, rte_pktmbuf_mtod_offset(m, uint8_t *, 12), sizeof(frame) - 16);
	rte_pktmbuf_free(m);
	parse(&p, slnf_test_mbuf(frame, sizeof(frame)));
	assert_int_equal(p.vlan, 42);
	check_error(&p, 28);
	d = rte_pktmbuf_mtod(p.m, const uint8_t *);
	assert_memory_equal(d, frame, 18); /* MACs and tag as received */
	assert_int_equal(p.vlan, 42);
	rte_pktmbuf_free(p.m);
}

static void test_error_no_headroom(void **state)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP("8.8.8.8"), 1, 2, 9, 10);
	uint16_t len = rte_pktmbuf_data_len(m), room = rte_pktmbuf_headroom(m);
	uint8_t frame[128];
	struct slnf_pkt p;

	/* move the frame to the very start of the buffer */
	memcpy(frame, rte_pktmbuf_mtod(m, uint8_t *), len);
	assert_non_null(rte_pktmbuf_prepend(m, room - 27));
	assert_int_equal(rte_pktmbuf_trim(m, room - 27), 0);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	parse(&p, m);
	assert_int_equal(rte_pktmbuf_headroom(m), 27);
	assert_int_equal(slnf_icmp_error_inplace(&p, 3, 0, IP("10.10.1.1")), -ENOSPC);
	/* untouched */
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	rte_pktmbuf_free(m);
}

static bool allowed_after(struct slnf_pkt *p, void (*change)(struct slnf_pkt *))
{
	bool ok;

	if (change)
		change(p);
	ok = slnf_icmp_error_allowed(p);
	if (!ok)
		assert_int_equal(slnf_icmp_error_inplace(p, 3, 0, IP("10.10.1.1")), -EINVAL);
	rte_pktmbuf_free(p->m);
	return ok;
}

static void set_src(struct slnf_pkt *p, const char *a)
{
	struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);

	ip->src_addr = rte_cpu_to_be_32(IP(a));
	fix_ip_csum(ip);
}

static void src_broadcast(struct slnf_pkt *p)
{
	set_src(p, "255.255.255.255");
}

static void src_loopback(struct slnf_pkt *p)
{
	set_src(p, "127.0.0.1");
}

static void src_zero_net(struct slnf_pkt *p)
{
	set_src(p, "0.1.2.3");
}

static void src_class_e(struct slnf_pkt *p)
{
	set_src(p, "240.0.0.1");
}

static void l2_multicast(struct slnf_pkt *p)
{
	rte_pktmbuf_mtod(p->m, uint8_t *)[0] = 0x01;
}

static void later_fragment(struct slnf_pkt *p)
{
	slnf_pkt_ip(p)->fragment_offset = rte_cpu_to_be_16(100);
	fix_ip_csum(slnf_pkt_ip(p));
	parse(p, p->m);
}

static void first_fragment(struct slnf_pkt *p)
{
	slnf_pkt_ip(p)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	fix_ip_csum(slnf_pkt_ip(p));
	parse(p, p->m);
}

static void icmp_type(struct slnf_pkt *p, uint8_t type)
{
	l4(p)[0] = type;
	fix_icmp_csum(p);
	parse(p, p->m);
}

static void icmp_unreach(struct slnf_pkt *p)
{
	icmp_type(p, SLNF_ICMP_DEST_UNREACH);
}

static void icmp_time_exceeded(struct slnf_pkt *p)
{
	icmp_type(p, SLNF_ICMP_TIME_EXCEEDED);
}

static void icmp_unknown(struct slnf_pkt *p)
{
	icmp_type(p, 42);
}

static void icmp_timestamp(struct slnf_pkt *p)
{
	icmp_type(p, 13);
}

static struct slnf_pkt *udp_to(struct slnf_pkt *p, const char *dst)
{
	parse(p, slnf_test_ipv4(IPPROTO_UDP, IP("10.10.1.5"), IP(dst), 1, 2, 9, 10));
	return p;
}

static struct slnf_pkt *icmp_to(struct slnf_pkt *p, const char *dst)
{
	parse(p, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP(dst), 1, 0, 9, 10));
	return p;
}

static void test_error_allowed(void **state)
{
	struct slnf_pkt p;

	assert_true(allowed_after(udp_to(&p, "8.8.8.8"), NULL));
	assert_true(allowed_after(udp_to(&p, "8.8.8.8"), first_fragment));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), later_fragment));
	assert_false(allowed_after(udp_to(&p, "255.255.255.255"), NULL));
	assert_false(allowed_after(udp_to(&p, "224.0.0.5"), NULL));
	assert_false(allowed_after(udp_to(&p, "239.255.255.250"), NULL));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), l2_multicast));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), src_broadcast));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), src_loopback));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), src_zero_net));
	assert_false(allowed_after(udp_to(&p, "8.8.8.8"), src_class_e));
	/* ICMP: queries may be answered, errors never */
	assert_true(allowed_after(icmp_to(&p, "8.8.8.8"), NULL));
	assert_true(allowed_after(icmp_to(&p, "8.8.8.8"), icmp_timestamp));
	assert_false(allowed_after(icmp_to(&p, "8.8.8.8"), icmp_unreach));
	assert_false(allowed_after(icmp_to(&p, "8.8.8.8"), icmp_time_exceeded));
	assert_false(allowed_after(icmp_to(&p, "8.8.8.8"), icmp_unknown));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_echo_refused),
		cmocka_unit_test(test_error_quote_length),
		cmocka_unit_test(test_error_with_options),
		cmocka_unit_test(test_error_keeps_vlan),
		cmocka_unit_test(test_error_no_headroom),
		cmocka_unit_test(test_error_allowed),
	};

	slnf_test_eal();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
