/*
 * test_lb.c - the "lb" NF driven through the real chain runner over the
 * local store backend: new flows spread per the weights, pins held when a
 * 4th backend appears (a second lb context, built from a second config,
 * over the same store), draining backends that get no new flows but keep
 * their pinned ones, the return path translated back, valid checksums
 * after every rewrite (recomputed and compared), unknown return traffic
 * and mid-flow packets without a pin dropped, and parameter validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dp/chain.h"
#include "slnf/csum.h"
#include "testutil.h"

#define TENANT_ID 7
#define VIP "10.0.9.9"
#define SNAT "10.0.2.1"
#define B3 "{ \"addr\": \"10.0.2.10\", \"port\": 8080 }, { \"addr\": \"10.0.2.11\", \"port\": 8080 }," \
	   " { \"addr\": \"10.0.2.12\", \"port\": 8080, \"weight\": 2 }"
#define B4 B3 ", { \"addr\": \"10.0.2.13\", \"port\": 8080 }"
#define B3_DRAIN "{ \"addr\": \"10.0.2.10\", \"port\": 8080 }, { \"addr\": \"10.0.2.11\", \"port\": 8080 }," \
		 " { \"addr\": \"10.0.2.12\", \"port\": 8080, \"weight\": 2, \"drain\": true }"

struct lbctx {
	struct slnf_config cfg;
	struct slnf_chain *chain;
};

static struct slnf_store *store;
static struct slnf_chain_scratch scratch;

static int parse(const char *vips, struct slnf_config *cfg, struct slnf_error *err)
{
	static char text[4096];

	snprintf(text, sizeof(text),
		 "{ \"name\": \"lbtest\", \"store\": { \"backend\": \"local\", \"capacity\": 65536 },"
		 "  \"ports\": [ { \"name\": \"p0\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": %d, \"match\": { \"ports\": [\"p0\"] },"
		 "    \"chain\": [ { \"nf\": \"lb\", \"snat\": \"" SNAT "\", \"vips\": %s } ] } ] }",
		 TENANT_ID, vips);
	return slnf_config_parse(text, "lb.json", cfg, err);
}

static struct lbctx *lb_new(const char *backends)
{
	static char vips[2048];
	struct slnf_error err = {{0}};
	struct lbctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(vips, sizeof(vips),
		 "[ { \"vip\": \"" VIP "\", \"port\": 80, \"proto\": \"tcp\", \"backends\": [ %s ] },"
		 "  { \"vip\": \"" VIP "\", \"port\": 53, \"proto\": \"udp\", \"table_size\": 251,"
		 "    \"backends\": [ { \"addr\": \"10.0.2.20\", \"port\": 5353 } ] } ]",
		 backends);
	if (parse(vips, &c->cfg, &err) < 0)
		fail_msg("config: %s", err.msg);
	if (slnf_chain_create(&c->cfg, 0, &c->chain, &err) < 0)
		fail_msg("chain: %s", err.msg);
	return c;
}

static void lb_free(struct lbctx *c)
{
	slnf_chain_destroy(c->chain);
	slnf_config_free(&c->cfg);
	free(c);
}

static int setup(void **state)
{
	struct slnf_store_config sc = { .capacity = 65536 };
	struct slnf_error err = {{0}};

	slnf_test_eal();
	strcpy(sc.backend, "local");
	if (slnf_store_open(&sc, &store, &err) < 0)
		fail_msg("store: %s", err.msg);
	return 0;
}

static int teardown(void **state)
{
	slnf_store_close(store);
	return 0;
}

/* What came out of the chain. */
struct out {
	int verdict;
	uint32_t src, dst;
	uint16_t sport, dport;
	unsigned reason; /* drop reason when dropped */
};

static void check_csums(struct rte_mbuf *m, uint8_t proto)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	void *l4 = ip + 1;
	uint16_t got, want;

	assert_int_equal(slnf_csum(ip, 20), 0);
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = l4;

		got = t->cksum;
		t->cksum = 0;
		want = rte_ipv4_udptcp_cksum(ip, t);
		t->cksum = got;
	} else {
		struct rte_udp_hdr *u = l4;

		got = u->dgram_cksum;
		u->dgram_cksum = 0;
		want = rte_ipv4_udptcp_cksum(ip, u);
		u->dgram_cksum = got;
	}
	assert_int_equal(got, want);
}

