/*
 * store_conformance.c - the state store conformance suite.
 *
 * Every rule of store.h is checked here; each backend's test program
 * (test_store_<backend>.c) runs the suite against its own store config, so
 * all backends are held to one contract: opcodes, versions, TTL expiry,
 * creation and update races between threads, large batches, a full store,
 * and key namespacing. Waits are bounded: TTL tests poll with short sleeps
 * and give up after a second or two.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slnf/store.h"
#include "store_conformance.h"
#include "testutil.h"

#define TENANT 7
#define NF_ID 3

struct fixture {
	const char *backend;
	struct slnf_store *s;
};

static struct fixture fixture;
static struct slnf_conformance conf; /* what the backend under test is */

static struct slnf_store *open_store(const char *backend, uint32_t capacity)
{
	struct slnf_store_config cfg = conf.config;
	cfg.capacity = capacity;
	snprintf(cfg.backend, sizeof(cfg.backend), "%s", backend);
	if (conf.before_open)
		conf.before_open(&cfg);
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	int rc = slnf_store_open(&cfg, &s, &err);
	if (rc < 0)
		fail_msg("open %s: %s", backend, err.msg);
	assert_non_null(s);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = *state;
	slnf_test_eal();
	f->s = open_store(f->backend, 4096);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	slnf_store_close(f->s);
	f->s = NULL;
	return 0;
}

static struct slnf_store_key key_of(uint32_t tenant, uint16_t nf, const char *name)
{
	struct slnf_store_key k;
	slnf_store_key_init(&k, tenant, nf, name, (uint16_t)strlen(name));
	return k;
}

static struct slnf_store_key key_n(unsigned n)
{
	char name[32];
	snprintf(name, sizeof(name), "key-%u", n);
	return key_of(TENANT, NF_ID, name);
}

static void op_val(struct slnf_store_op *op, const char *v)
{
	op->val_len = (uint16_t)strlen(v);
	memcpy(op->val, v, op->val_len);
}

/* One op, synchronously; returns its status. */
static int run1(struct slnf_store *s, struct slnf_store_op *op)
{
	assert_int_equal(slnf_store_exec(s, op, 1), 0);
	assert_int_not_equal(op->status, -EINPROGRESS);
	return op->status;
}

static int do_get(struct slnf_store *s, const struct slnf_store_key *k, struct slnf_store_op *op)
{
	slnf_store_op_init(op, SLNF_STORE_GET, k);
	return run1(s, op);
}

static int do_put(struct slnf_store *s, enum slnf_store_opcode opc, const struct slnf_store_key *k,
		  const char *v, uint32_t ttl_ms, uint64_t *version)
{
	struct slnf_store_op op;
	slnf_store_op_init(&op, opc, k);
	op_val(&op, v);
	op.ttl_ms = ttl_ms;
	if (version)
		op.version = *version;
	int rc = run1(s, &op);
	if (version)
		*version = op.version;
	return rc;
}

static int64_t do_incr(struct slnf_store *s, const struct slnf_store_key *k, int64_t delta,
		       uint64_t *version)
{
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_INCR, k);
	op.delta = delta;
	assert_int_equal(run1(s, &op), 0);
	if (version)
		*version = op.version;
	return op.counter;
}

static void assert_val(const struct slnf_store_op *op, const char *v)
{
	assert_int_equal(op->val_len, strlen(v));
	assert_memory_equal(op->val, v, op->val_len);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}

static void test_get_put_del(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "flow-a");
	struct slnf_store_op op;

	assert_int_equal(do_get(f->s, &k, &op), -ENOENT);
	uint64_t v = 0;
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "one", 0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_val(&op, "one");
	assert_int_equal(op.version, 1);

	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "second", 0, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_val(&op, "second");
	assert_int_equal(op.version, 2);

	/* An empty value is a value. */
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "", 0, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_int_equal(op.val_len, 0);

	slnf_store_op_init(&op, SLNF_STORE_DEL, &k);
	assert_int_equal(run1(f->s, &op), 0);
	assert_int_equal(do_get(f->s, &k, &op), -ENOENT);
	slnf_store_op_init(&op, SLNF_STORE_DEL, &k);
	assert_int_equal(run1(f->s, &op), -ENOENT);

	/* Re-created after a delete: a new record, versions start again. */
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "again", 0, &v), 0);
	assert_int_equal(v, 1);

	/* A full-size value round-trips. */
	char big[SLNF_STORE_VAL_MAX + 1];
	for (unsigned i = 0; i < SLNF_STORE_VAL_MAX; i++)
		big[i] = (char)('a' + i % 26);
	big[SLNF_STORE_VAL_MAX] = '\0';
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, big, 0, NULL), 0);
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_val(&op, big);
}

