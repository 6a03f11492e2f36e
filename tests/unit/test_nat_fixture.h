/*
 * test_nat_fixture.h - what the nat unit tests share: a config with an
 * inside port "in" (10.0.0.254/24) and an outside port "out" whose tenant
 * chain is one nat element, over the local store; two chains over that
 * store (two instances); packets run one at a time through the real chain
 * runner, copied out with their verdict and key; and a check that every
 * checksum of a frame verifies from scratch. Include it once, after
 * cmocka.h.
 */
#ifndef SLNF_TEST_NAT_FIXTURE_H
#define SLNF_TEST_NAT_FIXTURE_H

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

static inline int config(struct slnf_config *cfg, const char *nat, struct slnf_error *err)
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

static inline struct fx *fx_new(const char *nat)
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

static inline void fx_free(struct fx *f)
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

static inline struct rte_mbuf *pkt(uint8_t proto, const char *src, const char *dst, uint16_t sport,
			    uint16_t dport)
{
	return slnf_test_ipv4(proto, slnf_test_ip(src), slnf_test_ip(dst), sport, dport, 64, 12);
}

/* Turn an ICMP echo request built by testutil into an echo reply. */
static inline struct rte_mbuf *echo_reply(struct rte_mbuf *m)
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
static inline struct out run_on(struct fx *f, struct slnf_chain *ch, struct rte_mbuf *m,
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

static inline struct out out_pkt(struct fx *f, struct rte_mbuf *m)
{
	return run_on(f, f->chain, m, 0);
}

static inline struct out in_pkt(struct fx *f, struct rte_mbuf *m)
{
	return run_on(f, f->chain, m, 1);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Every checksum of the frame verifies from scratch. */
static inline void assert_checksums(const struct out *o)
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

static inline json_int_t stat(struct fx *f, const char *name)
{
	json_t *arr = json_array();
	json_int_t v;

	slnf_chain_stats(f->chain, arr);
	v = json_integer_value(json_object_get(json_array_get(arr, 0), name));
	json_decref(arr);
	return v;
}

/* A nat element the chain must refuse with an error naming field. */
static inline void expect_error(const char *nat, const char *field)
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

#endif
