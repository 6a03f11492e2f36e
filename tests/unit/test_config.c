/*
 * test_config.c - the configuration schema: the reference example loads,
 * defaults are filled in, and each mistake in a table of bad configs is
 * refused with a message naming the file, the field path and the reason.
 *
 * The bad configs are JSON merge patches (RFC 7386: null deletes a key,
 * objects merge, anything else replaces) over one small valid config, so
 * each case shows only what it breaks. They are written with single quotes,
 * turned into double quotes before parsing, to keep the table readable.
 * No EAL: the config code must not need it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "slnf/config.h"

#define DEMO SLNF_TEST_DATA "/../../examples/demo.json"

/* clang-format off */
/* The smallest valid config: two ports, one tenant. */
static const char *const base_json =
	"{ 'name': 't1',"
	"  'ports': [ { 'name': 'p0', 'type': 'null' }, { 'name': 'p1', 'type': 'null' } ],"
	"  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	"                 'chain': [ { 'nf': 'router', 'routes': [] } ] } ] }";
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

static json_t *load_json(const char *single_quoted)
{
	char *text = dquote(single_quoted);
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, single_quoted);
	free(text);
	return j;
}

/* RFC 7386 merge patch of patch into target (an object). */
static void merge_patch(json_t *target, json_t *patch)
{
	for (void *it = json_object_iter(patch); it; it = json_object_iter_next(patch, it)) {
		const char *key = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it), *old = json_object_get(target, key);

		if (json_is_null(v))
			json_object_del(target, key);
		else if (json_is_object(v) && json_is_object(old))
			merge_patch(old, v);
		else
			json_object_set(target, key, v);
	}
}

static struct slnf_config *new_cfg(void)
{
	struct slnf_config *cfg = calloc(1, sizeof(*cfg));

	assert_non_null(cfg);
	return cfg;
}

static void drop_cfg(struct slnf_config *cfg)
{
	slnf_config_free(cfg);
	free(cfg);
}

/* Parse base_json with patch applied (patch may be NULL). */
static int parse_patched(const char *patch, struct slnf_config *cfg, struct slnf_error *err)
{
	json_t *base = load_json(base_json);
	char *text;
	int rc;

	if (patch) {
		json_t *p = load_json(patch);

		merge_patch(base, p);
		json_decref(p);
	}
	text = json_dumps(base, JSON_INDENT(2));
	assert_non_null(text);
	rc = slnf_config_parse(text, "bad.json", cfg, err);
	free(text);
	json_decref(base);
	return rc;
}

static void assert_contains(const char *msg, const char *part)
{
	if (!strstr(msg, part))
		fail_msg("message \"%s\" lacks \"%s\"", msg, part);
}

/* ---- good configs ---- */

static void test_demo_loads(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};
	int rc = slnf_config_load(DEMO, cfg, &err);

	if (rc)
		fail_msg("demo.json refused: %s", err.msg);
	assert_string_equal(cfg->name, "demo");
	assert_string_equal(cfg->role, "nf");
	assert_string_equal(cfg->file, DEMO);
	assert_false(cfg->eal.hugepages);
	assert_int_equal(cfg->eal.memory_mb, 256);
	assert_int_equal(cfg->workers.count, 1);
	assert_int_equal(cfg->workers.idle_sleep_max_us, 500);
	assert_string_equal(cfg->store.backend, "shm");
	assert_string_equal(cfg->store.shm_name, "slnf-demo");
	assert_int_equal(cfg->store.capacity, 65536);

	assert_int_equal(cfg->n_ports, 2);
	assert_string_equal(cfg->ports[0].name, "lan");
	assert_int_equal(cfg->ports[0].type, SLNF_PORT_AF_PACKET);
	assert_string_equal(cfg->ports[0].iface, "slnf-g0");
	assert_int_equal(cfg->ports[0].n_addrs, 1);
	assert_int_equal(cfg->ports[0].addrs[0].addr, 0x0a0a0101);
	assert_int_equal(cfg->ports[0].addrs[0].len, 24);
	assert_int_equal(slnf_config_port_index(cfg, "wan"), 1);

	assert_int_equal(cfg->n_tenants, 1);
	assert_int_equal(cfg->tenants[0].id, 1);
	assert_int_equal(cfg->tenants[0].n_ports, 2);
	assert_int_equal(cfg->tenants[0].ports[0], 0);
	assert_int_equal(cfg->tenants[0].ports[1], 1);
	assert_int_equal(cfg->tenants[0].n_vlans, 0);
	assert_int_equal(cfg->tenants[0].n_inside, 1);
	assert_true(cfg->tenants[0].inside[0]);
	assert_false(cfg->tenants[0].inside[1]);
	assert_int_equal(cfg->tenants[0].n_chain, 5);
	assert_string_equal(cfg->tenants[0].chain[0].nf, "filter");
	assert_string_equal(cfg->tenants[0].chain[1].nf, "firewall");
	assert_string_equal(cfg->tenants[0].chain[2].nf, "nat");
	assert_string_equal(cfg->tenants[0].chain[3].nf, "lb");
	assert_string_equal(cfg->tenants[0].chain[4].nf, "router");
	assert_string_equal(cfg->tenants[0].chain[4].field, "tenants[0].chain[4]");
	/* the NF's parameters are handed on untouched */
	assert_true(json_is_array(json_object_get(cfg->tenants[0].chain[0].params, "rules")));
	assert_true(json_is_array(json_object_get(cfg->tenants[0].chain[4].params, "routes")));
	drop_cfg(cfg);
}