static void test_put_if_absent(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "pia");
	uint64_t v = 0;
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT_IF_ABSENT, &k, "winner", 0, &v), 0);
	assert_int_equal(v, 1);

	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_PUT_IF_ABSENT, &k);
	op_val(&op, "loser");
	assert_int_equal(run1(f->s, &op), -EEXIST);
	assert_val(&op, "winner");
	assert_int_equal(op.version, 1);

	/* The loser changed nothing. */
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_val(&op, "winner");
	assert_int_equal(op.version, 1);
}

static void test_cas(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "cas");
	uint64_t v = 1;
	assert_int_equal(do_put(f->s, SLNF_STORE_CAS, &k, "x", 0, &v), -ENOENT);

	v = 0;
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "v1", 0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(do_put(f->s, SLNF_STORE_CAS, &k, "v2", 0, &v), 0);
	assert_int_equal(v, 2);

	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_CAS, &k);
	op.version = 1; /* stale */
	op_val(&op, "lost");
	assert_int_equal(run1(f->s, &op), -ESTALE);
	assert_int_equal(op.version, 2);
	assert_val(&op, "v2");

	/* Retrying with the version the conflict reported succeeds. */
	op_val(&op, "v3");
	op.status = -EINPROGRESS;
	assert_int_equal(run1(f->s, &op), 0);
	assert_int_equal(op.version, 3);
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_val(&op, "v3");
}

static void test_incr(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "ctr");
	uint64_t v;
	assert_int_equal(do_incr(f->s, &k, 5, &v), 5);
	assert_int_equal(v, 1);
	assert_int_equal(do_incr(f->s, &k, -8, &v), -3);
	assert_int_equal(v, 2);
	assert_int_equal(do_incr(f->s, &k, 0, &v), -3);
	assert_int_equal(v, 3);

	struct slnf_store_op op;
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_int_equal(op.counter, -3);
	assert_int_equal(op.version, 3);

	/* Big deltas keep 64 bits. */
	assert_int_equal(do_incr(f->s, &k, INT64_C(1) << 40, NULL), (INT64_C(1) << 40) - 3);
}

static void test_batch_order_and_async(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "order");
	struct slnf_store_op ops[4];
	slnf_store_op_init(&ops[0], SLNF_STORE_PUT, &k);
	op_val(&ops[0], "a");
	slnf_store_op_init(&ops[1], SLNF_STORE_GET, &k);
	slnf_store_op_init(&ops[2], SLNF_STORE_DEL, &k);
	slnf_store_op_init(&ops[3], SLNF_STORE_GET, &k);

	struct slnf_store_batch b = {.ops = ops, .n = 4};
	assert_int_equal(slnf_store_submit(f->s, &b), 0);
	for (unsigned i = 0; i < 1000000 && !b.done; i++)
		assert_int_equal(slnf_store_poll(f->s, &b), 0);
	assert_true(b.done);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[1].status, 0);
	assert_val(&ops[1], "a");
	assert_int_equal(ops[2].status, 0);
	assert_int_equal(ops[3].status, -ENOENT);

	/* An empty batch is done at once. */
	struct slnf_store_batch e = {.ops = ops, .n = 0};
	assert_int_equal(slnf_store_submit(f->s, &e), 0);
	assert_true(e.done);
	assert_int_equal(slnf_store_exec(f->s, ops, 0), 0);
}

