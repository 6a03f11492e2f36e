/*
 * test_cluster_slots.c - the pure half of the redis-cluster backend: CRC16
 * and key slots against values published by Redis, hash tag rules, MOVED /
 * ASK parsing, and slot maps built from hand-made CLUSTER SLOTS replies. No
 * server is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/cluster_slots.h"

static unsigned slot_of(const char *k)
{
	return slnf_cluster_key_slot(k, strlen(k));
}

static void test_crc16_vectors(void **state)
{
	/* The check value of CRC16/XMODEM, quoted in the cluster spec. */
	assert_int_equal(slnf_cluster_crc16("123456789", 9), 0x31c3);
	assert_int_equal(slnf_cluster_crc16("", 0), 0);
	assert_int_equal(slnf_cluster_crc16("A", 1), 0x58e5);
	/* Slots the Redis Cluster tutorial shows redis-cli being sent to. */
	assert_int_equal(slot_of("foo"), 12182);
	assert_int_equal(slot_of("hello"), 866);
	assert_int_equal(slot_of("bar"), 5061);
	assert_int_equal(slot_of("123456789"), 0x31c3);
	/* Binary keys: zero bytes are hashed like any other byte. */
	static const uint8_t bin[3] = {0, 0, 0};
	assert_int_equal(slnf_cluster_key_slot(bin, 3), slnf_cluster_crc16(bin, 3) & 16383);
}