static void test_defaults(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};

	if (parse_patched(NULL, cfg, &err))
		fail_msg("base config refused: %s", err.msg);
	assert_string_equal(cfg->file, "bad.json");
	assert_string_equal(cfg->role, "nf");
	assert_false(cfg->eal.hugepages);
	assert_int_equal(cfg->eal.memory_mb, 256);
	assert_string_equal(cfg->eal.file_prefix, "slnf-t1");
	assert_string_equal(cfg->eal.lcores, "0");
	assert_string_equal(cfg->eal.log_level, "error");
	assert_int_equal(cfg->workers.count, 1);
	assert_false(cfg->workers.busy_poll);
	assert_int_equal(cfg->workers.idle_sleep_max_us, 500);
	assert_int_equal(cfg->workers.burst, 32);
	assert_int_equal(cfg->mbufs, 8191);
	assert_string_equal(cfg->control_socket, "/run/slnf/t1.sock");
	assert_string_equal(cfg->store.backend, "shm");
	assert_int_equal(cfg->store.capacity, 65536);
	assert_string_equal(cfg->store.shm_name, "slnf-store");
	assert_int_equal(cfg->store.cache_entries, 4096);
	assert_string_equal(cfg->store.redis.host, "127.0.0.1");
	assert_int_equal(cfg->store.redis.port, 6379);
	assert_string_equal(cfg->store.redis.unix_path, "");
	assert_int_equal(cfg->store.redis.n_nodes, 0);
	assert_int_equal(cfg->store.redis.timeout_ms, 200);
	assert_int_equal(cfg->store.redis.wait_replicas, 0);
	assert_int_equal(cfg->neigh.reachable_s, 30);
	assert_int_equal(cfg->neigh.max_pending, 16);
	assert_int_equal(cfg->neigh.n_statics, 0);
	assert_int_equal(cfg->ports[1].rx_desc, 1024);
	assert_int_equal(cfg->ports[1].tx_desc, 1024);
	assert_int_equal(cfg->ports[1].n_addrs, 0);
	assert_string_equal(cfg->ports[1].mac, "");
	assert_int_equal(slnf_config_port_index(cfg, "p2"), -1);
	drop_cfg(cfg);
}

