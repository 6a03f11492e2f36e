/*
 * test_cache.c - the per-worker instance cache on its own, with a made-up
 * clock: what a lookup serves, how each kind of store answer changes the
 * cache (and nothing but its own key), lifetimes (the TTL a write set, the
 * short maximum age of read results), epochs (one bump hides everything
 * filled before, even entries filled from answers in flight across it),
 * eviction in a full set, and the counters. No store and no EAL: the store
 * answers are built by hand, as a backend would complete them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/cache.h"

#define T0 1000000 /* an arbitrary start on the made-up clock */

static struct slnf_cache *new_cache(uint32_t capacity, uint32_t read_max_age_ms)
{
	struct slnf_cache_config cfg = {.capacity = capacity, .read_max_age_ms = read_max_age_ms};
	struct slnf_cache *c = NULL;
	assert_int_equal(slnf_cache_create(&cfg, &c), 0);
	assert_non_null(c);
	return c;
}

static struct slnf_store_key key_of(unsigned n)
{
	struct slnf_store_key k;
	char data[16];
	int len = snprintf(data, sizeof(data), "flow-%u", n);
	slnf_store_key_init(&k, 7, 3, data, (uint16_t)len);
	return k;
}

/* An op as submitted: opcode, key, value, expected version, TTL. */
static struct slnf_store_op op_of(enum slnf_store_opcode opcode, unsigned key, const char *val,
				  uint64_t version, uint32_t ttl_ms)
{
	struct slnf_store_op op;
	struct slnf_store_key k = key_of(key);
	slnf_store_op_init(&op, opcode, &k);
	if (val) {
		op.val_len = (uint16_t)strlen(val);
		memcpy(op.val, val, op.val_len);
	}
	op.version = version;
	op.ttl_ms = ttl_ms;
	return op;
}

/* The same op as the store completed it. */
static struct slnf_store_op answer(const struct slnf_store_op *req, int status, uint64_t version,
				   const char *val, int64_t counter)
{
	struct slnf_store_op res = *req;
	res.status = (int16_t)status;
	res.version = version;
	res.counter = counter;
	if (val) {
		res.val_len = (uint16_t)strlen(val);
		memcpy(res.val, val, res.val_len);
	}
	return res;
}

/* Feed c the store's answer to req. */
static void feed(struct slnf_cache *c, const struct slnf_store_op *req, int status,
		 uint64_t version, const char *val, int64_t counter, uint64_t now)
{
	struct slnf_store_op res = answer(req, status, version, val, counter);
	slnf_cache_update(c, req, &res, now);
}

/* Fill key from a GET answer. */
static void fill_read(struct slnf_cache *c, unsigned key, const char *val, uint64_t version,
		      int64_t counter, uint64_t now)
{
	struct slnf_store_op req = op_of(SLNF_STORE_GET, key, NULL, 0, 0);
	feed(c, &req, 0, version, val, counter, now);
}

/* Look key up: 0 and the record in *out on a hit, -ENOENT on a miss. */
static int look(struct slnf_cache *c, unsigned key, uint64_t now, struct slnf_store_op *out)
{
	struct slnf_store_op op = op_of(SLNF_STORE_GET, key, NULL, 0, 0);
	int rc = slnf_cache_lookup(c, &op, now);
	if (out)
		*out = op;
	return rc;
}

static void assert_hit(struct slnf_cache *c, unsigned key, uint64_t now, const char *val,
		       uint64_t version, int64_t counter)
{
	struct slnf_store_op op;
	assert_int_equal(look(c, key, now, &op), 0);
	assert_int_equal(op.status, 0);
	assert_int_equal(op.version, version);
	assert_int_equal(op.counter, counter);
	assert_int_equal(op.val_len, strlen(val));
	assert_memory_equal(op.val, val, op.val_len);
}

static void assert_miss(struct slnf_cache *c, unsigned key, uint64_t now)
{
	struct slnf_store_op op;
	assert_int_equal(look(c, key, now, &op), -ENOENT);
	assert_int_equal(op.status, -EINPROGRESS); /* untouched */
}