static struct out run(struct lbctx *c, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
		      uint16_t dport, uint8_t flags)
{
	struct rte_mbuf *m = slnf_test_ipv4(proto, src, dst, sport, dport, 64, 10);
	struct slnf_pkt p;
	struct slnf_burst b = { .n = 1 };
	struct out o;

	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34);
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);

		t->tcp_flags = flags;
		t->cksum = 0;
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	}
	slnf_test_parse(&p, m);
	b.pkts[0] = &p;
	slnf_chain_run(c->chain, &b, store, &scratch);
	o = (struct out){ p.verdict, p.key.src_ip, p.key.dst_ip, p.key.src_port, p.key.dst_port,
			  p.drop_reason };
	if (o.verdict == SLNF_VERDICT_FORWARD) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);

		assert_int_equal(ntohl(ip->src_addr), o.src);
		assert_int_equal(ntohl(ip->dst_addr), o.dst);
		check_csums(m, proto);
	}
	rte_pktmbuf_free(m);
	return o;
}

static uint32_t client(unsigned i)
{
	return slnf_test_ip("10.0.1.0") + 2 + i % 200;
}

static struct out syn(struct lbctx *c, unsigned i)
{
	return run(c, IPPROTO_TCP, client(i), (uint16_t)(20000 + i), slnf_test_ip(VIP), 80,
		   RTE_TCP_SYN_FLAG);
}

static struct out ack(struct lbctx *c, unsigned i)
{
	return run(c, IPPROTO_TCP, client(i), (uint16_t)(20000 + i), slnf_test_ip(VIP), 80,
		   RTE_TCP_ACK_FLAG);
}

static unsigned be_index(uint32_t ip)
{
	return ip - slnf_test_ip("10.0.2.10");
}

static json_int_t stat(struct lbctx *c, const char *name)
{
	json_t *arr = json_array();
	json_int_t v;

	slnf_chain_stats(c->chain, arr);
	v = json_integer_value(json_object_get(json_array_get(arr, 0), name));
	json_decref(arr);
	return v;
}

#define N 400

static void test_spread_and_pins(void **state)
{
	struct lbctx *a = lb_new(B3), *b;
	unsigned cnt[4] = { 0 }, moved = 0;
	struct out first[N], o;

	for (unsigned i = 0; i < N; i++) {
		first[i] = syn(a, i);
		assert_int_equal(first[i].verdict, SLNF_VERDICT_FORWARD);
		assert_int_equal(first[i].src, slnf_test_ip(SNAT));
		assert_int_equal(first[i].dport, 8080);
		assert_true(be_index(first[i].dst) < 3);
		cnt[be_index(first[i].dst)]++;
	}
	/* weights 1:1:2 */
	assert_true(cnt[0] > N / 4 * 0.7 && cnt[0] < N / 4 * 1.3);
	assert_true(cnt[1] > N / 4 * 0.7 && cnt[1] < N / 4 * 1.3);
	assert_true(cnt[2] > N / 2 * 0.8 && cnt[2] < N / 2 * 1.2);
	assert_int_equal(stat(a, "new_flows"), N);
	/* a retransmitted SYN and the flow's ACK keep backend and snat port */
	o = syn(a, 0);
	assert_int_equal(o.dst, first[0].dst);
	assert_int_equal(o.sport, first[0].sport);
	/* a second context with a 4th backend, same store: the pins hold */
	b = lb_new(B4);
	for (unsigned i = 0; i < N; i++) {
		o = ack(b, i);
		assert_int_equal(o.verdict, SLNF_VERDICT_FORWARD);
		assert_int_equal(o.dst, first[i].dst);
		assert_int_equal(o.sport, first[i].sport);
	}
	assert_int_equal(stat(b, "pinned"), N);
	assert_int_equal(stat(b, "new_flows"), 0);
	/* new flows through b reach the 4th backend too */
	for (unsigned i = N; i < 2 * N; i++) {
		o = syn(b, i);
		assert_int_equal(o.verdict, SLNF_VERDICT_FORWARD);
		moved += be_index(o.dst) == 3;
	}
	assert_true(moved > N / 5 * 0.6 && moved < N / 5 * 1.4);
	lb_free(a);
	lb_free(b);
}

static void test_drain(void **state)
{
	struct lbctx *a = lb_new(B3), *d;
	unsigned pinned_to_2 = 0;
	struct out o;

	for (unsigned i = 1000; i < 1100; i++)
		pinned_to_2 += be_index(syn(a, i).dst) == 2;
	assert_true(pinned_to_2 > 0);
	d = lb_new(B3_DRAIN);
	/* existing flows keep the draining backend */
	for (unsigned i = 1000; i < 1100; i++) {
		o = ack(d, i);
		assert_int_equal(o.verdict, SLNF_VERDICT_FORWARD);
		pinned_to_2 -= be_index(o.dst) == 2;
	}
	assert_int_equal(pinned_to_2, 0);
	/* new flows never reach it */
	for (unsigned i = 1100; i < 1300; i++) {
		o = syn(d, i);
		assert_int_equal(o.verdict, SLNF_VERDICT_FORWARD);
		assert_true(be_index(o.dst) < 2);
	}
	lb_free(a);
	lb_free(d);
}

