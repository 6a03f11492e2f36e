/*
 * test_steer.c - the steering tables (src/steer): a push builds one Maglev
 * table per tenant over the instances it lists, both directions of a flow
 * (also through a port-preserving NAT) reach one instance, a bad push is
 * refused whole with its field and changes nothing, an empty instance list
 * drops, explain agrees with the data path, and counts survive a push.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "steer/steer.h"

static const char *CONFIG =
    "{\"name\": \"s\", \"role\": \"steer\", \"ports\": ["
    " {\"name\": \"lan\", \"type\": \"null\", \"ipv4\": [\"10.0.1.1/24\"]},"
    " {\"name\": \"wan\", \"type\": \"null\", \"ipv4\": [\"10.0.2.1/24\"]}],"
    " \"tenants\": ["
    " {\"name\": \"t1\", \"id\": 1, \"match\": {\"ports\": [\"lan\", \"wan\"]},"
    "  \"inside\": [\"lan\"]}]}";

#define PUSH2                                                                                      \
	"{\"epoch\": 7, \"tenants\": [{\"name\": \"t1\", \"instances\": ["                         \
	"{\"name\": \"i1\", \"macs\": {\"lan\": \"02:00:00:00:01:01\", \"wan\": "                  \
	"\"02:00:00:00:02:01\"}},"                                                                 \
	"{\"name\": \"i2\", \"macs\": {\"lan\": \"02:00:00:00:01:02\", \"wan\": "                  \
	"\"02:00:00:00:02:02\", \"mgmt\": \"02:00:00:00:03:02\"}}]}]}"

static unsigned quiesced;

static bool count_quiesce(void *arg)
{
	(void)arg;
	quiesced++;
	return true;
}

struct fixture {
	struct slnf_config cfg;
	struct slnf_steer s;
};

static int setup(void **state)
{
	static struct fixture f;
	struct slnf_error err = {{0}};
	memset(&f, 0, sizeof(f));
	if (slnf_config_parse(CONFIG, "s.json", &f.cfg, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	slnf_steer_init(&f.s, &f.cfg, count_quiesce, NULL);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	slnf_steer_fini(&f->s);
	slnf_config_free(&f->cfg);
	return 0;
}

static json_t *push(struct slnf_steer *s, const char *text)
{
	return slnf_steer_push(s, text, 1);
}

static void assert_ok(json_t *answer)
{
	const char *e = json_string_value(json_object_get(answer, "error"));
	if (e)
		fail_msg("refused: %s", e);
	assert_string_equal(json_string_value(json_object_get(answer, "steer")), "ok");
	json_decref(answer);
}

static struct slnf_flow_key key(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	return (struct slnf_flow_key){
	    .src_ip = src, .dst_ip = dst, .src_port = sport, .dst_port = dport, .proto = 6};
}

static void test_nothing_pushed_drops(void **state)
{
	struct fixture *f = *state;
	struct slnf_flow_key k = key(0x0a000102, 1000, 0x0a000202, 80);
	assert_null(slnf_steer_pick(&f->s, 0, 0, &k));
}

static void test_push_spreads_and_keeps_both_directions(void **state)
{
	struct fixture *f = *state;
	unsigned before = quiesced, per[2] = {0};
	assert_ok(push(&f->s, PUSH2));
	assert_int_equal(quiesced, before + 1);
	assert_int_equal(f->s.epoch, 7);
	for (uint16_t p = 0; p < 2000; p++) {
		struct slnf_flow_key req = key(0x0a000102, (uint16_t)(30000 + p), 0x0a000202, 80);
		/* the reply after a NAT that kept the client's port */
		struct slnf_flow_key rep = key(0x0a000202, 80, 0x0a000264, (uint16_t)(30000 + p));
		/* and without NAT */
		struct slnf_flow_key raw = key(0x0a000202, 80, 0x0a000102, (uint16_t)(30000 + p));
		struct slnf_steer_target *a = slnf_steer_pick(&f->s, 0, 0, &req);
		assert_non_null(a);
		assert_ptr_equal(slnf_steer_pick(&f->s, 0, 1, &rep), a);
		assert_ptr_equal(slnf_steer_pick(&f->s, 0, 1, &raw), a);
		per[a == &f->s.tables[0]->targets[1]]++;
	}
	/* equal weights: each gets a fair share of 2000 flows */
	assert_true(per[0] > 800 && per[1] > 800);
	const struct slnf_steer_table *t = f->s.tables[0];
	assert_int_equal(t->targets[0].entries + t->targets[1].entries, SLNF_STEER_TABLE_SIZE);
	assert_true(t->targets[1].has_mac[1]);
	assert_int_equal(t->targets[1].mac[1].addr_bytes[5], 2);
	assert_int_equal(t->targets[1].mac[1].addr_bytes[4], 2);
}

