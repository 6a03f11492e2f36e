/*
 * chain.c - the chain runner: one tenant's NFs over one burst.
 *
 * Every NF sees the burst in two phases with one store round trip between
 * them and one after: prepare() names the records it needs, the runner
 * answers what it can from the worker's instance cache and fetches all the
 * misses in a single batch, process() decides and queues writes, and the
 * runner flushes those as a single batch. The store therefore sees at most
 * two batches per NF per burst, however many packets there are, and only
 * one when every read hit the cache.
 *
 * The cache never answers a write. Each store answer refreshes it: fresh
 * reads and acknowledged writes fill it, a lost PUT_IF_ABSENT or CAS
 * stores the current record the store returned (so the flow's next packet
 * works from it), deletes and failed writes drop the key. A stale entry
 * (another instance wrote the record since) therefore costs one packet,
 * whose CAS comes back -ESTALE and which is dropped as store_conflict; it
 * never overwrites newer state.
 *
 * Write before forward: a packet whose write the store did not acknowledge
 * is dropped here, so nothing leaves the instance on the strength of state
 * that might not exist. A failed read is different: process() still runs
 * and sees the error in the op's status, because only the NF knows whether
 * it fails open or closed. Packets an NF drops are left out of the
 * sub-burst the next NF sees, so an NF never spends state lookups on them.
 *
 * Direction: a burst marked reverse (its packets came in outside the
 * tenant's inside ports) runs the NFs in chain->order[1], backwards with a
 * final router last, so a reply meets address rewrites in the opposite
 * order of its request.
 *
 * Lost races: when an NF declares retry_conflicts (its process() only
 * decides, never changes a packet), a packet whose write came back -ESTALE
 * or -EEXIST runs through that NF again, with the record the store
 * returned (now in the cache, or read again), up to SLNF_CHAIN_RETRIES
 * times. The firewall needs it: both directions of a connection update its
 * one record, and with NAT in the chain the two directions no longer share
 * the worker's per-flow hold, so they can race; so can two instances.
 *
 * A run is a small state machine (NEXT_NF -> READING -> WRITING -> next
 * NF ... DONE) so that it can stop wherever it needs the store: start and
 * poll go on until a batch is outstanding, and the struct slnf_chain_run
 * remembers where. A backend that completes batches inside submit (local,
 * shm) runs the whole chain inside slnf_chain_start, exactly as the
 * synchronous runner did; slnf_chain_run is start plus polling.
 *
 * The runner never allocates: requests and ops live in the caller's
 * scratch, one per run in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "dp/chain.h"

static void list_nf_names(char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	const struct slnf_nf_type *t;
	for (unsigned i = 0; (t = slnf_nf_at(i)) && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", t->name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, size, "none");
}

/* The forward order is the order written. The reverse order runs the NFs
 * backwards so that a reply meets the address rewrites in the opposite
 * order of its request (lb, then nat, then the firewall that saw the
 * request before either); a final router stays last, since it chooses
 * the egress port in both directions. */
static void set_orders(struct slnf_chain *c)
{
	unsigned fixed = c->n && !strcmp(c->types[c->n - 1]->name, "router");
	for (unsigned i = 0; i < c->n; i++) {
		c->order[0][i] = (uint8_t)i;
		c->order[1][i] = (uint8_t)(i < c->n - fixed ? c->n - fixed - 1 - i : i);
	}
}

static int chain_build(const struct slnf_config *cfg, unsigned tenant, bool check_only,
		       struct slnf_chain **out, struct slnf_error *err)
{
	*out = NULL;
	if (tenant >= cfg->n_tenants)
		return slnf_errorf(err, EINVAL, cfg->file, NULL, "no tenant with index %u", tenant);
	const struct slnf_tenant_config *tc = &cfg->tenants[tenant];
	if (tc->n_chain > SLNF_MAX_CHAIN)
		return slnf_errorf(err, EINVAL, cfg->file, NULL,
				   "tenants[%u].chain: more than %d network functions", tenant,
				   SLNF_MAX_CHAIN);
	struct slnf_chain *c = calloc(1, sizeof(*c));
	if (!c)
		return slnf_errorf(err, ENOMEM, cfg->file, NULL, "out of memory");

