/*
 * test_filter.c - the filter NF on its own: first match wins in rule
 * order, prefixes and port ranges at their edges, protocols, the default
 * action, hit counters and stats, fragments and ICMP against port rules, a
 * 2000-rule set, and parameter validation messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "nftest.h"

#define IP slnf_test_ip

static struct slnf_pkt *add(struct nftest *t, uint8_t proto, const char *src, const char *dst,
			    uint16_t sport, uint16_t dport)
{
	return nftest_add(t, slnf_test_ipv4(proto, IP(src), IP(dst), sport, dport, 64, 0),
			  NFTEST_LAN);
}

static void assert_allowed(const struct slnf_pkt *p)
{
	assert_int_equal(p->verdict, SLNF_VERDICT_FORWARD);
}

static void assert_denied(const struct slnf_pkt *p)
{
	assert_int_equal(p->verdict, SLNF_VERDICT_DROP);
	assert_int_equal(p->drop_reason, SLNF_DROP_FILTER_DENY);
}

/* Hits of rule i in the stats, and its name and action. */
static long long rule_hits(json_t *st, size_t i, const char *name, const char *action)
{
	json_t *r = json_array_get(json_object_get(st, "rules"), i);

	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "name")), name);
	assert_string_equal(json_string_value(json_object_get(r, "action")), action);
	return nftest_stat(r, "hits");
}

static void test_first_match_wins(void **state)
{
	struct nftest *t = nftest_new(
		"filter.json",
		"{ \"nf\": \"filter\", \"default\": \"deny\", \"rules\": ["
		"  { \"name\": \"web\", \"action\": \"allow\", \"proto\": \"tcp\","
		"    \"dst\": \"10.0.0.0/8\", \"dst_port\": \"80\" },"
		"  { \"name\": \"block-10-1\", \"action\": \"deny\", \"dst\": \"10.1.0.0/16\" },"
		"  { \"name\": \"rest-of-10\", \"action\": \"allow\", \"dst\": \"10.0.0.0/8\" } ] }");
	struct slnf_pkt *a = add(t, IPPROTO_TCP, "192.168.0.1", "10.1.2.3", 999, 80);
	struct slnf_pkt *b = add(t, IPPROTO_TCP, "192.168.0.1", "10.1.2.3", 999, 81);
	struct slnf_pkt *c = add(t, IPPROTO_TCP, "192.168.0.1", "10.2.2.3", 999, 81);
	struct slnf_pkt *d = add(t, IPPROTO_TCP, "192.168.0.1", "11.0.0.1", 999, 80);
	json_t *st;

	nftest_run(t);
	assert_allowed(a);
	assert_denied(b);
	assert_allowed(c);
	assert_denied(d); /* default */
	st = nftest_stats(t);
	assert_int_equal(rule_hits(st, 0, "web", "allow"), 1);
	assert_int_equal(rule_hits(st, 1, "block-10-1", "deny"), 1);
	assert_int_equal(rule_hits(st, 2, "rest-of-10", "allow"), 1);
	assert_int_equal(nftest_stat(st, "default_hits"), 1);
	assert_int_equal(nftest_stat(st, "allowed"), 2);
	assert_int_equal(nftest_stat(st, "denied"), 2);
	json_decref(st);
	nftest_free(t);

	/* the same rules the other way round: the deny comes first now */
	t = nftest_new("filter.json",
		       "{ \"nf\": \"filter\", \"rules\": ["
		       "  { \"action\": \"deny\", \"dst\": \"10.1.0.0/16\" },"
		       "  { \"action\": \"allow\", \"proto\": \"tcp\", \"dst\": \"10.0.0.0/8\","
		       "    \"dst_port\": \"80\" } ] }");
	a = add(t, IPPROTO_TCP, "192.168.0.1", "10.1.2.3", 999, 80);
	nftest_run(t);
	assert_denied(a);
	st = nftest_stats(t);
	assert_int_equal(rule_hits(st, 0, "rules[0]", "deny"), 1);
	assert_int_equal(rule_hits(st, 1, "rules[1]", "allow"), 0);
	json_decref(st);
	nftest_free(t);
}

/* A packet and whether the filter under test must deny it. */
struct probe {
	uint8_t proto;
	const char *src, *dst;
	uint16_t sport, dport;
	bool deny;
};

