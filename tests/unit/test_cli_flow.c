/*
 * test_cli_flow.c - slnfctl's flow lines and views: a flow of GET
 * /v1/flows rendered as a conntrack-style line (known fields in a fixed
 * order, unknown ones as key=value in the server's order, nested objects
 * flattened, odd values quoted), and the tables built from API answers
 * (instances with durations and missing fields, steering shares, an
 * instance's ports and nonzero drops, flattened stats, the explain line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flow_line.h"
#include "cli/views.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static void expect_line(const char *flow, const char *line)
{
	json_t *f = parse(flow);
	char *s = NULL;

	assert_int_equal(cli_flow_line(f, &s), 0);
	assert_string_equal(s, line);
	free(s);
	json_decref(f);
}

static void test_flow_known(void **state)
{
	expect_line("{\"tenant\": \"t1\", \"nf\": \"firewall\", \"proto\": \"tcp\", \"src\": "
		    "\"10.1.1.2\", \"sport\": 40000, \"dst\": \"10.2.2.9\", \"dport\": 80, "
		    "\"state\": \"ESTABLISHED\"}",
		    "tcp   ESTABLISHED src=10.1.1.2 dst=10.2.2.9 sport=40000 dport=80 tenant=t1 "
		    "nf=firewall");
	/* no state, a protocol number */
	expect_line("{\"proto\": 17, \"src\": \"1.1.1.1\", \"sport\": 53, \"dst\": \"2.2.2.2\", "
		    "\"dport\": 5353}",
		    "udp   -           src=1.1.1.1 dst=2.2.2.2 sport=53 dport=5353");
	expect_line("{\"proto\": 132}", "132   -");
	expect_line("{}", "?     -");
}

static void test_flow_extra(void **state)
{
	expect_line("{\"proto\": \"icmp\", \"state\": \"REPLIED\", \"src\": \"10.0.0.1\", "
		    "\"instance\": \"i1\", \"ttl_s\": 29, \"note\": \"a b\", \"assured\": true, "
		    "\"reply\": {\"src\": \"10.0.0.2\", \"dst\": \"10.0.0.1\"}, \"mark\": null, "
		    "\"tags\": [1, 2], \"dst\": \"10.0.0.2\"}",
		    "icmp  REPLIED     src=10.0.0.1 dst=10.0.0.2 instance=i1 ttl_s=29 note=\"a b\" "
		    "assured=true reply.src=10.0.0.2 reply.dst=10.0.0.1 mark=null tags=[1,2]");
	/* a control character cannot break the line */
	expect_line("{\"proto\": \"tcp\", \"x\": \"a\\nb\"}", "tcp   -           x=\"a\\nb\"");
}

static void test_flow_not_object(void **state)
{
	json_t *a = json_array();
	char *s = NULL;

	assert_int_equal(cli_flow_line(a, &s), -EINVAL);
	json_decref(a);
}

static void test_kv_line(void **state)
{
	json_t *o = parse("{\"flows\": 3, \"error\": \"not up\", \"x\": {\"y\": 1}}");
	char *s = NULL;

	assert_int_equal(cli_kv_line(o, &s), 0);
	assert_string_equal(s, " flows=3 error=\"not up\" x.y=1");
	free(s);
	json_decref(o);
}

static char *render(int (*view)(json_t *, struct cli_table *), const char *ans)
{
	json_t *j = parse(ans);
	struct cli_table t;
	char *s = NULL;

	assert_int_equal(view(j, &t), 0);
	assert_int_equal(cli_table_render(&t, &s), 0);
	cli_table_free(&t);
	json_decref(j);
	return s;
}

#define EXPECT_VIEW(view, ans, text)                                                               \
	do {                                                                                       \
		char *s_ = render(view, ans);                                                      \
		assert_string_equal(s_, text);                                                     \
		free(s_);                                                                          \
	} while (0)

