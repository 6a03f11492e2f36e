/*
 * test_store_redis.c - the "redis" store backend against a real server.
 *
 * One redis-server (tests/unit/redis_server.c) serves everything: the
 * store conformance suite runs over TCP and then over the Unix socket, each
 * store starting on a flushed database. Then the backend's own tests: the
 * key and record layout other tools may rely on, error replies, several
 * batches in flight, a flushed script cache (NOSCRIPT), the server killed
 * and restarted on the same port, the server frozen (SIGSTOP), and WAIT
 * durability without and with a replica. Fault tests check that no call
 * takes longer than a few times timeout_ms and that the store recovers
 * within a bounded number of tries; they measure nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "slnf/store.h"
#include "store/redis_proto.h"
#include "redis_server.h"
#include "store_conformance.h"
#include "testutil.h"

#define FAULT_TIMEOUT_MS 100
/* The longest one synchronous batch may take in fault tests: a connect
 * attempt plus the batch's own deadline, with room for a slow machine. */
#define FAULT_BOUND_MS (5 * FAULT_TIMEOUT_MS)
#define RECOVER_MS 5000

static struct slnf_redis_server master;
/* Static: the fixture remembers it for its atexit cleanup. */
static struct slnf_redis_server replica;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush_master(struct slnf_store_config *cfg)
{
	if (slnf_redis_server_flush(&master) < 0)
		fprintf(stderr, "FLUSHALL on 127.0.0.1:%u failed\n", master.port);
}

static struct slnf_store *open_redis(uint32_t timeout_ms, uint32_t wait_replicas,
				     uint32_t wait_timeout_ms)
{
	struct slnf_store_config cfg = {.backend = "redis", .capacity = 1000};
	snprintf(cfg.redis.host, sizeof(cfg.redis.host), "127.0.0.1");
	cfg.redis.port = master.port;
	cfg.redis.timeout_ms = timeout_ms;
	cfg.redis.wait_replicas = wait_replicas;
	cfg.redis.wait_timeout_ms = wait_timeout_ms;
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	if (slnf_store_open(&cfg, &s, &err) < 0)
		fail_msg("open redis store: %s", err.msg);
	return s;
}

static struct slnf_store_key key_str(const char *name)
{
	struct slnf_store_key k;
	slnf_store_key_init(&k, 9, 4, name, (uint16_t)strlen(name));
	return k;
}

static void put_op(struct slnf_store_op *op, enum slnf_store_opcode opc, const char *name,
		   const char *val)
{
	struct slnf_store_key k = key_str(name);
	slnf_store_op_init(op, opc, &k);
	op->val_len = (uint16_t)strlen(val);
	memcpy(op->val, val, op->val_len);
}

/* Run ops; returns how long it took in ms. */
static uint64_t exec_timed(struct slnf_store *s, struct slnf_store_op *ops, unsigned n)
{
	uint64_t t0 = now_ms();
	slnf_store_exec(s, ops, n);
	return now_ms() - t0;
}

static redisReply *cmd_str(const char *fmt, const char *arg)
{
	redisReply *r = slnf_redis_server_command(&master, fmt, arg);
	assert_non_null(r);
	return r;
}

/* ---- pure: key strings and replies ---- */

