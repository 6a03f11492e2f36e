/*
 * test_router.c - the router NF on its own: longest prefix match, on-link
 * versus gateway next hops, connected routes, TTL and checksum, the ICMP
 * errors that replace unroutable packets (and the cases that must stay
 * silent), per-tenant tables, counters, and parameter validation messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>

#include <rte_ip.h>

#include "core/icmp.h"
#include "nftest.h"

#define IP slnf_test_ip

static const char routes_elem[] =
	"{ \"nf\": \"router\", \"routes\": ["
	"  { \"prefix\": \"10.20.0.0/16\", \"port\": \"wan\", \"via\": \"10.10.2.254\" },"
	"  { \"prefix\": \"10.20.30.0/24\", \"port\": \"lan\", \"via\": \"10.10.1.254\" },"
	"  { \"prefix\": \"10.20.30.128/25\", \"port\": \"wan\" },"
	"  { \"prefix\": \"10.20.30.7\", \"port\": \"lan\", \"via\": \"10.10.1.253\" } ] }";

static struct slnf_pkt *add_udp(struct nftest *t, const char *src, const char *dst, uint8_t ttl,
				uint16_t in_port)
{
	return nftest_add(t, slnf_test_ipv4(IPPROTO_UDP, IP(src), IP(dst), 1234, 53, ttl, 32),
			  in_port);
}

static void assert_forwarded(const struct slnf_pkt *p, uint16_t port, const char *hop)
{
	assert_int_equal(p->verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(p->out_port, port);
	assert_int_equal(p->next_hop, IP(hop));
}

static void test_longest_match(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "10.20.1.1", 64, NFTEST_LAN);
	struct slnf_pkt *b = add_udp(t, "10.10.1.5", "10.20.30.5", 64, NFTEST_LAN);
	struct slnf_pkt *c = add_udp(t, "10.10.1.5", "10.20.30.200", 64, NFTEST_LAN);
	struct slnf_pkt *d = add_udp(t, "10.10.1.5", "10.20.30.7", 64, NFTEST_LAN);
	struct slnf_pkt *e = add_udp(t, "10.10.1.5", "10.20.30.127", 64, NFTEST_LAN);
	struct slnf_pkt *f = add_udp(t, "10.10.1.5", "10.20.255.255", 64, NFTEST_LAN);

	nftest_run(t);
	assert_forwarded(a, NFTEST_WAN, "10.10.2.254");   /* /16 via */
	assert_forwarded(b, NFTEST_LAN, "10.10.1.254");   /* /24 via */
	assert_forwarded(c, NFTEST_WAN, "10.20.30.200");  /* /25 on-link */
	assert_forwarded(d, NFTEST_LAN, "10.10.1.253");   /* /32 */
	assert_forwarded(e, NFTEST_LAN, "10.10.1.254");   /* /24 edge below the /25 */
	assert_forwarded(f, NFTEST_WAN, "10.10.2.254");   /* /16 edge */
	nftest_free(t);
}

static void test_connected_routes(void **state)
{
	struct nftest *t = nftest_new("router.json", "{ \"nf\": \"router\" }");
	struct slnf_pkt *a = add_udp(t, "10.10.2.9", "10.10.1.77", 64, NFTEST_WAN);
	struct slnf_pkt *b = add_udp(t, "10.10.1.77", "10.10.2.9", 64, NFTEST_LAN);
	/* dmz is not one of the tenant's ports: no connected route */
	struct slnf_pkt *c = add_udp(t, "10.10.1.77", "172.16.3.3", 64, NFTEST_LAN);
	json_t *st;

	nftest_run(t);
	assert_forwarded(a, NFTEST_LAN, "10.10.1.77");
	assert_forwarded(b, NFTEST_WAN, "10.10.2.9");
	/* c became the ICMP unreachable going back out of lan */
	assert_int_equal(c->key.proto, IPPROTO_ICMP);
	assert_forwarded(c, NFTEST_LAN, "10.10.1.77");
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "routes"), 2);
	json_decref(st);
	nftest_free(t);
}

