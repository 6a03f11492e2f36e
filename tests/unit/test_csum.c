/*
 * test_csum.c - checksums against the RFC vectors in tests/data, against
 * DPDK's own implementation for random buffers, and incremental updates
 * against full recomputation over many random field changes.
 *
 * The random tests use a fixed-seed generator (rte_srand), so a failure
 * reproduces exactly, and bounded loops, so the test takes milliseconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_random.h>

#include "slnf/csum.h"

#define ROUNDS 20000

/* DPDK's generator, seeded in main: the same sequence on every run. */
static uint32_t rnd(void)
{
	return (uint32_t)rte_rand();
}

static void rnd_fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* A hex field of a JSON case as bytes; returns the byte count. */
static size_t hex_bytes(json_t *c, const char *name, uint8_t *out, size_t max)
{
	const char *s = json_string_value(json_object_get(c, name));
	size_t n = 0;
	unsigned v;

	assert_non_null(s);
	assert_int_equal(strlen(s) % 2, 0);
	for (; s[0] && s[1]; s += 2) {
		assert_true(n < max);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static uint16_t hex16(json_t *c, const char *name)
{
	uint8_t b[2];

	assert_int_equal(hex_bytes(c, name, b, sizeof(b)), 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void test_vectors(void **state)
{
	json_error_t jerr;
	json_t *root = json_load_file(SLNF_TEST_DATA "/checksum_cases.json", 0, &jerr);
	json_t *cases, *c;
	unsigned sums = 0, updates = 0, udp = 0;
	size_t i;

	(void)state;
	if (!root)
		fail_msg("%s: line %d: %s", SLNF_TEST_DATA "/checksum_cases.json", jerr.line,
			 jerr.text);
	cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases));
	json_array_foreach(cases, i, c) {
		bool ran = false;

		if (json_object_get(c, "data")) {
			uint8_t buf[256];
			size_t n = hex_bytes(c, "data", buf, sizeof(buf));

			assert_int_equal(slnf_csum_partial(buf, n, 0), hex16(c, "sum"));
			assert_int_equal(slnf_csum(buf, n), hex16(c, "checksum"));
			sums++;
			ran = true;
		}
		if (json_object_get(c, "old_checksum")) {
			uint16_t hc = hex16(c, "old_checksum"), m = hex16(c, "old_field");
			uint16_t m2 = hex16(c, "new_field"), want = hex16(c, "new_checksum");

			if (json_is_true(json_object_get(c, "udp"))) {
				assert_int_equal(slnf_csum_update16_udp(hc, m, m2), want);
				udp++;
			} else {
				assert_int_equal(slnf_csum_update16(hc, m, m2), want);
				/* the same change as a 32-bit field whose other half stays */
				assert_int_equal(slnf_csum_update32(hc, 0x1234u << 16 | m,
								    0x1234u << 16 | m2),
						 want);
				updates++;
			}
			ran = true;
		}
		if (json_object_get(c, "other_sum")) {
			uint16_t other = hex16(c, "other_sum");

			/* full recomputation agrees before and after the change */
			assert_int_equal(slnf_csum_fold(other + (uint32_t)hex16(c, "old_field")),
					 hex16(c, "old_checksum"));
			assert_int_equal(slnf_csum_fold(other + (uint32_t)hex16(c, "new_field")),
					 hex16(c, "new_checksum"));
		}
		if (!ran)
			fail_msg("checksum case %zu has no inputs", i);
	}
	assert_true(sums >= 1);
	assert_true(updates >= 2);
	assert_true(udp >= 2);
	json_decref(root);
}

/* The classic IPv4 header example: 4500 0073 0000 4000 4011 [b861] c0a8 0001
 * c0a8 00c7. Its checksum is b861 and the whole header then sums to ffff. */
static void test_ipv4_header(void **state)
{
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	(void)state;
	assert_int_equal(slnf_csum(h, sizeof(h)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(slnf_csum_partial(h, sizeof(h), 0), 0xffff);
	assert_int_equal(slnf_csum(h, sizeof(h)), 0);
}

static void test_fold(void **state)
{
	(void)state;
	assert_int_equal(slnf_csum_fold(0), 0xffff);
	assert_int_equal(slnf_csum_fold(0xffff), 0);
	assert_int_equal(slnf_csum_fold(0x1fffe), 0);          /* fffe + 1 */
	assert_int_equal(slnf_csum_fold(0x12345), (uint16_t)~0x2346);
	assert_int_equal(slnf_csum_fold(0xffffffff), 0);       /* ffff + ffff -> ffff */
	assert_int_equal(slnf_csum(NULL, 0), 0xffff);
	/* an odd byte is the high half of a zero-padded word */
	assert_int_equal(slnf_csum_partial((const uint8_t[]){0xab}, 1, 0), 0xab00);
	assert_int_equal(slnf_csum_partial((const uint8_t[]){0xab, 0xcd, 0xef}, 3, 0x0001),
			 0xabcd + 0xef00 - 0xffff + 1);
}

/* Random lengths and alignments agree with rte_raw_cksum, and a buffer
 * summed in two pieces (the first of even length) equals the whole. */
static void test_random_buffers(void **state)
{
	static uint8_t buf[1600];

	(void)state;
	for (int r = 0; r < 2000; r++) {
		size_t align = rnd() % 8, len = rnd() % (sizeof(buf) - 8), cut;
		uint8_t *b = buf + align;
		uint32_t whole;

		rnd_fill(b, len);
		whole = slnf_csum_partial(b, len, 0);
		assert_int_equal(whole, rte_be_to_cpu_16(rte_raw_cksum(b, len)));
		assert_true(whole <= 0xffff);
		cut = (rnd() % (len + 1)) & ~(size_t)1;
		assert_int_equal(slnf_csum_partial(b + cut, len - cut,
						   slnf_csum_partial(b, cut, 0)),
				 whole);
	}
}

static uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] << 8 | b[off + 1]);
}

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)(v >> 8);
	b[off + 1] = (uint8_t)v;
}

