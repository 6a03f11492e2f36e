/*
 * test_orch_api.c - slnf-orch's REST API without the HTTP server: request
 * validation (bad JSON, unknown keys, NF parameters checked by the NFs
 * themselves, fields named as paths in the body), the codes of create,
 * replace, read and delete (201/200/204, 404, 405, 409), references
 * between tenants, pools and instances, the steering view and flows with
 * no instance up. The desired state lives in a private shm table; nothing is
 * launched.
 * Also the orchestrator's own config: defaults and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orch/api.h"
#include "orch_fixture.h"

static const char *const TENANT =
    "{\"name\":\"t1\",\"id\":7,\"match\":{\"ports\":[\"lan\",\"wan\"]},"
    "\"ports\":[{\"name\":\"lan\",\"type\":\"ring\",\"ipv4\":[\"10.1.1.1/24\"]},"
    "{\"name\":\"wan\",\"type\":\"null\",\"ipv4\":[\"10.2.2.1/24\"]}],"
    "\"chain\":[{\"nf\":\"firewall\"},{\"nf\":\"router\",\"routes\":[{\"prefix\":"
    "\"0.0.0.0/0\",\"port\":\"wan\",\"via\":\"10.2.2.254\"}]}]}";

static int setup(void **state)
{
	return orch_fixture_open("api");
}

static int teardown(void **state)
{
	return orch_fixture_close();
}

static void test_config(void **state)
{
	struct orch_config c;
	struct slnf_error err = {{0}};

	assert_int_equal(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"}}", "f", &c, &err), 0);
	assert_int_equal(c.port, 8470);
	assert_string_equal(c.address, "127.0.0.1");
	assert_true(c.detection_ms <= 100);
	assert_string_equal(c.store.backend, "shm");
	orch_config_free(&c);
	assert_true(orch_config_parse("{}", "f", &c, &err) < 0);
	assert_string_equal(err.msg,
			    "f: auth.tokens_file: missing (required: API tokens, one per line)");
	orch_config_free(&c);
	assert_true(
	    orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"health\":{\"intervl_ms\":5}}",
			      "f", &c, &err) < 0);
	assert_string_equal(err.msg, "f: health.intervl_ms: unknown key");
	orch_config_free(&c);
	assert_true(
	    orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"store\":{\"capacity\":1}}", "f",
			      &c, &err) < 0);
	assert_non_null(strstr(err.msg, "f: store.capacity:"));
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"health\":"
				      "{\"interval_ms\":50,\"detection_ms\":20}}",
				      "f", &c, &err) < 0);
	assert_non_null(strstr(err.msg, "health.detection_ms"));
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"store\":"
				      "{\"backend\":\"local\"}}",
				      "f", &c, &err) < 0);
	assert_non_null(strstr(err.msg, "f: store.backend: "));
	orch_config_free(&c);
}

static void test_tenants(void **state)
{
	json_t *b;

	assert_int_equal(req("POST", "/v1/tenants", TENANT, &b), 201);
	assert_string_equal(json_string_value(json_object_get(b, "name")), "t1");
	json_decref(b);
	expect_error("POST", "/v1/tenants", TENANT, 409, "name", "exists");
	expect_error("POST", "/v1/tenants", "{\"name\":", 400, "", "invalid JSON");
	expect_error("POST", "/v1/tenants", "[1]", 400, "", "object");
	expect_error("POST", "/v1/tenants", "{\"name\":\"bad name\"}", 400, "name", NULL);
	/* an NF's own check, with the field as a path in the body */
	expect_error("POST", "/v1/tenants",
		     "{\"name\":\"t2\",\"id\":8,\"match\":{\"ports\":[\"p\"]},\"ports\":[{\"name\":"
		     "\"p\",\"type\":\"null\",\"ipv4\":[\"10.3.3.1/24\"]}],\"chain\":[{\"nf\":"
		     "\"router\",\"routes\":[{\"prefix\":\"0.0.0.0/0\",\"port\":\"p\",\"via\":"
		     "\"10.9.9.9\"}]}]}",
		     400, "chain[0].routes[0].via", "connected network");
	expect_error("POST", "/v1/tenants",
		     "{\"name\":\"t2\",\"id\":8,\"match\":{\"ports\":[\"p\"]},\"ports\":[{\"name\":"
		     "\"p\",\"type\":\"null\"}],\"chain\":[{\"nf\":\"nope\"}]}",
		     400, "chain[0].nf", "unknown network function");
	expect_error("POST", "/v1/tenants",
		     "{\"name\":\"t2\",\"id\":8,\"match\":{\"ports\":[\"p\"]},\"ports\":[{\"name\":"
		     "\"p\",\"type\":\"floppy\"}],\"chain\":[{\"nf\":\"filter\"}]}",
		     400, "ports[0].type", NULL);
	expect_error("POST", "/v1/tenants", "{\"name\":\"t2\",\"colour\":1}", 400, "colour",
		     "unknown key");
	/* same id as t1 */
	char *dup = strdup(TENANT);
	memcpy(strstr(dup, "\"t1\""), "\"t3\"", 4);
	expect_error("POST", "/v1/tenants", dup, 409, "id", "t1");
	free(dup);
	assert_int_equal(req("GET", "/v1/tenants/t1", NULL, NULL), 200);
	assert_int_equal(req("GET", "/v1/tenants/t9", NULL, NULL), 404);
	assert_int_equal(req("GET", "/v1/tenants", NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(b, "tenants")), 1);
	json_decref(b);
	expect_error("PUT", "/v1/tenants/t2", TENANT, 400, "name", "differs");
	assert_int_equal(req("PUT", "/v1/tenants/t1", TENANT, NULL), 200);
	expect_error("PATCH", "/v1/tenants/t1", TENANT, 405, "", NULL);
	expect_error("GET", "/v2/tenants", NULL, 404, "", NULL);
	expect_error("GET", "/v1/tenants/..", NULL, 404, "", NULL);
}