static void test_view_instances(void **state)
{
	EXPECT_VIEW(cli_view_instances,
		    "{\"instances\": [{\"name\": \"i1\", \"pool\": \"p1\", \"status\": {\"state\": "
		    "\"up\", \"pid\": 11223, \"last_heartbeat_ms_ago\": 6}}, {\"name\": \"i2\", "
		    "\"pool\": \"p1\", \"status\": {\"state\": \"down\", \"pid\": 0, "
		    "\"last_heartbeat_ms_ago\": 192000, \"reason\": \"process exited (signal "
		    "9)\"}}, {\"name\": \"i3\", \"pool\": \"p1\", \"status\": {\"state\": "
		    "\"new\"}}]}",
		    "NAME   POOL   STATE     PID   HEARTBEAT-AGE   REASON\n"
		    "i1     p1     up      11223             6ms   -\n"
		    "i2     p1     down        -           3m12s   process exited (signal 9)\n"
		    "i3     p1     new         -               -   -\n");
	/* one instance, or a list of names (as scale may answer) */
	EXPECT_VIEW(cli_view_instances, "{\"name\": \"i1\", \"pool\": \"p1\"}",
		    "NAME   POOL   STATE   PID   HEARTBEAT-AGE   REASON\n"
		    "i1     p1     -         -               -   -\n");
	EXPECT_VIEW(cli_view_instances, "{\"pool\": \"p1\", \"instances\": [\"p1-0\", \"p1-1\"]}",
		    "NAME   POOL   STATE   PID   HEARTBEAT-AGE   REASON\n"
		    "p1-0   -      -         -               -   -\n"
		    "p1-1   -      -         -               -   -\n");
}

static void test_view_scaled(void **state)
{
	json_t *a = parse("{\"pool\": \"p1\", \"instances\": [{\"name\": \"p1-1\", \"state\": "
			  "\"up\"}, {\"name\": \"p1-2\", \"state\": \"new\"}, \"p1-3\"]}");
	struct cli_table t;
	char *s = NULL;

	assert_int_equal(cli_view_scaled(a, "given", &t), 0);
	assert_int_equal(cli_table_render(&t, &s), 0);
	assert_string_equal(s, "NAME   POOL   STATE   PID   HEARTBEAT-AGE   REASON\n"
			       "p1-1   p1     up        -               -   -\n"
			       "p1-2   p1     new       -               -   -\n"
			       "p1-3   p1     -         -               -   -\n");
	free(s);
	cli_table_free(&t);
	/* the answer unchanged; without its pool, the one asked for */
	assert_null(json_object_get(json_array_get(json_object_get(a, "instances"), 0), "pool"));
	json_object_del(a, "pool");
	assert_int_equal(cli_view_scaled(a, "given", &t), 0);
	assert_string_equal(cli_table_cell(&t, 0, 1), "given");
	cli_table_free(&t);
	json_decref(a);
}

static void test_view_tenants(void **state)
{
	const char *ans =
	    "{\"tenants\": [{\"name\": \"t1\", \"id\": 1, \"ports\": [{\"name\": \"lan\"}, "
	    "{\"name\": \"wan\"}], \"inside\": [\"lan\"], \"chain\": [{\"nf\": \"filter\"}, "
	    "{\"nf\": \"nat\"}, {\"nf\": \"router\"}]}, {\"name\": \"t22\", \"id\": 22, "
	    "\"chain\": []}]}";

	EXPECT_VIEW(cli_view_tenants, ans,
		    "NAME   ID   PORTS     INSIDE   CHAIN\n"
		    "t1      1   lan,wan   lan      filter,nat,router\n"
		    "t22    22   -         -        -\n");
	EXPECT_VIEW(cli_view_chains, ans,
		    "TENANT   ID   INSIDE   CHAIN\n"
		    "t1        1   lan      filter -> nat -> router\n"
		    "t22      22   -        -\n");
	EXPECT_VIEW(cli_view_pools,
		    "{\"pools\": [{\"name\": \"p1\", \"tenant\": \"t1\", \"min\": 1, \"max\": 8}, "
		    "{\"name\": \"p2\", \"tenant\": \"t1\", \"min\": 0, \"max\": 64, \"status\": "
		    "{\"count\": 12, \"instances\": []}}]}",
		    "NAME   TENANT   MIN   MAX   INSTANCES\n"
		    "p1     t1         1     8           -\n"
		    "p2     t1         0    64          12\n");
}