static void test_key_format(void **state)
{
	static const uint8_t data[3] = {0x00, '}', 0xff};
	struct slnf_store_key k;
	slnf_store_key_init(&k, 0x2a, 3, data, sizeof(data));
	char buf[SLNF_REDIS_KEY_MAX];
	assert_int_equal(slnf_redis_key(&k, buf, sizeof(buf)), 27);
	assert_string_equal(buf, "slnf:{0000002a:0003:007dff}");
	assert_int_equal(slnf_redis_key(&k, buf, 10), -ENOSPC);

	uint8_t full[SLNF_STORE_KEY_DATA_MAX];
	memset(full, 0xab, sizeof(full));
	slnf_store_key_init(&k, UINT32_MAX, UINT16_MAX, full, sizeof(full));
	assert_true(slnf_redis_key(&k, buf, sizeof(buf)) > 0);
	k.len = SLNF_STORE_KEY_DATA_MAX + 1;
	assert_int_equal(slnf_redis_key(&k, buf, sizeof(buf)), -EINVAL);

	/* and back, as a scan reads keys; anything else is not a key of ours */
	struct slnf_store_key back;
	slnf_store_key_init(&k, 0x2a, 3, data, sizeof(data));
	int n = slnf_redis_key(&k, buf, sizeof(buf));
	assert_int_equal(slnf_redis_key_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&back, &k, sizeof(k));
	slnf_store_key_init(&k, UINT32_MAX, UINT16_MAX, full, sizeof(full));
	n = slnf_redis_key(&k, buf, sizeof(buf));
	assert_int_equal(slnf_redis_key_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&back, &k, sizeof(k));
	static const char *const bad[] = {"", "slnf:{0000002a:0003:007dff",
					  "slnf:{0000002a:0003:007dff}x", "slnf:{0000002g:0003:00}",
					  "slnf:{0000002a-0003:00}", "slnf:{0000002a:0003:0}",
					  "xlnf:{0000002a:0003:00}", "slnf:{0000002a:0003:0G}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(slnf_redis_key_parse(bad[i], strlen(bad[i]), &back), -EINVAL);
	char pat[48];
	slnf_redis_key_pattern(0x2a, 3, pat, sizeof(pat));
	assert_string_equal(pat, "slnf:{0000002a:0003:*");
}

static redisReply *parse_reply(const char *wire)
{
	redisReader *rd = redisReaderCreate();
	assert_non_null(rd);
	assert_int_equal(redisReaderFeed(rd, wire, strlen(wire)), REDIS_OK);
	void *r = NULL;
	assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
	redisReaderFree(rd);
	assert_non_null(r);
	return r;
}

static void test_reply_errors(void **state)
{
	static const struct {
		const char *wire;
		enum slnf_redis_err kind;
	} cases[] = {
		{"-MOVED 3999 127.0.0.1:6381\r\n", SLNF_REDIS_ERR_MOVED},
		{"-ASK 3999 127.0.0.1:6381\r\n", SLNF_REDIS_ERR_ASK},
		{"-NOSCRIPT No matching script.\r\n", SLNF_REDIS_ERR_NOSCRIPT},
		{"-CLUSTERDOWN The cluster is down\r\n", SLNF_REDIS_ERR_CLUSTERDOWN},
		{"-READONLY You can't write against a read only replica.\r\n",
		 SLNF_REDIS_ERR_READONLY},
		{"-ERR something else\r\n", SLNF_REDIS_ERR_OTHER},
		{"+OK\r\n", SLNF_REDIS_ERR_NONE},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redisReply *r = parse_reply(cases[i].wire);
		const char *msg;
		size_t len;
		assert_int_equal(slnf_redis_reply_error(r, &msg, &len), cases[i].kind);
		if (cases[i].kind != SLNF_REDIS_ERR_NONE) {
			assert_int_equal(len, strlen(cases[i].wire) - 3);
			assert_memory_equal(msg, cases[i].wire + 1, len);
		}
		struct slnf_store_op op;
		slnf_store_op_init(&op, SLNF_STORE_PUT, NULL);
		assert_int_equal(slnf_redis_decode(&op, r), -EIO);
		freeReplyObject(r);
	}
	/* A value longer than any record is refused, not copied. */
	char wire[512];
	snprintf(wire, sizeof(wire), "*3\r\n$1\r\n1\r\n$%d\r\n%0*d\r\n:0\r\n",
		 SLNF_STORE_VAL_MAX + 1, SLNF_STORE_VAL_MAX + 1, 0);
	redisReply *r = parse_reply(wire);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_GET, NULL);
	assert_int_equal(slnf_redis_decode(&op, r), -EIO);
	freeReplyObject(r);
}

/* ---- against the server ---- */