static void test_explicit_values(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};
	/* clang-format off */
	const char *patch =
		"{ 'role': 'nf', 'mbufs': 1048575,"
		"  'eal': { 'hugepages': true, 'memory_mb': 1024, 'file_prefix': 'x_1',"
		"           'log_level': 'debug' },"
		"  'workers': { 'count': 4, 'busy_poll': true, 'idle_sleep_max_us': 0, 'burst': 1 },"
		"  'control': { 'socket': '/tmp/s.sock' },"
		"  'store': { 'capacity': 16 },"
		"  'neighbours': { 'reachable_s': 86400, 'max_pending': 0, 'static': ["
		"      { 'port': 'p1', 'ip': '10.0.0.9', 'mac': '02:AA:bb:00:00:09' } ] },"
		"  'ports': [ { 'name': 'p0', 'type': 'tap', 'mac': '02:00:00:00:00:AA',"
		"               'ipv4': ['10.0.0.1/24', '192.168.0.7/32', '172.16.0.0/31'],"
		"               'rx_desc': 64, 'tx_desc': 4096 },"
		"             { 'name': 'p1', 'type': 'pcap', 'rx_pcap': '/tmp/in.pcap' },"
		"             { 'name': 'p2', 'type': 'pci', 'pci': '0000:03:00.1' },"
		"             { 'name': 'p3', 'type': 'af_xdp', 'iface': 'veth0' } ],"
		"  'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0', 'p1'] },"
		"                 'chain': [ { 'nf': 'router' } ] },"
		"               { 'name': 'b', 'id': 4294967295,"
		"                 'match': { 'ports': ['p0'], 'vlans': [1, 4094] },"
		"                 'chain': [ { 'nf': 'filter' }, { 'nf': 'router' } ] },"
		"               { 'name': 'c', 'id': 2, 'match': { 'ports': ['p0'], 'vlans': [7] },"
		"                 'chain': [ { 'nf': 'router' } ] } ] }";
	/* clang-format on */

	if (parse_patched(patch, cfg, &err))
		fail_msg("config refused: %s", err.msg);
	assert_true(cfg->eal.hugepages);
	assert_int_equal(cfg->eal.memory_mb, 1024);
	assert_string_equal(cfg->eal.file_prefix, "x_1");
	assert_string_equal(cfg->eal.lcores, "0-3"); /* one lcore per worker */
	assert_string_equal(cfg->eal.log_level, "debug");
	assert_int_equal(cfg->workers.count, 4);
	assert_true(cfg->workers.busy_poll);
	assert_int_equal(cfg->workers.idle_sleep_max_us, 0);
	assert_int_equal(cfg->workers.burst, 1);
	assert_int_equal(cfg->mbufs, 1048575);
	assert_string_equal(cfg->control_socket, "/tmp/s.sock");
	assert_int_equal(cfg->store.capacity, 16);
	assert_int_equal(cfg->neigh.reachable_s, 86400);
	assert_int_equal(cfg->neigh.max_pending, 0);
	assert_int_equal(cfg->neigh.n_statics, 1);
	assert_int_equal(cfg->neigh.statics[0].port, 1);
	assert_int_equal(cfg->neigh.statics[0].ip, 0x0a000009);
	assert_int_equal(cfg->neigh.statics[0].mac[1], 0xaa);

	assert_int_equal(cfg->n_ports, 4);
	assert_string_equal(cfg->ports[0].iface, "p0"); /* tap: the port name */
	assert_string_equal(cfg->ports[0].mac, "02:00:00:00:00:aa");
	assert_int_equal(cfg->ports[0].n_addrs, 3);
	assert_int_equal(cfg->ports[0].addrs[1].len, 32);
	assert_int_equal(cfg->ports[0].rx_desc, 64);
	assert_int_equal(cfg->ports[0].tx_desc, 4096);
	assert_int_equal(cfg->ports[1].type, SLNF_PORT_PCAP);
	assert_string_equal(cfg->ports[1].rx_pcap, "/tmp/in.pcap");
	assert_string_equal(cfg->ports[1].tx_pcap, "");
	assert_string_equal(cfg->ports[2].pci, "0000:03:00.1");
	assert_string_equal(cfg->ports[3].iface, "veth0");

	/* untagged and tagged tenants share p0; different vlans do not clash */
	assert_int_equal(cfg->n_tenants, 3);
	assert_int_equal(cfg->tenants[1].id, 4294967295u);
	assert_int_equal(cfg->tenants[1].n_vlans, 2);
	assert_int_equal(cfg->tenants[1].vlans[1], 4094);
	assert_int_equal(cfg->tenants[1].n_chain, 2);
	assert_string_equal(cfg->tenants[1].chain[1].field, "tenants[1].chain[1]");
	drop_cfg(cfg);
}

static void test_explicit_lcores(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};

	if (parse_patched("{ 'workers': { 'count': 3 }, 'eal': { 'lcores': '1,3-4' } }", cfg, &err))
		fail_msg("config refused: %s", err.msg);
	assert_string_equal(cfg->eal.lcores, "1,3-4");
	drop_cfg(cfg);
}

/* ---- bad configs ---- */

struct bad_case {
	const char *patch;
	const char *field;  /* "bad.json: <field>: " must be in the message */
	const char *reason; /* and this */
};

/* clang-format off */
#define PORT_NULL(n) "{ 'name': '" n "', 'type': 'null' }"
#define STATIC(port, ip, mac) "{ 'port': '" port "', 'ip': '" ip "', 'mac': '" mac "' }"
#define TENANT(name, id, match) \
	"{ 'name': '" name "', 'id': " #id ", 'match': " match ", 'chain': [ { 'nf': 'router' } ] }"