static void test_configured_route_replaces_connected(void **state)
{
	struct nftest *t = nftest_new(
		"router.json", "{ \"nf\": \"router\", \"routes\": ["
			       "  { \"prefix\": \"10.10.1.0/24\", \"port\": \"wan\", \"via\": \"10.10.2.7\" } ] }");
	struct slnf_pkt *a = add_udp(t, "10.10.2.9", "10.10.1.77", 64, NFTEST_WAN);
	json_t *st;

	nftest_run(t);
	assert_forwarded(a, NFTEST_WAN, "10.10.2.7");
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "routes"), 2);
	json_decref(st);
	nftest_free(t);
}

static void test_default_route(void **state)
{
	struct nftest *t = nftest_new(
		"router.json", "{ \"nf\": \"router\", \"routes\": ["
			       "  { \"prefix\": \"0.0.0.0/0\", \"port\": \"wan\", \"via\": \"10.10.2.254\" } ] }");
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "8.8.8.8", 64, NFTEST_LAN);
	struct slnf_pkt *b = add_udp(t, "10.10.1.5", "10.10.1.6", 64, NFTEST_LAN);

	nftest_run(t);
	assert_forwarded(a, NFTEST_WAN, "10.10.2.254");
	assert_forwarded(b, NFTEST_LAN, "10.10.1.6");
	nftest_free(t);
}

static void test_ttl_and_checksum(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "10.20.1.1", 64, NFTEST_LAN);
	struct slnf_pkt *b = add_udp(t, "10.10.1.5", "10.20.1.1", 2, NFTEST_LAN);
	struct slnf_pkt *c = add_udp(t, "10.10.1.5", "10.20.1.1", 255, NFTEST_LAN);
	struct slnf_pkt *ps[] = { a, b, c };
	uint8_t want[] = { 63, 1, 254 };

	nftest_run(t);
	for (unsigned i = 0; i < 3; i++) {
		struct rte_ipv4_hdr *ip = slnf_pkt_ip(ps[i]);
		uint16_t got = ip->hdr_checksum;

		assert_int_equal(ps[i]->verdict, SLNF_VERDICT_FORWARD);
		assert_int_equal(ip->time_to_live, want[i]);
		assert_int_equal(slnf_csum(ip, sizeof(*ip)), 0);
		nftest_fix_ip_csum(ip);
		assert_int_equal(ip->hdr_checksum, got); /* same as a full recompute */
	}
	nftest_free(t);
}

/* p is an ICMP error of type/code from src back to dst, quoting orig. */
static void assert_icmp_error(const struct slnf_pkt *p, uint8_t type, uint8_t code,
			      const char *src, const char *dst, const uint8_t *orig,
			      size_t quote)
{
	const struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
	const uint8_t *icmp = (const uint8_t *)ip + sizeof(*ip);

	assert_int_equal(p->key.proto, IPPROTO_ICMP);
	assert_int_equal(p->key.src_ip, IP(src));
	assert_int_equal(p->key.dst_ip, IP(dst));
	assert_int_equal(ip->time_to_live, 64);
	assert_int_equal(slnf_csum(ip, sizeof(*ip)), 0);
	assert_int_equal(p->l3_len, sizeof(*ip) + 8 + quote);
	assert_int_equal(icmp[0], type);
	assert_int_equal(icmp[1], code);
	assert_int_equal(slnf_csum(icmp, 8 + quote), 0);
	assert_memory_equal(icmp + 8, orig, quote);
}