static void test_record_layout(void **state)
{
	flush_master(NULL);
	struct slnf_store *s = open_redis(1000, 0, 0);
	struct slnf_store_op ops[2];
	put_op(&ops[0], SLNF_STORE_PUT, "layout", "abc");
	ops[0].ttl_ms = 5000;
	put_op(&ops[1], SLNF_STORE_INCR, "layout", "");
	ops[1].delta = -7;
	ops[1].ttl_ms = 5000;
	assert_int_equal(slnf_store_exec(s, ops, 2), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[1].counter, -7);

	char key[SLNF_REDIS_KEY_MAX];
	assert_true(slnf_redis_key(&ops[0].key, key, sizeof(key)) > 0);
	assert_string_equal(key, "slnf:{00000009:0004:6c61796f7574}");
	redisReply *r = cmd_str("HMGET %s v d c", key);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, "2");
	assert_string_equal(r->element[1]->str, "abc");
	assert_string_equal(r->element[2]->str, "-7");
	freeReplyObject(r);
	r = cmd_str("PTTL %s", key);
	assert_true(r->integer > 0 && r->integer <= 5000);
	freeReplyObject(r);

	/* ttl 0 persists. */
	put_op(&ops[0], SLNF_STORE_PUT, "layout", "abc");
	assert_int_equal(slnf_store_exec(s, ops, 1), 0);
	r = cmd_str("PTTL %s", key);
	assert_int_equal(r->integer, -1);
	freeReplyObject(r);
	slnf_store_close(s);
}

/* Several batches in flight on one connection, completed out of order of
 * polling. */
static void test_batches_in_flight(void **state)
{
	flush_master(NULL);
	struct slnf_store *s = open_redis(1000, 0, 0);
	enum { B = 4, N = 32 };
	static struct slnf_store_op ops[B][N];
	struct slnf_store_batch b[B];
	for (unsigned i = 0; i < B; i++) {
		for (unsigned j = 0; j < N; j++) {
			char name[32];
			snprintf(name, sizeof(name), "fl-%u-%u", i, j);
			put_op(&ops[i][j], SLNF_STORE_PUT, name, name);
		}
		b[i] = (struct slnf_store_batch){.ops = ops[i], .n = N};
		assert_int_equal(slnf_store_submit(s, &b[i]), 0);
	}
	uint64_t t0 = now_ms();
	while (!b[B - 1].done && now_ms() - t0 < 2000)
		assert_int_equal(slnf_store_poll(s, &b[B - 1]), 0);
	for (unsigned i = 0; i < B; i++) {
		assert_true(b[i].done);
		for (unsigned j = 0; j < N; j++) {
			assert_int_equal(ops[i][j].status, 0);
			assert_int_equal(ops[i][j].version, 1);
		}
	}
	slnf_store_close(s);
}

static void test_noscript(void **state)
{
	flush_master(NULL);
	struct slnf_store *s = open_redis(1000, 0, 0);
	struct slnf_store_op ops[3];
	put_op(&ops[0], SLNF_STORE_PUT, "ns", "1");
	assert_int_equal(slnf_store_exec(s, ops, 1), 0);
	assert_int_equal(ops[0].status, 0);

	redisReply *r = slnf_redis_server_command(&master, "SCRIPT FLUSH");
	assert_non_null(r);
	freeReplyObject(r);

	put_op(&ops[0], SLNF_STORE_PUT, "ns", "2");
	put_op(&ops[1], SLNF_STORE_CAS, "ns", "3");
	ops[1].version = 2;
	put_op(&ops[2], SLNF_STORE_GET, "ns", "");
	assert_int_equal(slnf_store_exec(s, ops, 3), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[1].version, 3);
	assert_int_equal(ops[2].status, 0);
	/* Later ones keep working (the script is cached again). */
	put_op(&ops[0], SLNF_STORE_PUT, "ns", "4");
	assert_int_equal(slnf_store_exec(s, ops, 1), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[0].version, 4);
	slnf_store_close(s);
}

static void workload(struct slnf_store_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "wl-%u", i);
		put_op(&ops[i], i % 2 ? SLNF_STORE_PUT : SLNF_STORE_GET, name, "v");
	}
}

