/*
 * test_orch_scale.c - slnf-orch's scaling side without launching anything:
 * the template expansion ({n}), the scale plan (lowest unused numbers out,
 * highest-numbered in, draining instances not counted), the load policy's
 * decision function (thresholds, hysteresis, cooldown, min/max), the
 * explain query checks, and through the API: pool templates and policies
 * checked, POST /v1/pools/NAME/scale and POST /v1/instances/NAME/drain with
 * their 4xx naming the field, a drained instance that never ran removed
 * from the desired state, and the drain mark surviving a reload.
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
#include <unistd.h>

#include "orch/api.h"
#include "orch_fixture.h"
#include "orch/drain.h"
#include "orch/explain.h"
#include "orch/policy.h"
#include "orch/scale.h"
#include "orch/template.h"

static const char *const TENANT =
    "{\"name\":\"t1\",\"id\":7,\"match\":{\"ports\":[\"lan\",\"wan\"]},"
    "\"ports\":[{\"name\":\"lan\",\"type\":\"ring\",\"ipv4\":[\"10.1.1.1/24\"]},"
    "{\"name\":\"wan\",\"type\":\"null\",\"ipv4\":[\"10.2.2.1/24\"]}],"
    "\"chain\":[{\"nf\":\"router\",\"routes\":[{\"prefix\":"
    "\"0.0.0.0/0\",\"port\":\"wan\",\"via\":\"10.2.2.254\"}]}]}";

static int setup(void **state)
{
	return orch_fixture_open("scale");
}

static int teardown(void **state)
{
	return orch_fixture_close();
}

static void test_template_expand(void **state)
{
	json_t *tpl =
	    json_loads("{\"ports\":{\"lan\":{\"iface\":\"veth{n}a{n}\",\"mac\":\"02:00:00:"
		       "00:01:0{n}\"}},\"workers\":{\"count\":2},\"eal\":[\"--x={n}\","
		       "\"{n\"],\"{n}\":\"key stays\"}",
		       0, NULL);
	json_t *x = orch_template_expand(tpl, 13), *pool, *inst;

	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(x, "ports"), "lan"), "iface")),
			    "veth13a13");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(x, "ports"), "lan"), "mac")),
			    "02:00:00:00:01:013");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(x, "workers"), "count")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(x, "eal"), 0)),
			    "--x=13");
	assert_string_equal(json_string_value(json_array_get(json_object_get(x, "eal"), 1)), "{n");
	assert_string_equal(json_string_value(json_object_get(x, "{n}")), "key stays");
	/* the template itself is untouched */
	assert_string_equal(json_string_value(json_array_get(json_object_get(tpl, "eal"), 0)),
			    "--x={n}");
	json_decref(x);
	pool = json_pack("{s:s, s:s, s:O}", "name", "web", "tenant", "t1", "template", tpl);
	inst = orch_template_instance(pool, 2);
	assert_string_equal(json_string_value(json_object_get(inst, "name")), "web-2");
	assert_string_equal(json_string_value(json_object_get(inst, "pool")), "web");
	assert_string_equal(json_string_value(json_array_get(json_object_get(inst, "eal"), 0)),
			    "--x=2");
	json_decref(inst);
	json_decref(pool);
	/* without a template: just the name and the pool */
	pool = json_pack("{s:s}", "name", "p");
	inst = orch_template_instance(pool, 1);
	assert_int_equal(json_object_size(inst), 2);
	json_decref(inst);
	json_decref(pool);
	json_decref(tpl);
}