static const struct bad_case bad_cases[] = {
	/* top level */
	{ "{ 'name': null }", "name", "missing (required)" },
	{ "{ 'name': '' }", "name", "must not be empty" },
	{ "{ 'name': 'a b' }", "name", "contains ' ' (allowed: letters, digits, '_' and '-')" },
	{ "{ 'name': 'abcdefghij0123456789abcdefghij01' }", "name", "too long (at most 31" },
	{ "{ 'name': 7 }", "name", "expected a string, got an integer" },
	{ "{ 'nmae': 'x' }", "nmae", "unknown key (expected one of name, role" },
	{ "{ 'role': 'steer' }", "tenants[0].chain", "a steering node (role steer) runs no chain" },
	{ "{ 'role': 'router' }", "role", "unknown role 'router' (expected one of nf, steer)" },
	{ "{ 'mbufs': 511 }", "mbufs", "511 is out of range (expected 512..1048575)" },
	{ "{ 'mbufs': 1048576 }", "mbufs", "out of range" },
	{ "{ 'mbufs': '8191' }", "mbufs", "expected an integer, got a string" },
	{ "{ 'mbufs': 8191.5 }", "mbufs", "expected an integer, got a real number" },
	/* eal */
	{ "{ 'eal': 1 }", "eal", "expected an object, got an integer" },
	{ "{ 'eal': { 'memroy_mb': 256 } }", "eal.memroy_mb", "unknown key" },
	{ "{ 'eal': { 'hugepages': 'yes' } }", "eal.hugepages", "expected a boolean" },
	{ "{ 'eal': { 'memory_mb': 63 } }", "eal.memory_mb", "63 is out of range (expected 64..65536)" },
	{ "{ 'eal': { 'memory_mb': 65537 } }", "eal.memory_mb", "out of range" },
	{ "{ 'eal': { 'file_prefix': 'a/b' } }", "eal.file_prefix", "contains '/'" },
	{ "{ 'eal': { 'file_prefix': 'a\\tb' } }", "eal.file_prefix", "contains character 0x09" },
	{ "{ 'eal': { 'lcores': '0-1' } }", "eal.lcores", "lists 2 lcores but workers.count is 1" },
	{ "{ 'workers': { 'count': 2 }, 'eal': { 'lcores': '1,1' } }", "eal.lcores",
	  "lists lcore 1 twice" },
	{ "{ 'eal': { 'lcores': '3-1' } }", "eal.lcores", "not an lcore list" },
	{ "{ 'eal': { 'lcores': '0 ' } }", "eal.lcores", "'0 ' contains ' '" },
	{ "{ 'eal': { 'log_level': 'verbose' } }", "eal.log_level", "unknown log level 'verbose'" },
	/* workers */
	{ "{ 'workers': { 'count': 0 } }", "workers.count", "expected 1..16" },
	{ "{ 'workers': { 'count': 17 } }", "workers.count", "expected 1..16" },
	{ "{ 'workers': { 'busy_poll': 1 } }", "workers.busy_poll", "expected a boolean" },
	{ "{ 'workers': { 'idle_sleep_max_us': -1 } }", "workers.idle_sleep_max_us",
	  "expected 0..100000" },
	{ "{ 'workers': { 'idle_sleep_max_us': 100001 } }", "workers.idle_sleep_max_us",
	  "out of range" },
	{ "{ 'workers': { 'burst': 0 } }", "workers.burst", "expected 1..32" },
	{ "{ 'workers': { 'burst': 33 } }", "workers.burst", "expected 1..32" },
	{ "{ 'workers': { 'cuont': 1 } }", "workers.cuont", "unknown key" },
	/* control, store */
	{ "{ 'control': { 'socket': '' } }", "control.socket", "must not be empty" },
	{ "{ 'control': { 'socket': '/tmp/0123456789012345678901234567890123456789"
	  "012345678901234567890123456789012345678901234567890123456789.sock' } }",
	  "control.socket", "too long (at most 107" },
	{ "{ 'control': { 'path': '/tmp/x' } }", "control.path", "unknown key" },
	{ "{ 'store': { 'backend': 'mongo' } }", "store.backend",
	  "unknown store backend 'mongo' (expected one of local, shm, redis, redis-cluster)" },
	{ "{ 'store': { 'backend': 'redis-cluster' } }", "store.redis.nodes",
	  "needs at least one seed node" },
	{ "{ 'store': { 'redis': { 'nodes': ['10.0.0.1'] } } }", "store.redis.nodes[0]",
	  "is not host:port" },
	{ "{ 'store': { 'redis': { 'nodes': ['h:0'] } } }", "store.redis.nodes[0]",
	  "is not host:port" },
	{ "{ 'store': { 'redis': { 'port': 0 } } }", "store.redis.port", "expected 1..65535" },
	{ "{ 'store': { 'redis': { 'timeout_ms': 0 } } }", "store.redis.timeout_ms",
	  "expected 1..60000" },
	{ "{ 'store': { 'redis': { 'wait_replicas': 17 } } }", "store.redis.wait_replicas",
	  "expected 0..16" },
	{ "{ 'store': { 'redis': { 'hosts': 'x' } } }", "store.redis.hosts", "unknown key" },
	{ "{ 'store': { 'shm': { 'name': 'a/b' } } }", "store.shm.name", "contains '/'" },
	{ "{ 'store': { 'cache_entries': 1048577 } }", "store.cache_entries", "out of range" },
	{ "{ 'store': { 'capacity': 15 } }", "store.capacity", "expected 16..1073741824" },
	{ "{ 'store': { 'capacity': 1073741825 } }", "store.capacity", "out of range" },
	/* neighbours */
	{ "{ 'neighbours': { 'reachable_s': 0 } }", "neighbours.reachable_s", "expected 1..86400" },
	{ "{ 'neighbours': { 'reachable_s': 86401 } }", "neighbours.reachable_s", "out of range" },
	{ "{ 'neighbours': { 'max_pending': 257 } }", "neighbours.max_pending", "expected 0..256" },
	{ "{ 'neighbours': { 'static': {} } }", "neighbours.static", "expected an array" },
	{ "{ 'neighbours': { 'static': [" STATIC("p9", "10.0.0.2", "02:00:00:00:00:01") "] } }",
	  "neighbours.static[0].port", "unknown port 'p9' (ports are: p0, p1)" },
	{ "{ 'neighbours': { 'static': [" STATIC("p0", "10.0.0.256", "02:00:00:00:00:01") "] } }",
	  "neighbours.static[0].ip", "'10.0.0.256' is not an IPv4 address" },
	{ "{ 'neighbours': { 'static': [" STATIC("p0", "224.0.0.1", "02:00:00:00:00:01") "] } }",
	  "neighbours.static[0].ip", "not a unicast host address" },
	{ "{ 'neighbours': { 'static': [" STATIC("p0", "10.0.0.2", "02:00:00:00:00") "] } }",
	  "neighbours.static[0].mac", "is not a MAC address" },
	{ "{ 'neighbours': { 'static': [" STATIC("p0", "10.0.0.2", "ff:ff:ff:ff:ff:ff") "] } }",
	  "neighbours.static[0].mac", "not a unicast MAC address" },
	{ "{ 'neighbours': { 'static': [" STATIC("p0", "10.0.0.2", "02:00:00:00:00:01") ","
	  STATIC("p0", "10.0.0.2", "02:00:00:00:00:02") "] } }",
	  "neighbours.static[1].ip", "10.0.0.2 on port 'p0' is also in neighbours.static[0]" },
	{ "{ 'neighbours': { 'static': [ { 'port': 'p0', 'ip': '10.0.0.2' } ] } }",
	  "neighbours.static[0].mac", "missing (required)" },
	{ "{ 'neighbours': { 'static': [ { 'port': 'p0', 'ip': '10.0.0.2', 'mac': "
	  "'02:00:00:00:00:01', 'vlan': 3 } ] } }",
	  "neighbours.static[0].vlan", "unknown key (expected one of port, ip, mac)" },
	/* ports */
	{ "{ 'ports': null }", "ports", "missing (required)" },
	{ "{ 'ports': [] }", "ports", "has 0 elements (expected 1..16)" },
	{ "{ 'ports': [ 'p0' ] }", "ports[0]", "expected an object, got a string" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'af_pakcet' } ] }", "ports[0].type",
	  "unknown port type 'af_pakcet' (expected one of af_packet, af_xdp, tap, pcap, ring, "
	  "null, pci)" },
	{ "{ 'ports': [ { 'name': 'p0' } ] }", "ports[0].type", "missing (required)" },
	{ "{ 'ports': [ { 'type': 'null' } ] }", "ports[0].name", "missing (required)" },
	{ "{ 'ports': [ " PORT_NULL("p0") ", " PORT_NULL("p0") " ] }", "ports[1].name",
	  "duplicate port name 'p0' (also ports[0])" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ifcae': 'x' } ] }", "ports[0].ifcae",
	  "unknown key" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'af_packet' } ] }", "ports[0].iface",
	  "missing (required)" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'af_xdp', 'iface': 'a/b' } ] }", "ports[0].iface",
	  "contains '/'" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'af_xdp', 'iface': '0123456789abcdef' } ] }",
	  "ports[0].iface", "too long (at most 15" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'iface': 'eth0' } ] }", "ports[0].iface",
	  "not used by port type 'null'" },
	{ "{ 'ports': [ { 'name': 'p0-with-a-long-name', 'type': 'tap' } ] }", "ports[0].iface",
	  "default 'p0-with-a-long-name' is too long" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'pcap' } ] }", "ports[0]",
	  "needs rx_pcap, tx_pcap or both" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'pcap', 'tx_pcap': 'a,b.pcap' } ] }",
	  "ports[0].tx_pcap", "contains ','" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'pci' } ] }", "ports[0].pci", "missing (required)" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'pci', 'pci': '0000:03:00' } ] }", "ports[0].pci",
	  "'0000:03:00' is not a PCI address" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'mac': '01:00:5e:00:00:01' } ] }",
	  "ports[0].mac", "not a unicast MAC address" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'rx_desc': 63 } ] }", "ports[0].rx_desc",
	  "expected 64..4096" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'tx_desc': 4097 } ] }", "ports[0].tx_desc",
	  "expected 64..4096" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': '10.0.0.1/24' } ] }",
	  "ports[0].ipv4", "expected an array" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.1/24', '10.0.1.0/24'] } ] }",
	  "ports[0].ipv4[1]", "network address" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.255/24'] } ] }",
	  "ports[0].ipv4[0]", "broadcast address" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.1'] } ] }",
	  "ports[0].ipv4[0]", "not an address with prefix length" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.1/33'] } ] }",
	  "ports[0].ipv4[0]", "not an address with prefix length" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.1/0'] } ] }",
	  "ports[0].ipv4[0]", "prefix length must be 1..32" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['127.0.0.1/8'] } ] }",
	  "ports[0].ipv4[0]", "not a unicast host address" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['10.0.0.1/24'] },"
	  "             { 'name': 'p1', 'type': 'null', 'ipv4': ['10.0.0.1/16'] } ] }",
	  "ports[1].ipv4[0]", "address 10.0.0.1/16 is also assigned to ports[0] ('p0')" },
	{ "{ 'ports': [ { 'name': 'p0', 'type': 'null', 'ipv4': ['1.0.0.1/8', '2.0.0.1/8', "
	  "'3.0.0.1/8', '4.0.0.1/8', '5.0.0.1/8', '6.0.0.1/8', '7.0.0.1/8', '8.0.0.1/8', "
	  "'9.0.0.1/8'] } ] }",
	  "ports[0].ipv4", "has 9 elements (expected 0..8)" },
	/* tenants */
	{ "{ 'tenants': null }", "tenants", "missing (required)" },
	{ "{ 'tenants': [] }", "tenants", "has 0 elements (expected 1..64)" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] } } ] }",
	  "tenants[0].chain", "missing (required)" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'chain': [ { 'nf': 'router' } ] } ] }",
	  "tenants[0].match", "missing (required)" },
	{ "{ 'tenants': [ { 'name': 'a', 'match': { 'ports': ['p0'] }, 'chain': [] } ] }",
	  "tenants[0].id", "missing (required)" },
	{ "{ 'tenants': [ " TENANT("a", 0, "{ 'ports': ['p0'] }") " ] }", "tenants[0].id",
	  "0 is out of range (expected 1..4294967295)" },
	{ "{ 'tenants': [ " TENANT("a", 4294967296, "{ 'ports': ['p0'] }") " ] }",
	  "tenants[0].id", "out of range" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'] }") ", "
	  TENANT("a", 2, "{ 'ports': ['p1'] }") " ] }",
	  "tenants[1].name", "duplicate tenant name 'a' (also tenants[0])" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'] }") ", "
	  TENANT("b", 1, "{ 'ports': ['p1'] }") " ] }",
	  "tenants[1].id", "tenant id 1 is also used by tenants[0] ('a')" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'port': ['p0'] }") " ] }", "tenants[0].match.port",
	  "unknown key (expected one of ports, vlans)" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'vlans': [1] }") " ] }", "tenants[0].match.ports",
	  "missing (required)" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': [] }") " ] }", "tenants[0].match.ports",
	  "has 0 elements (expected 1..16)" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0', 'lan'] }") " ] }",
	  "tenants[0].match.ports[1]", "unknown port 'lan' (ports are: p0, p1)" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0', 'p0'] }") " ] }",
	  "tenants[0].match.ports[1]", "port 'p0' is listed twice" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'], 'vlans': [0] }") " ] }",
	  "tenants[0].match.vlans[0]", "expected 1..4094" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'], 'vlans': [10, 4095] }") " ] }",
	  "tenants[0].match.vlans[1]", "4095 is out of range (expected 1..4094)" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'], 'vlans': [10, 10] }") " ] }",
	  "tenants[0].match.vlans[1]", "vlan 10 is listed twice" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'] }") ", "
	  TENANT("b", 2, "{ 'ports': ['p1', 'p0'] }") " ] }",
	  "tenants[1].match.ports[1]",
	  "untagged traffic of port 'p0' is claimed by both tenants 'a' and 'b'" },
	{ "{ 'tenants': [ " TENANT("a", 1, "{ 'ports': ['p0'], 'vlans': [10, 20] }") ", "
	  TENANT("b", 2, "{ 'ports': ['p0'], 'vlans': [30, 20] }") " ] }",
	  "tenants[1].match.vlans[1]", "port 'p0' vlan 20 is claimed by both tenants 'a' and 'b'" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] }, 'chain': [] } ] }",
	  "tenants[0].chain", "has 0 elements (expected 1..16)" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ 'router' ] } ] }",
	  "tenants[0].chain[0]", "expected an object, got a string" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router' }, { 'routes': [] } ] } ] }",
	  "tenants[0].chain[1].nf", "missing (required)" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'chain': [ { 'nf': 'router' } ], 'vlan': 3 } ] }",
	  "tenants[0].vlan", "unknown key (expected one of name, id, match, inside, chain)" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'inside': ['p1'], 'chain': [ { 'nf': 'router' } ] } ] }",
	  "tenants[0].inside[0]", "port 'p1' is not one of the tenant's match.ports" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0', 'p1'] },"
	  "                 'inside': ['p0', 'p0'], 'chain': [ { 'nf': 'router' } ] } ] }",
	  "tenants[0].inside[1]", "port 'p0' is listed twice" },
	{ "{ 'tenants': [ { 'name': 'a', 'id': 1, 'match': { 'ports': ['p0'] },"
	  "                 'inside': ['nope'], 'chain': [ { 'nf': 'router' } ] } ] }",
	  "tenants[0].inside[0]", "unknown port 'nope'" },
};
/* clang-format on */