static void test_ttl_exceeded(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "10.20.1.1", 1, NFTEST_LAN);
	struct slnf_pkt *b = add_udp(t, "10.10.2.8", "10.20.1.1", 0, NFTEST_WAN);
	uint8_t orig_a[28], orig_b[28];
	json_t *st;

	memcpy(orig_a, slnf_pkt_ip(a), sizeof(orig_a));
	memcpy(orig_b, slnf_pkt_ip(b), sizeof(orig_b));
	nftest_run(t);
	assert_icmp_error(a, SLNF_ICMP_TIME_EXCEEDED, SLNF_ICMP_TTL_EXCEEDED, "10.10.1.1",
			  "10.10.1.5", orig_a, sizeof(orig_a));
	assert_forwarded(a, NFTEST_LAN, "10.10.1.5");
	assert_icmp_error(b, SLNF_ICMP_TIME_EXCEEDED, 0, "10.10.2.1", "10.10.2.8", orig_b,
			  sizeof(orig_b));
	assert_forwarded(b, NFTEST_WAN, "10.10.2.8");
	/* the originals count as dropped; the ICMP errors go out */
	assert_int_equal(a->drop_reason, SLNF_DROP_TTL_EXCEEDED);
	assert_int_equal(b->drop_reason, SLNF_DROP_TTL_EXCEEDED);

	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "ttl_exceeded"), 2);
	assert_int_equal(nftest_stat(st, "icmp_sent"), 2);
	assert_int_equal(nftest_stat(st, "forwarded"), 0);
	json_decref(st);
	nftest_free(t);
}

static void test_no_route(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = nftest_add(
		t, slnf_test_ipv4(IPPROTO_TCP, IP("10.10.1.5"), IP("8.8.8.8"), 40000, 443, 64, 100),
		NFTEST_LAN);
	uint8_t orig[28];
	json_t *st;

	memcpy(orig, slnf_pkt_ip(a), sizeof(orig));
	nftest_run(t);
	assert_icmp_error(a, SLNF_ICMP_DEST_UNREACH, SLNF_ICMP_NET_UNREACH, "10.10.1.1",
			  "10.10.1.5", orig, sizeof(orig));
	assert_forwarded(a, NFTEST_LAN, "10.10.1.5");
	assert_int_equal(a->drop_reason, SLNF_DROP_NO_ROUTE);
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "no_route"), 1);
	assert_int_equal(nftest_stat(st, "icmp_sent"), 1);
	json_decref(st);
	nftest_free(t);
}

/* Make the echo request in p an ICMP error (type 3) with valid checksums. */
static void make_icmp_error(struct slnf_pkt *p)
{
	uint8_t *icmp = rte_pktmbuf_mtod_offset(p->m, uint8_t *, p->l4_off);
	uint16_t c;

	icmp[0] = SLNF_ICMP_DEST_UNREACH;
	icmp[2] = icmp[3] = 0;
	c = slnf_csum(icmp, p->l3_len - (p->l4_off - p->l3_off));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	slnf_test_parse(p, p->m);
}

