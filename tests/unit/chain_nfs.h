/*
 * chain_nfs.h - the test NFs the chain runner tests drive, shared by
 * test_chain.c and test_chain_async.c (include it once per test program:
 * it registers the NFs).
 *
 * "t_count" is a per-flow packet counter kept in the store: prepare() asks
 * for each flow's record once per burst, process() queues one write per
 * packet (put-if-absent for a new flow, CAS on the version otherwise) and
 * denies every packet to port deny_port. "t_mark" remembers which packets
 * reached it and counts them with INCR. Plus two helpers: a UDP packet of
 * a test flow, and the count the store holds for a packet's flow.
 */
#ifndef SLNF_TEST_CHAIN_NFS_H
#define SLNF_TEST_CHAIN_NFS_H

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/chain.h"
#include "testutil.h"

#define T_COUNT_ID 0xfff0
#define T_MARK_ID 0xfff1
#define TENANT_ID 42

/* ---- t_count ---- */

struct count_ctx {
	uint32_t tenant_id;
	unsigned deny_port;
	atomic_uint packets, denied, read_errors;
};

/* Runs at the start of t_count's process(), between its read and write
 * batches: a test uses it to play another instance writing the same flow. */
static void (*count_hook)(void);
static atomic_uint count_destroyed;

static int count_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
			struct slnf_error *err)
{
	const char *key;
	json_t *v;
	unsigned deny = 0;
	json_object_foreach(params, key, v) {
		if (!strcmp(key, "nf"))
			continue;
		if (strcmp(key, "deny_port") || !json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535) {
			char field[128];
			snprintf(field, sizeof(field), "%s.%s", env->field, key);
			return slnf_errorf(err, EINVAL, env->cfg->file, field, "bad parameter");
		}
		deny = (unsigned)json_integer_value(v);
	}
	struct count_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tenant_id = env->cfg->tenants[env->tenant].id;
	c->deny_port = deny;
	*ctx = c;
	return 0;
}

static void count_destroy(void *ctx)
{
	atomic_fetch_add(&count_destroyed, 1);
	free(ctx);
}

static void flow_store_key(uint32_t tenant_id, const struct slnf_pkt *p, struct slnf_store_key *k)
{
	slnf_store_key_init(k, tenant_id, T_COUNT_ID, &p->key, sizeof(p->key));
}

static bool count_denied(const struct count_ctx *c, const struct slnf_pkt *p)
{
	return c->deny_port && p->key.dst_port == c->deny_port;
}

static void count_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	struct count_ctx *c = ctx;
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		if (count_denied(c, p))
			continue;
		/* One read per flow and burst: later packets share it. */
		for (uint16_t j = 0; j < i; j++) {
			struct slnf_pkt *q = b->pkts[j];
			if (q->state_req >= 0 && !memcmp(&q->key, &p->key, sizeof(p->key))) {
				p->state_req = q->state_req;
				break;
			}
		}
		if (p->state_req >= 0)
			continue;
		struct slnf_store_key k;
		flow_store_key(c->tenant_id, p, &k);
		slnf_state_get(reads, b, i, &k);
	}
}

static void count_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			  struct slnf_state_batch *writes)
{
	struct count_ctx *c = ctx;
	uint16_t queued[SLNF_CHAIN_REQS_MAX] = {0};
	if (count_hook)
		count_hook();
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		if (count_denied(c, p)) {
			atomic_fetch_add(&c->denied, 1);
			slnf_pkt_drop(p, SLNF_DROP_FILTER_DENY);
			continue;
		}
		if (p->state_req < 0) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			continue;
		}
		const struct slnf_store_op *rd = &reads->reqs[p->state_req].op;
		if (rd->status && rd->status != -ENOENT) {
			/* Fail closed: without the record nothing is known. */
			atomic_fetch_add(&c->read_errors, 1);
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			continue;
		}
		/* Writes of one batch apply in order, so the k-th packet of a
		 * flow in this burst expects the version the (k-1)-th made. */
		uint16_t k = queued[p->state_req]++;
		uint64_t count = k + 1, version = k;
		if (rd->status == 0) {
			uint64_t base;
			memcpy(&base, rd->val, sizeof(base));
			count += base;
			version += rd->version;
		}
		struct slnf_store_key key;
		flow_store_key(c->tenant_id, p, &key);
		bool create = rd->status == -ENOENT && k == 0;
		struct slnf_store_op *wr = slnf_state_write(
			writes, i, create ? SLNF_STORE_PUT_IF_ABSENT : SLNF_STORE_CAS, &key);
		if (!wr) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			continue;
		}
		wr->version = version;
		wr->val_len = sizeof(count);
		memcpy(wr->val, &count, sizeof(count));
		atomic_fetch_add(&c->packets, 1);
	}
}

