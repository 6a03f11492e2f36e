/*
 * test_nat.c - the "nat" NF driven through the real chain runner over the
 * local store backend: outbound UDP, TCP and ICMP echo translated with
 * valid checksums (recomputed and compared), replies translated back,
 * unsolicited inbound dropped, port preservation, two inside hosts on one
 * inside port, a UDP checksum of zero kept, the mapping reused for a
 * second destination (endpoint-independent), a second instance over the
 * same store translating an existing mapping, exhaustion of a tiny port
 * range (counter and ICMP 3/13), and parameter validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_nat_fixture.h"

static void test_udp_out_and_back(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5353, 53));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(o.key.src_port, 5353); /* preserved */
	assert_int_equal(get16(o.frame + 34), 5353);
	assert_checksums(&o);
	assert_int_equal(stat(f, "preserved"), 1);
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 53, 5353));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(o.key.dst_port, 5353);
	assert_checksums(&o);
	assert_int_equal(stat(f, "translated_in"), 1);
	fx_free(f);
}

static void test_tcp_out_and_back(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o = out_pkt(f, pkt(IPPROTO_TCP, IN_A, SRV, 40000, 80));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(o.key.src_port, 40000);
	assert_checksums(&o);
	o = in_pkt(f, pkt(IPPROTO_TCP, SRV, POOL, 80, 40000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	assert_checksums(&o);
	fx_free(f);
}

static void test_icmp_echo(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o = out_pkt(f, pkt(IPPROTO_ICMP, IN_A, SRV, 777, 777));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(get16(o.frame + 34 + 4), o.key.src_port);
	assert_checksums(&o);
	o = in_pkt(f, echo_reply(pkt(IPPROTO_ICMP, SRV, POOL, o.key.src_port, o.key.src_port)));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(get16(o.frame + 34 + 4), 777);
	assert_checksums(&o);
	fx_free(f);
}

static void test_unsolicited_inbound_dropped(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 53, 6000));

	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_UNMAPPED);
	assert_int_equal(stat(f, "unmapped"), 1);
	/* traffic that is not the NAT's passes untouched */
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV, "10.0.0.1", 53, 6000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip("10.0.0.1"));
	fx_free(f);
}

static void test_pool_membership(void **state)
{
	struct fx *f = fx_new("\"inside\": [\"in\"], \"pool\": [\"198.51.100.9\", "
			      "\"198.51.100.0/30\", \"198.51.100.200\"]");
	static const char *const pool[] = { "198.51.100.9", "198.51.100.0", "198.51.100.3",
					    "198.51.100.200" };
	static const char *const other[] = { "198.51.100.4", "198.51.100.8", "198.51.100.201" };

	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV, pool[i], 53, 6000)).reason,
				 SLNF_DROP_NAT_UNMAPPED);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV, other[i], 53, 6000)).verdict, FWD);
	assert_int_equal(stat(f, "passed"), 3);
	fx_free(f);
}

static void test_two_hosts_same_port(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out a = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 7000, 53));
	struct out b = out_pkt(f, pkt(IPPROTO_UDP, IN_B, SRV, 7000, 53));

	assert_int_equal(a.verdict, FWD);
	assert_int_equal(b.verdict, FWD);
	assert_int_equal(a.key.src_port, 7000);
	assert_int_not_equal(b.key.src_port, 7000);
	assert_int_equal(b.key.src_port & 1, 7000 & 1); /* parity kept */
	assert_checksums(&b);
	/* replies go to the right host */
	a = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 53, b.key.src_port));
	assert_int_equal(a.key.dst_ip, slnf_test_ip(IN_B));
	assert_int_equal(a.key.dst_port, 7000);
	fx_free(f);
}

static void test_udp_zero_checksum(void **state)
{
	struct fx *f = fx_new(NULL);
	struct rte_mbuf *m = pkt(IPPROTO_UDP, IN_A, SRV, 8000, 53);
	uint8_t *u = rte_pktmbuf_mtod_offset(m, uint8_t *, 34);
	struct out o;

	u[6] = u[7] = 0;
	o = out_pkt(f, m);
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(get16(o.frame + 34 + 6), 0);
	assert_checksums(&o);
	fx_free(f);
}