static struct slnf_cache_stats stats(const struct slnf_cache *c)
{
	struct slnf_cache_stats st;
	slnf_cache_stats(c, &st);
	return st;
}

static void test_create(void **state)
{
	struct slnf_cache *c = (struct slnf_cache *)0x1;
	struct slnf_cache_config cfg = {.capacity = 0};
	assert_int_equal(slnf_cache_create(&cfg, &c), -EINVAL);
	assert_null(c);
	cfg.capacity = (1u << 24) + 1;
	assert_int_equal(slnf_cache_create(&cfg, &c), -EINVAL);
	/* Rounded up to a power of two, at least one set of 8. */
	c = new_cache(1, 0);
	assert_int_equal(stats(c).capacity, 8);
	slnf_cache_destroy(c);
	c = new_cache(1000, 0);
	assert_int_equal(stats(c).capacity, 1024);
	slnf_cache_destroy(c);
	slnf_cache_destroy(NULL);
}

static void test_read_fill_and_hit(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	assert_miss(c, 1, T0);
	fill_read(c, 1, "alpha", 5, -3, T0);
	assert_hit(c, 1, T0, "alpha", 5, -3);
	assert_miss(c, 2, T0);
	struct slnf_cache_stats st = stats(c);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.stale, 0);
	assert_int_equal(st.inserts, 1);

	/* Keys compare on the bytes up to len only, as in the store. */
	struct slnf_store_op op = op_of(SLNF_STORE_GET, 1, NULL, 0, 0);
	op.key.data[op.key.len + 1] = 0xee;
	assert_int_equal(slnf_cache_lookup(c, &op, T0), 0);
	/* Tenant and NF are part of the key. */
	op = op_of(SLNF_STORE_GET, 1, NULL, 0, 0);
	op.key.tenant++;
	assert_int_equal(slnf_cache_lookup(c, &op, T0), -ENOENT);

	/* A key the store would refuse is never cached or served. */
	struct slnf_store_op big = op_of(SLNF_STORE_GET, 1, NULL, 0, 0);
	big.key.len = SLNF_STORE_KEY_DATA_MAX + 1;
	struct slnf_store_op res = answer(&big, 0, 1, "x", 0);
	slnf_cache_update(c, &big, &res, T0);
	assert_int_equal(slnf_cache_lookup(c, &big, T0), -ENOENT);
	slnf_cache_destroy(c);
}

static void test_read_max_age(void **state)
{
	/* The store does not say how much TTL a read record has left, so a
	 * read result is served for read_max_age_ms at most. */
	struct slnf_cache *c = new_cache(64, 0);
	fill_read(c, 1, "a", 1, 0, T0);
	assert_hit(c, 1, T0 + SLNF_CACHE_DEFAULT_READ_MAX_AGE_MS - 1, "a", 1, 0);
	assert_miss(c, 1, T0 + SLNF_CACHE_DEFAULT_READ_MAX_AGE_MS);
	assert_int_equal(stats(c).stale, 1);
	assert_miss(c, 1, T0); /* a stale entry is gone, not hidden */
	assert_int_equal(stats(c).stale, 1);
	slnf_cache_destroy(c);

	c = new_cache(64, 50);
	fill_read(c, 1, "a", 1, 0, T0);
	assert_hit(c, 1, T0 + 49, "a", 1, 0);
	assert_miss(c, 1, T0 + 50);
	slnf_cache_destroy(c);
}

