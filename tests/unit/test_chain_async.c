/*
 * test_chain_async.c - the resumable chain runner against a real Redis.
 *
 * One redis-server (tests/unit/redis_server.c) on loopback serves every
 * test, flushed before each. The chain is chain_nfs.h's "t_count" (GET,
 * then PUT_IF_ABSENT or CAS per packet; port 9 denied) followed by
 * "t_mark" (INCR), so a run goes through two NFs and three store batches.
 * The tests hold several runs in flight on one store handle, as a worker
 * holds several bursts, each with its own scratch and one shared instance
 * cache, and show: the outcome (store contents and verdicts) is the one of
 * running the same bursts one by one; slnf_chain_poll says "not yet" while
 * the store has not answered; and when the server stops answering or dies
 * mid-run every run still completes, in bounded time, its packets dropped
 * as store_error rather than forwarded or stuck.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "chain_nfs.h"
#include "redis_server.h"

#define RUNS 6
#define PKTS 12 /* per run: 4 flows x 3 packets, the third flow denied */
#define CHAIN "[ { \"nf\": \"t_count\", \"deny_port\": 9 }, { \"nf\": \"t_mark\" } ]"
#define TIMEOUT_MS 300

static struct slnf_redis_server server;

/* One burst and what running it needs of its own. */
struct job {
	struct slnf_pkt pkts[PKTS];
	struct slnf_burst burst;
	struct slnf_chain_scratch scratch;
	struct slnf_chain_run run;
};

struct fx {
	struct slnf_config cfg;
	struct slnf_store *store;
	struct slnf_chain *chain;
	struct slnf_cache *cache;
	struct job *jobs; /* RUNS of them */
};

static struct fx *fx_new(void)
{
	static char text[1024];
	snprintf(text, sizeof(text),
		 "{ \"name\": \"asynctest\","
		 "  \"store\": { \"backend\": \"redis\","
		 "               \"redis\": { \"port\": %u, \"timeout_ms\": %d } },"
		 "  \"ports\": [ { \"name\": \"p0\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": %d,"
		 "                   \"match\": { \"ports\": [\"p0\"] }, \"chain\": %s } ] }",
		 server.port, TIMEOUT_MS, TENANT_ID, CHAIN);
	assert_int_equal(slnf_redis_server_flush(&server), 0);
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->jobs = calloc(RUNS, sizeof(*f->jobs));
	assert_non_null(f->jobs);
	struct slnf_error err = {{0}};
	if (slnf_config_parse(text, "async.json", &f->cfg, &err) < 0)
		fail_msg("config: %s", err.msg);
	if (slnf_store_open(&f->cfg.store, &f->store, &err) < 0)
		fail_msg("store: %s", err.msg);
	if (slnf_chain_create(&f->cfg, 0, &f->chain, &err) < 0)
		fail_msg("chain: %s", err.msg);
	struct slnf_cache_config cc = {.capacity = 256};
	assert_int_equal(slnf_cache_create(&cc, &f->cache), 0);
	return f;
}

static void jobs_free_pkts(struct fx *f)
{
	for (unsigned j = 0; j < RUNS; j++) {
		for (unsigned i = 0; i < f->jobs[j].burst.n; i++)
			rte_pktmbuf_free(f->jobs[j].pkts[i].m);
		f->jobs[j].burst.n = 0;
	}
}

static void fx_free(struct fx *f)
{
	jobs_free_pkts(f);
	slnf_chain_destroy(f->chain);
	slnf_store_close(f->store);
	slnf_config_free(&f->cfg);
	slnf_cache_destroy(f->cache);
	free(f->jobs);
	free(f);
}

/* Fill every job's burst: job j has flows 10.0.0.<j*4+1..j*4+4>, three
 * packets each, interleaved; the third flow goes to the denied port.
 * Jobs share no flow, as the worker's hold rule guarantees. */
static void jobs_fill(struct fx *f)
{
	jobs_free_pkts(f);
	for (unsigned j = 0; j < RUNS; j++) {
		struct job *jb = &f->jobs[j];
		jb->scratch.cache = f->cache;
		for (unsigned i = 0; i < PKTS; i++) {
			unsigned flow = i % 4;
			chain_test_pkt(&jb->pkts[i], j * 4 + 1 + flow, 1000, flow == 2 ? 9 : 80);
			jb->burst.pkts[jb->burst.n++] = &jb->pkts[i];
		}
	}
}

