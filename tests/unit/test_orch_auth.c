/*
 * test_orch_auth.c - slnf-orch's API tokens: the token file's rules
 * (comments, blank lines, no spaces or control characters, length limit,
 * at least one token) and the bearer check (missing -> 401, wrong -> 403,
 * prefixes, suffixes and over-long tokens never match).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "orch/auth.h"

static void test_token_file(void **state)
{
	struct orch_tokens t;
	struct slnf_error err = {{0}};

	assert_int_equal(orch_tokens_parse("# comment\n\n  alpha  \r\nbeta\n", "tok", &t, &err), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.tok[0], "alpha");
	assert_string_equal(t.tok[1], "beta");
	assert_true(orch_tokens_parse("# only comments\n\n", "tok", &t, &err) < 0);
	assert_non_null(strstr(err.msg, "no API token"));
	assert_true(orch_tokens_parse("a b\n", "tok", &t, &err) < 0);
	assert_non_null(strstr(err.msg, "tok: line 1"));
	char big[ORCH_TOKEN_LEN_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(orch_tokens_parse(big, "tok", &t, &err) < 0);
	assert_non_null(strstr(err.msg, "longer than"));
}

static void test_bearer(void **state)
{
	struct orch_tokens t;
	struct slnf_error err = {{0}};

	assert_int_equal(orch_tokens_parse("s3cret\nother\n", "tok", &t, &err), 0);
	assert_int_equal(orch_auth_check(&t, NULL), ORCH_AUTH_MISSING);
	assert_int_equal(orch_auth_check(&t, "Basic czNjcmV0"), ORCH_AUTH_MISSING);
	assert_int_equal(orch_auth_check(&t, "Bearer "), ORCH_AUTH_MISSING);
	assert_int_equal(orch_auth_check(&t, "Bearer s3cret"), ORCH_AUTH_OK);
	assert_int_equal(orch_auth_check(&t, "bearer other"), ORCH_AUTH_OK);
	assert_int_equal(orch_auth_check(&t, "Bearer s3cre"), ORCH_AUTH_WRONG);
	assert_int_equal(orch_auth_check(&t, "Bearer s3cret2"), ORCH_AUTH_WRONG);
	assert_int_equal(orch_auth_check(&t, "Bearer S3CRET"), ORCH_AUTH_WRONG);
}

static void test_equal(void **state)
{
	char long_a[ORCH_TOKEN_LEN_MAX + 10], long_b[ORCH_TOKEN_LEN_MAX + 10];

	assert_true(orch_token_equal("abc", "abc"));
	assert_false(orch_token_equal("abc", "abd"));
	assert_false(orch_token_equal("abc", "ab"));
	assert_false(orch_token_equal("", "a"));
	memset(long_a, 'q', sizeof(long_a) - 1);
	long_a[sizeof(long_a) - 1] = '\0';
	memcpy(long_b, long_a, sizeof(long_b));
	/* longer than any token: never equal, even to itself */
	assert_false(orch_token_equal(long_a, long_b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_file),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
