/*
 * test_shm_crash.c - the shm backend survives writers killed at any moment.
 *
 * Writer processes open one small, crowded table by name and hammer a few
 * keys (so they collide on keys and on buckets) with PUT, CAS,
 * PUT_IF_ABSENT, INCR, DEL and GET, long values and short TTLs included.
 * The parent SIGKILLs a random writer at random moments (up to 200 kills,
 * bounded in time), starts a replacement, and after every kill forks a
 * fresh process that must open the table and complete operations on every
 * key within a bounded time: a dead lock owner may never wedge the others.
 *
 * Bookkeeping that makes the end state checkable: each writer reports
 * every acknowledged op to the parent over its own pipe (one small write,
 * atomic), and a killed writer can have at most one op applied but not
 * reported (batches of one op). So at the end, for each key:
 *  - counters (INCR by 1 only): counter == version, every acknowledged
 *    result is distinct, and acked <= counter <= acked + kills;
 *  - CAS keys (created with PUT_IF_ABSENT at n=0, then n -> n+1 by CAS):
 *    the value is intact, n == version - 1, acknowledged n are distinct,
 *    and acked <= n <= acked + kills;
 *  - churn keys: every value ever read is intact (self-checking bytes);
 *  - versions never go backwards as one writer observes a key that is
 *    never deleted;
 *  - the table passes slnf_store_shm_check (no torn record, no duplicate
 *    key, no shared slot, overflow counts high enough) and its record count
 *    equals a full scan.
 * Randomness is seeded (SLNF_TEST_SEED overrides) and printed. Teardown
 * kills and reaps every child and removes the table, pass or fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slnf/store.h"
#include "store/shm.h"

#define WRITERS 4
#define KILLS 200
#define KILL_GAP_MS 40      /* a kill lands 0..KILL_GAP_MS after the last */
#define TIME_BUDGET_MS 20000
#define MIN_KILLS 50        /* what the time budget must at least allow */
#define CHECK_TIMEOUT_MS 3000
#define CAPACITY 48
#define N_TRACKED 4 /* counters, and CAS keys */
#define N_CTR N_TRACKED
#define N_CAS N_TRACKED
#define N_CHURN 24
#define CAS_MAGIC 0x5bd1e9955bd1e995ull

/* The two kinds of tracked keys; an ack's kind is its group + 1. */
enum { G_CTR, G_CAS, N_GROUPS };
static const char *const group_key[N_GROUPS] = {"ctr", "cas"};
enum ack_kind { ACK_INCR = 1, ACK_CAS, ACK_BAD };

/* What a writer tells the parent after an op was acknowledged. */
struct ack {
	uint8_t kind;
	uint8_t key;
	uint16_t code; /* ACK_BAD: what was wrong */
	uint32_t pad;
	int64_t value; /* INCR result, or the n a CAS wrote */
};

static char table[64];
static pid_t writers[WRITERS];
static int ack_fd[WRITERS];
static pid_t checker = -1;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static struct slnf_store_key key_of(const char *kind, unsigned i)
{
	char name[32];
	snprintf(name, sizeof(name), "%s-%u", kind, i);
	struct slnf_store_key k;
	slnf_store_key_init(&k, 9, 4, name, (uint16_t)strlen(name));
	return k;
}

static struct slnf_store *open_table(void)
{
	struct slnf_store_config cfg = {.backend = "shm", .capacity = CAPACITY};
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", table);
	struct slnf_store *s = NULL;
	struct slnf_error err;
	return slnf_store_open(&cfg, &s, &err) < 0 ? NULL : s;
}

static int run1(struct slnf_store *s, struct slnf_store_op *op)
{
	return slnf_store_exec(s, op, 1) < 0 ? -EIO : op->status;
}

static int get_key(struct slnf_store *s, const char *kind, unsigned i, struct slnf_store_op *op)
{
	struct slnf_store_key k = key_of(kind, i);
	slnf_store_op_init(op, SLNF_STORE_GET, &k);
	return run1(s, op);
}

/* Churn values check themselves: bytes derived from the first four. */
static void churn_fill(uint8_t *v, uint16_t len, uint32_t r)
{
	for (unsigned i = 0; i < len; i++)
		v[i] = len < 4 ? (uint8_t)len : i < 4 ? (uint8_t)(r >> (8 * i)) : (uint8_t)(r + i * 7);
}