static void test_view_steering(void **state)
{
	EXPECT_VIEW(cli_view_steering,
		    "{\"epoch\": 3, \"tenants\": [{\"tenant\": \"t1\", \"id\": 1, \"epoch\": 3, "
		    "\"size\": 65537, \"instances\": [{\"name\": \"i1\", \"entries\": 32770, "
		    "\"share\": 0.50002}, {\"name\": \"i2\", \"entries\": 32767, \"share\": "
		    "0.49997}]}, {\"tenant\": \"t2\", \"epoch\": 3, \"instances\": []}]}",
		    "TENANT   EPOCH   INSTANCE   ENTRIES    SHARE\n"
		    "t1           3   i1           32770   50.00%\n"
		    "t1           3   i2           32767   50.00%\n"
		    "t2           3   -                0        -\n");
}

static void test_view_instance_stats(void **state)
{
	const char *ans =
	    "{\"name\": \"i1\", \"ports\": [{\"name\": \"lan\", \"type\": \"ring\", "
	    "\"rx_packets\": "
	    "10, \"rx_bytes\": 1500, \"tx_packets\": 9, \"tx_bytes\": 1400, \"rx_missed\": 0, "
	    "\"rx_errors\": 0, \"tx_errors\": 0, \"drops\": {\"runt\": 0, \"fw_deny\": 1}}, "
	    "{\"name\": \"wan\", \"type\": \"ring\", \"drops\": {\"no_route\": 0}}], \"drops\": "
	    "{\"fw_deny\": 1}}";

	EXPECT_VIEW(cli_view_ports, ans,
		    "PORT   TYPE   RX-PACKETS   RX-BYTES   TX-PACKETS   TX-BYTES   RX-MISSED   "
		    "RX-ERRORS   TX-ERRORS\n"
		    "lan    ring           10       1500            9       1400           0      "
		    "     0           0\n"
		    "wan    ring            -          -            -          -           -      "
		    "     -           -\n");
	EXPECT_VIEW(cli_view_drops, ans,
		    "PORT   REASON    PACKETS\n"
		    "lan    fw_deny         1\n");
	/* totals only */
	EXPECT_VIEW(cli_view_drops, "{\"drops\": {\"runt\": 2, \"tx_full\": 0}}",
		    "PORT   REASON   PACKETS\n"
		    "*      runt           2\n");
	EXPECT_VIEW(cli_view_ports, "{}",
		    "PORT   TYPE   RX-PACKETS   RX-BYTES   TX-PACKETS   TX-BYTES   RX-MISSED   "
		    "RX-ERRORS   TX-ERRORS\n");
}

static void test_view_fields(void **state)
{
	EXPECT_VIEW(cli_view_fields,
		    "{\"uptime_ms\": 2408, \"instances\": {\"up\": 1, \"total\": 2}, \"store\": "
		    "{\"backend\": \"shm\"}, \"list\": [1], \"empty\": {}}",
		    "FIELD             VALUE\n"
		    "uptime_ms         2408\n"
		    "instances.up      1\n"
		    "instances.total   2\n"
		    "store.backend     shm\n"
		    "list              [1]\n"
		    "empty             {}\n");
}

static void test_explain_line(void **state)
{
	json_t *a = parse("{\"tenant\": \"t1\", \"instance\": \"i1\", \"epoch\": 3, \"hash\": 77, "
			  "\"entry\": 1234}");
	char *s = NULL;

	assert_int_equal(cli_explain_line(a, "tcp", "10.1.1.2:40000", "10.2.2.9:80", &s), 0);
	assert_string_equal(
	    s, "flow t1 tcp 10.1.1.2:40000 -> 10.2.2.9:80 -> instance i1 (epoch 3, entry 1234)");
	free(s);
	json_decref(a);
	a = parse("{\"tenant\": \"t1\", \"instance\": null, \"epoch\": 4}");
	assert_int_equal(cli_explain_line(a, "udp", "1.1.1.1:1", "2.2.2.2:2", &s), 0);
	assert_string_equal(s,
			    "flow t1 udp 1.1.1.1:1 -> 2.2.2.2:2 -> no instance (epoch 4, entry -)");
	free(s);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flow_known),		cmocka_unit_test(test_flow_extra),
	    cmocka_unit_test(test_flow_not_object),	cmocka_unit_test(test_kv_line),
	    cmocka_unit_test(test_view_instances),	cmocka_unit_test(test_view_scaled),
	    cmocka_unit_test(test_view_tenants),	cmocka_unit_test(test_view_steering),
	    cmocka_unit_test(test_view_instance_stats), cmocka_unit_test(test_view_fields),
	    cmocka_unit_test(test_explain_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