/* Run all probes through the filter elem as one burst. */
static void check_probes(const char *elem, const struct probe *pr, size_t n)
{
	struct nftest *t = nftest_new("filter.json", elem);

	for (size_t i = 0; i < n; i++)
		add(t, pr[i].proto, pr[i].src, pr[i].dst, pr[i].sport, pr[i].dport);
	nftest_run(t);
	for (size_t i = 0; i < n; i++)
		if ((t->b.pkts[i]->verdict == SLNF_VERDICT_DROP) != pr[i].deny)
			fail_msg("probe %zu (proto %u %s:%u -> %s:%u) should be %s", i, pr[i].proto,
				 pr[i].src, pr[i].sport, pr[i].dst, pr[i].dport,
				 pr[i].deny ? "denied" : "allowed");
	nftest_free(t);
}

static void test_prefixes(void **state)
{
	static const struct probe pr[] = {
		{ IPPROTO_UDP, "192.168.1.0", "10.0.0.1", 1, 2, true },     /* /24 low edge */
		{ IPPROTO_UDP, "192.168.1.255", "10.0.0.1", 1, 2, true },   /* /24 high edge */
		{ IPPROTO_UDP, "192.168.0.255", "10.0.0.1", 1, 2, false },  /* just below */
		{ IPPROTO_UDP, "192.168.2.0", "10.0.0.1", 1, 2, false },    /* just above */
		{ IPPROTO_UDP, "192.168.1.7", "10.0.0.2", 1, 2, false },    /* other dst */
		{ IPPROTO_UDP, "172.31.255.255", "1.1.1.1", 1, 2, true },   /* in /12 */
		{ IPPROTO_UDP, "172.32.0.0", "1.1.1.1", 1, 2, false },      /* past /12 */
	};

	check_probes("{ \"nf\": \"filter\", \"default\": \"allow\", \"rules\": ["
		     "  { \"action\": \"deny\", \"src\": \"192.168.1.0/24\", \"dst\": \"10.0.0.1\" },"
		     "  { \"action\": \"deny\", \"src\": \"172.16.0.0/12\" } ] }",
		     pr, RTE_DIM(pr));
}

static void test_port_ranges(void **state)
{
	static const struct probe pr[] = {
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 999, false },
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 1000, true },
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 1500, true },
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 2000, true },
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 2001, false },
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 53, 4000, true },     /* src_port 53 */
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 53, 4000, false },    /* not udp */
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 54, 4000, false },
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 65535, true },     /* both ends */
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 2, 65535, false },
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 0, 65534, false },
	};

	check_probes("{ \"nf\": \"filter\", \"rules\": ["
		     "  { \"action\": \"deny\", \"proto\": \"tcp\", \"dst_port\": \"1000-2000\" },"
		     "  { \"action\": \"deny\", \"proto\": \"udp\", \"src_port\": 53 },"
		     "  { \"action\": \"deny\", \"src_port\": \"0-1\", \"dst_port\": \"65535\" } ] }",
		     pr, RTE_DIM(pr));
}

static void test_protocols(void **state)
{
	static const struct probe pr[] = {
		{ IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 2, false },
		{ IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 1, 2, true },
		{ IPPROTO_ICMP, "1.1.1.1", "2.2.2.2", 9, 9, false },
		{ 47, "1.1.1.1", "2.2.2.2", 0, 0, false },
		{ 50, "1.1.1.1", "2.2.2.2", 0, 0, true },
	};

	check_probes("{ \"nf\": \"filter\", \"default\": \"deny\", \"rules\": ["
		     "  { \"action\": \"allow\", \"proto\": 17 },"
		     "  { \"action\": \"allow\", \"proto\": \"icmp\" },"
		     "  { \"action\": \"allow\", \"proto\": 47 } ] }",
		     pr, RTE_DIM(pr));
}

static void test_no_rules(void **state)
{
	struct nftest *t = nftest_new("filter.json", "{ \"nf\": \"filter\", \"default\": \"deny\" }");
	struct slnf_pkt *a = add(t, IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 2);
	json_t *st;

	nftest_run(t);
	assert_denied(a);
	st = nftest_stats(t);
	assert_int_equal(json_array_size(json_object_get(st, "rules")), 0);
	assert_int_equal(nftest_stat(st, "default_hits"), 1);
	assert_int_equal(nftest_stat(st, "denied"), 1);
	assert_string_equal(json_string_value(json_object_get(st, "default")), "deny");
	json_decref(st);
	nftest_free(t);

	t = nftest_new("filter.json", "{ \"nf\": \"filter\" }");
	a = add(t, IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 2);
	nftest_run(t);
	assert_allowed(a);
	nftest_free(t);
}

