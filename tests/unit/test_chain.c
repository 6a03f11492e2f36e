/*
 * test_chain.c - the chain runner, driven by the two small test NFs of
 * chain_nfs.h: "t_count", a per-flow packet counter in the store (GET,
 * then PUT_IF_ABSENT or CAS per packet) that denies one port, and
 * "t_mark", which counts what reaches it with INCR. Together they show
 * the runner's rules: one store batch per NF phase, state that persists
 * across bursts, dropped packets hidden from later NFs, and packets whose
 * writes fail dropped with the right reason. Chains are built from config
 * text through slnf_config_parse, as slnfd builds them. The tests at the
 * end give the runner an instance cache: hits never reach the store, an
 * epoch bump sends reads back to it, and a stale cached version costs one
 * packet but never overwrites newer state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain_nfs.h"

/* ---- fixture ---- */

struct fx {
	struct slnf_config cfg;
	struct slnf_store *store;
	struct slnf_chain *chain;
	struct slnf_chain_scratch *scratch;
	struct slnf_pkt pkts[SLNF_BURST_MAX];
	struct slnf_burst burst;
};

static const char *config_text(const char *chain)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{ \"name\": \"chaintest\","
		 "  \"store\": { \"backend\": \"local\", \"capacity\": 1024 },"
		 "  \"ports\": [ { \"name\": \"p0\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": %d,"
		 "                   \"match\": { \"ports\": [\"p0\"] },"
		 "                   \"chain\": %s } ] }",
		 TENANT_ID, chain);
	return buf;
}

static void parse_config(struct fx *f, const char *chain)
{
	struct slnf_error err = {{0}};
	int rc = slnf_config_parse(config_text(chain), "chain.json", &f->cfg, &err);
	if (rc < 0)
		fail_msg("config: %s", err.msg);
}

static struct fx *fx_new(const char *chain, uint32_t capacity)
{
	slnf_test_eal();
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->scratch = calloc(1, sizeof(*f->scratch));
	assert_non_null(f->scratch);
	parse_config(f, chain);
	struct slnf_store_config sc = f->cfg.store;
	if (capacity)
		sc.capacity = capacity;
	struct slnf_error err = {{0}};
	if (slnf_store_open(&sc, &f->store, &err) < 0)
		fail_msg("store: %s", err.msg);
	if (slnf_chain_create(&f->cfg, 0, &f->chain, &err) < 0)
		fail_msg("chain: %s", err.msg);
	return f;
}

static void fx_free_pkts(struct fx *f)
{
	for (unsigned i = 0; i < f->burst.n; i++)
		rte_pktmbuf_free(f->pkts[i].m);
	f->burst.n = 0;
}

static void fx_free(struct fx *f)
{
	fx_free_pkts(f);
	slnf_chain_destroy(f->chain);
	slnf_store_close(f->store);
	slnf_config_free(&f->cfg);
	slnf_cache_destroy(f->scratch->cache);
	free(f->scratch);
	free(f);
}

/* Give the runner an instance cache, as each slnfd worker has. */
static struct slnf_cache *fx_cache(struct fx *f)
{
	struct slnf_cache_config cc = {.capacity = 256};
	assert_int_equal(slnf_cache_create(&cc, &f->scratch->cache), 0);
	return f->scratch->cache;
}

/* Add a UDP packet of flow 10.0.0.<src>:<sport> -> 10.0.1.1:<dport>. */
static void add_pkt(struct fx *f, unsigned src, uint16_t sport, uint16_t dport)
{
	assert_true(f->burst.n < SLNF_BURST_MAX);
	struct slnf_pkt *p = &f->pkts[f->burst.n];
	chain_test_pkt(p, src, sport, dport);
	f->burst.pkts[f->burst.n++] = p;
}

static void reset_verdicts(struct fx *f)
{
	for (unsigned i = 0; i < f->burst.n; i++) {
		f->pkts[i].verdict = SLNF_VERDICT_FORWARD;
		f->pkts[i].drop_reason = SLNF_DROP_NONE;
	}
}

static void run(struct fx *f)
{
	slnf_chain_run(f->chain, &f->burst, f->store, f->scratch);
}

static struct slnf_store_stats store_stats(struct fx *f)
{
	struct slnf_store_stats st;
	slnf_store_stats(f->store, &st);
	return st;
}