static void count_stats(void *ctx, json_t *obj)
{
	struct count_ctx *c = ctx;
	json_object_set_new(obj, "packets", json_integer(atomic_load(&c->packets)));
	json_object_set_new(obj, "denied", json_integer(atomic_load(&c->denied)));
	json_object_set_new(obj, "read_errors", json_integer(atomic_load(&c->read_errors)));
}

/* Not const: a test turns retry_conflicts on. */
static struct slnf_nf_type t_count = {
	.name = "t_count",
	.id = T_COUNT_ID,
	.summary = "test: per-flow packet counter in the store",
	.create = count_create,
	.destroy = count_destroy,
	.prepare = count_prepare,
	.process = count_process,
	.stats = count_stats,
};
SLNF_NF_REGISTER(t_count)

/* ---- t_mark ---- */

struct mark_ctx {
	uint32_t tenant_id;
	atomic_uint seen, seen_denied_port, calls;
};

static int mark_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
		       struct slnf_error *err)
{
	struct mark_ctx *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->tenant_id = env->cfg->tenants[env->tenant].id;
	*ctx = m;
	return 0;
}

static void mark_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			 struct slnf_state_batch *writes)
{
	struct mark_ctx *m = ctx;
	struct slnf_store_key k;
	slnf_store_key_init(&k, m->tenant_id, T_MARK_ID, "seen", 4);
	atomic_fetch_add(&m->calls, 1);
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		assert_int_equal(p->verdict, SLNF_VERDICT_FORWARD);
		assert_int_equal(p->state_req, -1);
		atomic_fetch_add(&m->seen, 1);
		if (p->key.dst_port == 9)
			atomic_fetch_add(&m->seen_denied_port, 1);
		struct slnf_store_op *op = slnf_state_write(writes, i, SLNF_STORE_INCR, &k);
		if (op)
			op->delta = 1;
	}
}

static void mark_stats(void *ctx, json_t *obj)
{
	struct mark_ctx *m = ctx;
	json_object_set_new(obj, "seen", json_integer(atomic_load(&m->seen)));
}

static const struct slnf_nf_type t_mark = {
	.name = "t_mark",
	.id = T_MARK_ID,
	.summary = "test: sees what the chain forwards, counts it with INCR",
	.create = mark_create,
	.destroy = free,
	.process = mark_process,
	.stats = mark_stats,
};
SLNF_NF_REGISTER(t_mark)


/* ---- helpers ---- */

/* Parse a UDP packet of flow 10.0.0.<src>:<sport> -> 10.0.1.1:<dport>
 * into p, for tenant index 0. */
static inline void chain_test_pkt(struct slnf_pkt *p, unsigned src, uint16_t sport,
				  uint16_t dport)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_UDP, slnf_test_ip("10.0.0.0") + src,
					    slnf_test_ip("10.0.1.1"), sport, dport, 64, 0);
	slnf_test_parse(p, m);
	p->tenant = 0;
}

/* The count store holds for p's flow (t_count of tenant tenant_id), or -1
 * when absent; its version in *version unless NULL. */
static inline int64_t chain_test_count(struct slnf_store *store, uint32_t tenant_id,
				       const struct slnf_pkt *p, uint64_t *version)
{
	struct slnf_store_key k;
	flow_store_key(tenant_id, p, &k);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	assert_int_equal(slnf_store_exec(store, &op, 1), 0);
	if (op.status)
		return -1;
	uint64_t n;
	memcpy(&n, op.val, sizeof(n));
	if (version)
		*version = op.version;
	return (int64_t)n;
}

#endif