/* Turn p into a fragment: offset in 8-byte units, more fragments or not. */
static void fragment(struct slnf_pkt *p, uint16_t offset, bool more)
{
	struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);

	ip->fragment_offset = rte_cpu_to_be_16(offset | (more ? RTE_IPV4_HDR_MF_FLAG : 0));
	nftest_fix_ip_csum(ip);
	slnf_test_parse(p, p->m);
	p->in_port = NFTEST_LAN;
}

static void test_fragments_and_icmp(void **state)
{
	struct nftest *t = nftest_new(
		"filter.json",
		"{ \"nf\": \"filter\", \"rules\": ["
		"  { \"name\": \"no-telnet\", \"action\": \"deny\", \"proto\": \"tcp\", \"dst_port\": \"23\" },"
		"  { \"name\": \"any-port-0\", \"action\": \"deny\", \"dst_port\": \"0-100\" },"
		"  { \"name\": \"no-9\", \"action\": \"deny\", \"dst\": \"9.0.0.0/8\" } ] }");
	struct slnf_pkt *first = add(t, IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 23);
	struct slnf_pkt *later = add(t, IPPROTO_TCP, "1.1.1.1", "2.2.2.2", 4000, 23);
	struct slnf_pkt *later9 = add(t, IPPROTO_TCP, "1.1.1.1", "9.2.2.2", 4000, 23);
	struct slnf_pkt *echo = add(t, IPPROTO_ICMP, "1.1.1.1", "2.2.2.2", 23, 23);
	struct slnf_pkt *gre = add(t, 47, "1.1.1.1", "2.2.2.2", 0, 0);
	json_t *st;

	fragment(first, 0, true);
	fragment(later, 185, false);
	fragment(later9, 185, true);
	assert_int_equal(later->key.dst_port, 0);
	nftest_run(t);
	assert_denied(first);   /* the first fragment has its ports */
	assert_allowed(later);  /* ports unknown: port rules never match */
	assert_denied(later9);  /* a rule without ports still does */
	assert_allowed(echo);   /* the echo id is no port */
	assert_allowed(gre);    /* nor are the zeroes of a portless protocol */
	st = nftest_stats(t);
	assert_int_equal(rule_hits(st, 0, "no-telnet", "deny"), 1);
	assert_int_equal(rule_hits(st, 1, "any-port-0", "deny"), 0);
	assert_int_equal(rule_hits(st, 2, "no-9", "deny"), 1);
	json_decref(st);
	nftest_free(t);
}

static void test_skips_dropped(void **state)
{
	struct nftest *t = nftest_new("filter.json", "{ \"nf\": \"filter\", \"default\": \"deny\" }");
	struct slnf_pkt *a = add(t, IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 2);
	struct slnf_pkt *b = add(t, IPPROTO_UDP, "1.1.1.1", "2.2.2.2", 1, 2);
	json_t *st;

	slnf_pkt_drop(a, SLNF_DROP_NO_ROUTE);
	nftest_run(t);
	assert_int_equal(a->drop_reason, SLNF_DROP_NO_ROUTE);
	assert_denied(b);
	st = nftest_stats(t);
	assert_int_equal(nftest_stat(st, "denied"), 1);
	json_decref(st);
	nftest_free(t);
}

/* Rule i denies UDP to 10.i/8-ish networks on one port each:
 * dst 10.<i/256>.<i%256>.0/24, dst_port 1000+i. */
static char *many_rules(unsigned n)
{
	size_t cap = 128 + (size_t)n * 128, pos = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	pos += (size_t)snprintf(s + pos, cap - pos,
				"{ \"nf\": \"filter\", \"default\": \"allow\", \"rules\": [");
	for (unsigned i = 0; i < n; i++)
		pos += (size_t)snprintf(s + pos, cap - pos,
					"%s{ \"name\": \"r%u\", \"action\": \"deny\", \"proto\": "
					"\"udp\", \"dst\": \"10.%u.%u.0/24\", \"dst_port\": \"%u\" }",
					i ? "," : "", i, i / 256, i % 256, 1000 + i);
	snprintf(s + pos, cap - pos, "] }");
	return s;
}

