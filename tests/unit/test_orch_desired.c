/*
 * test_orch_desired.c - slnf-orch's desired state in the store: the JSON
 * document's encode/decode (shape checks), the chunked round trip through
 * the shm and redis backends (a document far larger than one store value),
 * generations replacing each other without leaving old chunks, a second
 * orchestrator's stale write refused, a corrupt chunk detected on load, and
 * the per-instance process records.
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

#include "orch/desired.h"
#include "redis_server.h"

static char shm_name[64];
static struct slnf_redis_server redis;

static struct slnf_store *open_store(const char *backend)
{
	struct slnf_store_config cfg = {.capacity = 4096};

	snprintf(cfg.redis.host, sizeof(cfg.redis.host), "127.0.0.1");
	cfg.redis.port = redis.port;
	cfg.redis.timeout_ms = 1000;
	struct slnf_error err = {{0}};
	struct slnf_store *s = NULL;

	snprintf(cfg.backend, sizeof(cfg.backend), "%s", backend);
	snprintf(shm_name, sizeof(shm_name), "slnf-test-orch-%d", (int)getpid());
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", shm_name);
	assert_int_equal(slnf_store_open(&cfg, &s, &err), 0);
	return s;
}

static void close_store(struct slnf_store *s)
{
	char path[96];

	slnf_store_close(s);
	snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);
	unlink(path);
}

/* A document of n tenants with some bulk. */
static json_t *doc_of(unsigned n)
{
	json_t *d = orch_desired_empty();

	for (unsigned i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "tenant-%u", i);
		json_array_append_new(orch_desired_list(d, ORCH_TENANTS),
				      json_pack("{s:s, s:i, s:s}", "name", name, "id", i + 1,
						"note", "some text to make the document longer"));
	}
	return d;
}

static void test_encode_decode(void **state)
{
	struct slnf_error err = {{0}};
	json_t *d = doc_of(3), *back;
	size_t len;
	char *text = orch_desired_encode(d, &len);

	assert_int_equal(orch_desired_decode(text, len, &back, &err), 0);
	assert_true(json_equal(d, back));
	assert_non_null(orch_desired_find(back, ORCH_TENANTS, "tenant-2", NULL));
	assert_null(orch_desired_find(back, ORCH_TENANTS, "tenant-9", NULL));
	json_decref(back);
	assert_true(orch_desired_decode("{\"tenants\": []}", 15, &back, &err) < 0);
	assert_non_null(strstr(err.msg, "pools"));
	assert_true(orch_desired_decode("{\"tenants\":[{}],\"pools\":[],\"instances\":[]}", 42,
					&back, &err) < 0);
	assert_non_null(strstr(err.msg, "no name"));
	assert_true(orch_desired_decode("nope", 4, &back, &err) < 0);
	free(text);
	json_decref(d);
}

static void round_trip(const char *backend)
{
	struct slnf_store *s = open_store(backend);
	struct slnf_error err = {{0}};
	struct orch_desired a, b;
	struct slnf_store_stats st;
	json_t *big = doc_of(200), *small = doc_of(2);

	orch_desired_init(&a);
	orch_desired_init(&b);
	assert_int_equal(orch_desired_load(&a, s, &err), 0); /* nothing yet: empty */
	assert_int_equal(a.gen, 0);
	assert_int_equal(json_array_size(orch_desired_list(a.doc, ORCH_TENANTS)), 0);
	assert_int_equal(orch_desired_save(&a, s, big, &err), 0);
	assert_true(a.n_chunks > 50); /* far more than one store value */
	assert_int_equal(orch_desired_load(&b, s, &err), 0);
	assert_true(json_equal(b.doc, big));
	assert_int_equal(b.gen, 1);
	/* a smaller generation replaces it and the old chunks go */
	assert_int_equal(orch_desired_save(&a, s, small, &err), 0);
	slnf_store_stats(s, &st);
	if (!strcmp(backend, "shm"))
		assert_int_equal(st.entries, 1 + a.n_chunks);
	/* b read generation 1: its save is stale now */
	assert_int_equal(orch_desired_save(&b, s, big, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "another orchestrator"));
	assert_int_equal(orch_desired_load(&b, s, &err), 0);
	assert_true(json_equal(b.doc, small));
	assert_int_equal(b.gen, 2);

	/* a damaged chunk is detected, not loaded */
	struct slnf_store_op op;
	struct slnf_store_key k;
	char key[40];
	int n = snprintf(key, sizeof(key), "orch/d/%llx/0", (unsigned long long)b.nonce);
	slnf_store_key_init(&k, ORCH_STORE_TENANT, ORCH_STORE_NF, key, (uint16_t)n);
	slnf_store_op_init(&op, SLNF_STORE_PUT, &k);
	memcpy(op.val, "{\"x\":1}", 7);
	op.val_len = 7;
	assert_int_equal(slnf_store_exec(s, &op, 1), 0);
	assert_true(orch_desired_load(&b, s, &err) < 0);
	assert_non_null(strstr(err.msg, "generation 2"));

	orch_desired_free(&a);
	orch_desired_free(&b);
	json_decref(big);
	json_decref(small);
	close_store(s);
}

static void test_round_trip_shm(void **state)
{
	round_trip("shm");
}

static void test_round_trip_redis(void **state)
{
	if (slnf_redis_server_start(&redis, 0) < 0)
		fail_msg("cannot start redis-server");
	round_trip("redis");
	slnf_redis_server_stop(&redis);
}

static void test_proc_records(void **state)
{
	struct slnf_store *s = open_store("shm");
	uint64_t start;
	pid_t pid;

	assert_int_equal(orch_proc_record_get(s, "inst-a", &pid, &start), -ENOENT);
	assert_int_equal(orch_proc_record_put(s, "inst-a", 4242, 987654321ull), 0);
	assert_int_equal(orch_proc_record_get(s, "inst-a", &pid, &start), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(start, 987654321ull);
	orch_proc_record_del(s, "inst-a");
	assert_int_equal(orch_proc_record_get(s, "inst-a", &pid, &start), -ENOENT);
	close_store(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_decode),
	    cmocka_unit_test(test_round_trip_shm),
	    cmocka_unit_test(test_round_trip_redis),
	    cmocka_unit_test(test_proc_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
