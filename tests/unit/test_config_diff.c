/*
 * test_config_diff.c - slnf_config_diff and slnf_config_chain_equal, which
 * decide what a live reload may apply: two configs that differ only in
 * their chains (or in a field given once at its default and once left out)
 * are the same for a reload; any other difference is named by its JSON
 * path, blamed on the field the operator changed. No EAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slnf/config.h"

/* clang-format off */
/* Written with single quotes, turned into double quotes before parsing. */
static const char *const base_json =
	"{ 'name': 't1',"
	"  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	"  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	"                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }";

static const struct {
	const char *json;
	const char *field; /* "" when a reload may apply it */
	bool chain_equal;
} cases[] = {
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }", "", true },
	/* defaults spelt out are no change */
	{ "{ 'name': 't1', 'workers': { 'count': 1 }, 'store': { 'backend': 'shm' },"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }", "", true },
	/* a chain change is what a reload is for */
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'filter', 'default': 'allow' },"
	  "                            { 'nf': 'router', 'routes': [] } ] } ] }", "", false },
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [ { 'prefix': '10.0.0.0/8',"
	  "                                                           'port': 'p1' } ] } ] } ] }",
	  "", false },
	/* eal.lcores follows workers.count: the count is named */
	{ "{ 'name': 't1', 'workers': { 'count': 2 },"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "workers.count", true },
	/* so do the file prefix and the socket on the name */
	{ "{ 'name': 't2',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }", "name", true },
	{ "{ 'name': 't1', 'store': { 'capacity': 1024 },"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'filter', 'default': 'deny' } ] } ] }",
	  "store.capacity", false },
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' },"
	  "             { 'name': 'p1', 'type': 'null', 'mac': '02:00:00:00:00:01' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "ports[1].mac", true },
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0', 'p1'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "tenants[0].match.ports", true },
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 2, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "tenants[0].id", true },
	{ "{ 'name': 't1',"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] },"
	  "               { 'name': 'b', 'id': 2, 'match': { 'ports': ['p1'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "tenants", true },
	{ "{ 'name': 't1', 'neighbours': { 'static': [ { 'port': 'p1', 'ip': '10.0.0.9',"
	  "                                              'mac': '02:00:00:00:00:09' } ] },"
	  "  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	  "  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }",
	  "neighbours.static", true },
};
/* clang-format on */

static char *dquote(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static void load(const char *json, struct slnf_config *cfg)
{
	struct slnf_error err = {{0}};
	char *text = dquote(json);
	int rc = slnf_config_parse(text, "x.json", cfg, &err);

	free(text);
	if (rc)
		fail_msg("%s", err.msg);
}

static void test_cases(void **state)
{
	(void)state;
	static struct slnf_config a, b;
	char field[128];

	load(base_json, &a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(cases[i].json, &b);
		bool differs = slnf_config_diff(&a, &b, field, sizeof(field));
		if (differs != (cases[i].field[0] != 0) || strcmp(field, cases[i].field))
			fail_msg("case %zu: got '%s', want '%s'", i, field, cases[i].field);
		if (slnf_config_chain_equal(&a.tenants[0], &b.tenants[0]) != cases[i].chain_equal)
			fail_msg("case %zu: chain_equal is not %d", i, cases[i].chain_equal);
		slnf_config_free(&b);
	}
	slnf_config_free(&a);
}

/* The field path fits the caller's buffer, truncated, never overflowing. */
static void test_small_buffer(void **state)
{
	(void)state;
	static struct slnf_config a, b;
	char field[8];

	load(base_json, &a);
	load(cases[8].json, &b);
	assert_true(slnf_config_diff(&a, &b, field, sizeof(field)));
	assert_string_equal(field, "tenants");
	slnf_config_free(&a);
	slnf_config_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