static void test_bad_push_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *field, *why;
	} bad[] = {
	    {"{", "", "not JSON"},
	    {"{\"tenants\": []}", "epoch", "non-negative integer"},
	    {"{\"epoch\": 1}", "tenants", "array"},
	    {"{\"epoch\": 1, \"tenants\": [{\"name\": \"nope\", \"instances\": []}]}",
	     "tenants[0].name", "unknown tenant 'nope'"},
	    {"{\"epoch\": 1, \"tenants\": [{\"name\": \"t1\"}]}", "tenants[0].instances", "array"},
	    {"{\"epoch\": 1, \"tenants\": [{\"name\": \"t1\", \"instances\": [{\"name\": \"x\", "
	     "\"macs\": {\"lan\": \"zz\"}}]}]}",
	     "tenants[0].instances[0].macs.lan", "not a MAC"},
	    {"{\"epoch\": 1, \"tenants\": [{\"name\": \"t1\", \"instances\": [{\"name\": \"x\", "
	     "\"macs\": {}}, {\"name\": \"x\", \"macs\": {}}]}]}",
	     "tenants[0].instances[1]", "listed twice"},
	};
	assert_ok(push(&f->s, PUSH2));
	const struct slnf_steer_table *t = f->s.tables[0];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *a = push(&f->s, bad[i].text);
		const char *e = json_string_value(json_object_get(a, "error"));
		assert_non_null(e);
		assert_string_equal(json_string_value(json_object_get(a, "field")), bad[i].field);
		if (!strstr(e, bad[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, e, bad[i].why);
		json_decref(a);
		assert_ptr_equal(f->s.tables[0], t);
		assert_int_equal(f->s.epoch, 7);
	}
	assert_int_equal(f->s.push_errors, sizeof(bad) / sizeof(bad[0]));
}

static void test_empty_set_drops_and_counts_carry(void **state)
{
	struct fixture *f = *state;
	assert_ok(push(&f->s, PUSH2));
	struct slnf_flow_key k = key(0x0a000102, 1234, 0x0a000202, 80);
	struct slnf_steer_target *a = slnf_steer_pick(&f->s, 0, 0, &k);
	char name[SLNF_NAME_MAX];
	snprintf(name, sizeof(name), "%s", a->name);
	slnf_steer_pick(&f->s, 0, 0, &k);
	assert_ok(push(&f->s, PUSH2)); /* same set: counts carried over */
	json_t *j = slnf_steer_json(&f->s);
	json_t *insts =
	    json_object_get(json_array_get(json_object_get(j, "tenants"), 0), "instances");
	json_int_t total = 0;
	for (size_t i = 0; i < json_array_size(insts); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(insts, i), "name")),
			    name))
			total = json_integer_value(
			    json_object_get(json_array_get(insts, i), "packets"));
	assert_int_equal(total, 2);
	json_decref(j);
	assert_ok(
	    push(&f->s, "{\"epoch\": 8, \"tenants\": [{\"name\": \"t1\", \"instances\": []}]}"));
	assert_null(slnf_steer_pick(&f->s, 0, 0, &k));
}

static void test_explain_agrees_with_pick(void **state)
{
	struct fixture *f = *state;
	assert_ok(push(&f->s, PUSH2));
	for (unsigned p = 0; p < 50; p++) {
		char q[256];
		snprintf(q, sizeof(q),
			 "{\"tenant\": \"t1\", \"port\": \"lan\", \"proto\": \"tcp\", \"src\": "
			 "\"10.0.1.2\", \"sport\": %u, \"dst\": \"10.0.2.2\", \"dport\": 80}",
			 40000 + p);
		json_t *a = slnf_steer_explain(&f->s, q);
		struct slnf_flow_key k = key(0x0a000102, (uint16_t)(40000 + p), 0x0a000202, 80);
		const struct slnf_steer_target *x = slnf_steer_pick(&f->s, 0, 0, &k);
		assert_string_equal(json_string_value(json_object_get(a, "instance")), x->name);
		assert_int_equal(json_integer_value(json_object_get(a, "hash")),
				 slnf_steer_hash(&f->cfg.tenants[0], 0, &k));
		json_decref(a);
	}
	json_t *a = slnf_steer_explain(&f->s, "{\"tenant\": \"t1\", \"proto\": \"sctp\"}");
	assert_string_equal(json_string_value(json_object_get(a, "field")), "proto");
	json_decref(a);
	a = slnf_steer_explain(&f->s, "{\"tenant\": \"t9\"}");
	assert_string_equal(json_string_value(json_object_get(a, "field")), "tenant");
	json_decref(a);
	a = slnf_steer_explain(&f->s, "{\"tenant\": \"t1\", \"proto\": 6, \"src\": \"1.2.3\"}");
	assert_string_equal(json_string_value(json_object_get(a, "field")), "src");
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nothing_pushed_drops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_spreads_and_keeps_both_directions, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_push_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_set_drops_and_counts_carry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_agrees_with_pick, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