static void test_return_path(void **state)
{
	struct lbctx *a = lb_new(B3);
	struct out o = syn(a, 2000), r;

	/* the backend's SYN/ACK to snat comes back as VIP:80 -> client */
	r = run(a, IPPROTO_TCP, o.dst, o.dport, o.src, o.sport,
		RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	assert_int_equal(r.verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(r.src, slnf_test_ip(VIP));
	assert_int_equal(r.sport, 80);
	assert_int_equal(r.dst, client(2000));
	assert_int_equal(r.dport, 20000 + 2000);
	assert_int_equal(stat(a, "returned"), 1);
	/* from the backend to an snat port nobody holds: dropped */
	r = run(a, IPPROTO_TCP, o.dst, o.dport, o.src, (uint16_t)(o.sport ^ 1), RTE_TCP_ACK_FLAG);
	assert_int_equal(r.verdict, SLNF_VERDICT_DROP);
	assert_int_equal(r.reason, SLNF_DROP_LB_NO_STATE);
	assert_int_equal(stat(a, "unknown_return"), 1);
	/* a mid-flow packet with no pin: dropped */
	r = ack(a, 2001);
	assert_int_equal(r.verdict, SLNF_VERDICT_DROP);
	assert_int_equal(r.reason, SLNF_DROP_LB_NO_STATE);
	assert_int_equal(stat(a, "no_pin"), 1);
	/* traffic that is not the LB's passes untouched */
	r = run(a, IPPROTO_TCP, client(1), 999, slnf_test_ip("10.0.3.3"), 80, RTE_TCP_ACK_FLAG);
	assert_int_equal(r.verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(r.dst, slnf_test_ip("10.0.3.3"));
	lb_free(a);
}

static void test_udp(void **state)
{
	struct lbctx *a = lb_new(B3);
	struct out o = run(a, IPPROTO_UDP, client(3), 4444, slnf_test_ip(VIP), 53, 0), r;

	assert_int_equal(o.verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(o.dst, slnf_test_ip("10.0.2.20"));
	assert_int_equal(o.dport, 5353);
	r = run(a, IPPROTO_UDP, o.dst, o.dport, o.src, o.sport, 0);
	assert_int_equal(r.verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(r.src, slnf_test_ip(VIP));
	assert_int_equal(r.sport, 53);
	assert_int_equal(r.dst, client(3));
	assert_int_equal(r.dport, 4444);
	lb_free(a);
}

static void expect_error(const char *vips, const char *field)
{
	struct slnf_config cfg;
	struct slnf_error err = {{0}};
	struct slnf_chain *ch = NULL;
	int rc = parse(vips, &cfg, &err);

	if (rc == 0) {
		rc = slnf_chain_create(&cfg, 0, &ch, &err);
		slnf_config_free(&cfg);
	}
	assert_true(rc < 0);
	if (!strstr(err.msg, field))
		fail_msg("'%s' does not name %s", err.msg, field);
}

static void test_validation(void **state)
{
	expect_error("[ { \"vip\": \"10.0.9.9\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 65536,"
		     " \"backends\": [ { \"addr\": \"10.0.2.10\", \"port\": 80 } ] } ]",
		     "vips[0].table_size");
	expect_error("[ { \"vip\": \"10.0.9.9\", \"port\": 80, \"proto\": \"sctp\","
		     " \"backends\": [ { \"addr\": \"10.0.2.10\", \"port\": 80 } ] } ]",
		     "vips[0].proto");
	expect_error("[ { \"vip\": \"10.0.9.9\", \"port\": 80, \"proto\": \"tcp\","
		     " \"backends\": [ { \"addr\": \"10.0.2.10\", \"port\": 80, \"weight\": 0 } ] } ]",
		     "vips[0].backends[0].weight");
	expect_error("[ { \"vip\": \"10.0.9.9\", \"port\": 80, \"proto\": \"tcp\","
		     " \"backends\": [ { \"port\": 80 } ] } ]",
		     "vips[0].backends[0].addr");
	expect_error("[ { \"vip\": \"10.0.9.0/24\", \"port\": 80, \"proto\": \"tcp\","
		     " \"backends\": [ { \"addr\": \"10.0.2.10\", \"port\": 80 } ] } ]",
		     "vips[0].vip");
	expect_error("[]", "vips");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_and_pins),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_return_path),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
