/*
 * test_nat_dnat.c - the "nat" NF's destination side, through the real
 * chain runner over the local store: hairpinning (an inside host reaching
 * another one through its outside endpoint, with its own outside endpoint
 * as the source), port forwards (inbound to the forward's port, replies
 * from the inside server, the forward's port kept out of dynamic
 * allocation, hairpinning to a forward, parameter validation), and
 * address-dependent filtering (only remote addresses the inside endpoint
 * sent to get in; any port of them; the permission written once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_nat_fixture.h"

#define WEB "10.0.0.5"
#define FORWARD                                                                                    \
	"\"inside\": [\"in\"], \"pool\": [\"" POOL "\"], "                                         \
	"\"forwards\": [ { \"proto\": \"tcp\", \"port\": 8080, \"to\": \"" WEB ":80\" } ]"

static void test_hairpin(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out a = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 7000, 3478)), b;

	assert_int_equal(a.key.src_port, 7000);
	/* B reaches A through A's outside endpoint */
	b = out_pkt(f, pkt(IPPROTO_UDP, IN_B, POOL, 8000, 7000));
	assert_int_equal(b.verdict, FWD);
	assert_int_equal(b.key.src_ip, slnf_test_ip(POOL)); /* B's own mapping */
	assert_int_equal(b.key.src_port, 8000);
	assert_int_equal(b.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(b.key.dst_port, 7000);
	assert_checksums(&b);
	assert_int_equal(stat(f, "hairpinned"), 1);
	/* A answers B's outside endpoint, as it saw it: hairpinned back */
	a = out_pkt(f, pkt(IPPROTO_UDP, IN_A, POOL, 7000, 8000));
	assert_int_equal(a.verdict, FWD);
	assert_int_equal(a.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(a.key.src_port, 7000);
	assert_int_equal(a.key.dst_ip, slnf_test_ip(IN_B));
	assert_int_equal(a.key.dst_port, 8000);
	assert_checksums(&a);
	/* TCP too */
	a = out_pkt(f, pkt(IPPROTO_TCP, IN_A, SRV, 41000, 80));
	b = out_pkt(f, pkt(IPPROTO_TCP, IN_B, POOL, 42000, 41000));
	assert_int_equal(b.verdict, FWD);
	assert_int_equal(b.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(b.key.dst_port, 41000);
	assert_checksums(&b);
	/* nobody holds the port: dropped (B's new source mapping is made
	 * first, as for any packet B sends out) */
	b = out_pkt(f, pkt(IPPROTO_UDP, IN_B, POOL, 8001, 9999));
	assert_int_equal(b.verdict, DROP);
	assert_int_equal(b.reason, SLNF_DROP_NAT_UNMAPPED);
	assert_int_equal(stat(f, "hairpinned"), 3);
	fx_free(f);
}

static void test_forward(void **state)
{
	struct fx *f = fx_new(FORWARD);
	struct out o = in_pkt(f, pkt(IPPROTO_TCP, SRV, POOL, 33000, 8080));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(WEB));
	assert_int_equal(o.key.dst_port, 80);
	assert_checksums(&o);
	o = out_pkt(f, pkt(IPPROTO_TCP, WEB, SRV, 80, 33000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(o.key.src_port, 8080);
	assert_checksums(&o);
	/* another instance needs no store record for it */
	o = run_on(f, f->chain2, pkt(IPPROTO_TCP, "192.0.2.77", POOL, 1, 8080), 1);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(WEB));
	assert_int_equal(stat(f, "forwarded_in"), 1);
	assert_int_equal(stat(f, "forwarded_out"), 1);
	assert_int_equal(stat(f, "created"), 0);
	/* UDP to that port is not forwarded */
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 33000, 8080));
	assert_int_equal(o.verdict, DROP);
	/* an inside host reaches the forward through the pool address */
	o = out_pkt(f, pkt(IPPROTO_TCP, IN_A, POOL, 43000, 8080));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(o.key.dst_ip, slnf_test_ip(WEB));
	assert_int_equal(o.key.dst_port, 80);
	assert_checksums(&o);
	fx_free(f);
}

static void test_forward_port_not_allocated(void **state)
{
	struct fx *f = fx_new(
	    "\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"ports\": \"8080-8081\","
	    "\"forwards\": [ { \"proto\": \"tcp\", \"port\": 8080, \"to\": \"" WEB ":80\" } ]");
	struct out o = out_pkt(f, pkt(IPPROTO_TCP, IN_A, SRV, 8080, 80));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_port, 8081);
	/* the only other port is the forward's: the range is exhausted */
	o = out_pkt(f, pkt(IPPROTO_TCP, IN_B, SRV, 8080, 80));
	assert_int_equal(stat(f, "exhausted"), 1);
	/* UDP has both ports */
	o = out_pkt(f, pkt(IPPROTO_UDP, IN_B, SRV, 8080, 80));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_port, 8080);
	fx_free(f);
}