static void test_many_rules(void **state)
{
	static const unsigned probe[] = { 0, 1, 255, 256, 1024, 1999 };
	char *elem = many_rules(2000);
	struct nftest *t = nftest_new("filter.json", elem);
	char dst[32];
	json_t *st;

	free(elem);
	for (unsigned k = 0; k < RTE_DIM(probe); k++) {
		unsigned i = probe[k];

		snprintf(dst, sizeof(dst), "10.%u.%u.9", i / 256, i % 256);
		add(t, IPPROTO_UDP, "1.1.1.1", dst, 5, (uint16_t)(1000 + i));     /* denied */
		add(t, IPPROTO_UDP, "1.1.1.1", dst, 5, (uint16_t)(1001 + i));     /* next rule's port */
		add(t, IPPROTO_TCP, "1.1.1.1", dst, 5, (uint16_t)(1000 + i));     /* tcp */
	}
	nftest_run(t);
	for (unsigned k = 0; k < RTE_DIM(probe); k++) {
		assert_denied(t->b.pkts[3 * k]);
		assert_allowed(t->b.pkts[3 * k + 1]);
		assert_allowed(t->b.pkts[3 * k + 2]);
	}
	st = nftest_stats(t);
	assert_int_equal(json_array_size(json_object_get(st, "rules")), 2000);
	for (unsigned k = 0; k < RTE_DIM(probe); k++) {
		char name[16];

		snprintf(name, sizeof(name), "r%u", probe[k]);
		assert_int_equal(rule_hits(st, probe[k], name, "deny"), 1);
	}
	assert_int_equal(rule_hits(st, 2, "r2", "deny"), 0);
	assert_int_equal(nftest_stat(st, "denied"), RTE_DIM(probe));
	assert_int_equal(nftest_stat(st, "default_hits"), 2 * RTE_DIM(probe));
	json_decref(st);
	nftest_free(t);
}

static void test_validation(void **state)
{
	static const struct nftest_bad cases[] = {
		{ "{ \"nf\": \"filter\", \"policy\": \"deny\" }", "chain[0].policy", "unknown key" },
		{ "{ \"nf\": \"filter\", \"default\": \"drop\" }", "chain[0].default",
		  "\"drop\" is not one of allow or deny" },
		{ "{ \"nf\": \"filter\", \"rules\": \"all\" }", "chain[0].rules", "must be an array" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"reject\" } ] }",
		  "chain[0].rules[0].action", "\"reject\" is not one of allow or deny" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"proto\": \"tcp\" } ] }",
		  "chain[0].rules[0].action", "missing" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\" },"
		  " { \"action\": \"deny\", \"proto\": \"sctp\" } ] }",
		  "chain[0].rules[1].proto", "unknown protocol \"sctp\"" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"proto\": 256 } ] }",
		  "chain[0].rules[0].proto", "number 0-255" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"dst_port\": \"90-80\" } ] }",
		  "chain[0].rules[0].dst_port", "bad port range \"90-80\"" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"src_port\": \"65536\" } ] }",
		  "chain[0].rules[0].src_port", "bad port range" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"src_port\": \"1-\" } ] }",
		  "chain[0].rules[0].src_port", "bad port range" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"src_port\": -1 } ] }",
		  "chain[0].rules[0].src_port", "bad port range" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"proto\": \"icmp\","
		  " \"dst_port\": \"8\" } ] }",
		  "chain[0].rules[0].dst_port", "ports need proto tcp or udp" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"src\": \"10.0.0.0/40\" } ] }",
		  "chain[0].rules[0].src", "bad prefix" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"dst\": \"10.0.0.9/8\" } ] }",
		  "chain[0].rules[0].dst", "did you mean 10.0.0.0/8" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"action\": \"deny\", \"port\": \"80\" } ] }",
		  "chain[0].rules[0].port", "unknown key" },
		{ "{ \"nf\": \"filter\", \"rules\": [ { \"name\": \"x\", \"action\": \"deny\" },"
		  " { \"name\": \"x\", \"action\": \"allow\" } ] }",
		  "chain[0].rules[1].name", "duplicate rule name \"x\" (also rules[0])" },
	};

	nftest_refused("filter.json", cases, RTE_DIM(cases));
}

static void test_demo_config(void **state)
{
	nftest_demo("filter");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_no_rules),
		cmocka_unit_test(test_fragments_and_icmp),
		cmocka_unit_test(test_skips_dropped),
		cmocka_unit_test(test_many_rules),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_demo_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