	for (unsigned i = 0; i < tc->n_chain; i++) {
		const struct slnf_chain_entry *e = &tc->chain[i];
		char field[64];
		if (e->field[0])
			snprintf(field, sizeof(field), "%s", e->field);
		else
			snprintf(field, sizeof(field), "tenants[%u].chain[%u]", tenant, i);

		const struct slnf_nf_type *t = slnf_nf_find(e->nf);
		if (!t) {
			char avail[256], nf_field[80];
			list_nf_names(avail, sizeof(avail));
			snprintf(nf_field, sizeof(nf_field), "%s.nf", field);
			int rc = slnf_errorf(err, EINVAL, cfg->file, nf_field,
					     "unknown network function '%s' (available: %s)",
					     e->nf, avail);
			slnf_chain_destroy(c);
			return rc;
		}
		void *ctx = NULL;
		if (t->create) {
			struct slnf_nf_env env = {
				.cfg = cfg, .tenant = tenant, .position = i, .field = field,
				.check_only = check_only,
			};
			int rc = t->create(&env, e->params, &ctx, err);
			if (rc < 0) {
				slnf_chain_destroy(c);
				return rc;
			}
		}
		c->types[c->n] = t;
		c->ctx[c->n] = ctx;
		c->params[c->n] = json_incref(e->params);
		c->n++;
	}
	set_orders(c);
	*out = c;
	return 0;
}

int slnf_chain_create(const struct slnf_config *cfg, unsigned tenant, struct slnf_chain **out,
		      struct slnf_error *err)
{
	return chain_build(cfg, tenant, false, out, err);
}

int slnf_chain_check(const struct slnf_config *cfg, struct slnf_error *err)
{
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		struct slnf_chain *c = NULL;
		int rc = chain_build(cfg, t, true, &c, err);
		if (rc < 0)
			return rc;
		slnf_chain_destroy(c);
	}
	return 0;
}

void slnf_chain_destroy(struct slnf_chain *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->types[i]->destroy)
			c->types[i]->destroy(c->ctx[i]);
		json_decref(c->params[i]);
	}
	free(c);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Give every op of the batch in flight that has no status yet rc. */
static void batch_fail(struct slnf_chain_run *r, int rc)
{
	for (unsigned i = 0; i < r->batch.n; i++)
		if (r->batch.ops[i].status == -EINPROGRESS)
			r->batch.ops[i].status = (int16_t)rc;
	r->batch.done = true;
}

/* Submit the first n ops of the scratch as this phase's batch. No ops is
 * no batch; no store at all fails every op with -EIO at once. */
static void batch_submit(struct slnf_chain_run *r, unsigned n)
{
	struct slnf_store_batch *b = &r->batch;
	b->ops = r->scratch->ops;
	b->n = n;
	b->done = true;
	if (!n)
		return;
	b->done = false;
	if (!r->store) {
		for (unsigned i = 0; i < n; i++)
			b->ops[i].status = -EINPROGRESS;
		batch_fail(r, -EIO);
		return;
	}
	r->deadline_ns = now_ns() + SLNF_CHAIN_BATCH_GUARD_MS * 1000000ull;
	int rc = slnf_store_submit(r->store, b);
	if (rc < 0)
		batch_fail(r, rc);
}

/* Look the NF's GETs up in the worker's cache and submit the misses as one
 * batch (none at all when everything hit). */
static void reads_submit(struct slnf_chain_run *r)
{
	struct slnf_chain_scratch *s = r->scratch;
	unsigned n = 0;
	bool hit[SLNF_CHAIN_REQS_MAX];
	for (uint16_t i = 0; i < r->reads.n; i++) {
		struct slnf_store_op *op = &r->reads.reqs[i].op;
		int16_t primary = r->reads.reqs[i].unless_hit;
		hit[i] = false;
		if (primary >= 0 && hit[primary] && r->reads.reqs[primary].op.status == 0) {
			op->status = -ECANCELED;
			continue;
		}
		if (s->cache && op->opcode == SLNF_STORE_GET &&
		    slnf_cache_lookup(s->cache, op, r->now) == 0) {
			hit[i] = true;
			continue;
		}
		r->miss[n] = i;
		s->ops[n++] = *op;
	}
	batch_submit(r, n);
}