/* The stored count of the flow packet i belongs to, or -1 when absent. */
static int64_t flow_count(struct fx *f, unsigned i, uint64_t *version)
{
	return chain_test_count(f->store, TENANT_ID, &f->pkts[i], version);
}

static int64_t marked(struct fx *f)
{
	struct slnf_store_key k;
	slnf_store_key_init(&k, TENANT_ID, T_MARK_ID, "seen", 4);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	assert_int_equal(slnf_store_exec(f->store, &op, 1), 0);
	return op.status ? -1 : op.counter;
}

#define CHAIN_BOTH "[ { \"nf\": \"t_count\", \"deny_port\": 9 }, { \"nf\": \"t_mark\" } ]"
#define CHAIN_COUNT "[ { \"nf\": \"t_count\" } ]"

/* ---- tests ---- */

static void test_batches_and_persistence(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	/* 4 flows x 8 packets, interleaved. */
	for (unsigned i = 0; i < 32; i++)
		add_pkt(f, 1 + i % 4, 1000, 80);
	struct slnf_store_stats st0 = store_stats(f);
	run(f);
	struct slnf_store_stats st1 = store_stats(f);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_FORWARD);
	/* t_count: one read batch (4 GETs) and one write batch (32);
	 * t_mark: no reads, one write batch (32 INCRs). */
	assert_int_equal(st1.batches - st0.batches, 3);
	assert_int_equal(st1.ops - st0.ops, 4 + 32 + 32);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t v;
		assert_int_equal(flow_count(f, i, &v), 8);
		assert_int_equal(v, 8);
	}
	assert_int_equal(marked(f), 32);
	assert_int_equal(st1.entries, 5);

	/* A second burst carries on from the stored records. */
	fx_free_pkts(f);
	for (unsigned i = 0; i < 6; i++)
		add_pkt(f, 1 + i % 2, 1000, 80);
	st1 = store_stats(f); /* the checks above were batches too */
	run(f);
	struct slnf_store_stats st2 = store_stats(f);
	assert_int_equal(st2.batches - st1.batches, 3);
	assert_int_equal(flow_count(f, 0, NULL), 11);
	assert_int_equal(flow_count(f, 1, NULL), 11);
	assert_int_equal(marked(f), 38);
	assert_int_equal(st2.entries, 5);
	fx_free(f);
}

static void test_dropped_hidden_from_next(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	for (unsigned i = 0; i < 10; i++)
		add_pkt(f, 1 + i % 2, 2000 + i % 2, i % 2 ? 9 : 53);
	run(f);
	for (unsigned i = 0; i < 10; i++) {
		if (i % 2) {
			assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_DROP);
			assert_int_equal(f->pkts[i].drop_reason, SLNF_DROP_FILTER_DENY);
		} else {
			assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_FORWARD);
		}
	}
	struct mark_ctx *m = f->chain->ctx[1];
	assert_int_equal(atomic_load(&m->seen), 5);
	assert_int_equal(atomic_load(&m->seen_denied_port), 0);
	assert_int_equal(flow_count(f, 0, NULL), 5);
	assert_int_equal(flow_count(f, 1, NULL), -1); /* denied flows leave no state */
	assert_int_equal(marked(f), 5);

	/* When every packet is dropped, later NFs are not called at all and
	 * the store sees no batch for them. */
	fx_free_pkts(f);
	for (unsigned i = 0; i < 4; i++)
		add_pkt(f, 3, 3000, 9);
	unsigned calls = atomic_load(&m->calls);
	struct slnf_store_stats st0 = store_stats(f);
	run(f);
	struct slnf_store_stats st1 = store_stats(f);
	assert_int_equal(atomic_load(&m->calls), calls);
	assert_int_equal(st1.batches, st0.batches);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(f->pkts[i].drop_reason, SLNF_DROP_FILTER_DENY);

	/* Packets dropped before the chain (by the data path) are not shown
	 * to any NF. */
	fx_free_pkts(f);
	add_pkt(f, 4, 4000, 80);
	add_pkt(f, 5, 4000, 80);
	slnf_pkt_drop(&f->pkts[0], SLNF_DROP_NO_TENANT);
	run(f);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_NO_TENANT);
	assert_int_equal(f->pkts[1].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), -1);
	assert_int_equal(flow_count(f, 1, NULL), 1);
	fx_free(f);
}

/* A reverse burst (from outside the tenant's inside ports) runs the chain
 * backwards, a final router staying last: here t_mark runs before t_count
 * and so sees the packets t_count then denies. */