static bool churn_ok(const uint8_t *v, uint16_t len)
{
	uint32_t r = 0;
	if (len >= 4)
		memcpy(&r, v, 4);
	uint8_t want[SLNF_STORE_VAL_MAX];
	churn_fill(want, len, len >= 4 ? (uint32_t)v[0] | (uint32_t)v[1] << 8 |
						(uint32_t)v[2] << 16 | (uint32_t)v[3] << 24
				       : 0);
	return memcmp(want, v, len) == 0;
}

static void cas_fill(struct slnf_store_op *op, uint64_t n)
{
	uint64_t v[2] = {n, n ^ CAS_MAGIC};
	op->val_len = sizeof(v);
	memcpy(op->val, v, sizeof(v));
}

/* The n of an intact CAS record, or -1. */
static int64_t cas_n(const struct slnf_store_op *op)
{
	uint64_t v[2];
	if (op->val_len != sizeof(v))
		return -1;
	memcpy(v, op->val, sizeof(v));
	if ((v[0] ^ CAS_MAGIC) != v[1] || v[0] != op->version - 1)
		return -1;
	return (int64_t)v[0];
}

/* ---- writer ---- */

struct wstate {
	int fd;
	struct slnf_store *s;
	uint64_t seed;
	uint64_t ctr_seen[N_CTR]; /* last version seen, per never-deleted key */
	uint64_t cas_seen[N_CAS];
};

static void report(struct wstate *w, uint8_t kind, unsigned key, uint16_t code, int64_t value)
{
	struct ack a = {.kind = kind, .key = (uint8_t)key, .code = code, .value = value};
	if (write(w->fd, &a, sizeof(a)) != sizeof(a))
		_exit(3);
}

static bool status_ok(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == -EEXIST || rc == -ESTALE;
}

static void writer_incr(struct wstate *w, unsigned i)
{
	struct slnf_store_key k = key_of("ctr", i);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_INCR, &k);
	op.delta = 1;
	int rc = run1(w->s, &op);
	if (rc != 0 || op.counter != (int64_t)op.version || op.version <= w->ctr_seen[i])
		report(w, ACK_BAD, i, 1, rc);
	w->ctr_seen[i] = op.version;
	report(w, ACK_INCR, i, 0, op.counter);
}

static void writer_cas(struct wstate *w, unsigned i)
{
	struct slnf_store_key k = key_of("cas", i);
	struct slnf_store_op op;
	int rc = get_key(w->s, "cas", i, &op);
	if (rc == -ENOENT) {
		slnf_store_op_init(&op, SLNF_STORE_PUT_IF_ABSENT, &k);
		cas_fill(&op, 0);
		rc = run1(w->s, &op);
		if (rc == 0 && op.version != 1)
			report(w, ACK_BAD, i, 2, (int64_t)op.version);
		if (rc != 0 && rc != -EEXIST)
			report(w, ACK_BAD, i, 3, rc);
		return;
	}
	if (rc != 0 || cas_n(&op) < 0 || op.version < w->cas_seen[i]) {
		report(w, ACK_BAD, i, 4, rc);
		return;
	}
	w->cas_seen[i] = op.version;
	uint64_t n = (uint64_t)cas_n(&op) + 1;
	slnf_store_op_init(&op, SLNF_STORE_CAS, &k);
	op.version = w->cas_seen[i];
	cas_fill(&op, n);
	rc = run1(w->s, &op);
	if (rc == 0) {
		if (op.version != n + 1)
			report(w, ACK_BAD, i, 5, (int64_t)op.version);
		w->cas_seen[i] = op.version;
		report(w, ACK_CAS, i, 0, (int64_t)n);
	} else if (rc == -ESTALE) {
		if (cas_n(&op) < 0 || op.version <= w->cas_seen[i])
			report(w, ACK_BAD, i, 6, (int64_t)op.version);
		w->cas_seen[i] = op.version;
	} else {
		report(w, ACK_BAD, i, 7, rc);
	}
}