static void job_start(struct fx *f, unsigned j)
{
	struct job *jb = &f->jobs[j];
	slnf_chain_start(&jb->run, f->chain, &jb->burst, f->store, &jb->scratch);
}

/* Poll every job until all are done; the milliseconds it took. Fails
 * after 10 s: a run that never completes is the bug this catches. */
static uint64_t jobs_finish(struct fx *f)
{
	uint64_t t0 = slnf_cache_now_ms();
	for (;;) {
		unsigned done = 0;
		for (unsigned j = 0; j < RUNS; j++)
			done += slnf_chain_poll(&f->jobs[j].run);
		uint64_t took = slnf_cache_now_ms() - t0;
		if (done == RUNS)
			return took;
		if (took > 10000)
			fail_msg("runs still pending after %llu ms", (unsigned long long)took);
	}
}

/* Everything a round leaves behind: verdicts, drop reasons, counts and
 * versions of every flow, the t_mark counter. */
struct outcome {
	uint8_t verdict[RUNS][PKTS], reason[RUNS][PKTS];
	int64_t count[RUNS][4];
	uint64_t version[RUNS][4];
	int64_t marked;
};

static void outcome_read(struct fx *f, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	for (unsigned j = 0; j < RUNS; j++) {
		for (unsigned i = 0; i < PKTS; i++) {
			o->verdict[j][i] = f->jobs[j].pkts[i].verdict;
			o->reason[j][i] = f->jobs[j].pkts[i].drop_reason;
		}
		for (unsigned k = 0; k < 4; k++)
			o->count[j][k] = chain_test_count(f->store, TENANT_ID, &f->jobs[j].pkts[k],
							  &o->version[j][k]);
	}
	struct slnf_store_key k;
	slnf_store_key_init(&k, TENANT_ID, T_MARK_ID, "seen", 4);
	struct slnf_store_op op;
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	assert_int_equal(slnf_store_exec(f->store, &op, 1), 0);
	o->marked = op.status ? -1 : op.counter;
}

/* Two rounds of all jobs (creation, then updates), either one run at a
 * time or all in flight at once. */
static void two_rounds(struct fx *f, bool inflight, struct outcome *o)
{
	for (unsigned round = 0; round < 2; round++) {
		jobs_fill(f);
		for (unsigned j = 0; j < RUNS; j++) {
			if (inflight) {
				job_start(f, j);
				continue;
			}
			slnf_chain_run(f->chain, &f->jobs[j].burst, f->store, &f->jobs[j].scratch);
		}
		if (inflight)
			jobs_finish(f);
	}
	outcome_read(f, o);
}

static void test_inflight_same_as_sequential(void **state)
{
	static struct outcome seq, par;
	struct fx *f = fx_new();
	two_rounds(f, false, &seq);
	fx_free(f);

	f = fx_new();
	/* Frozen, the server answers nothing: all runs are in flight at
	 * once, each waiting for its first read batch. */
	slnf_redis_server_freeze(&server, 1);
	jobs_fill(f);
	for (unsigned j = 0; j < RUNS; j++)
		job_start(f, j);
	for (unsigned j = 0; j < RUNS; j++)
		assert_false(slnf_chain_poll(&f->jobs[j].run));
	slnf_redis_server_freeze(&server, 0);
	jobs_finish(f);
	/* ... and then the second round, as the sequential one did. */
	jobs_fill(f);
	for (unsigned j = 0; j < RUNS; j++)
		job_start(f, j);
	jobs_finish(f);
	outcome_read(f, &par);
	fx_free(f);

	assert_memory_equal(&seq, &par, sizeof(seq));
	/* And the outcome is the expected one: 6 packets per forwarded
	 * flow, the denied flow stored nowhere and marked never. */
	for (unsigned j = 0; j < RUNS; j++) {
		for (unsigned i = 0; i < PKTS; i++)
			assert_int_equal(par.reason[j][i],
					 i % 4 == 2 ? SLNF_DROP_FILTER_DENY : SLNF_DROP_NONE);
		for (unsigned k = 0; k < 4; k++)
			assert_int_equal(par.count[j][k], k == 2 ? -1 : 6);
	}
	assert_int_equal(par.marked, 2 * RUNS * 9);
}