/* The store answered the misses: hand the answers to the NF's requests
 * and refresh the cache with them. */
static void reads_complete(struct slnf_chain_run *r)
{
	struct slnf_chain_scratch *s = r->scratch;
	for (unsigned i = 0; i < r->batch.n; i++) {
		struct slnf_store_op *op = &r->reads.reqs[r->miss[i]].op;
		if (s->cache)
			slnf_cache_update(s->cache, op, &s->ops[i], r->now);
		*op = s->ops[i];
	}
}

/* Submit the NF's queued writes as one batch, never through the cache. */
static void writes_submit(struct slnf_chain_run *r)
{
	for (uint16_t w = 0; w < r->writes.n; w++)
		r->scratch->ops[w] = r->writes.reqs[w].op;
	batch_submit(r, r->writes.n);
}

static const struct slnf_nf_type *current_type(const struct slnf_chain_run *r)
{
	return r->chain->types[r->chain->order[r->burst->reverse][r->nf]];
}

static void add_once(struct slnf_burst *b, struct slnf_pkt *p)
{
	for (uint16_t i = 0; i < b->n; i++)
		if (b->pkts[i] == p)
			return;
	b->pkts[b->n++] = p;
}

static bool retry_allowed(const struct slnf_chain_run *r)
{
	return current_type(r)->retry_conflicts && r->retries < SLNF_CHAIN_RETRIES;
}

/* The store answered the writes: each answer updates the cache (a lost
 * CAS or PUT_IF_ABSENT stores the current record it returned), and a
 * packet whose write failed is dropped. */
static void writes_complete(struct slnf_chain_run *r)
{
	struct slnf_chain_scratch *s = r->scratch;
	for (uint16_t w = 0; w < r->writes.n; w++) {
		int status = s->ops[w].status;
		uint16_t k = r->writes.reqs[w].pkt;
		if (s->cache)
			slnf_cache_update(s->cache, &r->writes.reqs[w].op, &s->ops[w], r->now);
		r->writes.reqs[w].op.status = (int16_t)status;
		if (!status || k >= r->sb.n)
			continue;
		struct slnf_pkt *p = r->sb.pkts[k];
		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		bool conflict = status == -EEXIST || status == -ESTALE;
		if (conflict && retry_allowed(r)) {
			add_once(&r->again, p);
			continue;
		}
		slnf_pkt_drop(p, conflict ? SLNF_DROP_STORE_CONFLICT : SLNF_DROP_STORE_ERROR);
	}
}

/* prepare() of the current NF over r->sb, then the read batch. */
static void nf_read(struct slnf_chain_run *r)
{
	for (uint16_t k = 0; k < r->sb.n; k++)
		r->sb.pkts[k]->state_req = -1;
	/* The clock is read before anything is submitted, so an entry a
	 * write fills expires no later than the store's record. */
	r->now = r->scratch->cache ? slnf_cache_now_ms() : 0;
	r->reads = (struct slnf_state_batch){.reqs = r->scratch->reads, .cap = SLNF_CHAIN_REQS_MAX};
	r->writes = (struct slnf_state_batch){.reqs = r->scratch->writes, .cap = SLNF_CHAIN_REQS_MAX};
	unsigned nf = r->chain->order[r->burst->reverse][r->nf];
	const struct slnf_nf_type *t = r->chain->types[nf];
	r->sb.reverse = r->burst->reverse;
	if (t->prepare)
		t->prepare(r->chain->ctx[nf], &r->sb, &r->reads);
	r->phase = SLNF_CHAIN_READING;
	reads_submit(r);
}

/* Start the next NF: the packets still forwarded, prepare(), the read
 * batch. Done when no NF is left or no packet is. */
