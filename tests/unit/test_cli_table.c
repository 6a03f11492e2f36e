/*
 * test_cli_table.c - slnfctl's table printer: column widths from headers
 * and cells, left and right alignment, three spaces between columns, no
 * trailing spaces, UTF-8 cells counted by character, control characters
 * replaced, NULL cells shown as "-", and the duration formatter the views
 * use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "cli/table.h"

static char *render(struct cli_table *t)
{
	char *s = NULL;

	assert_int_equal(cli_table_render(t, &s), 0);
	return s;
}

static void test_alignment(void **state)
{
	static const char *const h[] = {"NAME", "PID", "STATE"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_RIGHT, CLI_LEFT};
	const char *r1[] = {"i1", "7", "up"};
	const char *r2[] = {"instance-2", "11223", "down"};
	struct cli_table t;
	size_t w[CLI_TABLE_MAX_COLS];
	char *s;

	assert_int_equal(cli_table_init(&t, 3, h, a), 0);
	assert_int_equal(cli_table_add(&t, r1), 0);
	assert_int_equal(cli_table_add(&t, r2), 0);
	cli_table_widths(&t, w);
	assert_int_equal(w[0], 10);
	assert_int_equal(w[1], 5);
	assert_int_equal(w[2], 5);
	s = render(&t);
	assert_string_equal(s, "NAME           PID   STATE\n"
			       "i1               7   up\n"
			       "instance-2   11223   down\n");
	free(s);
	cli_table_free(&t);
}

static void test_empty_and_null(void **state)
{
	static const char *const h[] = {"A", "B"};
	const char *r[] = {NULL, ""};
	struct cli_table t;
	char *s;

	assert_int_equal(cli_table_init(&t, 2, h, NULL), 0);
	s = render(&t);
	assert_string_equal(s, "A   B\n");
	free(s);
	assert_int_equal(cli_table_add(&t, r), 0);
	assert_string_equal(cli_table_cell(&t, 0, 0), "-");
	assert_null(cli_table_cell(&t, 1, 0));
	assert_null(cli_table_cell(&t, 0, 2));
	s = render(&t);
	/* an empty last cell leaves no trailing spaces */
	assert_string_equal(s, "A   B\n-\n");
	free(s);
	cli_table_free(&t);
	assert_int_equal(cli_table_init(&t, 0, h, NULL), -EINVAL);
	assert_int_equal(cli_table_init(&t, CLI_TABLE_MAX_COLS + 1, h, NULL), -EINVAL);
}

static void test_utf8_and_control(void **state)
{
	static const char *const h[] = {"X", "Y"};
	const char *r1[] = {"\xc3\xa9t\xc3\xa9", "1"}; /* "été": 3 characters, 5 bytes */
	const char *r2[] = {"a\nb\x1b[31m", "2"};
	struct cli_table t;
	char *s;

	assert_int_equal(cli_text_width("\xc3\xa9t\xc3\xa9"), 3);
	assert_int_equal(cli_table_init(&t, 2, h, NULL), 0);
	assert_int_equal(cli_table_add(&t, r1), 0);
	assert_int_equal(cli_table_add(&t, r2), 0);
	s = render(&t);
	assert_string_equal(s, "X          Y\n"
			       "\xc3\xa9t\xc3\xa9        1\n"
			       "a b?[31m   2\n");
	free(s);
	cli_table_free(&t);
}

static void test_many_rows(void **state)
{
	static const char *const h[] = {"N"};
	static const enum cli_align a[] = {CLI_RIGHT};
	struct cli_table t;
	char num[16], *s;
	const char *r[] = {num};

	assert_int_equal(cli_table_init(&t, 1, h, a), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(num, sizeof(num), "%d", i);
		assert_int_equal(cli_table_add(&t, r), 0);
	}
	assert_int_equal(t.nrows, 1000);
	s = render(&t);
	assert_true(!strncmp(s, "  N\n  0\n  1\n", 12));
	assert_non_null(strstr(s, "\n999\n"));
	free(s);
	cli_table_free(&t);
}

static void test_durations(void **state)
{
	static const struct {
		uint64_t ms;
		const char *text;
	} cases[] = {
	    {0, "0ms"},	       {6, "6ms"},	   {999, "999ms"},     {1000, "1.0s"},
	    {2765, "2.7s"},    {10000, "10s"},	   {59999, "59s"},     {60000, "1m00s"},
	    {192000, "3m12s"}, {3600000, "1h00m"}, {7500000, "2h05m"}, {273600000, "3d04h"},
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_fmt_duration_ms(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

static void test_values(void **state)
{
	json_t *v = json_loads("[\"a b\", 3, 0.5, true, null, {\"k\": [1]}, \"\", \"x=y\", \"ok\"]",
			       0, NULL);
	char buf[64];

	assert_non_null(v);
	cli_fmt_value(json_array_get(v, 0), buf, sizeof(buf));
	assert_string_equal(buf, "a b");
	cli_fmt_word(json_array_get(v, 0), buf, sizeof(buf));
	assert_string_equal(buf, "\"a b\"");
	cli_fmt_value(json_array_get(v, 1), buf, sizeof(buf));
	assert_string_equal(buf, "3");
	cli_fmt_value(json_array_get(v, 2), buf, sizeof(buf));
	assert_string_equal(buf, "0.5");
	cli_fmt_value(json_array_get(v, 3), buf, sizeof(buf));
	assert_string_equal(buf, "true");
	cli_fmt_value(json_array_get(v, 4), buf, sizeof(buf));
	assert_string_equal(buf, "-");
	cli_fmt_word(json_array_get(v, 4), buf, sizeof(buf));
	assert_string_equal(buf, "null");
	cli_fmt_value(json_array_get(v, 5), buf, sizeof(buf));
	assert_string_equal(buf, "{\"k\":[1]}");
	cli_fmt_word(json_array_get(v, 6), buf, sizeof(buf));
	assert_string_equal(buf, "\"\"");
	cli_fmt_word(json_array_get(v, 7), buf, sizeof(buf));
	assert_string_equal(buf, "\"x=y\"");
	cli_fmt_word(json_array_get(v, 8), buf, sizeof(buf));
	assert_string_equal(buf, "ok");
	cli_fmt_value(json_array_get(v, 0), buf, 3); /* cut short, never overflows */
	assert_string_equal(buf, "a ");
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alignment),	     cmocka_unit_test(test_empty_and_null),
	    cmocka_unit_test(test_utf8_and_control), cmocka_unit_test(test_many_rows),
	    cmocka_unit_test(test_durations),	     cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