static void test_forward_validation(void **state)
{
	slnf_test_eal();
#define P "\"inside\": [\"in\"], \"pool\": [\"" POOL "\"], "
	expect_error(P "\"forwards\": {}", "chain[0].forwards");
	expect_error(P "\"forwards\": [ { \"proto\": \"tcp\", \"port\": 80 } ]",
		     "chain[0].forwards[0].to");
	expect_error(P
		     "\"forwards\": [ { \"proto\": \"tcp\", \"port\": 80, \"to\": \"10.0.0.5\" } ]",
		     "chain[0].forwards[0].to");
	expect_error(
	    P "\"forwards\": [ { \"proto\": \"icmp\", \"port\": 80, \"to\": \"10.0.0.5:1\" } ]",
	    "chain[0].forwards[0].proto");
	expect_error(
	    P "\"forwards\": [ { \"proto\": \"udp\", \"port\": 0, \"to\": \"10.0.0.5:1\" } ]",
	    "chain[0].forwards[0].port");
	expect_error(P "\"forwards\": [ { \"proto\": \"udp\", \"port\": 5, \"to\": \"10.0.0.5:1\","
		       " \"addr\": \"192.0.2.1\" } ]",
		     "chain[0].forwards[0].addr");
	expect_error(P
		     "\"forwards\": [ { \"proto\": \"udp\", \"port\": 5, \"to\": \"10.0.0.5:1\" },"
		     " { \"proto\": \"udp\", \"port\": 5, \"to\": \"10.0.0.6:1\" } ]",
		     "chain[0].forwards[1].port");
	expect_error(P
		     "\"forwards\": [ { \"proto\": \"udp\", \"port\": 5, \"to\": \"10.0.0.5:1\" },"
		     " { \"proto\": \"udp\", \"port\": 6, \"to\": \"10.0.0.5:1\" } ]",
		     "chain[0].forwards[1].to");
	expect_error(P "\"forwards\": [ { \"proto\": \"udp\", \"port\": 5, \"to\": \"10.0.0.5:1\","
		       " \"bogus\": 1 } ]",
		     "chain[0].forwards[0].bogus");
#undef P
}

#define ADF "\"inside\": [\"in\"], \"pool\": [\"" POOL "\"], \"filtering\": \"address-dependent\""

static void test_address_dependent(void **state)
{
	struct fx *f = fx_new(ADF);
	struct out o = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5000, 3478));

	assert_int_equal(o.verdict, FWD);
	assert_int_equal(stat(f, "permits"), 1);
	/* the remote it sent to gets in, from any of its ports */
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 3478, 5000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 3479, 5000));
	assert_int_equal(o.verdict, FWD);
	/* another remote does not */
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV2, POOL, 3478, 5000));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_FILTERED);
	assert_int_equal(stat(f, "filtered"), 1);
	/* until the inside endpoint sends to it */
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV2, 5000, 1)).verdict, FWD);
	o = in_pkt(f, pkt(IPPROTO_UDP, SRV2, POOL, 3478, 5000));
	assert_int_equal(o.verdict, FWD);
	/* a second packet to a known remote writes nothing */
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5000, 3478)).verdict, FWD);
	assert_int_equal(stat(f, "permits"), 2);
	fx_free(f);
}

static void test_address_dependent_not_preserved(void **state)
{
	struct fx *f = fx_new(ADF);
	struct out b;

	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5000, 53)).verdict, FWD);
	b = out_pkt(f, pkt(IPPROTO_UDP, IN_B, SRV, 5000, 53));
	assert_int_not_equal(b.key.src_port, 5000);
	assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 53, b.key.src_port)).key.dst_ip,
			 slnf_test_ip(IN_B));
	assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV2, POOL, 53, b.key.src_port)).verdict, DROP);
	/* A's permission is not B's */
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV2, 5000, 53)).verdict, FWD);
	assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV2, POOL, 53, b.key.src_port)).verdict, DROP);
	assert_int_equal(in_pkt(f, pkt(IPPROTO_UDP, SRV2, POOL, 53, 5000)).verdict, FWD);
	fx_free(f);
}

static void test_address_dependent_hairpin(void **state)
{
	struct fx *f = fx_new(ADF);
	struct out o;

	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 7000, 3478)).verdict, FWD);
	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_B, SRV, 8000, 3478)).verdict, FWD);
	/* A never sent to B's outside address (the pool address): filtered;
	 * B's own permission for the pool address is written all the same */
	o = out_pkt(f, pkt(IPPROTO_UDP, IN_B, POOL, 8000, 7000));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_FILTERED);
	/* so A gets through to B, and from then on B to A */
	o = out_pkt(f, pkt(IPPROTO_UDP, IN_A, POOL, 7000, 8000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_B));
	o = out_pkt(f, pkt(IPPROTO_UDP, IN_B, POOL, 8000, 7000));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.dst_ip, slnf_test_ip(IN_A));
	assert_int_equal(stat(f, "hairpinned"), 2);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hairpin),
	    cmocka_unit_test(test_forward),
	    cmocka_unit_test(test_forward_port_not_allocated),
	    cmocka_unit_test(test_forward_validation),
	    cmocka_unit_test(test_address_dependent),
	    cmocka_unit_test(test_address_dependent_not_preserved),
	    cmocka_unit_test(test_address_dependent_hairpin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
