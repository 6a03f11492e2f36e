/*
 * test_store_cluster.c - the redis-cluster backend against a real 6-node
 * Redis Cluster (3 masters, 3 replicas) started by redis_cluster_fixture.c.
 *
 * First the store conformance suite, with every master flushed before
 * each store is opened. Then the cluster's own behaviour:
 *  - redirects: a slot is migrated by hand (CLUSTER SETSLOT MIGRATING /
 *    IMPORTING, MIGRATE, SETSLOT NODE) while the store holds the old map, so
 *    ops meet ASK during the migration and MOVED after it, and must still
 *    give the right answers;
 *  - failover: a master is SIGKILLed while a workload of INCR batches over
 *    keys in every slot runs. Ops on the dead master's slots must fail with
 *    -EAGAIN or -ETIMEDOUT (never hang, never crash) while nobody serves
 *    them, ops on the other masters keep succeeding, and the dead slots
 *    work again once a replica is promoted; the failures appear in the
 *    store's stats.
 * Every loop and wait is bounded; the fixture stops the servers by PID and
 * removes its directory, also when a test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "slnf/store.h"
#include "core/log.h"
#include "store/cluster_slots.h"
#include "store/redis_proto.h"
#include "redis_cluster_fixture.h"
#include "store_conformance.h"

#define TENANT 9
#define NF_ID 4
/* The failover workload. */
#define FO_KEYS 384
#define FO_WARMUP_BATCHES 20
#define FO_MAX_MS 20000

static struct slnf_rc rc;
static char seed[72];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush_masters(struct slnf_store_config *cfg)
{
	if (slnf_rc_flush(&rc) < 0)
		fprintf(stderr, "test_store_cluster: FLUSHALL failed on some node\n");
}

static struct slnf_store_config cluster_config(void)
{
	struct slnf_store_config cfg = {.backend = "redis-cluster", .capacity = 4096};
	snprintf(cfg.redis.nodes[0], sizeof(cfg.redis.nodes[0]), "%s", seed);
	cfg.redis.n_nodes = 1;
	/* Generous for two busy cores; loopback answers in well under 1 ms. */
	cfg.redis.timeout_ms = 1000;
	return cfg;
}

static struct slnf_store *open_cluster(void)
{
	struct slnf_store_config cfg = cluster_config();
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	int r = slnf_store_open(&cfg, &s, &err);
	if (r < 0)
		fail_msg("open redis-cluster: %s", err.msg);
	return s;
}

static struct slnf_store_key key_n(unsigned n)
{
	char name[32];
	snprintf(name, sizeof(name), "fo-%u", n);
	struct slnf_store_key k;
	slnf_store_key_init(&k, TENANT, NF_ID, name, (uint16_t)strlen(name));
	return k;
}

static unsigned slot_of(const struct slnf_store_key *k, char *key, size_t cap)
{
	int len = slnf_redis_key(k, key, cap);
	assert_true(len > 0);
	return slnf_cluster_key_slot(key, (size_t)len);
}

/* ---- open errors ---- */