static void test_scale_plan(void **state)
{
	json_t *doc =
	    json_loads("{\"tenants\":[],\"pools\":[],\"instances\":["
		       "{\"name\":\"p1-1\",\"pool\":\"p1\"},{\"name\":\"p1-3\",\"pool\":\"p1\"},"
		       "{\"name\":\"x\",\"pool\":\"p1\"},{\"name\":\"p1-2\",\"pool\":\"p1\","
		       "\"draining\":true},"
		       "{\"name\":\"p1-10\",\"pool\":\"p1\"},{\"name\":\"p1-5\",\"pool\":\"p2\"}]}",
		       0, NULL);
	json_t *c, *d;

	assert_int_equal(orch_pool_count(doc, "p1"), 4); /* the draining one does not count */
	/* out: the lowest unused numbers (p1-2 still exists; p1-5 is taken by p2) */
	assert_int_equal(orch_scale_plan(doc, "p1", 7, &c, &d), 0);
	assert_int_equal(json_array_size(d), 0);
	assert_int_equal(json_array_size(c), 3);
	assert_int_equal(json_integer_value(json_array_get(c, 0)), 4);
	assert_int_equal(json_integer_value(json_array_get(c, 1)), 6);
	assert_int_equal(json_integer_value(json_array_get(c, 2)), 7);
	json_decref(c);
	json_decref(d);
	/* in: the highest-numbered first, other names last */
	assert_int_equal(orch_scale_plan(doc, "p1", 1, &c, &d), 0);
	assert_int_equal(json_array_size(c), 0);
	assert_int_equal(json_array_size(d), 3);
	assert_string_equal(json_string_value(json_array_get(d, 0)), "p1-10");
	assert_string_equal(json_string_value(json_array_get(d, 1)), "p1-3");
	assert_string_equal(json_string_value(json_array_get(d, 2)), "p1-1");
	json_decref(c);
	json_decref(d);
	assert_int_equal(orch_scale_plan(doc, "p1", 0, &c, &d), 0);
	assert_int_equal(json_array_size(d), 4);
	assert_string_equal(json_string_value(json_array_get(d, 3)), "x");
	json_decref(c);
	json_decref(d);
	/* already there */
	assert_int_equal(orch_scale_plan(doc, "p1", 4, &c, &d), 0);
	assert_int_equal(json_array_size(c) + json_array_size(d), 0);
	json_decref(c);
	json_decref(d);
	/* an empty pool */
	assert_int_equal(orch_scale_plan(doc, "p3", 2, &c, &d), 0);
	assert_int_equal(json_integer_value(json_array_get(c, 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(c, 1)), 2);
	json_decref(c);
	json_decref(d);
	/* names that would be too long */
	assert_int_equal(orch_scale_plan(doc, "a-pool-name-of-thirty-chars-xx", 1, &c, &d),
			 -ENAMETOOLONG);
	json_decref(doc);
}

static void test_policy_decide(void **state)
{
	struct orch_policy p = {
	    .out_pps = 1000, .in_pps = 200, .interval_ms = 1000, .cooldown_ms = 5000};
	const uint64_t now = 100000;

	/* above out: one more, up to max */
	assert_int_equal(orch_policy_decide(&p, 1500, 2, 1, 4, now, 0), +1);
	assert_int_equal(orch_policy_decide(&p, 1500, 4, 1, 4, now, 0), 0);
	/* between the thresholds: nothing (hysteresis) */
	assert_int_equal(orch_policy_decide(&p, 600, 2, 1, 4, now, 0), 0);
	assert_int_equal(orch_policy_decide(&p, 1000, 2, 1, 4, now, 0), 0);
	assert_int_equal(orch_policy_decide(&p, 200, 2, 1, 4, now, 0), 0);
	/* below in: one fewer, down to min */
	assert_int_equal(orch_policy_decide(&p, 100, 3, 1, 4, now, 0), -1);
	assert_int_equal(orch_policy_decide(&p, 100, 1, 1, 4, now, 0), 0);
	assert_int_equal(orch_policy_decide(&p, 0, 2, 2, 4, now, 0), 0);
	/* not when the rest would go above out at once */
	struct orch_policy q = {.out_pps = 300, .in_pps = 200, .cooldown_ms = 0};
	assert_int_equal(orch_policy_decide(&q, 190, 2, 1, 4, now, 0), 0);
	assert_int_equal(orch_policy_decide(&q, 190, 4, 1, 4, now, 0), -1);
	/* the cooldown holds any change back, then lets it through */
	assert_int_equal(orch_policy_decide(&p, 1500, 2, 1, 4, now, now - 4999), 0);
	assert_int_equal(orch_policy_decide(&p, 1500, 2, 1, 4, now, now - 5000), +1);
	assert_int_equal(orch_policy_decide(&p, 100, 3, 1, 4, now, now - 10), 0);
	/* not measured: only min and max are kept */
	assert_int_equal(orch_policy_decide(&p, -1, 2, 1, 4, now, 0), 0);
	assert_int_equal(orch_policy_decide(&p, -1, 0, 1, 4, now, 0), +1);
	assert_int_equal(orch_policy_decide(&p, -1, 5, 1, 4, now, 0), -1);
}

static void explain_error(json_t *doc, const char *query, const char *field, const char *words)
{
	json_t *q = json_loads(query, 0, NULL), *r;
	struct orch_verr e = {0};

	assert_non_null(q);
	if (orch_explain_request(doc, q, &r, &e) == 0)
		fail_msg("%s accepted", query);
	assert_int_equal(e.status, 400);
	if (strcmp(e.field, field))
		fail_msg("%s: field '%s' (expected '%s'): %s", query, e.field, field, e.msg);
	if (words && !strstr(e.msg, words))
		fail_msg("%s: '%s' lacks '%s'", query, e.msg, words);
	json_decref(q);
}

static void test_explain_params(void **state)
{
	json_t *doc = json_loads("{\"tenants\":[{\"name\":\"t1\",\"id\":1}],\"pools\":[],"
				 "\"instances\":[]}",
				 0, NULL);
	json_t *q = json_loads("{\"tenant\":\"t1\",\"proto\":\"tcp\",\"src\":\"10.0.1.2\","
			       "\"sport\":\"40000\",\"dst\":\"10.0.2.2\",\"dport\":\"80\","
			       "\"port\":\"lan\"}",
			       0, NULL);
	struct orch_verr e = {0};
	json_t *r;

	assert_int_equal(orch_explain_request(doc, q, &r, &e), 0);
	assert_string_equal(json_string_value(json_object_get(r, "proto")), "tcp");
	assert_int_equal(json_integer_value(json_object_get(r, "sport")), 40000);
	assert_int_equal(json_integer_value(json_object_get(r, "dport")), 80);
	assert_string_equal(json_string_value(json_object_get(r, "port")), "lan");
	json_decref(r);
	json_decref(q);
	/* icmp needs no ports; a protocol number is sent as a number */
	q = json_loads("{\"tenant\":\"t1\",\"proto\":\"icmp\",\"src\":\"10.0.1.2\","
		       "\"dst\":\"10.0.2.2\"}",
		       0, NULL);
	assert_int_equal(orch_explain_request(doc, q, &r, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "sport")), 0);
	assert_null(json_object_get(r, "port"));
	json_decref(r);
	json_object_set_new(q, "proto", json_string("47"));
	assert_int_equal(orch_explain_request(doc, q, &r, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "proto")), 47);
	json_decref(r);
	json_decref(q);

	explain_error(doc, "{}", "tenant", "missing");
	explain_error(doc, "{\"tenant\":\"t9\"}", "tenant", "no tenant");
	explain_error(doc, "{\"tenant\":\"t1\"}", "proto", "missing");
	explain_error(doc, "{\"tenant\":\"t1\",\"proto\":\"sctp\"}", "proto", NULL);
	explain_error(doc, "{\"tenant\":\"t1\",\"proto\":\"256\"}", "proto", NULL);
	explain_error(doc, "{\"tenant\":\"t1\",\"proto\":\"tcp\"}", "src", "missing");
	explain_error(doc, "{\"tenant\":\"t1\",\"proto\":\"tcp\",\"src\":\"10.0.1\"}", "src",
		      "IPv4");
	explain_error(doc, "{\"tenant\":\"t1\",\"proto\":\"tcp\",\"src\":\"10.0.1.2\"}", "sport",
		      "missing");
	explain_error(doc,
		      "{\"tenant\":\"t1\",\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"sport\":"
		      "\"65536\"}",
		      "sport", NULL);
	explain_error(doc,
		      "{\"tenant\":\"t1\",\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"sport\":"
		      "\"-1\"}",
		      "sport", NULL);
	explain_error(doc,
		      "{\"tenant\":\"t1\",\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"sport\":"
		      "\"1\",\"dst\":\"x\"}",
		      "dst", NULL);
	explain_error(doc,
		      "{\"tenant\":\"t1\",\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"sport\":"
		      "\"1\",\"dst\":\"10.0.2.2\"}",
		      "dport", "missing");
	explain_error(doc, "{\"tenant\":\"t1\",\"prot\":\"udp\"}", "prot", "unknown parameter");
	explain_error(doc, "{\"tenant\":null}", "tenant", "more than once");
	explain_error(doc, "{\"tenant\":\"t1\",\"port\":\"a b\"}", "port", NULL);
	json_decref(doc);
}

