/*
 * test_classify.c - tenant classification by ingress port and VLAN id,
 * built from a real config: VLAN tenants get exactly their tags, an
 * untagged tenant gets untagged frames and unclaimed tags on its ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp/classify.h"

static const char *CONFIG =
	"{\"name\": \"c\", \"ports\": ["
	" {\"name\": \"a\", \"type\": \"null\"},"
	" {\"name\": \"b\", \"type\": \"null\"},"
	" {\"name\": \"c\", \"type\": \"null\"}],"
	" \"tenants\": ["
	" {\"name\": \"plain\", \"id\": 1, \"match\": {\"ports\": [\"a\", \"b\"]},"
	"  \"chain\": [{\"nf\": \"router\"}]},"
	" {\"name\": \"v100\", \"id\": 2, \"match\": {\"ports\": [\"a\"], \"vlans\": [100, 101]},"
	"  \"chain\": [{\"nf\": \"router\"}]},"
	" {\"name\": \"v7\", \"id\": 3, \"match\": {\"ports\": [\"c\"], \"vlans\": [7]},"
	"  \"chain\": [{\"nf\": \"router\"}]}]}";

static void test_port_and_vlan(void **state)
{
	struct slnf_config cfg;
	struct slnf_error err = {{0}};
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(slnf_config_parse(CONFIG, "c.json", &cfg, &err), 0);
	struct slnf_classifier *c = slnf_classifier_create(&cfg);
	assert_non_null(c);
	assert_int_equal(slnf_classify(c, 0, 0), 0);   /* untagged on a: plain */
	assert_int_equal(slnf_classify(c, 1, 0), 0);   /* untagged on b: plain */
	assert_int_equal(slnf_classify(c, 0, 100), 1); /* tag 100 on a: v100 */
	assert_int_equal(slnf_classify(c, 0, 101), 1);
	assert_int_equal(slnf_classify(c, 0, 5), 0);   /* unclaimed tag on a: plain */
	assert_int_equal(slnf_classify(c, 1, 100), 0); /* v100 is not on b */
	assert_int_equal(slnf_classify(c, 2, 7), 2);   /* tag 7 on c: v7 */
	assert_int_equal(slnf_classify(c, 2, 0), SLNF_NO_TENANT); /* untagged on c: nobody */
	assert_int_equal(slnf_classify(c, 2, 8), SLNF_NO_TENANT);
	assert_int_equal(slnf_classify(c, SLNF_MAX_PORTS, 0), SLNF_NO_TENANT);
	slnf_classifier_destroy(c);
	slnf_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_port_and_vlan)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