static void test_ttl(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "ttl");
	struct slnf_store_key keep = key_of(TENANT, NF_ID, "ttl-refreshed");
	struct slnf_store_op op;
	struct slnf_store_stats st0, st1;
	slnf_store_stats(f->s, &st0);

	uint64_t t0 = now_ms();
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "short", 50, NULL), 0);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &keep, "short", 50, NULL), 0);
	/* A later write sets a new TTL: 0 is no expiry. */
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &keep, "forever", 0, NULL), 0);
	assert_int_equal(do_get(f->s, &k, &op), 0);

	int rc = 0;
	while ((rc = do_get(f->s, &k, &op)) == 0 && now_ms() - t0 < 2000)
		sleep_ms(5);
	assert_int_equal(rc, -ENOENT);
	assert_true(now_ms() - t0 >= 45);
	assert_int_equal(do_get(f->s, &keep, &op), 0);
	assert_val(&op, "forever");

	slnf_store_stats(f->s, &st1);
	assert_int_equal(st1.expired - st0.expired, 1);

	/* Expired is absent for every opcode. */
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "x", 30, NULL), 0);
	sleep_ms(60);
	uint64_t v = 1;
	assert_int_equal(do_put(f->s, SLNF_STORE_CAS, &k, "y", 0, &v), -ENOENT);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "x", 30, NULL), 0);
	sleep_ms(60);
	slnf_store_op_init(&op, SLNF_STORE_DEL, &k);
	assert_int_equal(run1(f->s, &op), -ENOENT);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "x", 30, NULL), 0);
	sleep_ms(60);
	v = 0;
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT_IF_ABSENT, &k, "new", 0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, "x", 30, NULL), 0);
	sleep_ms(60);
	assert_int_equal(do_incr(f->s, &k, 2, &v), 2);
	assert_int_equal(v, 1);
}

/* Expired records nobody touches again are reclaimed by later batches,
 * a few slots at a time. */
static void test_ttl_reclaim(void **state)
{
	struct fixture *f = *state;
	enum { N = 200 };
	struct slnf_store_stats st0, st;
	slnf_store_stats(f->s, &st0);
	struct slnf_store_op *ops = calloc(N, sizeof(*ops));
	assert_non_null(ops);
	for (unsigned i = 0; i < N; i++) {
		struct slnf_store_key k = key_n(100000 + i);
		slnf_store_op_init(&ops[i], SLNF_STORE_PUT, &k);
		op_val(&ops[i], "temp");
		ops[i].ttl_ms = 30;
	}
	assert_int_equal(slnf_store_exec(f->s, ops, N), 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(ops[i].status, 0);
	slnf_store_stats(f->s, &st);
	assert_int_equal(st.entries, st0.entries + N);
	sleep_ms(60);

	/* Unrelated single-op batches drive the sweep. */
	struct slnf_store_key other = key_of(TENANT, NF_ID, "unrelated");
	struct slnf_store_op op;
	unsigned batches = 0;
	for (; batches < 100000; batches++) {
		slnf_store_stats(f->s, &st);
		if (st.entries == st0.entries)
			break;
		do_get(f->s, &other, &op);
	}
	assert_int_equal(st.entries, st0.entries);
	assert_int_equal(st.expired - st0.expired, N);
	free(ops);
}

static void test_large_batch(void **state)
{
	struct fixture *f = *state;
	enum { N = 1000 };
	struct slnf_store_stats st0, st1;
	slnf_store_stats(f->s, &st0);
	struct slnf_store_op *ops = calloc(2 * N, sizeof(*ops));
	assert_non_null(ops);
	for (unsigned i = 0; i < N; i++) {
		struct slnf_store_key k = key_n(i);
		slnf_store_op_init(&ops[i], SLNF_STORE_PUT, &k);
		ops[i].val_len = sizeof(unsigned);
		memcpy(ops[i].val, &i, sizeof(i));
		slnf_store_op_init(&ops[N + i], SLNF_STORE_GET, &k);
	}
	assert_int_equal(slnf_store_exec(f->s, ops, 2 * N), 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(ops[i].status, 0);
		assert_int_equal(ops[N + i].status, 0);
		assert_int_equal(ops[N + i].val_len, sizeof(unsigned));
		unsigned got;
		memcpy(&got, ops[N + i].val, sizeof(got));
		assert_int_equal(got, i);
	}
	slnf_store_stats(f->s, &st1);
	assert_int_equal(st1.batches - st0.batches, 1);
	assert_int_equal(st1.ops - st0.ops, 2 * N);
	assert_int_equal(st1.entries - st0.entries, N);
	assert_int_equal(st1.failures, st0.failures);
	free(ops);
}

static void check_capacity(const char *backend, uint32_t cap)
{
	struct slnf_store *s = open_store(backend, cap);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	assert_int_equal(st.capacity, cap);
	assert_true(st.memory_bytes > 0);

	char v[16];
	for (unsigned i = 0; i < cap; i++) {
		struct slnf_store_key k = key_n(i);
		snprintf(v, sizeof(v), "v%u", i);
		assert_int_equal(do_put(s, SLNF_STORE_PUT, &k, v, 0, NULL), 0);
	}
	struct slnf_store_key extra = key_n(cap);
	assert_int_equal(do_put(s, SLNF_STORE_PUT, &extra, "no", 0, NULL), -ENOSPC);
	assert_int_equal(do_put(s, SLNF_STORE_PUT_IF_ABSENT, &extra, "no", 0, NULL), -ENOSPC);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_INCR, &extra);
	op.delta = 1;
	assert_int_equal(run1(s, &op), -ENOSPC);
	assert_int_equal(do_get(s, &extra, &op), -ENOENT);

	slnf_store_stats(s, &st);
	assert_int_equal(st.entries, cap);
	assert_int_equal(st.full, 3);
	assert_int_equal(st.failures, 3);

	/* Nothing was evicted, and existing records can still change. */
	for (unsigned i = 0; i < cap; i++) {
		struct slnf_store_key k = key_n(i);
		snprintf(v, sizeof(v), "v%u", i);
		assert_int_equal(do_get(s, &k, &op), 0);
		assert_val(&op, v);
	}
	struct slnf_store_key k0 = key_n(0);
	assert_int_equal(do_put(s, SLNF_STORE_PUT, &k0, "changed", 0, NULL), 0);
	assert_int_equal(do_incr(s, &k0, 1, NULL), 1);

	/* Room again after a delete. */
	slnf_store_op_init(&op, SLNF_STORE_DEL, &k0);
	assert_int_equal(run1(s, &op), 0);
	assert_int_equal(do_put(s, SLNF_STORE_PUT, &extra, "yes", 0, NULL), 0);
	slnf_store_close(s);
}