/* Run the workload until every op succeeds, bounded by RECOVER_MS; each
 * call stays within FAULT_BOUND_MS meanwhile. */
static void expect_recovery(struct slnf_store *s)
{
	struct slnf_store_op ops[8];
	uint64_t t0 = now_ms();
	bool ok = false;
	for (unsigned round = 0; !ok && now_ms() - t0 < RECOVER_MS; round++) {
		workload(ops, 8);
		assert_true(exec_timed(s, ops, 8) <= FAULT_BOUND_MS);
		ok = true;
		for (unsigned i = 0; i < 8; i++)
			ok &= ops[i].status == 0 || ops[i].status == -ENOENT;
		if (!ok)
			usleep(10000);
	}
	assert_true(ok);
}

/* Run the workload while the server is away: every op fails with a
 * connection status, none takes long. Returns how many failed with code. */
static unsigned expect_outage(struct slnf_store *s, unsigned rounds, int code)
{
	struct slnf_store_op ops[8];
	unsigned with_code = 0;
	for (unsigned round = 0; round < rounds; round++) {
		workload(ops, 8);
		assert_true(exec_timed(s, ops, 8) <= FAULT_BOUND_MS);
		for (unsigned i = 0; i < 8; i++) {
			int st = ops[i].status;
			if (st != -ETIMEDOUT && st != -ECONNREFUSED && st != -EIO)
				fail_msg("op %u: status %d during the outage", i, st);
			with_code += st == code;
		}
		usleep(5000);
	}
	return with_code;
}

static void test_server_killed(void **state)
{
	flush_master(NULL);
	struct slnf_store *s = open_redis(FAULT_TIMEOUT_MS, 0, 0);
	expect_recovery(s);
	struct slnf_store_stats st0, st1;
	slnf_store_stats(s, &st0);

	/* Killed with a batch in flight: it completes, in bounded time. */
	enum { N = 64 };
	static struct slnf_store_op big[N];
	for (unsigned i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "inflight-%u", i);
		put_op(&big[i], SLNF_STORE_PUT, name, name);
	}
	struct slnf_store_batch b = {.ops = big, .n = N};
	assert_int_equal(slnf_store_submit(s, &b), 0);
	uint64_t t0 = now_ms();
	slnf_redis_server_kill(&master);
	while (!b.done && now_ms() - t0 < FAULT_BOUND_MS)
		assert_int_equal(slnf_store_poll(s, &b), 0);
	assert_true(b.done);
	for (unsigned i = 0; i < N; i++) {
		int st = big[i].status;
		assert_true(st == 0 || st == -EIO || st == -ETIMEDOUT || st == -ECONNREFUSED);
	}

	assert_true(expect_outage(s, 30, -ECONNREFUSED) > 0);
	slnf_store_stats(s, &st1);
	assert_true(st1.failures >= st0.failures + 30 * 8);

	assert_int_equal(slnf_redis_server_restart(&master), 0);
	expect_recovery(s);
	slnf_store_close(s);
}

static void test_server_frozen(void **state)
{
	flush_master(NULL);
	struct slnf_store *s = open_redis(FAULT_TIMEOUT_MS, 0, 0);
	expect_recovery(s);
	slnf_redis_server_freeze(&master, 1);
	unsigned timeouts = expect_outage(s, 10, -ETIMEDOUT);
	slnf_redis_server_freeze(&master, 0);
	assert_true(timeouts > 0);
	expect_recovery(s);
	slnf_store_close(s);
}

/* WAIT with no replica: writes report that they are not replicated, in
 * bounded time; reads and answers that wrote nothing are unaffected. */