/* A 40-byte header-like buffer whose checksum lives at CSUM_OFF: change
 * random 16- and 32-bit fields (at any even offset), update the checksum
 * incrementally each time, and compare with a full recomputation. The
 * incremental value is carried forward, so errors would accumulate. */
#define HDR_LEN 40
#define CSUM_OFF 10

static uint16_t full_csum(uint8_t *h)
{
	uint8_t c[HDR_LEN];

	memcpy(c, h, HDR_LEN);
	put16(c, CSUM_OFF, 0);
	return slnf_csum(c, HDR_LEN);
}

/* A random even offset for a field of width bytes not overlapping the
 * checksum. */
static size_t field_off(size_t width)
{
	size_t off;

	do
		off = (rnd() % ((HDR_LEN - width) / 2 + 1)) * 2;
	while (off + width > CSUM_OFF && off < CSUM_OFF + 2);
	return off;
}

/* One run of random changes; with udp, the UDP update forms are used and a
 * full recomputation of 0 is expected as ffff. */
static void incremental_run(bool udp)
{
	uint8_t h[HDR_LEN];
	uint16_t csum, full;

	rnd_fill(h, sizeof(h));
	csum = full_csum(h);
	if (udp && csum == 0)
		csum = 0xffff;
	put16(h, CSUM_OFF, csum);
	for (int r = 0; r < ROUNDS; r++) {
		if (rnd() & 1) {
			size_t off = field_off(2);
			uint16_t old = get16(h, off), nw = (uint16_t)rnd();

			/* sometimes no change, sometimes a full inversion */
			if (r % 7 == 0)
				nw = old;
			else if (r % 11 == 0)
				nw = (uint16_t)~old;
			csum = udp ? slnf_csum_update16_udp(csum, old, nw)
				   : slnf_csum_update16(csum, old, nw);
			put16(h, off, nw);
		} else {
			size_t off = field_off(4);
			uint32_t old = (uint32_t)get16(h, off) << 16 | get16(h, off + 2);
			uint32_t nw = rnd() << 16 ^ rnd();

			csum = udp ? slnf_csum_update32_udp(csum, old, nw)
				   : slnf_csum_update32(csum, old, nw);
			put16(h, off, (uint16_t)(nw >> 16));
			put16(h, off + 2, (uint16_t)nw);
		}
		put16(h, CSUM_OFF, csum);
		full = full_csum(h);
		if (udp && full == 0)
			full = 0xffff;
		if (csum != full)
			fail_msg("round %d (udp %d): incremental %04x, full %04x", r, udp, csum, full);
		assert_int_equal(slnf_csum(h, HDR_LEN), 0);
	}
}

static void test_incremental_random(void **state)
{
	(void)state;
	incremental_run(false);
}

static void test_incremental_random_udp(void **state)
{
	(void)state;
	incremental_run(true);
}

/* UDP: a zero checksum is never touched; otherwise the result is the plain
 * update except that 0 is sent as ffff, and a valid UDP checksum is never
 * 0 afterwards. */
static void test_udp_rules(void **state)
{
	(void)state;
	for (int r = 0; r < ROUNDS; r++) {
		uint16_t old = (uint16_t)rnd(), nw = (uint16_t)rnd();
		uint32_t old32 = rnd() << 16 ^ rnd(), nw32 = rnd() << 16 ^ rnd();
		uint16_t c = (uint16_t)rnd();
		uint16_t plain = slnf_csum_update16(c, old, nw);
		uint16_t plain32 = slnf_csum_update32(c, old32, nw32);

		assert_int_equal(slnf_csum_update16_udp(0, old, nw), 0);
		assert_int_equal(slnf_csum_update32_udp(0, old32, nw32), 0);
		if (c == 0)
			continue;
		assert_int_equal(slnf_csum_update16_udp(c, old, nw), plain ? plain : 0xffff);
		assert_int_equal(slnf_csum_update32_udp(c, old32, nw32), plain32 ? plain32 : 0xffff);
	}
	/* Force computed zeros: pick the new word that makes the sum ffff. */
	for (int r = 0; r < 1000; r++) {
		uint16_t c = (uint16_t)(rnd() | 1), old = (uint16_t)rnd();
		/* ~c + ~old + nw == ffff (one's complement) */
		uint32_t s = (uint16_t)~c + (uint32_t)(uint16_t)~old;
		uint16_t nw;

		s = (s & 0xffff) + (s >> 16);
		nw = (uint16_t)(0xffff - s);
		assert_int_equal(slnf_csum_update16(c, old, nw), 0);
		assert_int_equal(slnf_csum_update16_udp(c, old, nw), 0xffff);
		assert_int_equal(slnf_csum_update32_udp(c, old, nw), 0xffff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_ipv4_header),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_random_buffers),
		cmocka_unit_test(test_incremental_random),
		cmocka_unit_test(test_incremental_random_udp),
		cmocka_unit_test(test_udp_rules),
	};

	rte_srand(0x9e3779b97f4a7c15ull);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
