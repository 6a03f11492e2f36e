/*
 * test_store_shm.c - the store conformance suite against the shm backend,
 * then what only a shared table has: two processes on one table by name,
 * a second opener adopting the first one's geometry, header validation,
 * long records in extension slots, and the offline consistency check.
 *
 * Every table gets a fresh name (slnf-test-<pid>-<n>) and is removed when
 * the next one is made or at the end, so /dev/shm is left clean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slnf/store.h"
#include "store/shm.h"
#include "store_conformance.h"

static unsigned name_seq;
static char last_name[64];
static char test_names[4][64]; /* tables of the running test */
static unsigned n_test_names;

static void fresh_name(char *out, size_t size)
{
	snprintf(out, size, "slnf-test-%d-%u", (int)getpid(), name_seq++);
	if (n_test_names < 4)
		snprintf(test_names[n_test_names++], sizeof(test_names[0]), "%s", out);
}

/* Whatever a test did, its tables leave /dev/shm. */
static int remove_tables(void **state)
{
	for (unsigned i = 0; i < n_test_names; i++)
		slnf_store_shm_unlink(test_names[i]);
	n_test_names = 0;
	return 0;
}

/* Conformance hook: a fresh table for every open; the previous one goes. */
static void before_open(struct slnf_store_config *cfg)
{
	if (last_name[0])
		slnf_store_shm_unlink(last_name);
	snprintf(cfg->shm_name, sizeof(cfg->shm_name), "slnf-test-%d-%u", (int)getpid(),
		 name_seq++);
	snprintf(last_name, sizeof(last_name), "%s", cfg->shm_name);
}

static struct slnf_store *open_named(const char *name, uint32_t capacity)
{
	struct slnf_store_config cfg = {.backend = "shm", .capacity = capacity};
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", name);
	struct slnf_store *s = NULL;
	struct slnf_error err = {{0}};
	int rc = slnf_store_open(&cfg, &s, &err);
	if (rc < 0)
		fail_msg("open %s: %s", name, err.msg);
	return s;
}

static struct slnf_store_key key_of(const char *name)
{
	struct slnf_store_key k;
	slnf_store_key_init(&k, 1, 2, name, (uint16_t)strlen(name));
	return k;
}

static int put(struct slnf_store *s, const char *key, const void *val, uint16_t len)
{
	struct slnf_store_key k = key_of(key);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_PUT, &k);
	op.val_len = len;
	memcpy(op.val, val, len);
	if (slnf_store_exec(s, &op, 1) < 0)
		return -EIO;
	return op.status;
}

static int get(struct slnf_store *s, const char *key, struct slnf_store_op *op)
{
	struct slnf_store_key k = key_of(key);
	slnf_store_op_init(op, SLNF_STORE_GET, &k);
	if (slnf_store_exec(s, op, 1) < 0)
		return -EIO;
	return op->status;
}

static int incr(struct slnf_store *s, const char *key, int64_t delta)
{
	struct slnf_store_key k = key_of(key);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_INCR, &k);
	op.delta = delta;
	if (slnf_store_exec(s, &op, 1) < 0)
		return -EIO;
	return op.status;
}

static void assert_sound(struct slnf_store *s)
{
	struct slnf_store_shm_check c;
	struct slnf_error err = {{0}};
	int rc = slnf_store_shm_check(s, &c, &err);
	if (rc < 0)
		fail_msg("check: %s", err.msg);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.records, c.used);
}