static void test_reverse_order(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	assert_int_equal(f->chain->order[0][0], 0);
	assert_int_equal(f->chain->order[0][1], 1);
	assert_int_equal(f->chain->order[1][0], 1);
	assert_int_equal(f->chain->order[1][1], 0);
	struct mark_ctx *m = f->chain->ctx[1];
	f->burst.reverse = true;
	add_pkt(f, 1, 2000, 53);
	add_pkt(f, 2, 2001, 9);
	run(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(f->pkts[1].drop_reason, SLNF_DROP_FILTER_DENY);
	assert_int_equal(atomic_load(&m->seen), 2);
	assert_int_equal(atomic_load(&m->seen_denied_port), 1);
	fx_free(f);

	f = fx_new("[ { \"nf\": \"t_count\", \"deny_port\": 9 }, { \"nf\": \"t_mark\" },"
		   "  { \"nf\": \"filter\", \"default\": \"allow\" },"
		   "  { \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.0.1.0/24\","
		   "    \"port\": \"p0\" } ] } ]", 0);
	static const uint8_t reverse[] = { 2, 1, 0, 3 };
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(f->chain->order[0][i], i);
		assert_int_equal(f->chain->order[1][i], reverse[i]);
	}
	fx_free(f);
	(void)state;
}

static void test_write_full_store(void **state)
{
	/* Room for three flows; the fourth cannot be written. */
	struct fx *f = fx_new(CHAIN_COUNT, 3);
	for (unsigned i = 0; i < 8; i++)
		add_pkt(f, 1 + i % 4, 1000, 80);
	run(f);
	for (unsigned i = 0; i < 8; i++) {
		if (i % 4 == 3) {
			assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_DROP);
			assert_int_equal(f->pkts[i].drop_reason, SLNF_DROP_STORE_ERROR);
		} else {
			assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_FORWARD);
		}
	}
	assert_int_equal(flow_count(f, 0, NULL), 2);
	assert_int_equal(flow_count(f, 3, NULL), -1);
	struct slnf_store_stats st = store_stats(f);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.entries, 3);
	fx_free(f);
}

static struct fx *hook_fx;
static int hook_opcode;

/* Another instance writes packet 0's flow directly in the store. */
static void other_instance_writes(struct fx *f, enum slnf_store_opcode opcode, uint64_t n)
{
	struct slnf_store_key k;
	flow_store_key(TENANT_ID, &f->pkts[0], &k);
	struct slnf_store_op op;
	slnf_store_op_init(&op, opcode, &k);
	op.val_len = sizeof(n);
	memcpy(op.val, &n, sizeof(n));
	assert_int_equal(slnf_store_exec(f->store, &op, 1), 0);
	assert_int_equal(op.status, 0);
}

/* Another instance writes the flow of packet 0 between our read and our
 * write. */
static void interfere(void)
{
	other_instance_writes(hook_fx, (enum slnf_store_opcode)hook_opcode, 100);
}

static void interfere_once(void)
{
	interfere();
	count_hook = NULL;
}

static void test_write_conflicts(void **state)
{
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	hook_fx = f;

	/* Creation race: the other instance creates the record first; our
	 * put-if-absent loses and the packet is dropped as a conflict. */
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 2, 1000, 80);
	hook_opcode = SLNF_STORE_PUT_IF_ABSENT;
	count_hook = interfere;
	run(f);
	count_hook = NULL;
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_DROP);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_CONFLICT);
	assert_int_equal(f->pkts[1].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), 100); /* the winner's record */

	/* Update race: our CAS carries a stale version. */
	reset_verdicts(f);
	hook_opcode = SLNF_STORE_PUT;
	count_hook = interfere;
	run(f);
	count_hook = NULL;
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_CONFLICT);
	assert_int_equal(f->pkts[1].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 1, NULL), 2);

	/* Without interference the next burst goes through. */
	reset_verdicts(f);
	run(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(f->pkts[1].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), 101);
	assert_int_equal(flow_count(f, 1, NULL), 3);
	fx_free(f);
	hook_fx = NULL;
}

/* An NF whose process() leaves packets alone may ask for lost races to be
 * run again with the current record instead of dropped. */