static void test_hash_tags(void **state)
{
	/* Examples from the cluster spec. */
	assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
	assert_int_equal(slot_of("{user1000}.followers"), slot_of("user1000"));
	assert_int_equal(slot_of("foo{}{bar}"), slnf_cluster_crc16("foo{}{bar}", 10) & 16383);
	assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
	assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
	/* No closing brace: the whole key. */
	assert_int_equal(slot_of("foo{bar"), slnf_cluster_crc16("foo{bar", 7) & 16383);
	assert_int_equal(slot_of("}foo{bar}"), slot_of("bar"));

	const uint8_t *part;
	size_t len;
	slnf_cluster_hash_part("a{tag}b", 7, &part, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(part, "tag", 3);
	/* A tag never reads past the key's length. */
	slnf_cluster_hash_part("a{tag}", 5, &part, &len);
	assert_int_equal(len, 5);
}

static void test_addr_parse(void **state)
{
	struct slnf_cluster_addr a;
	assert_int_equal(slnf_cluster_addr_parse("127.0.0.1:7000", 14, &a), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 7000);
	assert_int_equal(slnf_cluster_addr_parse("::1:6379", 8, &a), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 6379);
	assert_int_equal(slnf_cluster_addr_parse("[::1]:6379", 10, &a), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(slnf_cluster_addr_parse("10.0.0.1:7000@17000", 19, &a), 0);
	assert_int_equal(a.port, 7000);
	assert_int_equal(slnf_cluster_addr_parse("host", 4, &a), -EINVAL);
	assert_int_equal(slnf_cluster_addr_parse(":7000", 5, &a), -EINVAL);
	assert_int_equal(slnf_cluster_addr_parse("h:", 2, &a), -EINVAL);
	assert_int_equal(slnf_cluster_addr_parse("h:0", 3, &a), -EINVAL);
	assert_int_equal(slnf_cluster_addr_parse("h:65536", 7, &a), -EINVAL);
	assert_int_equal(slnf_cluster_addr_parse("h:70x", 5, &a), -EINVAL);
	char longhost[100];
	memset(longhost, 'h', sizeof(longhost));
	memcpy(longhost + 90, ":7000", 5);
	assert_int_equal(slnf_cluster_addr_parse(longhost, 95, &a), -EINVAL);
}

static int redir(const char *s, const char *def, struct slnf_cluster_redirect *r)
{
	return slnf_cluster_redirect_parse(s, strlen(s), def, r);
}

static void test_redirects(void **state)
{
	struct slnf_cluster_redirect r;
	assert_int_equal(redir("MOVED 3999 127.0.0.1:6381", NULL, &r), 0);
	assert_int_equal(r.kind, SLNF_CLUSTER_MOVED);
	assert_int_equal(r.slot, 3999);
	assert_string_equal(r.addr.host, "127.0.0.1");
	assert_int_equal(r.addr.port, 6381);

	assert_int_equal(redir("ASK 16383 10.1.2.3:30002\r\n", NULL, &r), 0);
	assert_int_equal(r.kind, SLNF_CLUSTER_ASK);
	assert_int_equal(r.slot, 16383);
	assert_string_equal(r.addr.host, "10.1.2.3");
	assert_int_equal(r.addr.port, 30002);

	/* Unknown endpoint: the host of the node that answered. */
	assert_int_equal(redir("MOVED 0 :7001", "192.0.2.7", &r), 0);
	assert_string_equal(r.addr.host, "192.0.2.7");
	assert_int_equal(r.addr.port, 7001);
	assert_int_equal(redir("MOVED 0 :7001", NULL, &r), -EINVAL);

	/* Other errors are not redirects. */
	assert_int_equal(redir("CLUSTERDOWN The cluster is down", NULL, &r), -ENOENT);
	assert_int_equal(redir("TRYAGAIN Multiple keys request during rehashing", NULL, &r),
			 -ENOENT);
	assert_int_equal(redir("ERR unknown command", NULL, &r), -ENOENT);
	assert_int_equal(redir("MOVEDX 1 h:1", NULL, &r), -ENOENT);
	assert_int_equal(redir("", NULL, &r), -ENOENT);

	/* Malformed redirects. */
	assert_int_equal(redir("MOVED 16384 h:1", NULL, &r), -EINVAL);
	assert_int_equal(redir("MOVED -1 h:1", NULL, &r), -EINVAL);
	assert_int_equal(redir("MOVED 12", NULL, &r), -EINVAL);
	assert_int_equal(redir("ASK 12 nohostport", NULL, &r), -EINVAL);
	assert_int_equal(redir("ASK  h:1", NULL, &r), -EINVAL);
}

/* ---- hand-built CLUSTER SLOTS replies ---- */

static redisReply *rr_new(int type)
{
	redisReply *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->type = type;
	return r;
}

static redisReply *rr_int(long long v)
{
	redisReply *r = rr_new(REDIS_REPLY_INTEGER);
	r->integer = v;
	return r;
}

static redisReply *rr_str(const char *s)
{
	if (!s)
		return rr_new(REDIS_REPLY_NIL);
	redisReply *r = rr_new(REDIS_REPLY_STRING);
	r->len = strlen(s);
	r->str = strdup(s);
	return r;
}

static redisReply *rr_arr(size_t n, ...)
{
	redisReply *r = rr_new(REDIS_REPLY_ARRAY);
	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

/* A node array as Redis 7 sends it: endpoint, port, id, metadata. */
static redisReply *rr_node(const char *host, long long port, const char *id)
{
	return rr_arr(4, rr_str(host), rr_int(port), rr_str(id), rr_arr(0));
}

static redisReply *rr_range(long long lo, long long hi, redisReply *master, redisReply *replica)
{
	if (replica)
		return rr_arr(4, rr_int(lo), rr_int(hi), master, replica);
	return rr_arr(3, rr_int(lo), rr_int(hi), master);
}

static void test_map_parse(void **state)
{
	static struct slnf_cluster_map m;
	slnf_cluster_map_init(&m);
	for (unsigned i = 0; i < SLNF_CLUSTER_SLOTS; i++)
		assert_int_equal(m.slot_node[i], SLNF_CLUSTER_NODE_NONE);

	redisReply *r = rr_arr(4,
		rr_range(0, 5460, rr_node("127.0.0.1", 7000, "a"), rr_node("127.0.0.1", 7003, "d")),
		rr_range(5461, 10922, rr_node("127.0.0.1", 7001, "b"), rr_node("127.0.0.1", 7004, "e")),
		rr_range(10923, 16000, rr_node("", 7002, "c"), NULL),
		rr_range(16001, 16383, rr_node("127.0.0.1", 7000, "a"), NULL));
	char why[256] = "";
	assert_int_equal(slnf_cluster_map_parse(&m, r, "127.0.0.1", why, sizeof(why)), 16384);
	assert_int_equal(m.n_nodes, 3);
	unsigned a = m.slot_node[0], b = m.slot_node[5461], c = m.slot_node[10923];
	assert_int_equal(m.nodes[a].addr.port, 7000);
	assert_int_equal(m.nodes[b].addr.port, 7001);
	assert_int_equal(m.nodes[c].addr.port, 7002);
	/* Empty endpoint: the host that was asked. */
	assert_string_equal(m.nodes[c].addr.host, "127.0.0.1");
	assert_int_equal(m.slot_node[5460], a);
	assert_int_equal(m.slot_node[10922], b);
	assert_int_equal(m.slot_node[16000], c);
	assert_int_equal(m.slot_node[16383], a); /* non-contiguous ranges */
	assert_int_equal(m.nodes[a].slots, 5461 + 383);
	assert_int_equal(m.nodes[c].slots, 16000 - 10923 + 1);

	/* A MOVED redirect points one slot elsewhere. */
	struct slnf_cluster_addr moved = {.host = "127.0.0.1", .port = 7004};
	int e = slnf_cluster_map_set(&m, 100, &moved);
	assert_true(e >= 0);
	assert_int_equal(m.slot_node[100], e);
	assert_int_equal(m.nodes[e].slots, 1);
	assert_int_equal(m.nodes[a].slots, 5461 + 383 - 1);
	assert_int_equal(slnf_cluster_map_set(&m, 16384, &moved), -EINVAL);

	/* After a failover: 7002's slots move to its replica 7005, and 7002 is
	 * gone from the reply; known nodes keep their indexes. A slot range
	 * missing from the reply is unowned. */
	redisReply *r2 = rr_arr(3,
		rr_range(0, 5460, rr_node("127.0.0.1", 7000, "a"), NULL),
		rr_range(5461, 10922, rr_node("127.0.0.1", 7001, "b"), NULL),
		rr_range(10923, 16000, rr_node(NULL, 7005, "f"), NULL));
	assert_int_equal(slnf_cluster_map_parse(&m, r2, "127.0.0.1", why, sizeof(why)), 16001);
	assert_int_equal(m.slot_node[0], a);
	assert_int_equal(m.slot_node[100], a); /* the refresh overrides MOVED */
	assert_int_equal(m.slot_node[5461], b);
	unsigned f = m.slot_node[12000];
	assert_int_equal(m.nodes[f].addr.port, 7005);
	assert_int_equal(m.nodes[c].slots, 0);
	assert_true(m.nodes[c].in_use); /* the backend decides when to drop it */
	assert_int_equal(m.slot_node[16001], SLNF_CLUSTER_NODE_NONE);
	assert_int_equal(m.slot_node[16383], SLNF_CLUSTER_NODE_NONE);

	/* Dropping a node frees its entry for the next new master. */
	slnf_cluster_map_drop(&m, c);
	assert_false(m.nodes[c].in_use);
	struct slnf_cluster_addr n9 = {.host = "127.0.0.1", .port = 7009};
	assert_int_equal(slnf_cluster_map_node(&m, &n9), c);

	freeReplyObject(r);
	freeReplyObject(r2);
}

static void test_map_parse_errors(void **state)
{
	static struct slnf_cluster_map m, before;
	slnf_cluster_map_init(&m);
	char why[256];
	redisReply *good = rr_arr(1, rr_range(0, 16383, rr_node("h", 1, "x"), NULL));
	assert_int_equal(slnf_cluster_map_parse(&m, good, NULL, why, sizeof(why)), 16384);
	before = m;

	redisReply *bad[] = {
		rr_str("not an array"),
		rr_arr(1, rr_arr(2, rr_int(0), rr_int(5))),                     /* no master */
		rr_arr(1, rr_range(5, 4, rr_node("h", 2, "y"), NULL)),          /* lo > hi */
		rr_arr(1, rr_range(0, 16384, rr_node("h", 2, "y"), NULL)),      /* past the end */
		rr_arr(1, rr_range(0, 1, rr_node("h", 0, "y"), NULL)),          /* port 0 */
		rr_arr(1, rr_range(0, 1, rr_arr(1, rr_str("h")), NULL)),        /* no port */
		rr_arr(1, rr_range(0, 1, rr_node(NULL, 2, "y"), NULL)),         /* no host known */
		/* A good range first: still nothing changes. */
		rr_arr(2, rr_range(0, 10, rr_node("h", 3, "z"), NULL), rr_int(1)),
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(slnf_cluster_map_parse(&m, bad[i], NULL, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "CLUSTER SLOTS"));
		assert_memory_equal(&m, &before, sizeof(m));
		freeReplyObject(bad[i]);
	}
	assert_int_equal(slnf_cluster_map_parse(&m, NULL, NULL, why, sizeof(why)), -EINVAL);

	/* More masters than the table holds. */
	enum { N = SLNF_CLUSTER_MAX_NODES + 1 };
	redisReply *many = rr_new(REDIS_REPLY_ARRAY);
	many->elements = N;
	many->element = calloc(N, sizeof(*many->element));
	for (unsigned i = 0; i < N; i++)
		many->element[i] = rr_range(i, i, rr_node("h", 1000 + i, "n"), NULL);
	assert_int_equal(slnf_cluster_map_parse(&m, many, NULL, why, sizeof(why)), -ENOSPC);
	assert_memory_equal(&m, &before, sizeof(m));
	freeReplyObject(many);

	/* An empty reply (cluster with no slots assigned) unmaps everything. */
	redisReply *empty = rr_arr(0);
	assert_int_equal(slnf_cluster_map_parse(&m, empty, NULL, why, sizeof(why)), 0);
	assert_int_equal(m.slot_node[0], SLNF_CLUSTER_NODE_NONE);
	freeReplyObject(empty);
	freeReplyObject(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_vectors),
		cmocka_unit_test(test_hash_tags),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_map_parse),
		cmocka_unit_test(test_map_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