static void test_pools_instances(void **state)
{
	json_t *b;

	expect_error("POST", "/v1/pools", "{\"name\":\"p1\",\"tenant\":\"zz\"}", 400, "tenant",
		     "no tenant");
	expect_error("POST", "/v1/pools", "{\"name\":\"p1\",\"tenant\":\"t1\",\"min\":5,\"max\":2}",
		     400, "min", NULL);
	assert_int_equal(req("POST", "/v1/pools", "{\"name\":\"p1\",\"tenant\":\"t1\"}", &b), 201);
	assert_int_equal(json_integer_value(json_object_get(b, "max")), 8);
	json_decref(b);
	expect_error("POST", "/v1/instances", "{\"name\":\"i1\",\"pool\":\"p9\"}", 400, "pool",
		     "no pool");
	expect_error("POST", "/v1/instances",
		     "{\"name\":\"i1\",\"pool\":\"p1\",\"ports\":{\"dmz\":{}}}", 400, "ports.dmz",
		     "no port");
	expect_error(
	    "POST", "/v1/instances",
	    "{\"name\":\"i1\",\"pool\":\"p1\",\"ports\":{\"wan\":{\"type\":\"af_packet\"}}}", 400,
	    "ports.wan.iface", NULL);
	expect_error("POST", "/v1/instances",
		     "{\"name\":\"i1\",\"pool\":\"p1\",\"workers\":{\"count\":0}}", 400,
		     "workers.count", NULL);
	assert_int_equal(
	    req("POST", "/v1/instances",
		"{\"name\":\"i1\",\"pool\":\"p1\",\"ports\":{\"wan\":{\"type\":\"ring\"}}}", &b),
	    201);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(b, "status"), "state")), "new");
	json_decref(b);
	expect_error("PUT", "/v1/instances/i1", "{\"pool\":\"p1\"}", 409, "", "in place");
	/* a tenant change that no longer fits the instance is refused */
	expect_error("PUT", "/v1/tenants/t1",
		     "{\"id\":7,\"match\":{\"ports\":[\"lan\"]},\"ports\":[{\"name\":\"lan\","
		     "\"type\":\"ring\"}],\"chain\":[{\"nf\":\"filter\"}]}",
		     409, "ports.wan", "would not fit");
	/* references hold deletion back */
	expect_error("DELETE", "/v1/tenants/t1", NULL, 409, "", "pool 'p1'");
	expect_error("DELETE", "/v1/pools/p1", NULL, 409, "", "instance 'i1'");
	assert_int_equal(req("GET", "/v1/steering/t1", NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(b, "size")), 65537);
	assert_int_equal(json_array_size(json_object_get(b, "instances")), 0); /* none up */
	json_decref(b);
	assert_int_equal(req("GET", "/v1/steering/none", NULL, NULL), 404);
	assert_int_equal(req("POST", "/v1/steering", "{}", NULL), 405);
	assert_int_equal(req("GET", "/v1/flows", NULL, &b), 200); /* no instance up: none */
	assert_int_equal(json_array_size(json_object_get(b, "flows")), 0);
	json_decref(b);
	assert_int_equal(req("GET", "/v1/instances/i1/stats", NULL, NULL), 503);
	assert_int_equal(req("GET", "/v1/stats", NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(b, "tenants")), 1);
	json_decref(b);
	assert_int_equal(req("DELETE", "/v1/instances/i1", NULL, NULL), 204);
	assert_int_equal(req("DELETE", "/v1/instances/i1", NULL, NULL), 404);
	assert_int_equal(req("DELETE", "/v1/pools/p1", NULL, NULL), 204);
	assert_int_equal(req("DELETE", "/v1/tenants/t1", NULL, NULL), 204);
	/* every change was saved: a fresh load sees the empty state */
	struct orch_desired d;
	struct slnf_error err = {{0}};
	orch_desired_init(&d);
	assert_int_equal(orch_desired_load(&d, o.store, &err), 0);
	assert_true(json_equal(d.doc, o.desired.doc));
	assert_true(d.gen > 5);
	orch_desired_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_tenants),
	    cmocka_unit_test(test_pools_instances),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