static void test_mapping_reused(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out a = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 9000, 53));
	struct out b = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV2, 9000, 4444));

	assert_int_equal(a.key.src_ip, b.key.src_ip);
	assert_int_equal(a.key.src_port, b.key.src_port);
	assert_int_equal(stat(f, "created"), 1);
	/* endpoint-independent filtering: a third party may answer */
	a = in_pkt(f, pkt(IPPROTO_UDP, "192.0.2.99", POOL, 1, a.key.src_port));
	assert_int_equal(a.verdict, FWD);
	assert_int_equal(a.key.dst_ip, slnf_test_ip(IN_A));
	fx_free(f);
}

static void test_second_instance(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o = out_pkt(f, pkt(IPPROTO_TCP, IN_A, SRV, 41000, 443));

	o = run_on(f, f->chain2, pkt(IPPROTO_TCP, SRV, POOL, 443, o.key.src_port), 1);
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(o.key.dst_port, 41000);
	o = run_on(f, f->chain2, pkt(IPPROTO_TCP, IN_A, SRV, 41000, 443), 0);
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_port, 41000);
	assert_int_equal(stat(f, "created"), 1); /* chain2 created nothing new either */
	fx_free(f);
}

static void test_exhaustion(void **state)
{
	struct fx *f = fx_new("\"inside\": [\"in\"], \"pool\": \"" POOL "/32\", \"ports\": \"5000-5001\"");
	struct out o;
	const uint8_t *ip, *icmp;

	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 1234, 53)).verdict, FWD);
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_B, SRV, 1234, 53)).verdict, FWD);
	o = out_pkt(f, pkt(IPPROTO_UDP, "10.0.0.3", SRV, 1234, 53));
	assert_int_equal(stat(f, "exhausted"), 1);
	assert_int_equal(stat(f, "icmp_sent"), 1);
	/* the packet became ICMP 3/13 back to the sender, from the inside port */
	assert_int_equal(o.verdict, FWD);
	assert_int_not_equal(o.reason, 0);
	ip = o.frame + 14;
	icmp = ip + 20;
	assert_int_equal(ip[9], IPPROTO_ICMP);
	assert_int_equal(o.key.dst_ip, slnf_test_ip("10.0.0.3"));
	assert_int_equal(o.key.src_ip, slnf_test_ip("10.0.0.254"));
	assert_int_equal(icmp[0], 3);
	assert_int_equal(icmp[1], 13);
	/* the mapped hosts keep working */
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 1234, 53)).verdict, FWD);
	fx_free(f);
}

static void test_validation(void **state)
{
	slnf_test_eal();
	expect_error("\"pool\": [\"" POOL "\"]", "chain[0].inside");
	expect_error("\"inside\": [\"nope\"], \"pool\": [\"" POOL "\"]", "chain[0].inside");
	expect_error("\"inside\": [\"in\"]", "chain[0].pool");
	expect_error("\"inside\": [\"in\"], \"pool\": [\"1.2.3\"]", "chain[0].pool[0]");
	expect_error("\"inside\": [\"in\"], \"pool\": [\"" POOL "\", \"198.51.100.0/29\"]",
		     "chain[0].pool");
	expect_error("\"inside\": [\"in\"], \"pool\": \"10.0.0.1/24\"", "chain[0].pool");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"ports\": \"0-10\"",
		     "chain[0].ports");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"timeouts\": {\"udp\": 0}",
		     "chain[0].timeouts.udp");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"filtering\": \"port\"",
		     "chain[0].filtering");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"bogus\": 1", "chain[0].bogus");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_out_and_back),
		cmocka_unit_test(test_tcp_out_and_back),
		cmocka_unit_test(test_icmp_echo),
		cmocka_unit_test(test_unsolicited_inbound_dropped),
		cmocka_unit_test(test_pool_membership),
		cmocka_unit_test(test_two_hosts_same_port),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_mapping_reused),
		cmocka_unit_test(test_second_instance),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