static void test_silent_drops(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *err = nftest_add(
		t, slnf_test_ipv4(IPPROTO_ICMP, IP("10.10.1.5"), IP("8.8.8.8"), 7, 7, 64, 28),
		NFTEST_LAN);
	struct slnf_pkt *bcast = add_udp(t, "10.10.1.5", "8.8.8.8", 64, NFTEST_LAN);
	struct slnf_pkt *l2bcast = add_udp(t, "10.10.1.5", "10.20.1.1", 1, NFTEST_LAN);
	struct slnf_pkt *noaddr = add_udp(t, "172.16.0.9", "8.8.4.4", 64, NFTEST_DMZ);
	struct slnf_pkt *noback = add_udp(t, "9.9.9.9", "8.8.4.4", 64, NFTEST_LAN);
	struct rte_ipv4_hdr *ip;
	json_t *st;

	make_icmp_error(err);
	/* a broadcast source never passes the parser; forge one after it */
	ip = slnf_pkt_ip(bcast);
	ip->src_addr = RTE_BE32(0xffffffff);
	nftest_fix_ip_csum(ip);
	bcast->key.src_ip = 0xffffffff;
	memset(rte_pktmbuf_mtod(l2bcast->m, uint8_t *), 0xff, RTE_ETHER_ADDR_LEN);
	/* dmz has addresses but the test moves the packet to a port index
	 * past the config: no address to answer from */
	noaddr->in_port = 9;

	nftest_run(t);
	assert_int_equal(err->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(err->drop_reason, SLNF_DROP_NO_ROUTE);
	assert_int_equal(bcast->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(bcast->drop_reason, SLNF_DROP_NO_ROUTE);
	assert_int_equal(l2bcast->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(l2bcast->drop_reason, SLNF_DROP_TTL_EXCEEDED);
	assert_int_equal(noaddr->verdict, SLNF_VERDICT_DROP);
	/* the error to 9.9.9.9 has no route back either */
	assert_int_equal(noback->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(noback->drop_reason, SLNF_DROP_NO_ROUTE);

	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "no_route"), 4);
	assert_int_equal(nftest_stat(st, "ttl_exceeded"), 1);
	assert_int_equal(nftest_stat(st, "icmp_sent"), 0);
	json_decref(st);
	nftest_free(t);
}

static void test_skips_dropped(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "10.20.1.1", 64, NFTEST_LAN);
	json_t *st;

	slnf_pkt_drop(a, SLNF_DROP_FILTER_DENY);
	nftest_run(t);
	assert_int_equal(a->drop_reason, SLNF_DROP_FILTER_DENY);
	assert_int_equal(slnf_pkt_ip(a)->time_to_live, 64);
	assert_int_equal(a->out_port, SLNF_PORT_NONE);
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "forwarded"), 0);
	json_decref(st);
	nftest_free(t);
}

/* Traffic to one of the instance's own addresses (on any port, second
 * addresses too) that no NF claimed is dropped, not routed back out. */
static void test_own_address_not_forwarded(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	struct slnf_pkt *a = add_udp(t, "10.10.1.5", "10.10.2.1", 64, NFTEST_LAN);
	struct slnf_pkt *b = add_udp(t, "10.10.1.5", "192.0.2.1", 64, NFTEST_LAN);
	struct slnf_pkt *c = add_udp(t, "10.10.1.5", "10.10.2.7", 64, NFTEST_LAN);
	json_t *st;

	nftest_run(t);
	assert_int_equal(a->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(a->drop_reason, SLNF_DROP_LOCAL_UNSUPPORTED);
	assert_int_equal(b->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(b->drop_reason, SLNF_DROP_LOCAL_UNSUPPORTED);
	assert_forwarded(c, NFTEST_WAN, "10.10.2.7");
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "forwarded"), 1);
	json_decref(st);
	nftest_free(t);
}

static void test_stats(void **state)
{
	struct nftest *t = nftest_new("router.json", routes_elem);
	json_t *st;

	for (int i = 0; i < 3; i++)
		add_udp(t, "10.10.1.5", "10.20.1.1", 64, NFTEST_LAN);
	nftest_run(t);
	nftest_free_burst(t);
	add_udp(t, "10.10.1.5", "10.20.1.1", 64, NFTEST_LAN);
	nftest_run(t);
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "forwarded"), 4);
	assert_int_equal(nftest_stat(st, "routes"), 6); /* 4 configured + lan + wan */
	assert_int_equal(nftest_stat(st, "no_route"), 0);
	json_decref(st);
	t->type->stats(t->ctx, NULL);
	nftest_free(t);
}

/* Two tenants route the same destination differently, both tables alive at
 * once (each router holds a 64 MiB rte_lpm). */
