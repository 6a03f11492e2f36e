/*
 * test_nat_icmp.c - ICMP error translation by the "nat" NF (RFC 5508),
 * through the real chain runner: an error from outside quoting a UDP, TCP
 * (full quote and 8-byte quote) or ICMP echo packet the NAT sent out comes
 * back to the inside host with the quote restored; an error from inside
 * quoting a translated inbound packet leaves with the quote and its source
 * translated. Every checksum is recomputed from scratch and compared: the
 * outer IPv4 header, the ICMP message, the quoted IPv4 header and the
 * quoted L4 checksum when the quote holds the whole datagram; a quoted UDP
 * checksum of 0 stays 0. Errors about a port forward's packets are
 * translated with the forward; with address-dependent filtering, an error
 * quoting a packet to a remote the endpoint never sent to is dropped.
 * Errors for unknown mappings and unreadable quotes are dropped and
 * counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_nat_fixture.h"

#define RTR "192.0.2.1"

/* An ICMP error (type, code) from src to dst quoting qlen bytes of the IPv4
 * packet at quote; every checksum computed from scratch. */
static struct rte_mbuf *icmp_error(const char *src, const char *dst, uint8_t type, uint8_t code,
				   const uint8_t *quote, size_t qlen)
{
	struct rte_mbuf *m =
	    slnf_test_ipv4(IPPROTO_ICMP, slnf_test_ip(src), slnf_test_ip(dst), 0, 0, 64, qlen);
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14), *icmp = ip + 20;
	uint16_t c;

	icmp[0] = type;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, quote, qlen);
	c = slnf_csum(icmp, 8 + qlen);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	return m;
}

/* The quoted packet of error o: its IPv4 header and L4 checksum verify
 * when the quote holds the whole datagram (qlen bytes quoted). */
static void assert_quote_checksums(const struct out *o, size_t qlen)
{
	const uint8_t *q = o->frame + 14 + 20 + 8, *l4 = q + 20;
	size_t l4len = get16(q + 2) - 20u;
	uint8_t pseudo[12];

	assert_int_equal(slnf_csum(q, 20), 0);
	if (qlen < get16(q + 2))
		return; /* truncated: the L4 checksum cannot be checked */
	if (q[9] == IPPROTO_ICMP) {
		assert_int_equal(slnf_csum(l4, l4len), 0);
		return;
	}
	if (q[9] == IPPROTO_UDP && get16(l4 + 6) == 0)
		return;
	memcpy(pseudo, q + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = q[9];
	pseudo[10] = (uint8_t)(l4len >> 8);
	pseudo[11] = (uint8_t)l4len;
	assert_int_equal(
	    slnf_csum_fold(slnf_csum_partial(l4, l4len, slnf_csum_partial(pseudo, 12, 0))), 0);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Send an outbound packet, then an error from RTR quoting qlen bytes of
 * what the NAT sent; return the error as it left the chain. */
static struct out error_in_for(struct fx *f, struct rte_mbuf *m, size_t qlen, struct out *sent)
{
	*sent = out_pkt(f, m);
	assert_int_equal(sent->verdict, FWD);
	if (qlen > sent->len - 14)
		qlen = sent->len - 14;
	return in_pkt(f, icmp_error(RTR, POOL, 3, 3, sent->frame + 14, qlen));
}

static void assert_error_in(const struct out *o, const char *inside, uint16_t port, size_t qlen)
{
	const uint8_t *q = o->frame + 14 + 28;

	assert_int_equal(o->verdict, FWD);
	assert_int_equal(o->key.dst_ip, slnf_test_ip(inside));
	assert_int_equal(o->key.src_ip, slnf_test_ip(RTR));
	assert_int_equal(get32(q + 12), slnf_test_ip(inside));
	assert_int_equal(get32(q + 16), slnf_test_ip(SRV));
	if (q[9] == IPPROTO_ICMP)
		assert_int_equal(get16(q + 20 + 4), port);
	else
		assert_int_equal(get16(q + 20), port);
	assert_checksums(o); /* outer IPv4 header and the whole ICMP message */
	assert_quote_checksums(o, qlen);
}

static void test_error_in_udp(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out sent, o = error_in_for(f, pkt(IPPROTO_UDP, IN_A, SRV, 5353, 53), 200, &sent);

	assert_error_in(&o, IN_A, 5353, 200);
	assert_int_equal(stat(f, "icmp_errors_in"), 1);
	fx_free(f);
}

static void test_error_in_udp_not_preserved(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out sent, o;

	assert_int_equal(out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 6000, 53)).verdict, FWD);
	o = error_in_for(f, pkt(IPPROTO_UDP, IN_B, SRV, 6000, 53), 200, &sent);
	assert_int_not_equal(sent.key.src_port, 6000);
	assert_error_in(&o, IN_B, 6000, 200);
	fx_free(f);
}