static void test_capacity_full(void **state)
{
	struct fixture *f = *state;
	check_capacity(f->backend, 100);
	check_capacity(f->backend, 3); /* smaller than any hash bucket */
}

/* A full store still takes new records once old ones have expired. */
static void test_capacity_expired(void **state)
{
	struct fixture *f = *state;
	struct slnf_store *s = open_store(f->backend, 16);
	for (unsigned i = 0; i < 16; i++) {
		struct slnf_store_key k = key_n(i);
		assert_int_equal(do_put(s, SLNF_STORE_PUT, &k, "t", 20, NULL), 0);
	}
	struct slnf_store_key extra = key_n(99);
	assert_int_equal(do_put(s, SLNF_STORE_PUT, &extra, "no", 0, NULL), -ENOSPC);
	sleep_ms(50);
	assert_int_equal(do_put(s, SLNF_STORE_PUT, &extra, "yes", 0, NULL), 0);
	slnf_store_close(s);
}

static void test_namespacing(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key a = key_of(1, 1, "same"), b = key_of(2, 1, "same"),
			      c = key_of(1, 2, "same"), d = key_of(1, 1, "sam");
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &a, "a", 0, NULL), 0);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &b, "b", 0, NULL), 0);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &c, "c", 0, NULL), 0);
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &d, "d", 0, NULL), 0);
	struct slnf_store_op op;
	assert_int_equal(do_get(f->s, &a, &op), 0);
	assert_val(&op, "a");
	assert_int_equal(op.version, 1);
	assert_int_equal(do_get(f->s, &b, &op), 0);
	assert_val(&op, "b");
	assert_int_equal(op.version, 1);
	assert_int_equal(do_get(f->s, &c, &op), 0);
	assert_val(&op, "c");
	assert_int_equal(do_get(f->s, &d, &op), 0);
	assert_val(&op, "d");

	/* Binary data, zero bytes included, is the key. */
	static const uint8_t bin1[4] = {0, 1, 0, 2}, bin2[4] = {0, 1, 0, 3};
	struct slnf_store_key k1, k2;
	slnf_store_key_init(&k1, 1, 1, bin1, sizeof(bin1));
	slnf_store_key_init(&k2, 1, 1, bin2, sizeof(bin2));
	assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k1, "1", 0, NULL), 0);
	assert_int_equal(do_get(f->s, &k2, &op), -ENOENT);

	/* key_init zeroes what it does not use. */
	struct slnf_store_key dirty;
	memset(&dirty, 0xa5, sizeof(dirty));
	slnf_store_key_init(&dirty, 1, 1, "same", 4);
	assert_memory_equal(&dirty, &a, sizeof(a));
}