static void writer_churn(struct wstate *w, unsigned i)
{
	struct slnf_store_key k = key_of("churn", i);
	struct slnf_store_op op;
	static const uint32_t ttls[] = {0, 0, 15, 200};
	unsigned what = (unsigned)(rnd(&w->seed) % 4);
	slnf_store_op_init(&op, what == 0   ? SLNF_STORE_GET
				: what == 1 ? SLNF_STORE_DEL
				: what == 2 ? SLNF_STORE_PUT_IF_ABSENT
					    : SLNF_STORE_PUT,
			   &k);
	if (what >= 2) {
		op.val_len = (uint16_t)(rnd(&w->seed) % (SLNF_STORE_VAL_MAX + 1));
		churn_fill(op.val, op.val_len, (uint32_t)rnd(&w->seed));
		op.ttl_ms = ttls[rnd(&w->seed) % 4];
	}
	int rc = run1(w->s, &op);
	if (rc == -ENOSPC)
		return; /* a crowded bucket: allowed for growing records */
	if (!status_ok(rc) || ((op.opcode == SLNF_STORE_GET || rc == -EEXIST) && rc == 0 &&
			       !churn_ok(op.val, op.val_len)))
		report(w, ACK_BAD, i, 8, rc);
	if (rc == -EEXIST && !churn_ok(op.val, op.val_len))
		report(w, ACK_BAD, i, 9, rc);
}

static void writer_main(int fd, uint64_t seed)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct wstate w = {.fd = fd, .seed = seed | 1};
	w.s = open_table();
	if (!w.s)
		_exit(2);
	uint64_t stop = now_ms() + 60000; /* never outlive a lost parent */
	while (now_ms() < stop) {
		uint64_t r = rnd(&w.seed);
		unsigned kind = (unsigned)(r % 10);
		if (kind < 3)
			writer_incr(&w, (unsigned)(r >> 8) % N_CTR);
		else if (kind < 6)
			writer_cas(&w, (unsigned)(r >> 8) % N_CAS);
		else
			writer_churn(&w, (unsigned)(r >> 8) % N_CHURN);
	}
	_exit(0);
}

/* ---- parent ---- */

struct books {
	uint64_t acked[N_GROUPS][N_TRACKED]; /* acknowledged ops per key */
	uint8_t *seen[N_GROUPS][N_TRACKED];  /* bitmap of acknowledged values */
	size_t cap[N_GROUPS][N_TRACKED];
	unsigned bad;
	struct ack first_bad;
	unsigned kills;
};

static struct books books;

/* Mark v in a growable bitmap; false if it was marked already. */
static bool mark(uint8_t **bits, size_t *cap, int64_t v)
{
	if (v < 0)
		return false;
	size_t byte = (size_t)v / 8;
	if (byte >= *cap) {
		size_t ncap = (byte + 1) * 2;
		uint8_t *n = realloc(*bits, ncap);
		assert_non_null(n);
		memset(n + *cap, 0, ncap - *cap);
		*bits = n;
		*cap = ncap;
	}
	uint8_t m = (uint8_t)(1u << (v % 8));
	if ((*bits)[byte] & m)
		return false;
	(*bits)[byte] |= m;
	return true;
}

static void book(const struct ack *a)
{
	bool ok = false;
	unsigned g = a->kind - 1u;
	if ((a->kind == ACK_INCR || a->kind == ACK_CAS) && a->key < N_TRACKED) {
		books.acked[g][a->key]++;
		ok = mark(&books.seen[g][a->key], &books.cap[g][a->key], a->value);
	}
	if (!ok && !books.bad++)
		books.first_bad = *a;
}

/* Read what writer i reported; until EOF when it is dead. */
static void drain(unsigned i, bool to_eof)
{
	struct ack buf[512];
	for (;;) {
		if (!to_eof) {
			struct pollfd p = {.fd = ack_fd[i], .events = POLLIN};
			if (poll(&p, 1, 0) <= 0)
				return;
		}
		ssize_t n = read(ack_fd[i], buf, sizeof(buf));
		if (n <= 0)
			return;
		assert_int_equal(n % sizeof(struct ack), 0);
		for (size_t j = 0; j < (size_t)n / sizeof(struct ack); j++)
			book(&buf[j]);
	}
}

static void spawn(unsigned i, uint64_t seed)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (unsigned j = 0; j < WRITERS; j++)
			if (j != i && writers[j] > 0)
				close(ack_fd[j]);
		writer_main(p[1], seed);
	}
	close(p[1]);
	writers[i] = pid;
	ack_fd[i] = p[0];
}

