/*
 * test_flow.c - flow key hashes: deterministic, sensitive to every field,
 * spread evenly, and (for the symmetric form) equal for both directions of
 * a flow while the plain form tells the directions apart.
 *
 * Random keys come from a fixed-seed generator (rte_srand) so a failure
 * reproduces exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_random.h>

#include "slnf/pkt.h"

#define NKEYS 8192
#define NBUCKETS 64

/* DPDK's generator, seeded in main: the same sequence on every run. */
static uint32_t rnd(void)
{
	return (uint32_t)rte_rand();
}

static struct slnf_flow_key rnd_key(void)
{
	static const uint8_t protos[] = {1, 6, 17};
	struct slnf_flow_key k;

	memset(&k, 0, sizeof(k));
	k.src_ip = rnd();
	k.dst_ip = rnd();
	k.src_port = (uint16_t)rnd();
	k.dst_port = (uint16_t)rnd();
	k.proto = protos[rnd() % 3];
	return k;
}

static struct slnf_flow_key reversed(const struct slnf_flow_key *k)
{
	struct slnf_flow_key r = *k;

	r.src_ip = k->dst_ip;
	r.dst_ip = k->src_ip;
	r.src_port = k->dst_port;
	r.dst_port = k->src_port;
	return r;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Number of equal neighbours once sorted: the colliding pairs. */
static unsigned collisions(uint32_t *h, size_t n)
{
	unsigned c = 0;

	qsort(h, n, sizeof(*h), cmp_u32);
	for (size_t i = 1; i < n; i++)
		c += h[i] == h[i - 1];
	return c;
}

static void test_deterministic(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		struct slnf_flow_key k = rnd_key(), copy = k;

		assert_int_equal(slnf_flow_hash(&k), slnf_flow_hash(&copy));
		assert_int_equal(slnf_flow_hash_symmetric(&k), slnf_flow_hash_symmetric(&copy));
		/* the key is only read */
		assert_memory_equal(&k, &copy, sizeof(k));
	}
}

static void test_symmetric(void **state)
{
	unsigned same_plain = 0;

	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		struct slnf_flow_key k = rnd_key(), r = reversed(&k);

		/* same address both ends: the ports decide the order */
		if (i % 8 == 0)
			k.dst_ip = k.src_ip, r = reversed(&k);
		assert_int_equal(slnf_flow_hash_symmetric(&k), slnf_flow_hash_symmetric(&r));
		same_plain += slnf_flow_hash(&k) == slnf_flow_hash(&r);
	}
	/* the plain hash is direction-sensitive */
	assert_true(same_plain <= 2);
}

/* Keys that differ in one field, including ports and protocol alone, hash
 * apart; CRC32C distinguishes any change confined to 32 bits, so these
 * sets must have no collisions at all. */
static void test_single_field_changes(void **state)
{
	static uint32_t h[65536], hs[65536];
	struct slnf_flow_key base = rnd_key(), k;

	(void)state;
	for (uint32_t v = 0; v < 65536; v++) {
		k = base;
		k.src_port = (uint16_t)v;
		h[v] = slnf_flow_hash(&k);
		hs[v] = slnf_flow_hash_symmetric(&k);
	}
	assert_int_equal(collisions(h, 65536), 0);
	assert_int_equal(collisions(hs, 65536), 0);
	for (uint32_t v = 0; v < 65536; v++) {
		k = base;
		k.dst_ip = base.dst_ip ^ (v << 12);
		h[v] = slnf_flow_hash(&k);
	}
	assert_int_equal(collisions(h, 65536), 0);
	for (uint32_t v = 0; v < 256; v++) {
		k = base;
		k.proto = (uint8_t)v;
		h[v] = slnf_flow_hash(&k);
	}
	assert_int_equal(collisions(h, 256), 0);
}

/* Random distinct keys: (almost) no 32-bit collisions, and the low bits
 * used to pick buckets or instances are evenly spread. */
static void test_distribution(void **state)
{
	static uint32_t h[NKEYS], hs[NKEYS];
	unsigned buckets[NBUCKETS] = {0}, sbuckets[NBUCKETS] = {0};
	const unsigned mean = NKEYS / NBUCKETS;

	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		struct slnf_flow_key k = rnd_key();

		h[i] = slnf_flow_hash(&k);
		hs[i] = slnf_flow_hash_symmetric(&k);
		buckets[h[i] % NBUCKETS]++;
		sbuckets[hs[i] % NBUCKETS]++;
	}
	/* expected colliding pairs for 8192 random 32-bit values: ~0.008 */
	assert_true(collisions(h, NKEYS) <= 1);
	assert_true(collisions(hs, NKEYS) <= 1);
	for (int b = 0; b < NBUCKETS; b++) {
		/* mean 128, standard deviation ~11: allow about 5 sigma */
		assert_in_range(buckets[b], mean - 56, mean + 56);
		assert_in_range(sbuckets[b], mean - 56, mean + 56);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_symmetric),
		cmocka_unit_test(test_single_field_changes),
		cmocka_unit_test(test_distribution),
	};

	rte_srand(0x2545f4914f6cdd1dull);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