static void test_invalid(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_stats st0, st1;
	slnf_store_stats(f->s, &st0);
	char longkey[SLNF_STORE_KEY_DATA_MAX + 1];
	memset(longkey, 'k', sizeof(longkey));
	struct slnf_store_key k;
	slnf_store_key_init(&k, 1, 1, longkey, sizeof(longkey));
	struct slnf_store_op ops[3];
	slnf_store_op_init(&ops[0], SLNF_STORE_PUT, &k);
	struct slnf_store_key ok = key_of(1, 1, "ok");
	slnf_store_op_init(&ops[1], SLNF_STORE_PUT, &ok);
	ops[1].val_len = SLNF_STORE_VAL_MAX + 1;
	slnf_store_op_init(&ops[2], SLNF_STORE_GET, &ok);
	ops[2].opcode = 200;
	assert_int_equal(slnf_store_exec(f->s, ops, 3), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ops[i].status, -EINVAL);
	slnf_store_stats(f->s, &st1);
	assert_int_equal(st1.failures - st0.failures, 3);
	assert_int_equal(st1.entries, st0.entries);
}

static void test_unknown_backend(void **state)
{
	struct slnf_store_config cfg = {.capacity = 10};
	snprintf(cfg.backend, sizeof(cfg.backend), "nosuch");
	struct slnf_store *s = (struct slnf_store *)0x1;
	struct slnf_error err = {{0}};
	assert_int_equal(slnf_store_open(&cfg, &s, &err), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, "store.backend"));
	assert_non_null(strstr(err.msg, "'nosuch'"));
	assert_non_null(strstr(err.msg, conf.config.backend));
	assert_non_null(slnf_store_backend_find("local"));
	assert_null(slnf_store_backend_find("nosuch"));
}

/* ---- races: two threads on the same keys ---- */

#define RACE_THREADS 2
#define RACE_ITERS 3000
#define RACE_KEYS 500

struct racer {
	struct slnf_store *s;
	pthread_barrier_t *start;
	unsigned id;
	unsigned ok;     /* successful CAS increments */
	unsigned wins;   /* put-if-absent creations */
	unsigned adopted; /* put-if-absent losses that saw the winner */
	int64_t *seen;   /* INCR results */
	unsigned n_seen;
};

static void *cas_racer(void *arg)
{
	struct racer *r = arg;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "cas-race");
	pthread_barrier_wait(r->start);
	for (unsigned i = 0; i < RACE_ITERS; i++) {
		struct slnf_store_op rd, wr;
		slnf_store_op_init(&rd, SLNF_STORE_GET, &k);
		if (slnf_store_exec(r->s, &rd, 1) || rd.status)
			continue;
		uint64_t n;
		memcpy(&n, rd.val, sizeof(n));
		n++;
		slnf_store_op_init(&wr, SLNF_STORE_CAS, &k);
		wr.version = rd.version;
		wr.val_len = sizeof(n);
		memcpy(wr.val, &n, sizeof(n));
		if (slnf_store_exec(r->s, &wr, 1) == 0 && wr.status == 0)
			r->ok++;
	}
	return NULL;
}

static void *pia_racer(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(r->start);
	for (unsigned i = 0; i < RACE_KEYS; i++) {
		struct slnf_store_key k = key_n(200000 + i);
		struct slnf_store_op op;
		slnf_store_op_init(&op, SLNF_STORE_PUT_IF_ABSENT, &k);
		op.val_len = sizeof(r->id);
		memcpy(op.val, &r->id, sizeof(r->id));
		if (slnf_store_exec(r->s, &op, 1))
			continue;
		if (op.status == 0) {
			r->wins++;
		} else if (op.status == -EEXIST && op.version == 1 &&
			   op.val_len == sizeof(r->id)) {
			unsigned winner;
			memcpy(&winner, op.val, sizeof(winner));
			if (winner != r->id)
				r->adopted++;
		}
	}
	return NULL;
}

static void *incr_racer(void *arg)
{
	struct racer *r = arg;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "incr-race");
	pthread_barrier_wait(r->start);
	enum { B = 10 };
	for (unsigned i = 0; i < RACE_ITERS / B; i++) {
		struct slnf_store_op ops[B];
		for (unsigned j = 0; j < B; j++) {
			slnf_store_op_init(&ops[j], SLNF_STORE_INCR, &k);
			ops[j].delta = 1;
		}
		if (slnf_store_exec(r->s, ops, B))
			continue;
		for (unsigned j = 0; j < B; j++)
			if (ops[j].status == 0)
				r->seen[r->n_seen++] = ops[j].counter;
	}
	return NULL;
}

