/*
 * test_maglev.c - Maglev tables (core/maglev.h): every entry filled,
 * shares that follow the weights, about 1/N of the entries moving when a
 * backend is added, the same table from the same input whatever the
 * order of the calls, and bad arguments refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>

#include "core/maglev.h"

#define M SLNF_MAGLEV_DEFAULT_SIZE

static const char *const names[] = { "10.0.2.10:80", "10.0.2.11:80", "10.0.2.12:80",
				     "10.0.2.13:80", "10.0.2.14:80" };

static uint16_t *build(const uint32_t *weights, unsigned n)
{
	struct slnf_maglev_backend b[8];
	uint16_t *t = malloc(M * sizeof(*t));

	assert_non_null(t);
	for (unsigned i = 0; i < n; i++)
		b[i] = (struct slnf_maglev_backend){ names[i], weights[i] };
	assert_int_equal(slnf_maglev_build(t, M, b, n), 0);
	return t;
}

static void count(const uint16_t *t, unsigned *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		c[i] = 0;
	for (uint32_t s = 0; s < M; s++) {
		assert_true(t[s] < n);
		c[t[s]]++;
	}
}

static void test_full_and_weighted(void **state)
{
	const uint32_t w[] = { 1, 1, 2 };
	uint16_t *t = build(w, 3);
	unsigned c[3];

	count(t, c, 3);
	for (unsigned i = 0; i < 3; i++) {
		double share = (double)c[i] / M, want = w[i] / 4.0;

		assert_true(share > want * 0.97 && share < want * 1.03);
	}
	free(t);
}

static void test_equal_weights(void **state)
{
	const uint32_t w[] = { 1, 1, 1, 1, 1 };
	uint16_t *t = build(w, 5);
	unsigned c[5];

	count(t, c, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_true(c[i] > M / 5 * 0.97 && c[i] < M / 5 * 1.03);
	free(t);
}

static void test_minimal_disruption(void **state)
{
	const uint32_t w[] = { 1, 1, 1, 1 };
	uint16_t *a = build(w, 3), *b = build(w, 4);
	unsigned moved = 0, to_new = 0;

	for (uint32_t s = 0; s < M; s++) {
		if (a[s] != b[s])
			moved++;
		if (b[s] == 3)
			to_new++;
	}
	/* the new backend takes about 1/4; few other entries change */
	assert_true(to_new > M / 4 * 0.97 && to_new < M / 4 * 1.03);
	assert_true(moved < M / 4 * 1.25);
	free(a);
	free(b);
}

static void test_deterministic(void **state)
{
	const uint32_t w[] = { 3, 1, 2 };
	uint16_t *a = build(w, 3), *b = build(w, 3);

	assert_memory_equal(a, b, M * sizeof(*a));
	free(a);
	free(b);
}

static void test_bad_args(void **state)
{
	struct slnf_maglev_backend b[] = { { "x", 1 }, { "y", 0 } };
	uint16_t t[13];

	assert_true(slnf_maglev_is_prime(65537) && slnf_maglev_is_prime(13));
	assert_false(slnf_maglev_is_prime(65536) || slnf_maglev_is_prime(1));
	assert_int_equal(slnf_maglev_build(t, 12, b, 1), -EINVAL);
	assert_int_equal(slnf_maglev_build(t, 13, b, 0), -EINVAL);
	assert_int_equal(slnf_maglev_build(t, 13, b, 2), -EINVAL);
	assert_int_equal(slnf_maglev_build(t, 13, b, 1), 0);
	for (unsigned i = 0; i < 13; i++)
		assert_int_equal(t[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_weighted),
		cmocka_unit_test(test_equal_weights),
		cmocka_unit_test(test_minimal_disruption),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