static void test_write_conflicts_retried(void **state)
{
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	struct count_ctx *c = f->chain->ctx[0];
	hook_fx = f;
	t_count.retry_conflicts = true;

	/* Creation race: the retry finds the winner's record and counts on it. */
	add_pkt(f, 1, 1000, 80);
	hook_opcode = SLNF_STORE_PUT_IF_ABSENT;
	count_hook = interfere_once;
	run(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), 101);
	assert_int_equal(atomic_load(&c->packets), 2); /* processed twice */

	/* An interferer that wins every time: SLNF_CHAIN_RETRIES retries, then
	 * the packet is dropped as a conflict. */
	reset_verdicts(f);
	hook_opcode = SLNF_STORE_PUT;
	count_hook = interfere;
	run(f);
	count_hook = NULL;
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_CONFLICT);
	assert_int_equal(atomic_load(&c->packets), 2 + 1 + SLNF_CHAIN_RETRIES);
	assert_int_equal(flow_count(f, 0, NULL), 100);

	t_count.retry_conflicts = false;
	fx_free(f);
	hook_fx = NULL;
	(void)state;
}

static void test_store_unreachable(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 2, 1000, 9);
	/* No store: reads come back -EIO, process() still runs and applies
	 * the NF's policy (t_count fails closed). */
	slnf_chain_run(f->chain, &f->burst, NULL, f->scratch);
	struct count_ctx *c = f->chain->ctx[0];
	assert_int_equal(atomic_load(&c->read_errors), 1);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_ERROR);
	assert_int_equal(f->pkts[1].drop_reason, SLNF_DROP_FILTER_DENY);
	fx_free(f);
}

static void test_write_failure_without_store(void **state)
{
	/* t_mark writes without reading: with no store its INCRs are not
	 * acknowledged, so its packets are dropped (write before forward). */
	struct fx *f = fx_new("[ { \"nf\": \"t_mark\" } ]", 0);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 2, 1000, 80);
	slnf_chain_run(f->chain, &f->burst, NULL, f->scratch);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_DROP);
		assert_int_equal(f->pkts[i].drop_reason, SLNF_DROP_STORE_ERROR);
	}
	fx_free(f);
}

static void test_stats_json(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 1, 1000, 9);
	run(f);
	json_t *arr = json_array();
	slnf_chain_stats(f->chain, arr);
	assert_int_equal(json_array_size(arr), 2);
	json_t *a = json_array_get(arr, 0), *b = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(a, "nf")), "t_count");
	assert_int_equal(json_integer_value(json_object_get(a, "packets")), 1);
	assert_int_equal(json_integer_value(json_object_get(a, "denied")), 1);
	assert_string_equal(json_string_value(json_object_get(b, "nf")), "t_mark");
	assert_int_equal(json_integer_value(json_object_get(b, "seen")), 1);
	json_decref(arr);
	fx_free(f);
}

static void test_unknown_nf(void **state)
{
	struct fx f = {0};
	parse_config(&f, "[ { \"nf\": \"t_count\" }, { \"nf\": \"nosuch\" } ]");
	struct slnf_error err = {{0}};
	struct slnf_chain *c = (struct slnf_chain *)0x1;
	unsigned destroyed = atomic_load(&count_destroyed);
	assert_true(slnf_chain_create(&f.cfg, 0, &c, &err) < 0);
	assert_null(c);
	assert_non_null(strstr(err.msg, "chain.json"));
	assert_non_null(strstr(err.msg, "tenants[0].chain[1].nf"));
	assert_non_null(strstr(err.msg, "unknown network function 'nosuch' (available: "));
	assert_non_null(strstr(err.msg, "t_count"));
	assert_non_null(strstr(err.msg, "t_mark"));
	/* The NF created before the bad one was torn down. */
	assert_int_equal(atomic_load(&count_destroyed), destroyed + 1);
	slnf_config_free(&f.cfg);

	/* An NF's own parameter error comes back as it wrote it. */
	struct fx g = {0};
	parse_config(&g, "[ { \"nf\": \"t_mark\" }, { \"nf\": \"t_count\", \"deny\": 1 } ]");
	assert_true(slnf_chain_create(&g.cfg, 0, &c, &err) < 0);
	assert_non_null(strstr(err.msg, "tenants[0].chain[1].deny"));
	slnf_config_free(&g.cfg);

	assert_true(slnf_chain_create(&g.cfg, 5, &c, &err) < 0);
}

