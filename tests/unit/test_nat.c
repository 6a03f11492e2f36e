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

#include <arpa/inet.h>

#include "dp/chain.h"
#include "slnf/csum.h"
#include "testutil.h"

#define POOL "198.51.100.7"
#define IN_A "10.0.0.1"
#define IN_B "10.0.0.2"
#define SRV "203.0.113.5"
#define SRV2 "203.0.113.9"
#define FWD SLNF_VERDICT_FORWARD
#define DROP SLNF_VERDICT_DROP

struct fx {
	struct slnf_config cfg;
	struct slnf_store *store;
	struct slnf_chain *chain, *chain2;
	struct slnf_chain_scratch scratch;
};

static int config(struct slnf_config *cfg, const char *nat, struct slnf_error *err)
{
	static char text[4096];

	snprintf(text, sizeof(text),
		 "{ \"name\": \"nattest\", \"store\": { \"backend\": \"local\", \"capacity\": 1024 },"
		 "  \"ports\": [ { \"name\": \"in\", \"type\": \"null\", \"ipv4\": [\"10.0.0.254/24\"] },"
		 "               { \"name\": \"out\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": 9, \"match\": { \"ports\": [\"in\", \"out\"] },"
		 "    \"chain\": [ { \"nf\": \"nat\", %s } ] } ] }",
		 nat);
	return slnf_config_parse(text, "nat.json", cfg, err);
}

static struct fx *fx_new(const char *nat)
{
	struct slnf_error err = { { 0 } };
	struct slnf_store_config sc;
	struct fx *f;

	slnf_test_eal();
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if (config(&f->cfg, nat ? nat : "\"inside\": [\"in\"], \"pool\": [\"" POOL "\"]", &err) < 0)
		fail_msg("config: %s", err.msg);
	sc = f->cfg.store;
	if (slnf_store_open(&sc, &f->store, &err) < 0)
		fail_msg("store: %s", err.msg);
	if (slnf_chain_create(&f->cfg, 0, &f->chain, &err) < 0 ||
	    slnf_chain_create(&f->cfg, 0, &f->chain2, &err) < 0)
		fail_msg("chain: %s", err.msg);
	return f;
}

static void fx_free(struct fx *f)
{
	slnf_chain_destroy(f->chain);
	slnf_chain_destroy(f->chain2);
	slnf_store_close(f->store);
	slnf_config_free(&f->cfg);
	free(f);
}

/* A packet as it left the chain. */
struct out {
	int verdict;
	unsigned reason;
	struct slnf_flow_key key;
	uint8_t frame[256];
	size_t len;
};

static struct rte_mbuf *pkt(uint8_t proto, const char *src, const char *dst, uint16_t sport,
			    uint16_t dport)
{
	return slnf_test_ipv4(proto, slnf_test_ip(src), slnf_test_ip(dst), sport, dport, 64, 12);
}

/* Turn an ICMP echo request built by testutil into an echo reply. */
static struct rte_mbuf *echo_reply(struct rte_mbuf *m)
{
	uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 34);
	uint16_t c;

	icmp[0] = 0;
	icmp[2] = icmp[3] = 0;
	c = slnf_csum(icmp, 8 + 12);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	return m;
}

/* Run m (arriving on port in_port) through chain ch. */
static struct out run_on(struct fx *f, struct slnf_chain *ch, struct rte_mbuf *m,
			 uint16_t in_port)
{
	struct slnf_pkt p;
	struct slnf_burst b = { .n = 1 };
	struct out o = { 0 };

	slnf_test_parse(&p, m);
	p.in_port = in_port;
	b.pkts[0] = &p;
	slnf_chain_run(ch, &b, f->store, &f->scratch);
	o.verdict = p.verdict;
	o.reason = p.drop_reason;
	o.key = p.key;
	o.len = rte_pktmbuf_data_len(p.m) < sizeof(o.frame) ? rte_pktmbuf_data_len(p.m)
							     : sizeof(o.frame);
	memcpy(o.frame, rte_pktmbuf_mtod(p.m, void *), o.len);
	rte_pktmbuf_free(p.m);
	return o;
}

static struct out out_pkt(struct fx *f, struct rte_mbuf *m)
{
	return run_on(f, f->chain, m, 0);
}

static struct out in_pkt(struct fx *f, struct rte_mbuf *m)
{
	return run_on(f, f->chain, m, 1);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Every checksum of the frame verifies from scratch. */
static void assert_checksums(const struct out *o)
{
	const uint8_t *ip = o->frame + 14, *l4 = ip + 20;
	size_t l4len = get16(ip + 2) - 20u;
	uint8_t pseudo[12];
	uint32_t sum;

	assert_int_equal(slnf_csum(ip, 20), 0);
	if (ip[9] == IPPROTO_ICMP) {
		assert_int_equal(slnf_csum(l4, l4len), 0);
		return;
	}
	if (ip[9] == IPPROTO_UDP && get16(l4 + 6) == 0)
		return;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = ip[9];
	pseudo[10] = (uint8_t)(l4len >> 8);
	pseudo[11] = (uint8_t)l4len;
	sum = slnf_csum_partial(pseudo, sizeof(pseudo), 0);
	assert_int_equal(slnf_csum_fold(slnf_csum_partial(l4, l4len, sum)), 0);
}

static json_int_t stat(struct fx *f, const char *name)
{
	json_t *arr = json_array();
	json_int_t v;

	slnf_chain_stats(f->chain, arr);
	v = json_integer_value(json_object_get(json_array_get(arr, 0), name));
	json_decref(arr);
	return v;
}

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

static void expect_error(const char *nat, const char *field)
{
	struct slnf_config cfg;
	struct slnf_error err = { { 0 } };

	memset(&cfg, 0, sizeof(cfg));
	if (config(&cfg, nat, &err) == 0) {
		assert_true(slnf_chain_check(&cfg, &err) < 0);
	}
	if (!strstr(err.msg, field))
		fail_msg("expected an error naming %s, got: %s", field, err.msg);
	slnf_config_free(&cfg);
}

static void test_validation(void **state)
{
	slnf_test_eal();
	expect_error("\"pool\": [\"" POOL "\"]", "chain[0].inside");
	expect_error("\"inside\": [\"nope\"], \"pool\": [\"" POOL "\"]", "chain[0].inside");
	expect_error("\"inside\": [\"in\"]", "chain[0].pool");
	expect_error("\"inside\": [\"in\"], \"pool\": [\"1.2.3\"]", "chain[0].pool[0]");
	expect_error("\"inside\": [\"in\"], \"pool\": \"10.0.0.1/24\"", "chain[0].pool");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"ports\": \"0-10\"",
		     "chain[0].ports");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"timeouts\": {\"udp\": 0}",
		     "chain[0].timeouts.udp");
	expect_error("\"inside\": [\"in\"], \"pool\": \"" POOL "\", \"filtering\": \"address-dependent\"",
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
		cmocka_unit_test(test_two_hosts_same_port),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_mapping_reused),
		cmocka_unit_test(test_second_instance),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
