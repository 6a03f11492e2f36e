/*
 * nftest.h - a harness for unit-testing one stateless NF on its own: a
 * config parsed from JSON text (as slnfd would load it), the NF type's
 * create() called for one chain element, and bursts of real mbufs run
 * through process(). Header-only so that each NF test links nothing more
 * than testutil; include it after cmocka.h.
 */
#ifndef SLNF_NFTEST_H
#define SLNF_NFTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include "slnf/config.h"
#include "slnf/csum.h"
#include "slnf/nf.h"
#include "testutil.h"

/* Two ports with one network each, and a third with two networks. */
#define NFTEST_PORTS                                                                      \
	"\"ports\": ["                                                                    \
	" { \"name\": \"lan\", \"type\": \"null\", \"ipv4\": [\"10.10.1.1/24\"] },"       \
	" { \"name\": \"wan\", \"type\": \"null\", \"ipv4\": [\"10.10.2.1/24\"] },"       \
	" { \"name\": \"dmz\", \"type\": \"null\","                                       \
	"   \"ipv4\": [\"172.16.0.1/16\", \"192.0.2.1/29\"] } ]"

enum { NFTEST_LAN, NFTEST_WAN, NFTEST_DMZ };

struct nftest {
	struct slnf_config cfg;
	const struct slnf_nf_type *type;
	void *ctx;
	struct slnf_pkt pkts[SLNF_BURST_MAX];
	struct slnf_burst b;
};

/* Parse a config whose "tenants" array is given; fails the test on error. */
static inline struct nftest *nftest_config(const char *file, const char *tenants)
{
	struct nftest *t = calloc(1, sizeof(*t));
	struct slnf_error err = { { 0 } };
	size_t len = strlen(tenants) + 1024;
	char *text = malloc(len);

	assert_non_null(t);
	assert_non_null(text);
	slnf_test_eal();
	snprintf(text, len, "{ \"name\": \"nftest\", " NFTEST_PORTS ", \"tenants\": %s }", tenants);
	if (slnf_config_parse(text, file, &t->cfg, &err) < 0)
		fail_msg("config: %s", err.msg);
	free(text);
	return t;
}

/* create() of the NF at tenants[tenant].chain[pos] into *ctx; returns its
 * result and leaves the message in err. */
static inline int nftest_create_at(struct nftest *t, unsigned tenant, unsigned pos, void **ctx,
				   struct slnf_error *err)
{
	const struct slnf_chain_entry *ce = &t->cfg.tenants[tenant].chain[pos];
	struct slnf_nf_env env = {
		.cfg = &t->cfg, .tenant = tenant, .position = pos, .field = ce->field,
	};

	t->type = slnf_nf_find(ce->nf);
	assert_non_null(t->type);
	return t->type->create(&env, ce->params, ctx, err);
}

static inline void nftest_free_burst(struct nftest *t)
{
	for (unsigned i = 0; i < t->b.n; i++)
		rte_pktmbuf_free(t->pkts[i].m);
	t->b.n = 0;
}

static inline void nftest_free(struct nftest *t)
{
	nftest_free_burst(t);
	if (t->ctx)
		t->type->destroy(t->ctx);
	slnf_config_free(&t->cfg);
	free(t);
}

/* Parse m into the next burst slot as received on in_port; returns it. */
static inline struct slnf_pkt *nftest_add(struct nftest *t, struct rte_mbuf *m, uint16_t in_port)
{
	struct slnf_pkt *p = &t->pkts[t->b.n];

	assert_true(t->b.n < SLNF_BURST_MAX);
	slnf_test_parse(p, m);
	p->in_port = in_port;
	t->b.pkts[t->b.n++] = p;
	return p;
}

static inline void nftest_run_ctx(struct nftest *t, void *ctx)
{
	t->type->process(ctx, &t->b, NULL, NULL);
}

static inline void nftest_run(struct nftest *t)
{
	nftest_run_ctx(t, t->ctx);
}

/* The NF's stats object; caller json_decref()s it. */
static inline json_t *nftest_stats(struct nftest *t)
{
	json_t *o = json_object();

	t->type->stats(t->ctx, o);
	return o;
}

static inline long long nftest_stat(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v))
		fail_msg("stat %s missing", name);
	return json_integer_value(v);
}

/* Rewrite the IPv4 header of a built frame (fix its checksum after). */
static inline struct rte_ipv4_hdr *nftest_ip(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
}

static inline void nftest_fix_ip_csum(struct rte_ipv4_hdr *ip)
{
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_cpu_to_be_16(slnf_csum(ip, rte_ipv4_hdr_len(ip)));
}

/* A config with one tenant on lan and wan whose chain is elem. */
static inline struct nftest *nftest_one_tenant(const char *file, const char *elem)
{
	size_t len = strlen(elem) + 256;
	char *tenants = malloc(len);
	struct nftest *t;

	assert_non_null(tenants);
	snprintf(tenants, len,
		 "[ { \"name\": \"t0\", \"id\": 1, \"match\": { \"ports\": [\"lan\", \"wan\"] },"
		 "    \"chain\": [ %s ] } ]",
		 elem);
	t = nftest_config(file, tenants);
	free(tenants);
	return t;
}

/* That config with its NF created. */
static inline struct nftest *nftest_new(const char *file, const char *elem)
{
	struct nftest *t = nftest_one_tenant(file, elem);
	struct slnf_error err = { { 0 } };

	if (nftest_create_at(t, 0, 0, &t->ctx, &err) < 0)
		fail_msg("create: %s", err.msg);
	return t;
}

/* A chain element create() must refuse, and what its message must say. */
struct nftest_bad {
	const char *elem;
	const char *field; /* after "file: tenants[0]." */
	const char *reason;
};

/* Every case must fail with "file: tenants[0].<field>: ...<reason>...". */
static inline void nftest_refused(const char *file, const struct nftest_bad *cases, size_t n)
{
	char where[256];

	for (size_t i = 0; i < n; i++) {
		struct nftest *t = nftest_one_tenant(file, cases[i].elem);
		struct slnf_error err = { { 0 } };
		void *ctx = NULL;

		assert_true(nftest_create_at(t, 0, 0, &ctx, &err) < 0);
		assert_null(ctx);
		snprintf(where, sizeof(where), "%s: tenants[0].%s: ", file, cases[i].field);
		if (!strstr(err.msg, where) || !strstr(err.msg, cases[i].reason))
			fail_msg("case %zu: \"%s\" does not say \"%s\" ... \"%s\"", i, err.msg,
				 where, cases[i].reason);
		nftest_free(t);
	}
}

/* Load examples/demo.json and create (then destroy) the first NF of type
 * nf in tenants[0]'s chain, which must have one. */
static inline void nftest_demo(const char *nf)
{
	struct nftest *t = calloc(1, sizeof(*t));
	struct slnf_error err = { { 0 } };
	void *ctx = NULL;
	unsigned pos = 0;

	assert_non_null(t);
	slnf_test_eal();
	if (slnf_config_load(SLNF_TEST_DATA "/../../examples/demo.json", &t->cfg, &err) < 0)
		fail_msg("demo.json: %s", err.msg);
	while (pos < t->cfg.tenants[0].n_chain && strcmp(t->cfg.tenants[0].chain[pos].nf, nf))
		pos++;
	if (pos == t->cfg.tenants[0].n_chain)
		fail_msg("demo.json has no %s in its chain", nf);
	if (nftest_create_at(t, 0, pos, &ctx, &err) < 0)
		fail_msg("demo.json %s: %s", nf, err.msg);
	t->type->destroy(ctx);
	nftest_free(t);
}

#endif