static void test_api_pools_scale_drain(void **state)
{
	json_t *b, *list;

	assert_int_equal(req("POST", "/v1/tenants", TENANT, NULL), 201);
	/* templates and policies are checked */
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"template\":{\"colour\":1}}", 400,
		     "template.colour", "unknown key");
	expect_error("POST", "/v1/pools", "{\"name\":\"p1\",\"tenant\":\"t1\",\"template\":[]}",
		     400, "template", NULL);
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"template\":{\"ports\":{\"wan\":"
		     "{\"type\":\"floppy\"}}}}",
		     400, "template.ports.wan.type", NULL);
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"template\":{\"workers\":{\"count\":0}}}",
		     400, "template.workers.count", NULL);
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"policy\":{\"scale_out_pps\":10,"
		     "\"scale_in_pps\":20}}",
		     400, "policy.scale_in_pps", "below");
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"policy\":{\"scale_out_pps\":10}}", 400,
		     "policy.scale_in_pps", "missing");
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"policy\":{\"scale_out_pps\":10,"
		     "\"scale_in_pps\":1,\"interval_ms\":5}}",
		     400, "policy.interval_ms", NULL);
	expect_error("POST", "/v1/pools",
		     "{\"name\":\"p1\",\"tenant\":\"t1\",\"policy\":{\"scale_out_pps\":10,"
		     "\"scale_in_pps\":1,\"every\":5}}",
		     400, "policy.every", "unknown key");
	assert_int_equal(req("POST", "/v1/pools",
			     "{\"name\":\"p1\",\"tenant\":\"t1\",\"min\":0,\"max\":3,"
			     "\"template\":{\"ports\":{\"lan\":{\"type\":\"ring\"}},"
			     "\"eal\":{\"file_prefix\":\"x{n}\"}},"
			     "\"policy\":{\"scale_out_pps\":1000,\"scale_in_pps\":100}}",
			     &b),
			 201);
	/* the policy's defaults shown, and the pool's status */
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(b, "policy"), "interval_ms")), 1000);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(b, "policy"), "cooldown_ms")), 5000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "status"), "count")),
			 0);
	assert_true(json_is_null(json_object_get(json_object_get(b, "status"), "pps")));
	json_decref(b);

	/* scale: bad requests */
	expect_error("POST", "/v1/pools/p1/scale", "{\"instances\":4}", 400, "instances", "0..3");
	expect_error("POST", "/v1/pools/p1/scale", "{\"instances\":-1}", 400, "instances", NULL);
	expect_error("POST", "/v1/pools/p1/scale", "{\"instances\":\"2\"}", 400, "instances", NULL);
	expect_error("POST", "/v1/pools/p1/scale", "{}", 400, "instances", "missing");
	expect_error("POST", "/v1/pools/p1/scale", "{\"instances\":1,\"now\":true}", 400, "now",
		     "unknown key");
	expect_error("POST", "/v1/pools/p1/scale", "[2]", 400, "", NULL);
	expect_error("POST", "/v1/pools/p1/scale", NULL, 400, "", NULL);
	expect_error("GET", "/v1/pools/p1/scale", NULL, 405, "", NULL);
	expect_error("POST", "/v1/pools/p9/scale", "{\"instances\":1}", 404, "", NULL);
	expect_error("POST", "/v1/pools/p1/grow", "{\"instances\":1}", 404, "", NULL);

	/* scale out */
	assert_int_equal(req("POST", "/v1/pools/p1/scale", "{\"instances\":2}", &b), 202);
	list = json_object_get(b, "instances");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "p1-1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "state")),
			    "new");
	json_decref(b);
	assert_int_equal(req("GET", "/v1/instances/p1-2", NULL, &b), 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(b, "eal"), "file_prefix")), "x2");
	json_decref(b);
	/* the same count again changes nothing */
	assert_int_equal(req("POST", "/v1/pools/p1/scale", "{\"instances\":2}", &b), 202);
	assert_int_equal(json_array_size(json_object_get(b, "instances")), 2);
	json_decref(b);

	/* scale in: the highest-numbered is marked draining; never ran, so the
	 * next drain step finds nothing to wait for and it is removed */
	assert_int_equal(req("POST", "/v1/pools/p1/scale", "{\"instances\":1}", &b), 202);
	list = json_object_get(b, "instances");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "state")),
			    "draining");
	json_decref(b);
	assert_int_equal(orch_pool_count(o.desired.doc, "p1"), 1);
	json_t *e = orch_desired_find(o.desired.doc, ORCH_INSTANCES, "p1-2", NULL);
	assert_true(orch_drain_marked(e));
	/* the mark is in the store: a restarted orchestrator goes on draining */
	struct orch_desired d;
	struct slnf_error err = {{0}};
	orch_desired_init(&d);
	assert_int_equal(orch_desired_load(&d, o.store, &err), 0);
	assert_true(orch_drain_marked(orch_desired_find(d.doc, ORCH_INSTANCES, "p1-2", NULL)));
	orch_desired_free(&d);
	struct orch_inst *in = orch_inst_get(&o, "p1-2", true);
	assert_true(orch_drain_step(&o, in, orch_now_ms()));
	char names[1][32] = {"p1-2"};
	orch_drain_finish(&o, names, 1);
	assert_int_equal(req("GET", "/v1/instances/p1-2", NULL, NULL), 404);
	assert_null(orch_inst_get(&o, "p1-2", false));

	/* drain by API */
	expect_error("GET", "/v1/instances/p1-1/drain", NULL, 405, "", NULL);
	expect_error("POST", "/v1/instances/zz/drain", NULL, 404, "", NULL);
	expect_error("POST", "/v1/instances/p1-1/drain", "{\"now\":1}", 400, "now", NULL);
	expect_error("POST", "/v1/instances/p1-1/drain", "[]", 400, "", NULL);
	expect_error("POST", "/v1/instances", "{\"name\":\"i9\",\"pool\":\"p1\",\"draining\":true}",
		     400, "draining", NULL);
	assert_int_equal(req("POST", "/v1/instances/p1-1/drain", "{}", &b), 202);
	assert_true(json_is_true(json_object_get(b, "draining")));
	json_decref(b);
	assert_int_equal(req("POST", "/v1/instances/p1-1/drain", NULL, NULL), 202); /* again */
	assert_int_equal(orch_pool_count(o.desired.doc, "p1"), 0);
	/* a scale out now takes the lowest free number (p1-1 still exists) */
	assert_int_equal(req("POST", "/v1/pools/p1/scale", "{\"instances\":1}", &b), 202);
	assert_int_equal(json_array_size(json_object_get(b, "instances")), 2);
	json_decref(b);
	assert_int_equal(req("GET", "/v1/instances/p1-2", NULL, NULL), 200);

	/* explain: checked, then no steering node to ask */
	struct orch_request rq = {.method = "GET", .path = "/v1/explain"};
	struct orch_response rs;
	rq.query = json_loads("{\"tenant\":\"t1\",\"proto\":\"tcp\",\"src\":\"10.0.1.2\","
			      "\"sport\":\"1\",\"dst\":\"10.0.2.2\",\"dport\":\"80\"}",
			      0, NULL);
	pthread_mutex_lock(&o.lock);
	orch_api_handle(&o, &rq, &rs);
	pthread_mutex_unlock(&o.lock);
	assert_int_equal(rs.status, 503);
	json_decref(rs.body);
	json_object_set_new(rq.query, "sport", json_string("x"));
	pthread_mutex_lock(&o.lock);
	orch_api_handle(&o, &rq, &rs);
	pthread_mutex_unlock(&o.lock);
	assert_int_equal(rs.status, 400);
	assert_string_equal(json_string_value(json_object_get(rs.body, "field")), "sport");
	json_decref(rs.body);
	json_decref(rq.query);
	expect_error("GET", "/v1/explain", NULL, 400, "tenant", "missing");
	expect_error("POST", "/v1/explain", "{}", 405, "", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_template_expand),	  cmocka_unit_test(test_scale_plan),
	    cmocka_unit_test(test_policy_decide),	  cmocka_unit_test(test_explain_params),
	    cmocka_unit_test(test_api_pools_scale_drain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