static void race(struct slnf_store *s, void *(*fn)(void *), struct racer *rs)
{
	pthread_barrier_t start;
	pthread_t th[RACE_THREADS];
	pthread_barrier_init(&start, NULL, RACE_THREADS);
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		rs[i].s = s;
		rs[i].start = &start;
		rs[i].id = i + 1;
		assert_int_equal(pthread_create(&th[i], NULL, fn, &rs[i]), 0);
	}
	for (unsigned i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
}

static void test_race_cas(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_key k = key_of(TENANT, NF_ID, "cas-race");
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_PUT, &k);
	uint64_t zero = 0;
	op.val_len = sizeof(zero);
	memcpy(op.val, &zero, sizeof(zero));
	assert_int_equal(run1(f->s, &op), 0);

	struct racer rs[RACE_THREADS] = {0};
	race(f->s, cas_racer, rs);
	unsigned ok = 0;
	for (unsigned i = 0; i < RACE_THREADS; i++)
		ok += rs[i].ok;
	assert_int_equal(do_get(f->s, &k, &op), 0);
	uint64_t n;
	memcpy(&n, op.val, sizeof(n));
	/* Every successful CAS counted exactly once, none lost. */
	assert_int_equal(n, ok);
	assert_int_equal(op.version, ok + 1);
	assert_true(ok >= RACE_ITERS); /* at least one thread wins each round */
}

static void test_race_put_if_absent(void **state)
{
	struct fixture *f = *state;
	struct racer rs[RACE_THREADS] = {0};
	race(f->s, pia_racer, rs);
	unsigned wins = 0, adopted = 0;
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		wins += rs[i].wins;
		adopted += rs[i].adopted;
	}
	/* Exactly one creator per key; every loser saw the winner's record. */
	assert_int_equal(wins, RACE_KEYS);
	assert_int_equal(adopted, RACE_KEYS * (RACE_THREADS - 1));
}

static void test_race_incr(void **state)
{
	struct fixture *f = *state;
	struct racer rs[RACE_THREADS] = {0};
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		rs[i].seen = calloc(RACE_ITERS, sizeof(int64_t));
		assert_non_null(rs[i].seen);
	}
	race(f->s, incr_racer, rs);
	unsigned total = RACE_THREADS * RACE_ITERS;
	uint8_t *hit = calloc(total + 1, 1);
	assert_non_null(hit);
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(rs[i].n_seen, RACE_ITERS);
		for (unsigned j = 0; j < rs[i].n_seen; j++) {
			int64_t c = rs[i].seen[j];
			assert_true(c >= 1 && c <= (int64_t)total);
			assert_int_equal(hit[c], 0); /* each value handed out once */
			hit[c] = 1;
		}
		free(rs[i].seen);
	}
	free(hit);
	struct slnf_store_key k = key_of(TENANT, NF_ID, "incr-race");
	struct slnf_store_op op;
	assert_int_equal(do_get(f->s, &k, &op), 0);
	assert_int_equal(op.counter, total);
	assert_int_equal(op.version, total);
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	struct slnf_store_stats st0, st1;
	slnf_store_stats(f->s, &st0);
	assert_int_equal(st0.capacity, 4096);
	struct slnf_store_key k = key_of(TENANT, NF_ID, "stats");
	struct slnf_store_op ops[3];
	slnf_store_op_init(&ops[0], SLNF_STORE_GET, &k);
	slnf_store_op_init(&ops[1], SLNF_STORE_PUT, &k);
	slnf_store_op_init(&ops[2], SLNF_STORE_PUT_IF_ABSENT, &k);
	assert_int_equal(slnf_store_exec(f->s, ops, 3), 0);
	assert_int_equal(ops[0].status, -ENOENT);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[2].status, -EEXIST);
	slnf_store_stats(f->s, &st1);
	assert_int_equal(st1.ops - st0.ops, 3);
	assert_int_equal(st1.batches - st0.batches, 1);
	assert_int_equal(st1.entries - st0.entries, 1);
	/* Absent, exists and stale are answers, not failures. */
	assert_int_equal(st1.failures, st0.failures);
	assert_int_equal(st1.full, st0.full);
}