static void test_registry(void **state)
{
	assert_ptr_equal(slnf_nf_find("t_count"), &t_count);
	assert_ptr_equal(slnf_nf_find("t_mark"), &t_mark);
	assert_null(slnf_nf_find("nosuch"));
	/* Iteration is in name order and ends with NULL. */
	const struct slnf_nf_type *prev = NULL, *t;
	unsigned i, found = 0;
	for (i = 0; (t = slnf_nf_at(i)); i++) {
		if (prev)
			assert_true(strcmp(prev->name, t->name) < 0);
		found += t == &t_count || t == &t_mark;
		prev = t;
	}
	assert_int_equal(found, 2);
	assert_null(slnf_nf_at(i + 1));
}

static void test_state_helpers(void **state)
{
	struct slnf_pkt p[2];
	memset(p, 0, sizeof(p));
	p[0].state_req = p[1].state_req = -1;
	struct slnf_burst b = {.n = 2, .pkts = {&p[0], &p[1]}};
	struct slnf_state_req reqs[3];
	struct slnf_state_batch rd = {.reqs = reqs, .cap = 3};
	struct slnf_store_key k;
	slnf_store_key_init(&k, 1, 2, "k", 1);
	assert_non_null(slnf_state_get(&rd, &b, 1, &k));
	assert_non_null(slnf_state_get(&rd, &b, 1, &k));
	assert_int_equal(p[1].state_req, 0); /* the first request it made */
	struct slnf_store_op *op = slnf_state_get(&rd, &b, 0, &k);
	assert_non_null(op);
	assert_int_equal(p[0].state_req, 2);
	assert_int_equal(op->opcode, SLNF_STORE_GET);
	assert_memory_equal(&op->key, &k, sizeof(k));
	assert_int_equal(reqs[2].pkt, 0);
	assert_null(slnf_state_get(&rd, &b, 0, &k)); /* full */
	assert_null(slnf_state_get(&rd, &b, 7, &k)); /* no such packet */

	struct slnf_state_batch wr = {.reqs = reqs, .cap = 1};
	op = slnf_state_write(&wr, 1, SLNF_STORE_CAS, &k);
	assert_non_null(op);
	assert_int_equal(op->opcode, SLNF_STORE_CAS);
	assert_int_equal(reqs[0].pkt, 1);
	assert_null(slnf_state_write(&wr, 0, SLNF_STORE_PUT, &k));
}

/* ---- with an instance cache ---- */

static struct slnf_cache_stats cache_stats(struct fx *f)
{
	struct slnf_cache_stats st;
	slnf_cache_stats(f->scratch->cache, &st);
	return st;
}

/* A new burst of the packets already in f, verdicts reset. */
static void rerun(struct fx *f)
{
	reset_verdicts(f);
	run(f);
}

/* "t_probe": reads t_count's record of each packet's flow, and a second
 * record only if that one is not a cache hit; records what the second
 * read came back with. */
static int probe_status[SLNF_BURST_MAX];

static void probe_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	(void)ctx;
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_store_key k;
		int16_t primary = (int16_t)reads->n;
		flow_store_key(TENANT_ID, b->pkts[i], &k);
		slnf_state_get(reads, b, i, &k);
		k.data[k.len - 1] ^= 0x5a; /* a record nobody writes */
		slnf_state_get_unless_hit(reads, b, i, &k, primary);
	}
}

static void probe_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			  struct slnf_state_batch *writes)
{
	(void)ctx;
	(void)writes;
	for (uint16_t i = 0; i < b->n; i++)
		probe_status[i] = reads->reqs[b->pkts[i]->state_req + 1].op.status;
}

static const struct slnf_nf_type t_probe = {
	.name = "t_probe", .id = 0xfff2, .summary = "test: conditional reads",
	.prepare = probe_prepare, .process = probe_process,
};
SLNF_NF_REGISTER(t_probe)

