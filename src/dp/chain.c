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
 * The runner never allocates: requests and ops live in the caller's
 * per-worker scratch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		c->n++;
	}
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
	for (unsigned i = 0; i < c->n; i++)
		if (c->types[i]->destroy)
			c->types[i]->destroy(c->ctx[i]);
	free(c);
}

/* Run n ops as one store batch. Afterwards every op has its status:
 * slnf_store_exec gives ops it could not finish the batch's error, and no
 * store at all is -EIO. */
static void store_exec(struct slnf_store *store, struct slnf_store_op *ops, unsigned n)
{
	if (store) {
		slnf_store_exec(store, ops, n);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		ops[i].status = -EIO;
}

/* Fetch the records one NF asked for. GETs the worker's cache holds are
 * answered from it; the rest go to the store as one batch (no batch at all
 * when everything hit), and the store's answers refresh the cache. */
static void fetch_reads(struct slnf_store *store, struct slnf_state_batch *reads,
			struct slnf_chain_scratch *s, uint64_t now)
{
	unsigned n = 0;
	for (uint16_t r = 0; r < reads->n; r++) {
		struct slnf_store_op *op = &reads->reqs[r].op;
		if (s->cache && op->opcode == SLNF_STORE_GET &&
		    slnf_cache_lookup(s->cache, op, now) == 0)
			continue;
		s->miss[n] = r;
		s->ops[n++] = *op;
	}
	if (!n)
		return;
	store_exec(store, s->ops, n);
	for (unsigned i = 0; i < n; i++) {
		struct slnf_store_op *op = &reads->reqs[s->miss[i]].op;
		if (s->cache)
			slnf_cache_update(s->cache, op, &s->ops[i], now);
		*op = s->ops[i];
	}
}

/* Flush one NF's queued writes as one batch, never through the cache; each
 * answer updates the cache (a lost CAS or PUT_IF_ABSENT stores the current
 * record it returned). A packet whose write failed is dropped. */
static void flush_writes(struct slnf_store *store, struct slnf_state_batch *writes,
			 struct slnf_burst *sb, struct slnf_chain_scratch *s, uint64_t now)
{
	for (uint16_t w = 0; w < writes->n; w++)
		s->ops[w] = writes->reqs[w].op;
	store_exec(store, s->ops, writes->n);
	for (uint16_t w = 0; w < writes->n; w++) {
		int status = s->ops[w].status;
		uint16_t k = writes->reqs[w].pkt;
		if (s->cache)
			slnf_cache_update(s->cache, &writes->reqs[w].op, &s->ops[w], now);
		writes->reqs[w].op.status = (int16_t)status;
		if (!status || k >= sb->n)
			continue;
		struct slnf_pkt *p = sb->pkts[k];
		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		bool conflict = status == -EEXIST || status == -ESTALE;
		slnf_pkt_drop(p, conflict ? SLNF_DROP_STORE_CONFLICT : SLNF_DROP_STORE_ERROR);
	}
}

void slnf_chain_run(struct slnf_chain *c, struct slnf_burst *b, struct slnf_store *store,
		    struct slnf_chain_scratch *s)
{
	struct slnf_burst sb;
	for (unsigned i = 0; i < c->n; i++) {
		const struct slnf_nf_type *t = c->types[i];
		sb.n = 0;
		for (uint16_t k = 0; k < b->n; k++) {
			struct slnf_pkt *p = b->pkts[k];
			if (p->verdict != SLNF_VERDICT_FORWARD)
				continue;
			p->state_req = -1;
			sb.pkts[sb.n++] = p;
		}
		if (!sb.n)
			return;

		/* The clock is read before anything is submitted, so an entry
		 * a write fills expires no later than the store's record. */
		uint64_t now = s->cache ? slnf_cache_now_ms() : 0;
		struct slnf_state_batch reads = {.reqs = s->reads, .cap = SLNF_CHAIN_REQS_MAX};
		struct slnf_state_batch writes = {.reqs = s->writes, .cap = SLNF_CHAIN_REQS_MAX};
		if (t->prepare) {
			t->prepare(c->ctx[i], &sb, &reads);
			fetch_reads(store, &reads, s, now);
		}
		t->process(c->ctx[i], &sb, &reads, &writes);
		if (writes.n)
			flush_writes(store, &writes, &sb, s, now);
	}
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