static void test_per_tenant_tables(void **state)
{
	struct nftest *t = nftest_config(
		"router.json",
		"[ { \"name\": \"a\", \"id\": 1, \"match\": { \"ports\": [\"lan\"] },"
		"    \"chain\": [ { \"nf\": \"router\", \"routes\": ["
		"      { \"prefix\": \"10.99.0.0/16\", \"port\": \"lan\", \"via\": \"10.10.1.9\" } ] } ] },"
		"  { \"name\": \"b\", \"id\": 2, \"match\": { \"ports\": [\"wan\"] },"
		"    \"chain\": [ { \"nf\": \"router\", \"routes\": ["
		"      { \"prefix\": \"10.99.0.0/16\", \"port\": \"wan\", \"via\": \"10.10.2.9\" } ] } ] } ]");
	struct slnf_error err = { { 0 } };
	void *ra = NULL, *rb = NULL;
	struct slnf_pkt *p;

	assert_int_equal(nftest_create_at(t, 0, 0, &ra, &err), 0);
	assert_int_equal(nftest_create_at(t, 1, 0, &rb, &err), 0);
	p = add_udp(t, "10.10.1.5", "10.99.1.1", 64, NFTEST_LAN);
	nftest_run_ctx(t, ra);
	assert_forwarded(p, NFTEST_LAN, "10.10.1.9");
	nftest_free_burst(t);
	p = add_udp(t, "10.10.2.5", "10.99.1.1", 64, NFTEST_WAN);
	nftest_run_ctx(t, rb);
	assert_forwarded(p, NFTEST_WAN, "10.10.2.9");
	nftest_free_burst(t);
	/* tenant b has no connected route for lan */
	p = add_udp(t, "10.10.2.5", "10.10.1.5", 64, NFTEST_WAN);
	nftest_run_ctx(t, rb);
	assert_int_equal(p->key.proto, IPPROTO_ICMP);
	if (ra)
		t->type->destroy(ra);
	t->type->destroy(rb);
	nftest_free(t);
}

static void test_validation(void **state)
{
	static const struct nftest_bad cases[] = {
		{ "{ \"nf\": \"router\", \"table\": 1 }", "chain[0].table", "unknown key" },
		{ "{ \"nf\": \"router\", \"routes\": {} }", "chain[0].routes", "must be an array" },
		{ "{ \"nf\": \"router\", \"routes\": [ 1 ] }", "chain[0].routes[0]",
		  "must be an object" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/33\", \"port\": \"wan\" } ] }",
		  "chain[0].routes[0].prefix", "bad prefix" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.1/24\", \"port\": \"wan\" } ] }",
		  "chain[0].routes[0].prefix", "10.0.0.0/24" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"port\": \"wan\" } ] }",
		  "chain[0].routes[0].prefix", "missing" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"port\": \"dsl\" } ] }",
		  "chain[0].routes[0].port", "unknown port \"dsl\"" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"port\": \"wan\","
		  " \"via\": \"10.10.1.9\" } ] }",
		  "chain[0].routes[0].via", "not on a connected network of port \"wan\"" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"port\": \"wan\","
		  " \"via\": \"10.10.2.1\" } ] }",
		  "chain[0].routes[0].via", "address of port \"wan\" itself" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"port\": \"wan\","
		  " \"via\": \"10.10.2\" } ] }",
		  "chain[0].routes[0].via", "bad address" },
		{ "{ \"nf\": \"router\", \"routes\": ["
		  " { \"prefix\": \"10.0.0.0/8\", \"port\": \"wan\" },"
		  " { \"prefix\": \"10.1.0.0/16\", \"port\": \"wan\" },"
		  " { \"prefix\": \"10.0.0.0/8\", \"port\": \"lan\" } ] }",
		  "chain[0].routes[2].prefix", "duplicate prefix 10.0.0.0/8 (also routes[0])" },
		{ "{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"port\": \"wan\","
		  " \"gw\": \"10.10.2.2\" } ] }",
		  "chain[0].routes[0].gw", "unknown key (expected one of prefix, port or via)" },
	};

	nftest_refused("router.json", cases, RTE_DIM(cases));
}

static void test_demo_config(void **state)
{
	nftest_demo("router");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_match),
		cmocka_unit_test(test_connected_routes),
		cmocka_unit_test(test_configured_route_replaces_connected),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_ttl_and_checksum),
		cmocka_unit_test(test_ttl_exceeded),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_silent_drops),
		cmocka_unit_test(test_skips_dropped),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_per_tenant_tables),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_demo_config),
		cmocka_unit_test(test_own_address_not_forwarded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