static void test_read_unless_hit(void **state)
{
	struct fx *f = fx_new("[ { \"nf\": \"t_count\" }, { \"nf\": \"t_probe\" } ]", 0);
	/* No cache: the second read is made, and finds nothing. */
	add_pkt(f, 1, 1000, 80);
	run(f);
	assert_int_equal(probe_status[0], -ENOENT);
	/* With the cache: t_count's write filled it, so the primary read is a
	 * hit and the second read is not made at all. */
	fx_cache(f);
	reset_verdicts(f);
	run(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(probe_status[0], -ECANCELED);
	fx_free(f);
	/* With a cache that misses (nothing wrote the flow): made. */
	f = fx_new("[ { \"nf\": \"t_probe\" } ]", 0);
	fx_cache(f);
	add_pkt(f, 1, 1000, 80);
	probe_status[0] = 0;
	run(f);
	assert_int_equal(probe_status[0], -ENOENT);
	fx_free(f);
	(void)state;
}

static void test_cache_hits_skip_store(void **state)
{
	struct fx *f = fx_new(CHAIN_BOTH, 0);
	fx_cache(f);
	for (unsigned i = 0; i < 8; i++)
		add_pkt(f, 1 + i % 4, 1000, 80);
	struct slnf_store_stats st0 = store_stats(f);
	run(f);
	struct slnf_store_stats st1 = store_stats(f);
	/* First burst: t_count's reads miss and go to the store in one
	 * batch, as without a cache. */
	assert_int_equal(st1.batches - st0.batches, 3);
	assert_int_equal(st1.ops - st0.ops, 4 + 8 + 8);
	struct slnf_cache_stats cs = cache_stats(f);
	assert_int_equal(cs.hits, 0);
	assert_int_equal(cs.misses, 4);

	/* The same flows again: every read hits, no read batch at all; the
	 * writes still go to the store, version-checked. */
	for (unsigned round = 0; round < 3; round++) {
		st1 = store_stats(f);
		rerun(f);
		struct slnf_store_stats st2 = store_stats(f);
		assert_int_equal(st2.batches - st1.batches, 2);
		assert_int_equal(st2.ops - st1.ops, 8 + 8);
		for (unsigned i = 0; i < 8; i++)
			assert_int_equal(f->pkts[i].verdict, SLNF_VERDICT_FORWARD);
	}
	cs = cache_stats(f);
	assert_int_equal(cs.hits, 12);
	assert_int_equal(cs.misses, 4);
	/* The store holds what it would have held without the cache. */
	for (unsigned i = 0; i < 4; i++) {
		uint64_t v;
		assert_int_equal(flow_count(f, i, &v), 8);
		assert_int_equal(v, 8);
	}
	assert_int_equal(marked(f), 32);

	/* A flow the cache has not seen goes to the store, alone. */
	fx_free_pkts(f);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 9, 1000, 80);
	st1 = store_stats(f);
	run(f);
	struct slnf_store_stats st2 = store_stats(f);
	assert_int_equal(st2.batches - st1.batches, 3);
	assert_int_equal(st2.ops - st1.ops, 1 + 2 + 2);
	assert_int_equal(flow_count(f, 0, NULL), 9);
	assert_int_equal(flow_count(f, 1, NULL), 1);
	fx_free(f);
}

static void test_cache_epoch_rereads(void **state)
{
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	struct slnf_cache *c = fx_cache(f);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 2, 1000, 80);
	run(f);
	struct slnf_store_stats st0 = store_stats(f);
	rerun(f);
	struct slnf_store_stats st1 = store_stats(f);
	assert_int_equal(st1.batches - st0.batches, 1); /* writes only */

	/* Steering changed: the next burst reads from the store again,
	 * then the cache serves the burst after. */
	slnf_cache_set_epoch(c, 1);
	rerun(f);
	struct slnf_store_stats st2 = store_stats(f);
	assert_int_equal(st2.batches - st1.batches, 2);
	assert_int_equal(st2.ops - st1.ops, 2 + 2);
	rerun(f);
	struct slnf_store_stats st3 = store_stats(f);
	assert_int_equal(st3.batches - st2.batches, 1);
	struct slnf_cache_stats cs = cache_stats(f);
	assert_int_equal(cs.epoch_changes, 1);
	assert_int_equal(cs.stale, 2);
	assert_int_equal(flow_count(f, 0, NULL), 4);
	assert_int_equal(flow_count(f, 1, NULL), 4);
	fx_free(f);
}