static void kill_writer(unsigned i)
{
	kill(writers[i], SIGKILL);
	waitpid(writers[i], NULL, 0);
	writers[i] = -1;
	drain(i, true);
	close(ack_fd[i]);
	ack_fd[i] = -1;
	books.kills++;
}

/* Wait up to ms while draining the writers' pipes. */
static void drain_for(unsigned ms)
{
	uint64_t until = now_ms() + ms;
	do {
		struct pollfd p[WRITERS];
		for (unsigned i = 0; i < WRITERS; i++)
			p[i] = (struct pollfd){.fd = ack_fd[i], .events = POLLIN};
		int left = (int)(until - now_ms());
		if (poll(p, WRITERS, left > 0 ? left : 0) > 0)
			for (unsigned i = 0; i < WRITERS; i++)
				if (p[i].revents & POLLIN)
					drain(i, false);
	} while (now_ms() < until);
}

/* A fresh process: open the table, touch every key, write one. */
static int fresh_process_check(void)
{
	alarm(CHECK_TIMEOUT_MS / 1000 + 1);
	struct slnf_store *s = open_table();
	if (!s)
		return 2;
	struct slnf_store_op op;
	for (unsigned i = 0; i < N_CTR + N_CAS + N_CHURN; i++) {
		int rc = i < N_CTR	     ? get_key(s, "ctr", i, &op)
			 : i < N_CTR + N_CAS ? get_key(s, "cas", i - N_CTR, &op)
					     : get_key(s, "churn", i - N_CTR - N_CAS, &op);
		if (rc != 0 && rc != -ENOENT)
			return 3;
		if (rc == 0 && i < N_CTR && op.counter != (int64_t)op.version)
			return 4;
		if (rc == 0 && i >= N_CTR && i < N_CTR + N_CAS && cas_n(&op) < 0)
			return 5;
		if (rc == 0 && i >= N_CTR + N_CAS && !churn_ok(op.val, op.val_len))
			return 6;
	}
	struct slnf_store_key probe = key_of("probe", 0);
	slnf_store_op_init(&op, SLNF_STORE_INCR, &probe);
	op.delta = 1;
	if (run1(s, &op) != 0)
		return 7;
	slnf_store_close(s);
	return 0;
}

static void check_after_kill(void)
{
	uint64_t t0 = now_ms();
	checker = fork();
	assert_true(checker >= 0);
	if (checker == 0)
		_exit(fresh_process_check());
	int status = 0;
	pid_t r = 0;
	while ((r = waitpid(checker, &status, WNOHANG)) == 0 && now_ms() - t0 < CHECK_TIMEOUT_MS)
		drain_for(1);
	if (r == 0) {
		kill(checker, SIGKILL);
		waitpid(checker, &status, 0);
		checker = -1;
		fail_msg("a fresh process could not complete its ops within %d ms (wedged)",
			 CHECK_TIMEOUT_MS);
	}
	checker = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("fresh process check failed after kill %u (status %#x)", books.kills,
			 status);
}

/* The final value got of tracked key i of group g against the books:
 * acked <= got <= acked + kills, and nothing acknowledged above got. */
static void check_books(unsigned g, unsigned i, int64_t got)
{
	assert_true(got >= 0);
	assert_true((uint64_t)got >= books.acked[g][i]);
	assert_true((uint64_t)got <= books.acked[g][i] + books.kills);
	for (int64_t v = got + 1; (size_t)v / 8 < books.cap[g][i]; v++)
		assert_false(books.seen[g][i][v / 8] & (1u << (v % 8)));
}