/* ---- listing (slnf_store_scan) ---- */

struct scan_seen {
	unsigned n, stop_after;
	bool seen[64], bad;
};

static bool scan_visit(const struct slnf_store_record *r, void *arg)
{
	struct scan_seen *w = arg;
	unsigned i;
	char want[16];
	if (sscanf((const char *)r->key->data, "scan-%u", &i) != 1 || i >= 64 || w->seen[i]) {
		w->bad = true;
		return true;
	}
	snprintf(want, sizeof(want), "v%u", i);
	w->bad |= r->val_len != strlen(want) || memcmp(r->val, want, r->val_len) != 0 ||
		  r->version != 1 || r->ttl_left_ms != -1;
	w->seen[i] = true;
	return ++w->n != w->stop_after;
}

/* Backends that list visit every live record of (tenant, nf) once with
 * its value, and none of another tenant or NF, nor an expired one; the
 * others say -EOPNOTSUPP. */
static void test_scan(void **state)
{
	struct fixture *f = *state;
	struct scan_seen w = {0};
	for (unsigned i = 0; i < 40; i++) {
		char name[16], val[16];
		snprintf(name, sizeof(name), "scan-%u", i);
		snprintf(val, sizeof(val), "v%u", i);
		struct slnf_store_key k = key_of(TENANT, NF_ID, name);
		assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &k, val, 0, NULL), 0);
	}
	struct slnf_store_key other[3] = {key_of(TENANT + 1, NF_ID, "scan-50"),
					  key_of(TENANT, NF_ID + 1, "scan-51"),
					  key_of(TENANT, NF_ID, "scan-52")};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(do_put(f->s, SLNF_STORE_PUT, &other[i], "x", i == 2 ? 50 : 0, NULL),
				 0);
	sleep_ms(120); /* the third expires */
	int rc = slnf_store_scan(f->s, TENANT, NF_ID, scan_visit, &w);
	if (!conf.can_scan) {
		assert_int_equal(rc, -EOPNOTSUPP);
		return;
	}
	assert_int_equal(rc, 0);
	assert_false(w.bad);
	assert_int_equal(w.n, 40);
	struct scan_seen early = {.stop_after = 5};
	assert_int_equal(slnf_store_scan(f->s, TENANT, NF_ID, scan_visit, &early), 0);
	assert_int_equal(early.n, 5);
}

struct test_def {
	const char *name;
	CMUnitTestFunction fn;
};

static const struct test_def defs[] = {
	{"get_put_del", test_get_put_del},
	{"put_if_absent", test_put_if_absent},
	{"cas", test_cas},
	{"incr", test_incr},
	{"batch_order_and_async", test_batch_order_and_async},
	{"ttl", test_ttl},
	{"ttl_reclaim", test_ttl_reclaim},
	{"large_batch", test_large_batch},
	{"capacity_full", test_capacity_full},
	{"capacity_expired", test_capacity_expired},
	{"namespacing", test_namespacing},
	{"invalid", test_invalid},
	{"stats", test_stats},
	{"scan", test_scan},
	{"race_cas", test_race_cas},
	{"race_put_if_absent", test_race_put_if_absent},
	{"race_incr", test_race_incr},
};
#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

int slnf_conformance_run(const struct slnf_conformance *c)
{
	static struct CMUnitTest tests[N_DEFS + 1];
	static char names[N_DEFS][64];
	unsigned n = 0;
	conf = *c;
	fixture.backend = conf.config.backend;
	for (unsigned i = 0; i < N_DEFS; i++) {
		bool capacity_test = defs[i].fn == test_capacity_full ||
				     defs[i].fn == test_capacity_expired;
		bool reclaim_test = defs[i].fn == test_ttl_reclaim;
		if ((capacity_test && !conf.has_capacity) || (reclaim_test && !conf.counts_expired))
			continue;
		snprintf(names[n], sizeof(names[n]), "%s/%s", fixture.backend, defs[i].name);
		tests[n++] = (struct CMUnitTest){
			.name = names[n - 1],
			.test_func = defs[i].fn,
			.setup_func = setup,
			.teardown_func = teardown,
			.initial_state = &fixture,
		};
	}
	tests[n++] = (struct CMUnitTest){.name = "unknown_backend", .test_func = test_unknown_backend};
	return _cmocka_run_group_tests(fixture.backend, tests, n, NULL, NULL);
}