static void test_bad_configs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		struct slnf_config *cfg = new_cfg();
		struct slnf_error err = {""};
		char where[160];
		int rc = parse_patched(b->patch, cfg, &err);

		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d, expected -EINVAL; message \"%s\"", i,
				 b->patch, rc, err.msg);
		snprintf(where, sizeof(where), "bad.json: %s: ", b->field);
		assert_contains(err.msg, where);
		assert_contains(err.msg, b->reason);
		drop_cfg(cfg);
	}
}

/* Limits too long to write out in the table. */
static void test_too_many(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};
	json_t *base = load_json(base_json), *ports = json_array(), *chain = json_array();
	char *text;

	for (int i = 0; i <= SLNF_MAX_PORTS; i++)
		json_array_append_new(ports, json_pack("{s:s,s:s}", "name", "p", "type", "null"));
	for (int i = 0; i <= SLNF_MAX_CHAIN; i++)
		json_array_append_new(chain, json_pack("{s:s}", "nf", "router"));

	json_object_set_new(json_array_get(json_object_get(base, "tenants"), 0), "chain", chain);
	text = json_dumps(base, 0);
	assert_int_equal(slnf_config_parse(text, "bad.json", cfg, &err), -EINVAL);
	assert_contains(err.msg, "bad.json: tenants[0].chain: has 17 elements (expected 1..16)");
	free(text);
	slnf_config_free(cfg);

	json_object_set_new(base, "ports", ports);
	text = json_dumps(base, 0);
	assert_int_equal(slnf_config_parse(text, "bad.json", cfg, &err), -EINVAL);
	assert_contains(err.msg, "bad.json: ports: has 17 elements (expected 1..16)");
	free(text);
	json_decref(base);
	drop_cfg(cfg);
}