static void test_poll_before_answer(void **state)
{
	struct fx *f = fx_new();
	jobs_fill(f);
	slnf_redis_server_freeze(&server, 1);
	job_start(f, 0);
	struct slnf_chain_run *r = &f->jobs[0].run;
	for (unsigned i = 0; i < 100; i++)
		assert_false(slnf_chain_poll(r));
	assert_int_equal(r->phase, SLNF_CHAIN_READING);
	assert_int_equal(r->nf, 0);
	/* Nothing is final yet: no packet has been decided. */
	for (unsigned i = 0; i < PKTS; i++)
		assert_int_equal(f->jobs[0].pkts[i].verdict, SLNF_VERDICT_FORWARD);
	slnf_redis_server_freeze(&server, 0);
	uint64_t t0 = slnf_cache_now_ms();
	while (!slnf_chain_poll(r))
		assert_true(slnf_cache_now_ms() - t0 < 5000);
	assert_int_equal(r->phase, SLNF_CHAIN_DONE);
	assert_true(slnf_chain_poll(r)); /* done stays done */
	for (unsigned i = 0; i < PKTS; i++)
		assert_int_equal(f->jobs[0].pkts[i].drop_reason,
				 i % 4 == 2 ? SLNF_DROP_FILTER_DENY : SLNF_DROP_NONE);
	assert_int_equal(chain_test_count(f->store, TENANT_ID, &f->jobs[0].pkts[0], NULL), 3);
	fx_free(f);
}

/* Every run completed and nothing was forwarded: the denied flow as
 * denied, every other packet as store_error. */
static void expect_all_store_error(struct fx *f)
{
	for (unsigned j = 0; j < RUNS; j++) {
		assert_int_equal(f->jobs[j].run.phase, SLNF_CHAIN_DONE);
		for (unsigned i = 0; i < PKTS; i++) {
			const struct slnf_pkt *p = &f->jobs[j].pkts[i];
			assert_int_equal(p->verdict, SLNF_VERDICT_DROP);
			assert_int_equal(p->drop_reason, i % 4 == 2 ? SLNF_DROP_FILTER_DENY
								    : SLNF_DROP_STORE_ERROR);
		}
	}
}

/* Run job 0 until its first packet is forwarded again (bounded): the
 * backend reconnects after a backoff. */
static void wait_recovery(struct fx *f)
{
	uint64_t t0 = slnf_cache_now_ms();
	for (;;) {
		jobs_fill(f);
		slnf_chain_run(f->chain, &f->jobs[0].burst, f->store, &f->jobs[0].scratch);
		if (f->jobs[0].pkts[0].verdict == SLNF_VERDICT_FORWARD)
			return;
		assert_true(slnf_cache_now_ms() - t0 < 5000);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void test_outage_mid_run(void **state)
{
	struct fx *f = fx_new();
	/* A server that stops answering: the backend's deadline fails the
	 * batches in flight with -ETIMEDOUT. */
	jobs_fill(f);
	slnf_redis_server_freeze(&server, 1);
	for (unsigned j = 0; j < RUNS; j++)
		job_start(f, j);
	uint64_t took = jobs_finish(f);
	slnf_redis_server_freeze(&server, 0);
	assert_true(took < 4 * TIMEOUT_MS);
	expect_all_store_error(f);
	wait_recovery(f);

	/* A server that dies with the runs in flight: the closed connection
	 * fails them at once, and later batches fail at submit. */
	jobs_fill(f);
	slnf_redis_server_freeze(&server, 1);
	for (unsigned j = 0; j < RUNS; j++)
		job_start(f, j);
	for (unsigned j = 0; j < RUNS; j++)
		assert_false(slnf_chain_poll(&f->jobs[j].run));
	slnf_redis_server_kill(&server);
	took = jobs_finish(f);
	assert_true(took < 4 * TIMEOUT_MS);
	expect_all_store_error(f);

	/* Back: runs go through again once the backend has reconnected. */
	assert_int_equal(slnf_redis_server_restart(&server), 0);
	wait_recovery(f);
	fx_free(f);
}

int main(void)
{
	slnf_test_eal();
	if (slnf_redis_server_start(&server, 0) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflight_same_as_sequential),
		cmocka_unit_test(test_poll_before_answer),
		cmocka_unit_test(test_outage_mid_run),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	slnf_redis_server_stop(&server);
	return failed;
}