static void test_write_ttl(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	/* A created record lives exactly as long as the TTL written... */
	struct slnf_store_op req = op_of(SLNF_STORE_PUT_IF_ABSENT, 1, "new", 0, 300);
	feed(c, &req, 0, 1, NULL, 0, T0);
	assert_hit(c, 1, T0 + 299, "new", 1, 0);
	assert_miss(c, 1, T0 + 300);

	/* ...even when that is longer than the read maximum age... */
	req = op_of(SLNF_STORE_PUT_IF_ABSENT, 2, "long", 0, 60000);
	feed(c, &req, 0, 1, NULL, 0, T0);
	assert_hit(c, 2, T0 + 59999, "long", 1, 0);
	assert_miss(c, 2, T0 + 60000);

	/* ...and without a TTL until evicted or the epoch changes. */
	req = op_of(SLNF_STORE_PUT, 3, "forever", 0, 0);
	feed(c, &req, 0, 1, NULL, 0, T0);
	assert_hit(c, 3, T0 + 86400000ull * 365, "forever", 1, 0);

	/* A later write sets a new TTL, shorter or longer. */
	req = op_of(SLNF_STORE_CAS, 3, "short", 1, 10);
	feed(c, &req, 0, 2, NULL, 0, T0 + 5);
	assert_hit(c, 3, T0 + 14, "short", 2, 0);
	assert_miss(c, 3, T0 + 15);
	slnf_cache_destroy(c);
}

static void test_write_versions(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	/* A CAS on top of the cached version: the counter the write left
	 * alone is still known. */
	fill_read(c, 1, "v4", 4, 11, T0);
	struct slnf_store_op req = op_of(SLNF_STORE_CAS, 1, "v5", 4, 0);
	feed(c, &req, 0, 5, NULL, 0, T0);
	assert_hit(c, 1, T0, "v5", 5, 11);
	/* So is a PUT, and the value an INCR left alone. */
	req = op_of(SLNF_STORE_PUT, 1, "v6", 0, 0);
	feed(c, &req, 0, 6, NULL, 0, T0);
	req = op_of(SLNF_STORE_INCR, 1, NULL, 0, 0);
	req.delta = 4;
	feed(c, &req, 0, 7, NULL, 15, T0);
	assert_hit(c, 1, T0, "v6", 7, 15);

	/* A write whose previous version the cache did not hold: the other
	 * half of the record is unknown, so the key is not cached. */
	req = op_of(SLNF_STORE_CAS, 2, "x", 8, 0);
	feed(c, &req, 0, 9, NULL, 0, T0);
	assert_miss(c, 2, T0);
	fill_read(c, 2, "v3", 3, 1, T0);
	req = op_of(SLNF_STORE_PUT, 2, "v9", 0, 0);
	feed(c, &req, 0, 9, NULL, 0, T0); /* someone wrote v4..v8 */
	assert_miss(c, 2, T0);
	assert_int_equal(stats(c).invalidations, 1);

	/* Creating writes (version 1) know the whole record. */
	req = op_of(SLNF_STORE_PUT, 3, "made", 0, 0);
	feed(c, &req, 0, 1, NULL, 0, T0);
	assert_hit(c, 3, T0, "made", 1, 0);
	req = op_of(SLNF_STORE_INCR, 4, NULL, 0, 0);
	req.delta = -2;
	feed(c, &req, 0, 1, NULL, -2, T0);
	assert_hit(c, 4, T0, "", 1, -2);

	/* Several writes to one key in one batch apply in order. */
	for (uint64_t v = 2; v <= 4; v++) {
		char val[8];
		snprintf(val, sizeof(val), "c%u", (unsigned)v);
		req = op_of(SLNF_STORE_CAS, 3, val, v - 1, 0);
		feed(c, &req, 0, v, NULL, 0, T0);
	}
	assert_hit(c, 3, T0, "c4", 4, 0);
	slnf_cache_destroy(c);
}

static void test_conflicts_store_current(void **state)
{
	/* A lost CAS or PUT_IF_ABSENT brings back the current record: the
	 * cache keeps it (so the next packet works from it) and touches no
	 * other key. */
	struct slnf_cache *c = new_cache(64, 0);
	fill_read(c, 1, "mine", 3, 0, T0);
	fill_read(c, 2, "other", 8, 2, T0);
	struct slnf_store_op req = op_of(SLNF_STORE_CAS, 1, "late", 3, 0);
	feed(c, &req, -ESTALE, 6, "theirs", 9, T0);
	assert_hit(c, 1, T0, "theirs", 6, 9);
	assert_hit(c, 2, T0, "other", 8, 2);

	req = op_of(SLNF_STORE_PUT_IF_ABSENT, 3, "loser", 0, 5000);
	feed(c, &req, -EEXIST, 1, "winner", 0, T0);
	assert_hit(c, 3, T0, "winner", 1, 0);
	/* The remaining TTL is unknown: read maximum age. */
	assert_miss(c, 3, T0 + SLNF_CACHE_DEFAULT_READ_MAX_AGE_MS);
	assert_hit(c, 2, T0, "other", 8, 2);
	slnf_cache_destroy(c);
}