/* Wait for pid with a deadline; returns its exit status or -1 (killed). */
static int wait_child(pid_t pid, unsigned timeout_ms)
{
	int status;
	for (unsigned t = 0; t < timeout_ms; t++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

#define SHARE_INCRS 3000

/* The child's half of test_two_processes: opens the table by name. */
static int share_child(const char *name)
{
	struct slnf_store_config cfg = {.backend = "shm", .capacity = 7};
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", name);
	struct slnf_store *s = NULL;
	struct slnf_error err;
	if (slnf_store_open(&cfg, &s, &err) < 0)
		return 10;
	struct slnf_store_op op;
	if (get(s, "from-parent", &op) != 0 || op.val_len != 6 || memcmp(op.val, "hello!", 6))
		return 11;
	if (put(s, "from-child", "world", 5) != 0)
		return 12;
	for (unsigned i = 0; i < SHARE_INCRS; i++)
		if (incr(s, "shared-counter", 1) != 0)
			return 13;
	slnf_store_close(s);
	return 0;
}

static void test_two_processes(void **state)
{
	char name[64];
	fresh_name(name, sizeof(name));
	struct slnf_store *s = open_named(name, 1000);
	assert_int_equal(put(s, "from-parent", "hello!", 6), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(share_child(name));
	for (unsigned i = 0; i < SHARE_INCRS; i++)
		assert_int_equal(incr(s, "shared-counter", 1), 0);
	assert_int_equal(wait_child(pid, 20000), 0);

	struct slnf_store_op op;
	assert_int_equal(get(s, "from-child", &op), 0);
	assert_int_equal(op.val_len, 5);
	assert_memory_equal(op.val, "world", 5);
	assert_int_equal(get(s, "shared-counter", &op), 0);
	assert_int_equal(op.counter, 2 * SHARE_INCRS);
	assert_int_equal(op.version, 2 * SHARE_INCRS);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.capacity, 1000); /* the child asked for 7 */
	assert_true(st.ops >= 2 * SHARE_INCRS + 3);
	assert_sound(s);
	slnf_store_close(s);
	assert_int_equal(slnf_store_shm_unlink(name), 0);
}

static void test_second_opener(void **state)
{
	char name[64];
	fresh_name(name, sizeof(name));
	struct slnf_store *a = open_named(name, 100);
	struct slnf_store *b = open_named(name, 5000);
	struct slnf_store_stats sa, sb;
	slnf_store_stats(a, &sa);
	slnf_store_stats(b, &sb);
	assert_int_equal(sb.capacity, 100);
	assert_int_equal(sb.memory_bytes, sa.memory_bytes);
	assert_int_equal(put(a, "x", "1", 1), 0);
	struct slnf_store_op op;
	assert_int_equal(get(b, "x", &op), 0);
	assert_int_equal(op.version, 1);
	/* Closing one handle leaves the table to the other. */
	slnf_store_close(a);
	assert_int_equal(get(b, "x", &op), 0);
	slnf_store_close(b);
	/* Closing the last handle does not remove it either. */
	b = open_named(name, 1);
	assert_int_equal(get(b, "x", &op), 0);
	slnf_store_close(b);
	assert_int_equal(slnf_store_shm_unlink(name), 0);
	assert_int_equal(slnf_store_shm_unlink(name), -ENOENT);
}

static void write_file(const char *name, size_t len, int byte)
{
	char path[80];
	snprintf(path, sizeof(path), "/%s", name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	char *buf = malloc(len);
	assert_non_null(buf);
	memset(buf, byte, len);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	free(buf);
	close(fd);
}

static int try_open(const char *name, struct slnf_error *err)
{
	struct slnf_store_config cfg = {.backend = "shm", .capacity = 10};
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", name);
	struct slnf_store *s = NULL;
	int rc = slnf_store_open(&cfg, &s, err);
	if (rc == 0)
		slnf_store_close(s);
	return rc;
}

static void test_bad_header(void **state)
{
	char name[64];
	struct slnf_error err = {{0}};

	fresh_name(name, sizeof(name));
	write_file(name, 16384, 0xa5);
	assert_int_equal(try_open(name, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "store.shm_name"));
	assert_non_null(strstr(err.msg, "not an slnf state table"));
	assert_int_equal(slnf_store_shm_unlink(name), 0);

	/* Too short to hold a header: refused after the bounded wait. */
	fresh_name(name, sizeof(name));
	write_file(name, 100, 0x5a);
	assert_int_equal(try_open(name, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "too small"));
	assert_int_equal(slnf_store_shm_unlink(name), 0);

	/* All zeroes: a creator that died before "ready". */
	fresh_name(name, sizeof(name));
	write_file(name, 8192, 0);
	assert_int_equal(try_open(name, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "never became ready"));
	assert_int_equal(slnf_store_shm_unlink(name), 0);

	assert_int_equal(try_open("a/b", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "store.shm_name"));
	assert_int_equal(slnf_store_shm_unlink("a/b"), -EINVAL);
}

/* Long records span extension slots; crowded buckets still hold and
 * rewrite them, and nothing is torn. */
static void test_long_records(void **state)
{
	char name[64];
	fresh_name(name, sizeof(name));
	struct slnf_store *s = open_named(name, 200);
	uint8_t val[SLNF_STORE_VAL_MAX];
	char key[48];
	unsigned stored = 0;
	for (unsigned i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "a-rather-long-key-of-forty-bytes-%06u", i);
		uint16_t len = (uint16_t)(i * 37 % (SLNF_STORE_VAL_MAX + 1));
		memset(val, (int)i, len);
		int rc = put(s, key, val, len);
		assert_true(rc == 0 || rc == -ENOSPC);
		stored += rc == 0;
	}
	/* Capacity counts one-slot records; a bucket holds 3 two-slot or 2
	 * three-slot records, so a table of long records holds fewer. */
	print_message("%u of 200 long records stored\n", stored);
	assert_true(stored >= 60);
	assert_sound(s);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 200; i++) {
			snprintf(key, sizeof(key), "a-rather-long-key-of-forty-bytes-%06u", i);
			struct slnf_store_op op;
			int rc = get(s, key, &op);
			if (rc == -ENOENT)
				continue;
			assert_int_equal(rc, 0);
			for (unsigned j = 0; j < op.val_len; j++)
				assert_int_equal(op.val[j], op.val[0]);
			/* Same size again always fits; so does a counter. */
			memset(val, op.val[0] + 1, op.val_len);
			assert_int_equal(put(s, key, val, op.val_len), 0);
		}
		assert_sound(s);
	}
	slnf_store_close(s);
	assert_int_equal(slnf_store_shm_unlink(name), 0);
}

/* The raw table, for white-box tests that fake what a killed process
 * leaves behind. Offsets follow layout 1 (see shm.c): a 4 KiB header,
 * then 32-byte bucket headers (lock word first, map word second). */