static void test_open_errors(void **state)
{
	struct slnf_store_config cfg = {.backend = "redis-cluster"};
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	assert_int_equal(slnf_store_open(&cfg, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "store.redis.nodes"));

	snprintf(cfg.redis.nodes[0], sizeof(cfg.redis.nodes[0]), "no-port-here");
	cfg.redis.n_nodes = 1;
	assert_int_equal(slnf_store_open(&cfg, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no-port-here"));

	/* Nothing listens there (port 1 needs root to bind, so it is free). */
	snprintf(cfg.redis.nodes[0], sizeof(cfg.redis.nodes[0]), "127.0.0.1:1");
	cfg.redis.timeout_ms = 200;
	uint64_t t0 = now_ms();
	assert_int_equal(slnf_store_open(&cfg, &s, &err), -EIO);
	assert_true(now_ms() - t0 < 2000);
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	assert_null(s);

	/* A bad seed first, a good one second: the second is used. */
	snprintf(cfg.redis.nodes[1], sizeof(cfg.redis.nodes[1]), "%s", seed);
	cfg.redis.n_nodes = 2;
	assert_int_equal(slnf_store_open(&cfg, &s, &err), 0);
	slnf_store_close(s);
}

/* ---- redirects: a slot migrated behind the store's back ---- */

static char *node_id(unsigned node)
{
	redisReply *r = slnf_rc_command(&rc, node, "CLUSTER MYID");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	char *id = strdup(r->str);
	freeReplyObject(r);
	return id;
}

static void expect_ok(redisReply *r, const char *what)
{
	if (!r)
		fail_msg("%s: no answer", what);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", what, r->str);
	freeReplyObject(r);
}

static void set_slot_node(unsigned slot, const char *id)
{
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		redisReply *r = slnf_rc_command(&rc, i, "CLUSTER SETSLOT %u NODE %s", slot, id);
		if (r)
			freeReplyObject(r);
	}
}

static void put_get(struct slnf_store *s, const struct slnf_store_key *k, const char *val)
{
	struct slnf_store_op ops[2];
	slnf_store_op_init(&ops[0], SLNF_STORE_PUT, k);
	ops[0].val_len = (uint16_t)strlen(val);
	memcpy(ops[0].val, val, ops[0].val_len);
	slnf_store_op_init(&ops[1], SLNF_STORE_GET, k);
	assert_int_equal(slnf_store_exec(s, ops, 2), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[1].val_len, strlen(val));
	assert_memory_equal(ops[1].val, val, ops[1].val_len);
}

static void test_redirects(void **state)
{
	slnf_rc_flush(&rc);
	struct slnf_store *s = open_cluster();
	struct slnf_store_stats st0, st1;
	slnf_store_stats(s, &st0);

	/* Two keys in one slot: k1 exists before the migration, k2 is new. */
	char key1[SLNF_REDIS_KEY_MAX], key2[SLNF_REDIS_KEY_MAX];
	struct slnf_store_key k1 = key_n(0), k2;
	unsigned slot = slot_of(&k1, key1, sizeof(key1));
	unsigned n;
	for (n = 1; n < 1000000; n++) {
		k2 = key_n(n);
		if (slot_of(&k2, key2, sizeof(key2)) == slot)
			break;
	}
	assert_int_equal(slot_of(&k2, key2, sizeof(key2)), slot);

	int from = slnf_rc_master_of(&rc, slot);
	assert_true(from >= 0);
	int to = slnf_rc_master_of(&rc, (slot + SLNF_CLUSTER_SLOTS / 2) % SLNF_CLUSTER_SLOTS);
	assert_true(to >= 0 && to != from);
	char *from_id = node_id((unsigned)from), *to_id = node_id((unsigned)to);

	put_get(s, &k1, "before");

	expect_ok(slnf_rc_command(&rc, (unsigned)to, "CLUSTER SETSLOT %u IMPORTING %s", slot,
				  from_id), "IMPORTING");
	expect_ok(slnf_rc_command(&rc, (unsigned)from, "CLUSTER SETSLOT %u MIGRATING %s", slot,
				  to_id), "MIGRATING");

	/* During the migration: k1 is still at the source, k2 is absent there,
	 * so the source answers ASK and the op must go to the target. */
	put_get(s, &k1, "during");
	put_get(s, &k2, "new-at-target");
	/* It really went to the target: one key of the slot on each side
	 * (EXISTS would be redirected; key counts are not). */
	for (unsigned side = 0; side < 2; side++) {
		redisReply *r = slnf_rc_command(&rc, (unsigned)(side ? to : from),
						"CLUSTER COUNTKEYSINSLOT %u", slot);
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_INTEGER);
		assert_int_equal(r->integer, 1);
		freeReplyObject(r);
	}

	/* Finish: move k1 and give the slot to the target. The store still
	 * maps the slot to the source, which now answers MOVED. */
	expect_ok(slnf_rc_command(&rc, (unsigned)from, "MIGRATE 127.0.0.1 %u %s 0 5000 KEYS %s",
				  rc.ports[to], "", key1), "MIGRATE");
	set_slot_node(slot, to_id);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_GET, &k1);
	assert_int_equal(slnf_store_exec(s, &op, 1), 0);
	assert_int_equal(op.status, 0);
	assert_int_equal(op.val_len, 6);
	assert_memory_equal(op.val, "during", 6);
	put_get(s, &k1, "after");
	put_get(s, &k2, "after-too");

	slnf_store_stats(s, &st1);
	assert_int_equal(st1.failures, st0.failures);

	/* Give the slot back so the cluster looks as created. */
	expect_ok(slnf_rc_command(&rc, (unsigned)from, "CLUSTER SETSLOT %u IMPORTING %s", slot,
				  to_id), "IMPORTING back");
	expect_ok(slnf_rc_command(&rc, (unsigned)to, "CLUSTER SETSLOT %u MIGRATING %s", slot,
				  from_id), "MIGRATING back");
	expect_ok(slnf_rc_command(&rc, (unsigned)to, "MIGRATE 127.0.0.1 %u %s 0 5000 KEYS %s %s",
				  rc.ports[from], "", key1, key2), "MIGRATE back");
	set_slot_node(slot, from_id);
	put_get(s, &k1, "home");

	free(from_id);
	free(to_id);
	slnf_log_set_level(SLNF_LOG_DEBUG);
	slnf_store_close(s);
	slnf_log_set_level(SLNF_LOG_INFO);
}