static void test_wait_without_replica(void **state)
{
	flush_master(NULL);
	enum { WAIT_MS = 50 };
	struct slnf_store *s = open_redis(1000, 1, WAIT_MS);
	struct slnf_store_op ops[4];
	put_op(&ops[0], SLNF_STORE_PUT, "w", "1");
	put_op(&ops[1], SLNF_STORE_PUT_IF_ABSENT, "w", "2");
	put_op(&ops[2], SLNF_STORE_GET, "w", "");
	put_op(&ops[3], SLNF_STORE_INCR, "w-ctr", "");
	ops[3].delta = 1;
	struct slnf_store_stats st0, st1;
	slnf_store_stats(s, &st0);
	uint64_t t = exec_timed(s, ops, 4);
	assert_true(t >= WAIT_MS - 5 && t <= WAIT_MS + 1000);
	assert_int_equal(ops[0].status, -EIO);
	assert_int_equal(ops[1].status, -EEXIST); /* wrote nothing */
	assert_int_equal(ops[2].status, 0);
	assert_int_equal(ops[3].status, -EIO);
	slnf_store_stats(s, &st1);
	assert_int_equal(st1.failures - st0.failures, 2);

	/* The master has the writes all the same: -EIO means "not known to
	 * survive a failover", not "not done". */
	put_op(&ops[0], SLNF_STORE_GET, "w", "");
	assert_int_equal(slnf_store_exec(s, ops, 1), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[0].version, 1);
	/* A batch that cannot create state sends no WAIT. */
	put_op(&ops[1], SLNF_STORE_DEL, "w", "");
	assert_true(exec_timed(s, ops, 2) < WAIT_MS);
	assert_int_equal(ops[1].status, 0);
	slnf_store_close(s);
}

static void test_wait_with_replica(void **state)
{
	flush_master(NULL);
	assert_int_equal(slnf_redis_server_start(&replica, master.port), 0);
	assert_int_equal(slnf_redis_server_wait_link(&replica, 5000), 0);
	struct slnf_store *s = open_redis(1000, 1, 2000);
	struct slnf_store_op ops[4];
	put_op(&ops[0], SLNF_STORE_PUT, "r", "1");
	put_op(&ops[1], SLNF_STORE_PUT_IF_ABSENT, "r2", "2");
	put_op(&ops[2], SLNF_STORE_CAS, "r", "3");
	ops[2].version = 1;
	put_op(&ops[3], SLNF_STORE_INCR, "r-ctr", "");
	ops[3].delta = 5;
	assert_int_equal(slnf_store_exec(s, ops, 4), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(ops[i].status, 0);

	/* Acknowledged means the replica has it. */
	char key[SLNF_REDIS_KEY_MAX];
	assert_true(slnf_redis_key(&ops[2].key, key, sizeof(key)) > 0);
	redisReply *r = slnf_redis_server_command(&replica, "HGET %s d", key);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "3");
	freeReplyObject(r);
	slnf_store_close(s);
	slnf_redis_server_stop(&replica);
}

int main(void)
{
	slnf_test_eal();
	if (slnf_redis_server_start(&master, 0) < 0)
		return 1;
	int failed = 0;
	struct slnf_conformance c = {
		.config = {.backend = "redis"},
		.before_open = flush_master,
		.can_scan = true,
	};
	c.config.redis.port = master.port;
	c.config.redis.timeout_ms = 2000;
	snprintf(c.config.redis.host, sizeof(c.config.redis.host), "127.0.0.1");
	failed += slnf_conformance_run(&c);

	memset(&c.config.redis, 0, sizeof(c.config.redis));
	snprintf(c.config.redis.unix_path, sizeof(c.config.redis.unix_path), "%s",
		 master.unix_path);
	c.config.redis.timeout_ms = 2000;
	failed += slnf_conformance_run(&c);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_reply_errors),
		cmocka_unit_test(test_record_layout),
		cmocka_unit_test(test_batches_in_flight),
		cmocka_unit_test(test_noscript),
		cmocka_unit_test(test_server_killed),
		cmocka_unit_test(test_server_frozen),
		cmocka_unit_test(test_wait_without_replica),
		cmocka_unit_test(test_wait_with_replica),
	};
	failed += cmocka_run_group_tests_name("redis", tests, NULL, NULL);
	slnf_redis_server_stop(&master);
	return failed;
}