#define HDR_COUNT_LOCK 64
#define HDR_USED 72
#define HDR_LOG_VALID 80
#define HDR_LOG_BUCKET 88
#define HDR_LOG_MAP 96
#define HDR_LOG_USED 104

struct raw {
	uint8_t *base;
	size_t size;
	uint32_t n_buckets;
};

static void raw_map(struct slnf_store *s, const char *name, struct raw *r)
{
	char path[80];
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	r->size = st.memory_bytes;
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(r->base != MAP_FAILED);
	close(fd);
	r->n_buckets = (uint32_t)((r->size - 4096) / (32 + 9 * 64));
}

static inline uint64_t *raw_word(struct raw *r, size_t off)
{
	return (uint64_t *)(r->base + off);
}

static inline uint64_t *raw_bucket(struct raw *r, uint32_t b, unsigned word)
{
	return raw_word(r, 4096 + (size_t)b * 32 + word * 8);
}

/* A lock word naming a process that is gone: a reaped child's PID. */
static uint64_t dead_owner(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(wait_child(pid, 5000), 0);
	return (uint64_t)(uint32_t)pid << 32 | 12345;
}

/* Locks left by a process that died holding them are taken over. */
static void test_dead_lock_owner(void **state)
{
	char name[64];
	fresh_name(name, sizeof(name));
	struct slnf_store *s = open_named(name, 50);
	for (unsigned i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(put(s, key, "v", 1), 0);
	}
	struct raw r;
	raw_map(s, name, &r);
	uint64_t dead = dead_owner();
	for (uint32_t b = 0; b < r.n_buckets; b++)
		*raw_bucket(&r, b, 0) = dead;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(put(s, key, "w", 1), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	struct slnf_store_shm_check c;
	struct slnf_error err = {{0}};
	assert_int_equal(slnf_store_shm_check(s, &c, &err), 0);
	assert_true(c.stolen > 0); /* buckets no write touched */
	munmap(r.base, r.size);
	slnf_store_close(s);
}

/* A writer killed inside the count lock, its redo log valid but its delete
 * not published yet: readers still see the record, and the next writer
 * that takes the locks over finishes the delete first. */
static void test_replay_dead_publish(void **state)
{
	char name[64];
	fresh_name(name, sizeof(name));
	struct slnf_store *s = open_named(name, 50);
	assert_int_equal(put(s, "victim", "old", 3), 0);
	struct raw r;
	raw_map(s, name, &r);
	uint32_t b = 0;
	while (b < r.n_buckets && !(*raw_bucket(&r, b, 1) & 0xffffffffull))
		b++;
	assert_true(b < r.n_buckets);
	uint64_t map = *raw_bucket(&r, b, 1);
	unsigned e = 0;
	while (!((map >> (4 * e)) & 0xf))
		e++;
	uint64_t gone = (((map >> 32) + 1) << 32) | (map & 0xffffffffull & ~(0xfull << (4 * e)));
	assert_int_equal(*raw_word(&r, HDR_USED), 1);
	uint64_t dead = dead_owner();
	*raw_word(&r, HDR_LOG_BUCKET) = b;
	*raw_word(&r, HDR_LOG_MAP) = gone;
	*raw_word(&r, HDR_LOG_USED) = 0;
	*raw_word(&r, HDR_LOG_VALID) = 1;
	*raw_word(&r, HDR_COUNT_LOCK) = dead;
	*raw_bucket(&r, b, 0) = dead;

	struct slnf_store_op op;
	assert_int_equal(get(s, "victim", &op), 0); /* lock-free: not replayed yet */
	struct slnf_store_key k = key_of("victim");
	slnf_store_op_init(&op, SLNF_STORE_PUT_IF_ABSENT, &k);
	op.val_len = 3;
	memcpy(op.val, "new", 3);
	assert_int_equal(slnf_store_exec(s, &op, 1), 0);
	assert_int_equal(op.status, 0); /* the delete was replayed first */
	assert_int_equal(op.version, 1);
	assert_int_equal(*raw_word(&r, HDR_LOG_VALID), 0);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	assert_int_equal(st.entries, 1);
	assert_sound(s);
	munmap(r.base, r.size);
	slnf_store_close(s);
}

int main(void)
{
	struct slnf_conformance c = {
		.config = {.backend = "shm"},
		.has_capacity = true,
		.counts_expired = true,
		.can_scan = true,
		.before_open = before_open,
	};
	int failed = slnf_conformance_run(&c);
	if (last_name[0])
		slnf_store_shm_unlink(last_name);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_processes, remove_tables),
		cmocka_unit_test_teardown(test_second_opener, remove_tables),
		cmocka_unit_test_teardown(test_bad_header, remove_tables),
		cmocka_unit_test_teardown(test_long_records, remove_tables),
		cmocka_unit_test_teardown(test_dead_lock_owner, remove_tables),
		cmocka_unit_test_teardown(test_replay_dead_publish, remove_tables),
	};
	failed += cmocka_run_group_tests_name("shm", tests, NULL, NULL);
	return failed;
}