static void nf_begin(struct slnf_chain_run *r)
{
	if (r->nf >= r->chain->n) {
		r->phase = SLNF_CHAIN_DONE;
		return;
	}
	r->sb.n = 0;
	for (uint16_t k = 0; k < r->burst->n; k++) {
		struct slnf_pkt *p = r->burst->pkts[k];
		if (p->verdict == SLNF_VERDICT_FORWARD)
			r->sb.pkts[r->sb.n++] = p;
	}
	if (!r->sb.n) {
		r->phase = SLNF_CHAIN_DONE;
		return;
	}
	r->retries = 0;
	nf_read(r);
}

/* The reads are in: process(), then the write batch. */
static void nf_process(struct slnf_chain_run *r)
{
	reads_complete(r);
	unsigned nf = r->chain->order[r->burst->reverse][r->nf];
	const struct slnf_nf_type *t = r->chain->types[nf];
	t->process(r->chain->ctx[nf], &r->sb, &r->reads, &r->writes);
	r->phase = SLNF_CHAIN_WRITING;
	writes_submit(r);
}

/* The writes are in: on to the next NF. */
static void nf_end(struct slnf_chain_run *r)
{
	r->again.n = 0;
	writes_complete(r);
	if (r->again.n) {
		/* Lost races: the same NF again, on those packets only. */
		r->retries++;
		r->sb.n = r->again.n;
		memcpy(r->sb.pkts, r->again.pkts, r->again.n * sizeof(r->sb.pkts[0]));
		nf_read(r);
		return;
	}
	r->nf++;
	r->phase = SLNF_CHAIN_NEXT_NF;
}

/* Go on until a batch is outstanding or the run is done. */
static bool run_advance(struct slnf_chain_run *r)
{
	for (;;) {
		switch (r->phase) {
		case SLNF_CHAIN_NEXT_NF:
			nf_begin(r);
			break;
		case SLNF_CHAIN_READING:
			if (!r->batch.done)
				return false;
			nf_process(r);
			break;
		case SLNF_CHAIN_WRITING:
			if (!r->batch.done)
				return false;
			nf_end(r);
			break;
		case SLNF_CHAIN_DONE:
			return true;
		}
	}
}

void slnf_chain_start(struct slnf_chain_run *r, struct slnf_chain *c, struct slnf_burst *b,
		      struct slnf_store *store, struct slnf_chain_scratch *s)
{
	r->chain = c;
	r->burst = b;
	r->store = store;
	r->scratch = s;
	r->nf = 0;
	r->phase = SLNF_CHAIN_NEXT_NF;
	r->batch = (struct slnf_store_batch){.done = true};
	run_advance(r);
}

/* Let the store make progress on the batch in flight. A backend error
 * fails what is still pending; so does the guard, should a backend ever
 * miss its own deadline (the batch is then abandoned, see chain.h). */
static void batch_poll(struct slnf_chain_run *r)
{
	if (r->batch.done)
		return;
	int rc = slnf_store_poll(r->store, &r->batch);
	if (rc < 0)
		batch_fail(r, rc);
	else if (!r->batch.done && now_ns() >= r->deadline_ns)
		batch_fail(r, -ETIMEDOUT);
}

bool slnf_chain_poll(struct slnf_chain_run *r)
{
	if (r->phase == SLNF_CHAIN_DONE)
		return true;
	batch_poll(r);
	return run_advance(r);
}

void slnf_chain_run(struct slnf_chain *c, struct slnf_burst *b, struct slnf_store *store,
		    struct slnf_chain_scratch *s)
{
	struct slnf_chain_run r;
	slnf_chain_start(&r, c, b, store, s);
	for (unsigned spins = 1; !slnf_chain_poll(&r); spins++)
		if (spins % 64 == 0)
			sched_yield();
}

void slnf_chain_stats(const struct slnf_chain *c, json_t *arr)
{
	for (unsigned i = 0; i < c->n; i++) {
		json_t *obj = json_object();
		if (!obj)
			return;
		json_object_set_new(obj, "nf", json_string(c->types[i]->name));
		if (c->types[i]->stats)
			c->types[i]->stats(c->ctx[i], obj);
		json_array_append_new(arr, obj);
	}
}