/* ---- durability: WAIT for replicas ---- */

static void test_wait(void **state)
{
	slnf_rc_flush(&rc);
	struct slnf_store_config cfg = cluster_config();
	cfg.redis.wait_replicas = 1;
	cfg.redis.wait_timeout_ms = 300;
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	assert_int_equal(slnf_store_open(&cfg, &s, &err), 0);
	/* Every master has one replica: writes on all masters are confirmed. */
	enum { N = 64 };
	struct slnf_store_op ops[N];
	for (unsigned i = 0; i < N; i++) {
		struct slnf_store_key k = key_n(i);
		slnf_store_op_init(&ops[i], i % 2 ? SLNF_STORE_INCR : SLNF_STORE_PUT_IF_ABSENT, &k);
		ops[i].delta = 1;
	}
	assert_int_equal(slnf_store_exec(s, ops, N), 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(ops[i].status, 0);
	/* A lost PUT_IF_ABSENT changed nothing: no WAIT needed, still -EEXIST. */
	struct slnf_store_key k0 = key_n(0);
	slnf_store_op_init(&ops[0], SLNF_STORE_PUT_IF_ABSENT, &k0);
	assert_int_equal(slnf_store_exec(s, ops, 1), 0);
	assert_int_equal(ops[0].status, -EEXIST);
	slnf_store_close(s);

	/* Two replicas are never there: the write happened on the master but
	 * is not confirmed, so it fails (-EIO) after wait_timeout_ms. */
	cfg.redis.wait_replicas = 2;
	assert_int_equal(slnf_store_open(&cfg, &s, &err), 0);
	struct slnf_store_key k = key_n(1000);
	slnf_store_op_init(&ops[0], SLNF_STORE_PUT, &k);
	slnf_store_op_init(&ops[1], SLNF_STORE_GET, &k);
	uint64_t t0 = now_ms();
	assert_int_equal(slnf_store_exec(s, ops, 2), 0);
	uint64_t took = now_ms() - t0;
	assert_int_equal(ops[0].status, -EIO);
	assert_int_equal(ops[1].status, 0);
	assert_true(took >= 250 && took < 1500);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	assert_int_equal(st.failures, 1);
	slnf_store_close(s);
}

/* ---- failover under load ---- */

struct fo_result {
	uint64_t batches;
	uint64_t victim_fail, other_fail;
	uint64_t eagain, etimedout, other_status;
	uint64_t first_fail_ms, resumed_ms; /* after the kill; 0: never */
	uint64_t worst_batch_ms;
};

/* One batch: INCR every key by one. Counts successes into acked[]. */
static void fo_batch(struct slnf_store *s, struct slnf_store_op *ops, int64_t *acked,
		     const bool *on_victim, struct fo_result *res, bool *victim_all_ok,
		     bool *any_fail)
{
	for (unsigned i = 0; i < FO_KEYS; i++) {
		struct slnf_store_key k = key_n(i);
		slnf_store_op_init(&ops[i], SLNF_STORE_INCR, &k);
		ops[i].delta = 1;
	}
	uint64_t t0 = now_ms();
	int r = slnf_store_exec(s, ops, FO_KEYS);
	uint64_t took = now_ms() - t0;
	if (took > res->worst_batch_ms)
		res->worst_batch_ms = took;
	assert_true(r == 0 || r == -ETIMEDOUT);
	res->batches++;
	*victim_all_ok = true;
	*any_fail = false;
	for (unsigned i = 0; i < FO_KEYS; i++) {
		int st = ops[i].status;
		assert_int_not_equal(st, -EINPROGRESS);
		if (st == 0) {
			acked[i]++;
			continue;
		}
		*any_fail = true;
		if (on_victim[i]) {
			res->victim_fail++;
			*victim_all_ok = false;
		} else {
			res->other_fail++;
		}
		if (st == -EAGAIN)
			res->eagain++;
		else if (st == -ETIMEDOUT)
			res->etimedout++;
		else
			res->other_status++;
	}
}

static void test_failover(void **state)
{
	slnf_rc_flush(&rc);
	struct slnf_store *s = open_cluster();
	struct slnf_store_op *ops = calloc(FO_KEYS, sizeof(*ops));
	int64_t *acked = calloc(FO_KEYS, sizeof(*acked));
	bool *on_victim = calloc(FO_KEYS, sizeof(*on_victim));
	assert_non_null(ops);
	assert_non_null(acked);
	assert_non_null(on_victim);

	/* The victim: a master other than the seed (node 0). */
	int victim = -1;
	unsigned victim_slot = 0;
	for (unsigned slot = 0; slot < SLNF_CLUSTER_SLOTS && victim < 0; slot += 1024) {
		int m = slnf_rc_master_of(&rc, slot);
		if (m > 0) {
			victim = m;
			victim_slot = slot;
		}
	}
	assert_true(victim > 0);
	unsigned n_victim = 0;
	unsigned seen_slots_lo = SLNF_CLUSTER_SLOTS, seen_slots_hi = 0;
	for (unsigned i = 0; i < FO_KEYS; i++) {
		struct slnf_store_key k = key_n(i);
		char key[SLNF_REDIS_KEY_MAX];
		unsigned slot = slot_of(&k, key, sizeof(key));
		on_victim[i] = slnf_rc_master_of(&rc, slot) == victim;
		n_victim += on_victim[i];
		if (slot < seen_slots_lo)
			seen_slots_lo = slot;
		if (slot > seen_slots_hi)
			seen_slots_hi = slot;
	}
	/* Keys spread over the whole slot space and every master. */
	assert_true(seen_slots_lo < 1000 && seen_slots_hi > 15000);
	assert_true(n_victim > FO_KEYS / 6 && n_victim < FO_KEYS / 2);

	struct fo_result res = {0};
	bool victim_ok, any_fail;
	for (unsigned b = 0; b < FO_WARMUP_BATCHES; b++) {
		fo_batch(s, ops, acked, on_victim, &res, &victim_ok, &any_fail);
		assert_false(any_fail);
	}
	struct slnf_store_stats st0, st1;
	slnf_store_stats(s, &st0);

	print_message("killing master on port %u (slot %u, %u of %u keys)\n", rc.ports[victim],
		      victim_slot, n_victim, FO_KEYS);
	assert_int_equal(slnf_rc_kill_master(&rc, victim_slot), victim);
	uint64_t t_kill = now_ms();
	bool failed_once = false;
	while (now_ms() - t_kill < FO_MAX_MS) {
		fo_batch(s, ops, acked, on_victim, &res, &victim_ok, &any_fail);
		uint64_t t = now_ms() - t_kill;
		if (any_fail && !failed_once) {
			failed_once = true;
			res.first_fail_ms = t;
		}
		if (failed_once && !any_fail) {
			res.resumed_ms = t;
			break;
		}
		usleep(2000); /* a workload, not a busy loop: leave the cluster a core */
	}
	slnf_store_stats(s, &st1);
	uint64_t failures = st1.failures - st0.failures;
	print_message("failover: %" PRIu64 " batches of %u INCR; first failure after %" PRIu64
		      " ms, all slots back after %" PRIu64 " ms; failed ops: %" PRIu64
		      " on the dead master's slots, %" PRIu64 " elsewhere (-EAGAIN %" PRIu64
		      ", -ETIMEDOUT %" PRIu64 ", other %" PRIu64 "); slowest batch %" PRIu64
		      " ms; store stats: %" PRIu64 " failures\n",
		      res.batches, FO_KEYS, res.first_fail_ms, res.resumed_ms, res.victim_fail,
		      res.other_fail, res.eagain, res.etimedout, res.other_status,
		      res.worst_batch_ms, failures);

	assert_true(failed_once);          /* the kill was noticed ... */
	assert_true(res.resumed_ms > 0);   /* ... and got over */
	assert_int_equal(res.other_status, 0); /* only clear statuses */
	assert_int_equal(res.other_fail, 0);   /* other masters kept serving */
	assert_true(res.victim_fail > 0);
	assert_int_equal(failures, res.victim_fail + res.other_fail);
	/* A batch never waits much longer than the backend's timeout. */
	assert_true(res.worst_batch_ms < 2500);

	/* The cluster agrees that a replica took over. */
	int promoted = slnf_rc_wait_promoted(&rc, victim_slot, (unsigned)victim, 10000);
	assert_true(promoted >= 0 && promoted != victim);

	/* Counters: exact on the masters that stayed up; on the dead master's
	 * slots asynchronous replication may have lost the last acknowledged
	 * increments, and ops that failed may or may not have been applied. */
	int64_t lost = 0, extra = 0;
	for (unsigned i = 0; i < FO_KEYS; i++) {
		struct slnf_store_key k = key_n(i);
		struct slnf_store_op op;
		slnf_store_op_init(&op, SLNF_STORE_GET, &k);
		assert_int_equal(slnf_store_exec(s, &op, 1), 0);
		assert_int_equal(op.status, 0);
		if (!on_victim[i]) {
			assert_int_equal(op.counter, acked[i]);
		} else if (op.counter < acked[i]) {
			lost += acked[i] - op.counter;
		} else {
			extra += op.counter - acked[i];
		}
	}
	print_message("dead master's keys after promotion: %" PRId64 " acknowledged increments "
		      "lost (asynchronous replication), %" PRId64 " failed ones applied anyway\n",
		      lost, extra);

	free(ops);
	free(acked);
	free(on_victim);
	slnf_store_close(s);
}

int main(void)
{
	if (system("command -v redis-server >/dev/null && command -v redis-cli >/dev/null")) {
		fprintf(stderr, "test_store_cluster: redis-server not installed; skipped\n");
		return 77;
	}
	int r = slnf_rc_start(&rc);
	if (r < 0) {
		fprintf(stderr, "test_store_cluster: cannot start a Redis Cluster: %s\n",
			strerror(-r));
		return 1;
	}
	slnf_rc_addr(&rc, 0, seed, sizeof(seed));

	struct slnf_conformance c = {
		.config = cluster_config(),
		.has_capacity = false,
		.counts_expired = false,
		.before_open = flush_masters,
	};
	int failed = slnf_conformance_run(&c);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_wait),
		/* Last: it leaves the cluster with one master replaced. */
		cmocka_unit_test(test_failover),
	};
	failed += cmocka_run_group_tests_name("redis-cluster", tests, NULL, NULL);
	slnf_rc_stop(&rc);
	return failed;
}