static void test_drops(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	for (unsigned k = 1; k <= 6; k++)
		fill_read(c, k, "r", 2, 0, T0);

	struct slnf_store_op req = op_of(SLNF_STORE_DEL, 1, NULL, 0, 0);
	feed(c, &req, 0, 2, NULL, 0, T0);
	assert_miss(c, 1, T0);
	req = op_of(SLNF_STORE_DEL, 2, NULL, 0, 0);
	feed(c, &req, -ENOENT, 0, NULL, 0, T0);
	assert_miss(c, 2, T0);
	/* A write that timed out may or may not have happened. */
	req = op_of(SLNF_STORE_PUT, 3, "?", 0, 0);
	feed(c, &req, -ETIMEDOUT, 0, NULL, 0, T0);
	assert_miss(c, 3, T0);
	/* A CAS finding no record: it expired or was deleted. */
	req = op_of(SLNF_STORE_CAS, 4, "x", 2, 0);
	feed(c, &req, -ENOENT, 0, NULL, 0, T0);
	assert_miss(c, 4, T0);
	/* A read finding nothing drops the key; a failed read keeps it (a
	 * fail-closed NF goes on serving established flows from here). */
	req = op_of(SLNF_STORE_GET, 5, NULL, 0, 0);
	feed(c, &req, -ENOENT, 0, NULL, 0, T0);
	assert_miss(c, 5, T0);
	req = op_of(SLNF_STORE_GET, 6, NULL, 0, 0);
	feed(c, &req, -EIO, 0, NULL, 0, T0);
	assert_hit(c, 6, T0, "r", 2, 0);

	struct slnf_store_key k6 = key_of(6);
	slnf_cache_invalidate(c, &k6);
	assert_miss(c, 6, T0);
	slnf_cache_invalidate(c, &k6); /* nothing left: not counted again */
	assert_int_equal(stats(c).invalidations, 6);
	slnf_cache_destroy(c);
}

static void test_epochs(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	assert_int_equal(slnf_cache_epoch(c), 0);
	fill_read(c, 1, "a", 1, 0, T0);
	struct slnf_store_op req = op_of(SLNF_STORE_PUT, 2, "b", 0, 0);
	feed(c, &req, 0, 1, NULL, 0, T0);
	assert_hit(c, 1, T0, "a", 1, 0);

	/* Setting the current epoch again changes nothing. */
	slnf_cache_set_epoch(c, 0);
	assert_hit(c, 2, T0, "b", 1, 0);
	assert_int_equal(stats(c).epoch_changes, 0);

	/* A new epoch: everything filled before is a miss. */
	slnf_cache_set_epoch(c, 7);
	assert_int_equal(slnf_cache_epoch(c), 7);
	assert_miss(c, 1, T0);
	assert_miss(c, 2, T0);
	struct slnf_cache_stats st = stats(c);
	assert_int_equal(st.epoch_changes, 1);
	assert_int_equal(st.stale, 2);
	fill_read(c, 1, "a2", 2, 0, T0);
	assert_hit(c, 1, T0, "a2", 2, 0);

	/* Going back to an epoch seen before revives nothing. */
	fill_read(c, 3, "c", 1, 0, T0);
	slnf_cache_set_epoch(c, 0);
	assert_miss(c, 1, T0);
	slnf_cache_set_epoch(c, 7);
	assert_miss(c, 3, T0);
	assert_int_equal(stats(c).epoch_changes, 3);

	/* An answer in flight across a bump (lookup, bump, answer) is
	 * filled as older than the new epoch. */
	assert_miss(c, 4, T0);
	slnf_cache_set_epoch(c, 8);
	fill_read(c, 4, "d", 1, 0, T0);
	assert_miss(c, 4, T0);
	fill_read(c, 4, "d", 1, 0, T0);
	assert_hit(c, 4, T0, "d", 1, 0);
	slnf_cache_destroy(c);
}