static void test_syntax_error(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};

	assert_int_equal(
	    slnf_config_parse("{\n  \"name\": \"x\",\n  \"ports\": [,]\n}", "bad.json", cfg, &err),
	    -EINVAL);
	assert_contains(err.msg, "bad.json: line 3, column ");
	assert_contains(err.msg, "invalid JSON");
	slnf_config_free(cfg);

	/* the same key twice would otherwise lose one of them silently */
	assert_int_equal(
	    slnf_config_parse("{ \"name\": \"x\",\n \"name\": \"y\" }", "dup.json", cfg, &err),
	    -EINVAL);
	assert_contains(err.msg, "dup.json: line 2, column ");
	assert_contains(err.msg, "duplicate");
	slnf_config_free(cfg);

	assert_int_equal(slnf_config_parse("[1, 2]", "arr.json", cfg, &err), -EINVAL);
	assert_contains(err.msg, "arr.json: the top level must be a JSON object");
	slnf_config_free(cfg);

	assert_int_equal(slnf_config_parse("", "empty.json", cfg, &err), -EINVAL);
	assert_contains(err.msg, "empty.json: line ");
	drop_cfg(cfg);
}

static void test_missing_file(void **state)
{
	struct slnf_config *cfg = new_cfg();
	struct slnf_error err = {""};

	assert_int_equal(slnf_config_load("/nonexistent/slnf.json", cfg, &err), -ENOENT);
	assert_string_equal(err.msg,
			    "/nonexistent/slnf.json: cannot read: No such file or directory");
	slnf_config_free(cfg);
	slnf_config_free(cfg); /* freeing twice is harmless */

	assert_int_equal(slnf_config_load(SLNF_TEST_DATA "/..", cfg, &err), -EISDIR);
	assert_contains(err.msg, "Is a directory");
	drop_cfg(cfg);
}