static void final_checks(void)
{
	struct slnf_store *s = open_table();
	assert_non_null(s);
	struct slnf_store_op op;
	uint64_t present = 0;
	for (unsigned g = 0; g < N_GROUPS; g++) {
		for (unsigned i = 0; i < N_TRACKED; i++) {
			int rc = get_key(s, group_key[g], i, &op);
			if (rc == -ENOENT) {
				assert_int_equal(books.acked[g][i], 0);
				continue;
			}
			assert_int_equal(rc, 0);
			present++;
			if (g == G_CTR)
				assert_int_equal(op.counter, (int64_t)op.version);
			check_books(g, i, g == G_CTR ? op.counter : cas_n(&op));
		}
	}
	for (unsigned i = 0; i < N_CHURN; i++) {
		int rc = get_key(s, "churn", i, &op);
		assert_true(rc == 0 || rc == -ENOENT);
		if (rc == 0) {
			present++;
			assert_true(churn_ok(op.val, op.val_len));
		}
	}
	struct slnf_store_key probe = key_of("probe", 0);
	slnf_store_op_init(&op, SLNF_STORE_GET, &probe);
	assert_int_equal(run1(s, &op), 0);
	present++;

	struct slnf_store_shm_check c;
	struct slnf_error err = {{0}};
	int rc = slnf_store_shm_check(s, &c, &err);
	print_message("check: %llu records, %llu ext slots, overflow excess %llu, %u locks "
		      "taken over, max probe %u\n",
		      (unsigned long long)c.records, (unsigned long long)c.ext_slots,
		      (unsigned long long)c.ovf_excess, c.stolen, c.max_probe);
	if (rc < 0)
		fail_msg("table check: %s", err.msg);
	/* Expired records were reclaimed by the GETs above: a count of what
	 * is there equals the scan and the header's count. */
	assert_int_equal(c.records, present);
	struct slnf_store_stats st;
	slnf_store_stats(s, &st);
	assert_int_equal(st.entries, present);
	slnf_store_close(s);
}

static void test_kill_writers(void **state)
{
	uint64_t seed = 0x5eed5eedull;
	const char *env = getenv("SLNF_TEST_SEED");
	if (env)
		seed = strtoull(env, NULL, 0);
	print_message("seed %#llx (SLNF_TEST_SEED), table %s\n", (unsigned long long)seed, table);
	uint64_t rs = seed | 1;

	/* Create the table first so writers only ever join it. */
	struct slnf_store *s = open_table();
	assert_non_null(s);
	slnf_store_close(s);
	for (unsigned i = 0; i < WRITERS; i++)
		spawn(i, rnd(&rs));

	uint64_t t0 = now_ms();
	while (books.kills < KILLS && now_ms() - t0 < TIME_BUDGET_MS) {
		drain_for((unsigned)(rnd(&rs) % (KILL_GAP_MS + 1)));
		unsigned victim = (unsigned)(rnd(&rs) % WRITERS);
		kill_writer(victim);
		check_after_kill();
		spawn(victim, rnd(&rs));
		if (books.bad)
			break;
	}
	for (unsigned i = 0; i < WRITERS; i++)
		kill_writer(i);
	print_message("%u kills in %llu ms\n", books.kills, (unsigned long long)(now_ms() - t0));
	if (books.bad)
		fail_msg("%u bad reports; first: kind %u key %u code %u value %lld", books.bad,
			 books.first_bad.kind, books.first_bad.key, books.first_bad.code,
			 (long long)books.first_bad.value);
	assert_true(books.kills >= MIN_KILLS);
	uint64_t incrs = 0, cas = 0;
	for (unsigned i = 0; i < N_TRACKED; i++) {
		incrs += books.acked[G_CTR][i];
		cas += books.acked[G_CAS][i];
	}
	print_message("acknowledged: %llu INCR, %llu CAS\n", (unsigned long long)incrs,
		      (unsigned long long)cas);
	assert_true(incrs > 0 && cas > 0);
	final_checks();
}

static int setup(void **state)
{
	snprintf(table, sizeof(table), "slnf-test-crash-%d", (int)getpid());
	slnf_store_shm_unlink(table);
	for (unsigned i = 0; i < WRITERS; i++) {
		writers[i] = -1;
		ack_fd[i] = -1;
	}
	return 0;
}

/* Always: no child left behind, no table left in /dev/shm. */
static int teardown(void **state)
{
	if (checker > 0) {
		kill(checker, SIGKILL);
		waitpid(checker, NULL, 0);
		checker = -1;
	}
	for (unsigned i = 0; i < WRITERS; i++) {
		if (writers[i] > 0) {
			kill(writers[i], SIGKILL);
			waitpid(writers[i], NULL, 0);
			writers[i] = -1;
		}
		if (ack_fd[i] >= 0)
			close(ack_fd[i]);
		ack_fd[i] = -1;
	}
	slnf_store_shm_unlink(table);
	for (unsigned g = 0; g < N_GROUPS; g++)
		for (unsigned i = 0; i < N_TRACKED; i++)
			free(books.seen[g][i]);
	memset(&books, 0, sizeof(books));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_writers, setup, teardown),
	};
	return cmocka_run_group_tests_name("shm_crash", tests, NULL, NULL);
}