static void test_error_in_tcp_full_and_short(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out sent, o = error_in_for(f, pkt(IPPROTO_TCP, IN_A, SRV, 40000, 80), 200, &sent);

	assert_error_in(&o, IN_A, 40000, 200);
	/* RFC 792's minimum: the header and 8 bytes, no TCP checksum quoted */
	o = in_pkt(f, icmp_error(RTR, POOL, 11, 0, sent.frame + 14, 28));
	assert_error_in(&o, IN_A, 40000, 28);
	assert_int_equal(stat(f, "icmp_errors_in"), 2);
	fx_free(f);
}

static void test_error_in_echo(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out sent, o = error_in_for(f, pkt(IPPROTO_ICMP, IN_A, SRV, 777, 777), 200, &sent);

	assert_error_in(&o, IN_A, 777, 200);
	fx_free(f);
}

static void test_error_in_udp_zero_checksum(void **state)
{
	struct fx *f = fx_new(NULL);
	struct rte_mbuf *m = pkt(IPPROTO_UDP, IN_A, SRV, 8000, 53);
	uint8_t *u = rte_pktmbuf_mtod_offset(m, uint8_t *, 34);
	struct out sent, o;

	u[6] = u[7] = 0;
	o = error_in_for(f, m, 200, &sent);
	assert_error_in(&o, IN_A, 8000, 200);
	assert_int_equal(get16(o.frame + 14 + 28 + 20 + 6), 0);
	fx_free(f);
}

static void test_error_out(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out o, back;
	const uint8_t *q;

	o = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5353, 53));
	back = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 53, 5353));
	assert_int_equal(back.verdict, FWD);
	/* the inside host answers the translated reply with port unreachable */
	o = out_pkt(f, icmp_error(IN_A, SRV, 3, 3, back.frame + 14, back.len - 14));
	assert_int_equal(o.verdict, FWD);
	q = o.frame + 14 + 28;
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(o.key.dst_ip, slnf_test_ip(SRV));
	assert_int_equal(get32(q + 12), slnf_test_ip(SRV));
	assert_int_equal(get32(q + 16), slnf_test_ip(POOL));
	assert_int_equal(get16(q + 20 + 2), 5353);
	assert_checksums(&o);
	assert_quote_checksums(&o, back.len - 14);
	assert_int_equal(stat(f, "icmp_errors_out"), 1);
	/* an inside router's error (outer source not the host) is translated too */
	o = out_pkt(f, icmp_error("10.0.0.200", SRV, 11, 0, back.frame + 14, 28));
	assert_int_equal(o.verdict, FWD);
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_checksums(&o);
	assert_quote_checksums(&o, 28);
	fx_free(f);
}

static void test_error_unknown_or_bad(void **state)
{
	struct fx *f = fx_new(NULL);
	struct out sent = out_pkt(f, pkt(IPPROTO_UDP, IN_A, SRV, 5353, 53)), o;
	uint8_t quote[64];

	/* the quote names a port nobody holds */
	memcpy(quote, sent.frame + 14, 28);
	quote[20] = 0x17; /* source port 0x1770 = 6000 */
	quote[21] = 0x70;
	o = in_pkt(f, icmp_error(RTR, POOL, 3, 1, quote, 28));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_UNMAPPED);
	assert_int_equal(stat(f, "unmapped"), 1);
	/* from inside, about an endpoint with no mapping */
	o = out_pkt(f, icmp_error(IN_B, SRV, 3, 3, sent.frame + 14, 28));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_UNMAPPED);
	/* a quote too short for its header and 8 bytes */
	o = in_pkt(f, icmp_error(RTR, POOL, 3, 1, sent.frame + 14, 24));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_ICMP_MALFORMED);
	assert_int_equal(stat(f, "bad_quote"), 1);
	assert_int_equal(stat(f, "icmp_errors_in") + stat(f, "icmp_errors_out"), 0);
	fx_free(f);
}