static void test_cache_stale_never_overwrites(void **state)
{
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	fx_cache(f);
	add_pkt(f, 1, 1000, 80);
	add_pkt(f, 2, 1000, 80);
	run(f);
	uint64_t v;
	assert_int_equal(flow_count(f, 0, &v), 1);

	/* The flow moved and back without an epoch bump (or the bump was
	 * late): the other instance wrote it, our cache still says v1. */
	other_instance_writes(f, SLNF_STORE_PUT, 100);
	assert_int_equal(flow_count(f, 0, &v), 100);
	assert_int_equal(v, 2);
	struct slnf_store_stats st0 = store_stats(f);
	rerun(f);
	struct slnf_store_stats st1 = store_stats(f);
	assert_int_equal(st1.batches - st0.batches, 1); /* served from the cache */
	/* The CAS on the cached version lost: the packet is dropped, the
	 * newer state stands. */
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_DROP);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_CONFLICT);
	assert_int_equal(f->pkts[1].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, &v), 100);
	assert_int_equal(v, 2);

	/* The conflict brought back the current record, which the cache now
	 * holds: the next burst needs no read and carries on from it. */
	st1 = store_stats(f); /* the checks above were batches too */
	rerun(f);
	struct slnf_store_stats st2 = store_stats(f);
	assert_int_equal(st2.batches - st1.batches, 1);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, &v), 101);
	assert_int_equal(v, 3);
	assert_int_equal(flow_count(f, 1, NULL), 3);

	/* Deleted behind our back: the CAS finds no record (store_error) and
	 * the key leaves the cache, so the next burst reads and re-creates. */
	struct slnf_store_key k;
	flow_store_key(TENANT_ID, &f->pkts[0], &k);
	struct slnf_store_op del;
	slnf_store_op_init(&del, SLNF_STORE_DEL, &k);
	assert_int_equal(slnf_store_exec(f->store, &del, 1), 0);
	rerun(f);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_ERROR);
	assert_int_equal(flow_count(f, 0, NULL), -1);
	rerun(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, &v), 1);
	assert_int_equal(v, 1);
	fx_free(f);
}

static void test_cache_creation_race(void **state)
{
	/* Another instance creates the flow between our read (a miss: no
	 * record) and our put-if-absent: we lose, drop the packet, and cache
	 * the winner's record, which the next burst adopts without a read. */
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	fx_cache(f);
	hook_fx = f;
	hook_opcode = SLNF_STORE_PUT_IF_ABSENT;
	add_pkt(f, 1, 1000, 80);
	count_hook = interfere;
	run(f);
	count_hook = NULL;
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_CONFLICT);
	struct slnf_store_stats st0 = store_stats(f);
	rerun(f);
	struct slnf_store_stats st1 = store_stats(f);
	assert_int_equal(st1.batches - st0.batches, 1);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), 101);
	hook_fx = NULL;
	fx_free(f);
}

static void test_cache_store_unreachable(void **state)
{
	/* With the store gone, cached flows still get their records (the NF
	 * decides), but writes cannot be acknowledged: write before forward
	 * drops those packets, and their keys leave the cache. */
	struct fx *f = fx_new(CHAIN_COUNT, 0);
	fx_cache(f);
	add_pkt(f, 1, 1000, 80);
	run(f);
	reset_verdicts(f);
	slnf_chain_run(f->chain, &f->burst, NULL, f->scratch);
	struct count_ctx *c = f->chain->ctx[0];
	assert_int_equal(atomic_load(&c->read_errors), 0);
	assert_int_equal(f->pkts[0].drop_reason, SLNF_DROP_STORE_ERROR);
	struct slnf_cache_stats cs = cache_stats(f);
	assert_int_equal(cs.hits, 1);
	assert_int_equal(cs.invalidations, 1);
	/* Back: the flow is read again and carries on from the store. */
	rerun(f);
	assert_int_equal(f->pkts[0].verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(flow_count(f, 0, NULL), 2);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_state_helpers),
		cmocka_unit_test(test_batches_and_persistence),
		cmocka_unit_test(test_dropped_hidden_from_next),
		cmocka_unit_test(test_reverse_order),
		cmocka_unit_test(test_write_full_store),
		cmocka_unit_test(test_write_conflicts),
		cmocka_unit_test(test_write_conflicts_retried),
		cmocka_unit_test(test_store_unreachable),
		cmocka_unit_test(test_write_failure_without_store),
		cmocka_unit_test(test_stats_json),
		cmocka_unit_test(test_unknown_nf),
		cmocka_unit_test(test_cache_hits_skip_store),
		cmocka_unit_test(test_read_unless_hit),
		cmocka_unit_test(test_cache_epoch_rereads),
		cmocka_unit_test(test_cache_stale_never_overwrites),
		cmocka_unit_test(test_cache_creation_race),
		cmocka_unit_test(test_cache_store_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
