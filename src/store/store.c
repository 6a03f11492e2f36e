/*
 * store.c - the backend-neutral half of the state store.
 *
 * Backends register themselves by name from constructors
 * (SLNF_STORE_BACKEND_REGISTER), so adding one touches only its own file;
 * slnf_store_open picks one by the name in the config. Everything the data
 * path calls (submit, poll) is a thin dispatch through the backend's vtable.
 * slnf_store_exec is the synchronous helper for slow paths and tests: it
 * submits, then polls with a bounded total wait so a wedged backend can
 * cost a caller at most a few seconds, never a hang.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slnf/store.h"

#define SLNF_STORE_BACKENDS_MAX 16
/* Longest slnf_store_exec waits for one batch. */
#define SLNF_STORE_EXEC_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)
/* Polls between two looks at the clock. */
#define SLNF_STORE_EXEC_SPIN 64

static const struct slnf_store_backend *backends[SLNF_STORE_BACKENDS_MAX];
static unsigned n_backends;

void slnf_store_backend_register(const struct slnf_store_backend *b)
{
	if (!b || !b->name || !b->open || !b->submit || !b->poll) {
		fprintf(stderr, "slnf: store backend '%s' is incomplete\n",
			b && b->name ? b->name : "?");
		abort();
	}
	for (unsigned i = 0; i < n_backends; i++) {
		if (strcmp(backends[i]->name, b->name) == 0) {
			fprintf(stderr, "slnf: store backend '%s' registered twice\n", b->name);
			abort();
		}
	}
	if (n_backends == SLNF_STORE_BACKENDS_MAX) {
		fprintf(stderr, "slnf: too many store backends (max %d)\n",
			SLNF_STORE_BACKENDS_MAX);
		abort();
	}
	backends[n_backends++] = b;
}

const struct slnf_store_backend *slnf_store_backend_find(const char *name)
{
	for (unsigned i = 0; i < n_backends; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int slnf_store_open(const struct slnf_store_config *cfg, struct slnf_store **out,
		    struct slnf_error *err)
{
	*out = NULL;
	const char *name = cfg->backend[0] ? cfg->backend : "local";
	const struct slnf_store_backend *b = slnf_store_backend_find(name);
	if (!b) {
		char avail[256] = "";
		size_t used = 0;
		for (unsigned i = 0; i < n_backends && used < sizeof(avail); i++) {
			int w = snprintf(avail + used, sizeof(avail) - used, "%s%s",
					 i ? ", " : "", backends[i]->name);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return slnf_errorf(err, EINVAL, NULL, "store.backend",
				   "unknown store backend '%s' (available: %s)", name,
				   n_backends ? avail : "none");
	}
	struct slnf_store *s = NULL;
	int rc = b->open(cfg, &s, err);
	if (rc < 0)
		return rc;
	s->backend = b;
	*out = s;
	return 0;
}

void slnf_store_close(struct slnf_store *s)
{
	if (s && s->backend->close)
		s->backend->close(s);
}

int slnf_store_submit(struct slnf_store *s, struct slnf_store_batch *b)
{
	b->done = false;
	for (unsigned i = 0; i < b->n; i++)
		b->ops[i].status = -EINPROGRESS;
	if (b->n == 0) {
		b->done = true;
		return 0;
	}
	return s->backend->submit(s, b);
}

int slnf_store_poll(struct slnf_store *s, struct slnf_store_batch *b)
{
	if (b->done)
		return 0;
	return s->backend->poll(s, b);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Give every op that never completed the batch's error. */
static void fail_pending(struct slnf_store_op *ops, unsigned n, int rc)
{
	for (unsigned i = 0; i < n; i++)
		if (ops[i].status == -EINPROGRESS)
			ops[i].status = (int16_t)rc;
}

int slnf_store_exec(struct slnf_store *s, struct slnf_store_op *ops, unsigned n)
{
	struct slnf_store_batch b = {.ops = ops, .n = n};
	int rc = slnf_store_submit(s, &b);
	if (rc < 0) {
		fail_pending(ops, n, rc);
		return rc;
	}
	if (b.done)
		return 0;
	uint64_t deadline = now_ns() + SLNF_STORE_EXEC_TIMEOUT_NS;
	for (unsigned spins = 1;; spins++) {
		rc = slnf_store_poll(s, &b);
		if (rc < 0) {
			fail_pending(ops, n, rc);
			return rc;
		}
		if (b.done)
			return 0;
		if (spins % SLNF_STORE_EXEC_SPIN)
			continue;
		if (now_ns() >= deadline) {
			fail_pending(ops, n, -ETIMEDOUT);
			return -ETIMEDOUT;
		}
		sched_yield();
	}
}

void slnf_store_stats(struct slnf_store *s, struct slnf_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s && s->backend->stats)
		s->backend->stats(s, out);
}

int slnf_store_scan(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		    void *arg)
{
	if (!s || !s->backend->scan)
		return -EOPNOTSUPP;
	return s->backend->scan(s, tenant, nf, fn, arg);
}

void slnf_store_op_init(struct slnf_store_op *op, enum slnf_store_opcode opcode,
			const struct slnf_store_key *key)
{
	memset(op, 0, offsetof(struct slnf_store_op, val));
	op->opcode = (uint8_t)opcode;
	op->status = -EINPROGRESS;
	if (key)
		op->key = *key;
}

void slnf_store_key_init(struct slnf_store_key *k, uint32_t tenant, uint16_t nf,
			 const void *data, uint16_t len)
{
	memset(k, 0, sizeof(*k));
	k->tenant = tenant;
	k->nf = nf;
	/* An oversized key keeps its length so every backend refuses it with
	 * -EINVAL instead of silently colliding on a truncated prefix. */
	k->len = len;
	if (len > SLNF_STORE_KEY_DATA_MAX)
		len = SLNF_STORE_KEY_DATA_MAX;
	if (len)
		memcpy(k->data, data, len);
}