static void test_error_forward(void **state)
{
	struct fx *f =
	    fx_new("\"inside\": [\"in\"], \"pool\": [\"" POOL "\"], \"forwards\": "
		   "[ { \"proto\": \"udp\", \"port\": 5060, \"to\": \"10.0.0.5:5061\" } ]");
	struct out in = in_pkt(f, pkt(IPPROTO_UDP, SRV, POOL, 7000, 5060)), o, sent;
	const uint8_t *q;

	assert_int_equal(in.key.dst_ip, slnf_test_ip("10.0.0.5"));
	/* the inside server's port unreachable about it leaves as pool:5060 */
	o = out_pkt(f, icmp_error("10.0.0.5", SRV, 3, 3, in.frame + 14, in.len - 14));
	assert_int_equal(o.verdict, FWD);
	q = o.frame + 14 + 28;
	assert_int_equal(o.key.src_ip, slnf_test_ip(POOL));
	assert_int_equal(get32(q + 16), slnf_test_ip(POOL));
	assert_int_equal(get16(q + 22), 5060);
	assert_checksums(&o);
	assert_quote_checksums(&o, in.len - 14);
	/* an error about the server's answer comes back to it */
	sent = out_pkt(f, pkt(IPPROTO_UDP, "10.0.0.5", SRV, 5061, 7000));
	assert_int_equal(sent.key.src_port, 5060);
	o = in_pkt(f, icmp_error(RTR, POOL, 3, 3, sent.frame + 14, sent.len - 14));
	assert_int_equal(o.verdict, FWD);
	q = o.frame + 14 + 28;
	assert_int_equal(o.key.dst_ip, slnf_test_ip("10.0.0.5"));
	assert_int_equal(get32(q + 12), slnf_test_ip("10.0.0.5"));
	assert_int_equal(get16(q + 20), 5061);
	assert_checksums(&o);
	assert_quote_checksums(&o, sent.len - 14);
	assert_int_equal(stat(f, "created"), 0);
	fx_free(f);
}

static void test_error_address_dependent(void **state)
{
	struct fx *f = fx_new("\"inside\": [\"in\"], \"pool\": [\"" POOL "\"], "
			      "\"filtering\": \"address-dependent\"");
	struct out sent, o = error_in_for(f, pkt(IPPROTO_UDP, IN_A, SRV, 5353, 53), 200, &sent);
	uint8_t quote[28];

	/* about a packet to a remote the endpoint sent to: let in */
	assert_error_in(&o, IN_A, 5353, 200);
	/* a quote claiming a packet to a remote it never sent to: filtered */
	memcpy(quote, sent.frame + 14, sizeof(quote));
	quote[16] = 192; /* destination 192.0.2.99 */
	quote[17] = 0;
	quote[18] = 2;
	quote[19] = 99;
	o = in_pkt(f, icmp_error(RTR, POOL, 3, 3, quote, sizeof(quote)));
	assert_int_equal(o.verdict, DROP);
	assert_int_equal(o.reason, SLNF_DROP_NAT_FILTERED);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_in_udp),
	    cmocka_unit_test(test_error_in_udp_not_preserved),
	    cmocka_unit_test(test_error_in_tcp_full_and_short),
	    cmocka_unit_test(test_error_in_echo),
	    cmocka_unit_test(test_error_in_udp_zero_checksum),
	    cmocka_unit_test(test_error_out),
	    cmocka_unit_test(test_error_unknown_or_bad),
	    cmocka_unit_test(test_error_forward),
	    cmocka_unit_test(test_error_address_dependent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