static void test_parse_ipv4(void **state)
{
	static const char *const bad[] = {
	    "",		"1.2.3",  "1.2.3.4.5", "256.0.0.1", "1.2.3.4 ",	  " 1.2.3.4",
	    "01.2.3.4", "1..3.4", "a.b.c.d",   "-1.2.3.4",  "1.2.3.4/24", "+1.2.3.4",
	};
	uint32_t a = 0;

	assert_int_equal(slnf_parse_ipv4("10.1.2.3", &a), 0);
	assert_int_equal(a, 0x0a010203);
	assert_int_equal(slnf_parse_ipv4("0.0.0.0", &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(slnf_parse_ipv4("255.255.255.255", &a), 0);
	assert_int_equal(a, 0xffffffff);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (slnf_parse_ipv4(bad[i], &a) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(slnf_parse_ipv4(NULL, &a), -EINVAL);
}

static void test_parse_prefix(void **state)
{
	static const char *const bad[] = {
	    "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/024", "10.0.0.0/-1", "10.0.0.0/8/8",
	    "10.0.0/8",	 "/8",		"10.0.0.0 /8",	"10.0.0.0/8 ",
	};
	struct slnf_ipv4_prefix p;

	assert_int_equal(slnf_parse_prefix("10.1.0.0/16", &p), 0);
	assert_int_equal(p.addr, 0x0a010000);
	assert_int_equal(p.len, 16);
	assert_int_equal(slnf_parse_prefix("10.1.2.3", &p), 0);
	assert_int_equal(p.len, 32);
	assert_int_equal(slnf_parse_prefix("0.0.0.0/0", &p), 0);
	assert_int_equal(p.addr, 0);
	assert_int_equal(p.len, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (slnf_parse_prefix(bad[i], &p) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static void test_parse_mac(void **state)
{
	static const char *const bad[] = {
	    "",
	    "02:00:00:00:00",
	    "02:00:00:00:00:0",
	    "02:00:00:00:00:001",
	    "02-00-00-00-00-01",
	    "0g:00:00:00:00:01",
	    "02:00:00:00:00:01:",
	    "2:00:00:00:00:01",
	};
	static const uint8_t want[6] = {0x02, 0xab, 0xcd, 0xef, 0x00, 0x9f};
	uint8_t mac[6];

	assert_int_equal(slnf_parse_mac("02:AB:cd:eF:00:9f", mac), 0);
	assert_memory_equal(mac, want, 6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (slnf_parse_mac(bad[i], mac) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_demo_loads),	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_explicit_values), cmocka_unit_test(test_explicit_lcores),
	    cmocka_unit_test(test_bad_configs),	    cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_syntax_error),    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_parse_ipv4),	    cmocka_unit_test(test_parse_prefix),
	    cmocka_unit_test(test_parse_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