static void *bump(void *arg)
{
	slnf_cache_set_epoch(arg, 99);
	return NULL;
}

static void test_epoch_from_another_thread(void **state)
{
	struct slnf_cache *c = new_cache(64, 0);
	fill_read(c, 1, "a", 1, 0, T0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, bump, c), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_miss(c, 1, T0);
	assert_int_equal(slnf_cache_epoch(c), 99);
	slnf_cache_destroy(c);
}

static void test_eviction(void **state)
{
	/* Capacity 8: one set of 8 ways, so every key competes. */
	struct slnf_cache *c = new_cache(8, 0);
	const unsigned keys[9] = {100, 101, 102, 103, 104, 105, 106, 107, 108};
	for (unsigned i = 0; i < 8; i++)
		fill_read(c, keys[i], "x", i + 1, 0, T0);
	for (unsigned i = 0; i < 8; i++)
		assert_hit(c, keys[i], T0, "x", i + 1, 0);
	assert_int_equal(stats(c).evictions, 0);
	/* keys[1] is now the least recently used once keys[0] is touched. */
	assert_hit(c, keys[0], T0, "x", 1, 0);
	fill_read(c, keys[8], "new", 1, 0, T0);
	assert_int_equal(stats(c).evictions, 1);
	assert_miss(c, keys[1], T0);
	assert_hit(c, keys[0], T0, "x", 1, 0);
	assert_hit(c, keys[8], T0, "new", 1, 0);
	/* Refreshing a cached key reuses its way: no eviction. */
	fill_read(c, keys[8], "newer", 2, 0, T0);
	assert_int_equal(stats(c).evictions, 1);

	/* Dead entries (older epoch) make room without counting as evictions. */
	slnf_cache_set_epoch(c, 1);
	assert_miss(c, keys[0], T0); /* applies the epoch */
	for (unsigned i = 0; i < 8; i++)
		fill_read(c, 200 + i, "y", 1, 0, T0);
	assert_int_equal(stats(c).evictions, 1);
	for (unsigned i = 0; i < 8; i++)
		assert_hit(c, 200 + i, T0, "y", 1, 0);
	slnf_cache_destroy(c);
}

static void test_many_keys(void **state)
{
	/* 4096 entries hold 3000 keys with few evictions, and every key that
	 * is served is served with its own record. */
	struct slnf_cache *c = new_cache(4096, 0);
	for (unsigned k = 0; k < 3000; k++) {
		char val[16];
		snprintf(val, sizeof(val), "val%u", k);
		fill_read(c, k, val, k + 1, (int64_t)k, T0);
	}
	unsigned hits = 0;
	for (unsigned k = 0; k < 3000; k++) {
		struct slnf_store_op op;
		if (look(c, k, T0, &op))
			continue;
		char val[16];
		snprintf(val, sizeof(val), "val%u", k);
		assert_int_equal(op.version, k + 1);
		assert_int_equal(op.counter, k);
		assert_memory_equal(op.val, val, strlen(val));
		hits++;
	}
	struct slnf_cache_stats st = stats(c);
	assert_int_equal(hits + st.evictions, 3000);
	assert_true(hits > 2700);

	struct slnf_cache_stats sum = {0};
	slnf_cache_stats_add(c, &sum);
	slnf_cache_stats_add(c, &sum);
	assert_int_equal(sum.hits, 2 * st.hits);
	assert_int_equal(sum.capacity, 8192);
	slnf_cache_destroy(c);
}

static void test_clock(void **state)
{
	uint64_t a = slnf_cache_now_ms();
	uint64_t b = slnf_cache_now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_read_fill_and_hit),
		cmocka_unit_test(test_read_max_age),
		cmocka_unit_test(test_write_ttl),
		cmocka_unit_test(test_write_versions),
		cmocka_unit_test(test_conflicts_store_current),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_epoch_from_another_thread),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
