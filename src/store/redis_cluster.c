/*
 * redis_cluster.c - the "redis-cluster" store backend: state spread over the
 * masters of a Redis Cluster, routed by hash slot.
 *
 * Debian has no cluster-aware C client, so routing is ours, on top of the
 * same pieces as the standalone backend: redis_proto.c turns an op into a
 * command on a key string whose {hash tag} holds the record's identity,
 * redis_conn.c gives one non-blocking pipelined connection per master, and
 * cluster_slots.c computes slots and keeps the slot -> master map.
 *
 * Open asks the seeds (store.redis.nodes) for CLUSTER SLOTS until one
 * answers. submit splits a batch into one pipeline per master: every op is
 * appended to the connection of the master its slot maps to, then every
 * touched connection is written without blocking. poll reads whatever has
 * arrived on every connection (a reply may belong to any batch in flight:
 * each carries a tag naming its batch context and op) and finishes a batch
 * when its last op has a status. Redirects are followed inside the batch:
 *  - MOVED: the slot's map entry is corrected at once, a full refresh is
 *    scheduled, and the op is re-sent to the new master;
 *  - ASK: the op is re-sent once to the named node, preceded by ASKING;
 *  - NOSCRIPT: re-sent as EVAL, which reloads the script.
 * An op follows at most a few redirects, then fails with -EIO.
 *
 * Failures. A connection that breaks fails the ops in flight on it with
 * -EAGAIN; while its master stays unreachable, ops routed to it fail at
 * once with -EAGAIN (connects retry after a backoff, 10 to 250 ms), and so
 * do ops whose slot no master serves and ops answered CLUSTERDOWN,
 * TRYAGAIN, LOADING or READONLY. Each of these schedules a refresh of the
 * map (CLUSTER SLOTS sent down an open pipeline, at most one every 100 ms,
 * never waited for), so once a replica has been promoted, later batches go
 * to it and succeed. Every batch has a deadline (timeout_ms after submit,
 * plus wait_timeout_ms with WAIT, at most 4 s): when it passes, the
 * connections still owing it replies are dropped and its unfinished ops
 * fail with -ETIMEDOUT. A master at maxmemory fails writes with -ENOSPC
 * (counted in full).
 * Nothing here waits on a socket; the only blocking step is a (re)connect,
 * bounded by timeout_ms (immediate on a refused port). All of these count
 * in stats.failures.
 *
 * Durability: with wait_replicas > 0, every master that received a write in
 * a round of sending gets "WAIT n wait_timeout_ms" after it; writes that
 * created or changed state fail with -EIO when fewer replicas acknowledged
 * (as in the standalone backend).
 *
 * A mutex serialises submit, poll and the map, so threads may share a
 * handle; a batch's done flag is only ever set by its own submit or poll.
 * stats() asks each master (DBSIZE, INFO) on short-lived connections.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "slnf/store.h"
#include "core/log.h"
#include "store/cluster_slots.h"
#include "store/redis_conn.h"
#include "store/redis_proto.h"

#define RC_LOG "store.redis-cluster"
#define RC_DEFAULT_TIMEOUT_MS 200
#define RC_DEFAULT_WAIT_TIMEOUT_MS 100
#define RC_BACKOFF_MIN_MS 10
#define RC_BACKOFF_MAX_MS 250
#define RC_REFRESH_MIN_NS (100ull * 1000 * 1000)
#define RC_MAX_REDIRECTS 5
/* Longest a batch may take: below slnf_store_exec's 5 s, so a batch always
 * completes (and stops touching its ops) before a synchronous caller gives
 * up on it. */
#define RC_MAX_BATCH_MS 4000
/* Nodes a refresh may try to connect to in one call (each try may block
 * up to timeout_ms on an unreachable host). */
#define RC_REFRESH_CONNECTS 2
#define NS_PER_MS 1000000ull

/* Tag indexes that are not ops. */
#define TAG_ASKING UINT32_MAX
#define TAG_WAIT (UINT32_MAX - 1)
#define TAG_REFRESH (UINT32_MAX - 2)
#define RC_MAX_BATCH (UINT32_MAX - 16)

enum op_state {
	OP_DONE = 0,
	OP_INFLIGHT, /* sent, reply owed */
	OP_AWAIT,    /* answered, waiting for its master's WAIT */
};

struct rc_opstate {
	uint16_t node;
	uint16_t slot;
	uint8_t state;
	uint8_t redirects;
	uint8_t eval; /* send as EVAL (after NOSCRIPT) */
};

/* One batch in flight. */
struct rc_ctx {
	struct slnf_store_batch *b; /* NULL: free */
	struct rc_opstate *st;
	unsigned st_cap;
	unsigned pending; /* ops without a final status */
	uint64_t deadline_ns;
	uint64_t wait_nodes; /* masters owing this batch a WAIT */
	uint32_t owed[SLNF_CLUSTER_MAX_NODES]; /* replies owed, per node */
};

struct rc_node {
	struct slnf_redis_conn conn;
	bool init;
	bool dirty;  /* commands appended, not all written */
	bool warned; /* a failure was logged; log the recovery */
};

struct rc_store {
	struct slnf_store base;
	pthread_mutex_t lock;
	uint32_t capacity;
	uint32_t timeout_ms;
	uint32_t wait_replicas;
	uint32_t wait_timeout_ms;
	uint32_t batch_ms; /* a batch's deadline after submit */
	struct slnf_cluster_addr seeds[SLNF_STORE_MAX_NODES];
	unsigned n_seeds;
	struct slnf_cluster_map map;
	int covered; /* slots the last map covered */
	struct rc_node nodes[SLNF_CLUSTER_MAX_NODES];
	struct rc_ctx **ctxs;
	unsigned n_ctxs;
	/* map refresh */
	bool need_refresh;
	bool refresh_inflight;
	bool gc_due;
	unsigned refresh_node;
	unsigned refresh_rr;
	uint64_t refresh_deadline_ns;
	uint64_t next_refresh_ns;
	/* counters */
	struct slnf_store_stats st;
	uint64_t moved, asked, refreshes, lost, unavailable, timeouts;
};

static inline struct rc_store *rc_of(struct slnf_store *s)
{
	return (struct rc_store *)s;
}

static const char *node_name(const struct rc_store *s, unsigned idx, char *buf, size_t len)
{
	const struct slnf_cluster_addr *a = &s->map.nodes[idx].addr;
	snprintf(buf, len, "%s:%u", a->host, a->port);
	return buf;
}

static void request_refresh(struct rc_store *s)
{
	s->need_refresh = true;
}

/* ---- nodes ---- */

_Static_assert(sizeof(((struct slnf_redis_conn_cfg *)0)->host) ==
		       sizeof(((struct slnf_cluster_addr *)0)->host),
	       "host name sizes differ");

static void conn_host(struct slnf_redis_conn_cfg *cfg, const struct slnf_cluster_addr *a)
{
	memcpy(cfg->host, a->host, sizeof(cfg->host));
	cfg->host[sizeof(cfg->host) - 1] = '\0';
}

static int node_init(struct rc_store *s, unsigned idx)
{
	struct rc_node *n = &s->nodes[idx];
	if (n->init)
		return 0;
	struct slnf_redis_conn_cfg cfg = {
		.port = s->map.nodes[idx].addr.port,
		.timeout_ms = s->timeout_ms,
		.backoff_min_ms = RC_BACKOFF_MIN_MS,
		.backoff_max_ms = RC_BACKOFF_MAX_MS,
		.scripts = {slnf_redis_script},
		.n_scripts = 1,
	};
	conn_host(&cfg, &s->map.nodes[idx].addr);
	int rc = slnf_redis_conn_init(&n->conn, &cfg);
	if (rc < 0)
		return rc;
	n->init = true;
	n->dirty = false;
	n->warned = false;
	return 0;
}

/* Forget node idx: its connection and its map entry. */
static void node_release(struct rc_store *s, unsigned idx)
{
	struct rc_node *n = &s->nodes[idx];
	if (n->init)
		slnf_redis_conn_fini(&n->conn);
	memset(n, 0, sizeof(*n));
	slnf_cluster_map_drop(&s->map, idx);
}

static void handle_reply(struct rc_store *s, unsigned node, struct slnf_redis_tag tag,
			 struct redisReply *reply, int err);

/* Hand every reply (or lost reply) that node idx has for us to its batch. */
static void node_process(struct rc_store *s, unsigned idx)
{
	struct rc_node *n = &s->nodes[idx];
	if (!n->init)
		return;
	bool was_up = slnf_redis_conn_is_up(&n->conn);
	for (;;) {
		struct redisReply *reply = NULL;
		struct slnf_redis_tag tag;
		int rc = slnf_redis_conn_read(&n->conn, &reply, &tag);
		if (rc == 0)
			break;
		if (rc < 0 && was_up) {
			char name[96];
			SLNF_WARN(RC_LOG, "master %s: connection lost (%s); its slots fail with "
				  "-EAGAIN until it is back or replaced",
				  node_name(s, idx, name, sizeof(name)),
				  slnf_redis_conn_error(&n->conn));
			n->warned = true;
			was_up = false;
			request_refresh(s);
		}
		handle_reply(s, idx, tag, reply, rc < 0 ? rc : 0);
		if (reply)
			freeReplyObject(reply);
	}
}

/* Make sure node idx is connected. 0 or negative errno (ops routed to it
 * then fail at once). */
static int node_up(struct rc_store *s, unsigned idx)
{
	int rc = node_init(s, idx);
	if (rc < 0)
		return rc;
	struct rc_node *n = &s->nodes[idx];
	if (slnf_redis_conn_is_up(&n->conn))
		return 0;
	if (slnf_redis_conn_owed(&n->conn))
		node_process(s, idx); /* collect the lost replies first */
	rc = slnf_redis_conn_connect(&n->conn);
	char name[96];
	if (rc < 0) {
		if (!n->warned)
			SLNF_WARN(RC_LOG, "master %s: cannot connect (%s)",
				  node_name(s, idx, name, sizeof(name)),
				  slnf_redis_conn_error(&n->conn));
		n->warned = true;
		request_refresh(s);
		return rc;
	}
	if (n->warned)
		SLNF_INFO(RC_LOG, "master %s: connected again", node_name(s, idx, name, sizeof(name)));
	n->warned = false;
	return 0;
}

/* Append a command on node idx for ctx (NULL: the map refresh). */
static int node_append(struct rc_store *s, unsigned idx, struct rc_ctx *ctx, uint32_t what,
		       int argc, const char **argv, const size_t *argvlen)
{
	struct slnf_redis_tag tag = {.ptr = ctx, .idx = what};
	int rc = slnf_redis_conn_append(&s->nodes[idx].conn, argc, argv, argvlen, tag);
	if (rc < 0)
		return rc;
	if (ctx)
		ctx->owed[idx]++;
	s->nodes[idx].dirty = true;
	return 0;
}

/* ---- ops ---- */

static bool is_answer(int status)
{
	return status == 0 || status == -ENOENT || status == -EEXIST || status == -ESTALE;
}

static void op_complete(struct rc_store *s, struct rc_ctx *ctx, unsigned i, int status)
{
	struct rc_opstate *st = &ctx->st[i];
	if (st->state == OP_DONE)
		return;
	ctx->b->ops[i].status = (int16_t)status;
	st->state = OP_DONE;
	ctx->pending--;
	if (!is_answer(status))
		s->st.failures++;
}

/* A failure that is the cluster's state, not the op's fault. */
static void op_unavailable(struct rc_store *s, struct rc_ctx *ctx, unsigned i, int status)
{
	s->unavailable++;
	request_refresh(s);
	op_complete(s, ctx, i, status);
}

static void op_send(struct rc_store *s, struct rc_ctx *ctx, unsigned i, unsigned node,
		    bool asking)
{
	struct slnf_store_op *op = &ctx->b->ops[i];
	struct rc_opstate *st = &ctx->st[i];
	int rc = node_up(s, node);
	if (rc < 0) {
		op_unavailable(s, ctx, i, rc == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN);
		return;
	}
	struct slnf_redis_conn *c = &s->nodes[node].conn;
	char key[SLNF_REDIS_KEY_MAX];
	int klen = slnf_redis_key(&op->key, key, sizeof(key));
	struct slnf_redis_cmd cmd;
	if (klen < 0 || slnf_redis_encode(op, key, (size_t)klen,
					  st->eval ? NULL : slnf_redis_conn_sha(c, 0), &cmd) < 0) {
		op_complete(s, ctx, i, -EINVAL);
		return;
	}
	if (asking) {
		static const char *const asking_argv[] = {"ASKING"};
		static const size_t asking_len[] = {6};
		rc = node_append(s, node, ctx, TAG_ASKING, 1, (const char **)asking_argv,
				 asking_len);
	}
	if (rc == 0)
		rc = node_append(s, node, ctx, i, cmd.argc, cmd.argv, cmd.argvlen);
	if (rc < 0) {
		op_complete(s, ctx, i, rc == -ENOMEM ? -ENOMEM : -EAGAIN);
		return;
	}
	st->node = (uint16_t)node;
	st->state = OP_INFLIGHT;
	if (s->wait_replicas && slnf_redis_op_may_need_wait(op))
		ctx->wait_nodes |= 1ull << node;
}

/* Send op i to the master its slot maps to. */
static void op_route(struct rc_store *s, struct rc_ctx *ctx, unsigned i)
{
	uint16_t node = s->map.slot_node[ctx->st[i].slot];
	if (node == SLNF_CLUSTER_NODE_NONE) {
		op_unavailable(s, ctx, i, -EAGAIN);
		return;
	}
	op_send(s, ctx, i, node, false);
}

static void handle_redirect(struct rc_store *s, struct rc_ctx *ctx, unsigned i, unsigned node,
			    const char *msg, size_t len)
{
	struct rc_opstate *st = &ctx->st[i];
	struct slnf_cluster_redirect r;
	char name[96];
	if (slnf_cluster_redirect_parse(msg, len, s->map.nodes[node].addr.host, &r) < 0) {
		SLNF_WARN(RC_LOG, "master %s: malformed redirect '%.*s'",
			  node_name(s, node, name, sizeof(name)), (int)(len > 100 ? 100 : len), msg);
		op_complete(s, ctx, i, -EIO);
		return;
	}
	if (++st->redirects > RC_MAX_REDIRECTS) {
		SLNF_WARN(RC_LOG, "slot %u: more than %d redirects (last '%.*s'); giving up on the op",
			  r.slot, RC_MAX_REDIRECTS, (int)(len > 100 ? 100 : len), msg);
		op_complete(s, ctx, i, -EIO);
		return;
	}
	int idx;
	if (r.kind == SLNF_CLUSTER_MOVED) {
		s->moved++;
		idx = slnf_cluster_map_set(&s->map, r.slot, &r.addr);
		request_refresh(s);
	} else {
		s->asked++;
		idx = slnf_cluster_map_node(&s->map, &r.addr);
	}
	if (idx < 0) {
		SLNF_WARN(RC_LOG, "slot %u: cannot follow redirect to %s:%u: too many nodes",
			  r.slot, r.addr.host, r.addr.port);
		op_complete(s, ctx, i, -EIO);
		return;
	}
	op_send(s, ctx, i, (unsigned)idx, r.kind == SLNF_CLUSTER_ASK);
}

static void handle_op_reply(struct rc_store *s, struct rc_ctx *ctx, unsigned i, unsigned node,
			    struct redisReply *reply, int err)
{
	struct slnf_store_op *op = &ctx->b->ops[i];
	struct rc_opstate *st = &ctx->st[i];
	if (st->state != OP_INFLIGHT || st->node != node)
		return;
	if (!reply) {
		s->lost++;
		op_unavailable(s, ctx, i, err == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN);
		return;
	}
	const char *msg;
	size_t len;
	switch (slnf_redis_reply_error(reply, &msg, &len)) {
	case SLNF_REDIS_ERR_NONE:
		slnf_redis_decode(op, reply);
		if (s->wait_replicas && slnf_redis_op_needs_wait(op))
			st->state = OP_AWAIT;
		else
			op_complete(s, ctx, i, op->status);
		return;
	case SLNF_REDIS_ERR_MOVED:
	case SLNF_REDIS_ERR_ASK:
		handle_redirect(s, ctx, i, node, msg, len);
		return;
	case SLNF_REDIS_ERR_NOSCRIPT:
		if (!st->eval) {
			st->eval = 1;
			op_send(s, ctx, i, node, false);
			return;
		}
		break;
	case SLNF_REDIS_ERR_OOM:
		/* The master is at maxmemory (noeviction): store full. */
		s->st.full++;
		op_complete(s, ctx, i, -ENOSPC);
		return;
	case SLNF_REDIS_ERR_CLUSTERDOWN:
	case SLNF_REDIS_ERR_TRYAGAIN:
	case SLNF_REDIS_ERR_LOADING:
	case SLNF_REDIS_ERR_READONLY:
		op_unavailable(s, ctx, i, -EAGAIN);
		return;
	default:
		break;
	}
	char name[96];
	SLNF_WARN(RC_LOG, "master %s: error reply '%.*s'", node_name(s, node, name, sizeof(name)),
		  (int)(len > 120 ? 120 : len), msg ? msg : "");
	op_complete(s, ctx, i, -EIO);
}

/* WAIT answered (or was lost): settle the writes node acknowledged before. */
static void handle_wait(struct rc_store *s, struct rc_ctx *ctx, unsigned node,
			struct redisReply *reply, int err)
{
	int acked = reply ? slnf_redis_decode_wait(reply) : err;
	int status = 0;
	if (!reply)
		status = err == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN;
	else if (acked < 0 || (uint32_t)acked < s->wait_replicas)
		status = -EIO;
	for (unsigned i = 0; i < ctx->b->n; i++) {
		struct rc_opstate *st = &ctx->st[i];
		if (st->state == OP_AWAIT && st->node == node)
			op_complete(s, ctx, i, status ? status : ctx->b->ops[i].status);
	}
}

/* ---- the slot map ---- */

static void handle_refresh(struct rc_store *s, unsigned node, struct redisReply *reply)
{
	s->refresh_inflight = false;
	char name[96];
	node_name(s, node, name, sizeof(name));
	if (!reply || reply->type == REDIS_REPLY_ERROR) {
		SLNF_DEBUG(RC_LOG, "CLUSTER SLOTS from %s failed: %s", name,
			   reply ? reply->str : "connection lost");
		request_refresh(s);
		return;
	}
	char why[200];
	int covered = slnf_cluster_map_parse(&s->map, reply, s->map.nodes[node].addr.host, why,
					     sizeof(why));
	if (covered < 0) {
		SLNF_WARN(RC_LOG, "from %s: %s", name, why);
		request_refresh(s);
		return;
	}
	s->refreshes++;
	s->gc_due = true;
	if (covered != s->covered)
		SLNF_INFO(RC_LOG, "slot map from %s: %d of %d slots have a master", name, covered,
			  SLNF_CLUSTER_SLOTS);
	s->covered = covered;
}

/* Drop nodes that serve no slot and owe nothing (a dead master replaced,
 * a seed that is a replica, an ASK target). */
static void nodes_gc(struct rc_store *s)
{
	s->gc_due = false;
	for (unsigned i = 0; i < s->map.n_nodes; i++) {
		const struct slnf_cluster_node *mn = &s->map.nodes[i];
		if (!mn->in_use || mn->slots)
			continue;
		if (s->nodes[i].init && slnf_redis_conn_owed(&s->nodes[i].conn))
			continue;
		if (s->refresh_inflight && s->refresh_node == i)
			continue;
		node_release(s, i);
	}
}

/* Pick a node to ask for CLUSTER SLOTS: a connected one if possible, else
 * try to connect to a known node, else to a seed. -EAGAIN when none. */
static int refresh_pick(struct rc_store *s)
{
	unsigned n = s->map.n_nodes;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (s->refresh_rr + k) % n;
		if (s->map.nodes[i].in_use && s->nodes[i].init &&
		    slnf_redis_conn_is_up(&s->nodes[i].conn)) {
			s->refresh_rr = i + 1;
			return (int)i;
		}
	}
	unsigned tries = 0;
	for (unsigned k = 0; k < n && tries < RC_REFRESH_CONNECTS; k++) {
		unsigned i = (s->refresh_rr + k) % n;
		if (!s->map.nodes[i].in_use)
			continue;
		tries++;
		if (node_up(s, i) == 0) {
			s->refresh_rr = i + 1;
			return (int)i;
		}
	}
	for (unsigned k = 0; k < s->n_seeds && tries < RC_REFRESH_CONNECTS + 1; k++) {
		unsigned j = (s->refresh_rr + k) % s->n_seeds;
		int i = slnf_cluster_map_node(&s->map, &s->seeds[j]);
		if (i < 0)
			break;
		tries++;
		s->gc_due = true; /* a seed that serves nothing goes again */
		if (node_up(s, (unsigned)i) == 0) {
			s->refresh_rr = j + 1;
			return i;
		}
	}
	return -EAGAIN;
}

static void maybe_refresh(struct rc_store *s, uint64_t now)
{
	if (s->refresh_inflight && now >= s->refresh_deadline_ns) {
		unsigned i = s->refresh_node;
		char name[96];
		slnf_redis_conn_drop(&s->nodes[i].conn, -ETIMEDOUT,
				     "CLUSTER SLOTS: no reply within %u ms", s->timeout_ms);
		SLNF_WARN(RC_LOG, "master %s: CLUSTER SLOTS not answered within %u ms",
			  node_name(s, i, name, sizeof(name)), s->timeout_ms);
		node_process(s, i);
		s->refresh_inflight = false;
	}
	if (!s->need_refresh || s->refresh_inflight || now < s->next_refresh_ns)
		return;
	s->next_refresh_ns = now + RC_REFRESH_MIN_NS;
	int i = refresh_pick(s);
	if (i < 0)
		return; /* need_refresh stays: the next chance is in 100 ms */
	static const char *const argv[] = {"CLUSTER", "SLOTS"};
	static const size_t argvlen[] = {7, 5};
	if (node_append(s, (unsigned)i, NULL, TAG_REFRESH, 2, (const char **)argv, argvlen) < 0)
		return;
	s->need_refresh = false;
	s->refresh_inflight = true;
	s->refresh_node = (unsigned)i;
	s->refresh_deadline_ns = slnf_redis_now_ns() + (uint64_t)s->timeout_ms * NS_PER_MS;
}

static void handle_reply(struct rc_store *s, unsigned node, struct slnf_redis_tag tag,
			 struct redisReply *reply, int err)
{
	if (!tag.ptr) {
		if (tag.idx == TAG_REFRESH)
			handle_refresh(s, node, reply);
		return;
	}
	struct rc_ctx *ctx = tag.ptr;
	ctx->owed[node]--;
	if (tag.idx == TAG_ASKING)
		return; /* the command after it tells */
	if (tag.idx == TAG_WAIT)
		handle_wait(s, ctx, node, reply, err);
	else
		handle_op_reply(s, ctx, tag.idx, node, reply, err);
}

/* ---- rounds: after sending, WAITs and writes ---- */

static void round_end(struct rc_store *s)
{
	for (unsigned c = 0; c < s->n_ctxs; c++) {
		struct rc_ctx *ctx = s->ctxs[c];
		while (ctx->b && ctx->wait_nodes) {
			unsigned node = (unsigned)__builtin_ctzll(ctx->wait_nodes);
			ctx->wait_nodes &= ctx->wait_nodes - 1;
			struct slnf_redis_cmd cmd;
			slnf_redis_encode_wait(s->wait_replicas, s->wait_timeout_ms, &cmd);
			/* A connection that is down has lost the writes' replies
			 * too: they fail on their own. */
			if (slnf_redis_conn_is_up(&s->nodes[node].conn))
				node_append(s, node, ctx, TAG_WAIT, cmd.argc, cmd.argv, cmd.argvlen);
		}
	}
	for (unsigned i = 0; i < s->map.n_nodes; i++) {
		struct rc_node *n = &s->nodes[i];
		if (!n->init || !n->dirty)
			continue;
		int rc = slnf_redis_conn_flush(&n->conn);
		if (rc == 0 || rc < 0)
			n->dirty = false;
		if (rc < 0)
			node_process(s, i);
	}
	if (s->gc_due)
		nodes_gc(s);
}

/* ---- batches ---- */

static struct rc_ctx *ctx_get(struct rc_store *s, unsigned n, uint64_t *ticket)
{
	struct rc_ctx *ctx = NULL;
	unsigned c;
	for (c = 0; c < s->n_ctxs; c++) {
		if (!s->ctxs[c]->b) {
			ctx = s->ctxs[c];
			break;
		}
	}
	if (!ctx) {
		struct rc_ctx **a = realloc(s->ctxs, (s->n_ctxs + 1) * sizeof(*a));
		if (!a)
			return NULL;
		s->ctxs = a;
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return NULL;
		c = s->n_ctxs;
		s->ctxs[s->n_ctxs++] = ctx;
	}
	if (ctx->st_cap < n) {
		struct rc_opstate *st = realloc(ctx->st, n * sizeof(*st));
		if (!st)
			return NULL;
		ctx->st = st;
		ctx->st_cap = n;
	}
	memset(ctx->owed, 0, sizeof(ctx->owed));
	ctx->wait_nodes = 0;
	*ticket = c + 1;
	return ctx;
}

static struct rc_ctx *ctx_of(struct rc_store *s, const struct slnf_store_batch *b)
{
	if (b->ticket == 0 || b->ticket > s->n_ctxs)
		return NULL;
	struct rc_ctx *ctx = s->ctxs[b->ticket - 1];
	return ctx->b == b ? ctx : NULL;
}

/* Finish ctx when nothing is pending; true when it did. */
static bool ctx_finish(struct rc_ctx *ctx)
{
	if (ctx->pending)
		return false;
	ctx->b->done = true;
	ctx->b = NULL;
	return true;
}

/* The batch's deadline passed: whatever still owes it a reply is dropped. */
static void ctx_expire(struct rc_store *s, struct rc_ctx *ctx)
{
	for (unsigned i = 0; i < s->map.n_nodes; i++) {
		if (!ctx->owed[i])
			continue;
		char name[96];
		SLNF_WARN(RC_LOG, "master %s: no reply within %u ms; reconnecting",
			  node_name(s, i, name, sizeof(name)), s->batch_ms);
		slnf_redis_conn_drop(&s->nodes[i].conn, -ETIMEDOUT, "no reply within %u ms",
				     s->batch_ms);
		s->nodes[i].warned = true;
		node_process(s, i);
	}
	for (unsigned i = 0; i < ctx->b->n; i++) {
		if (ctx->st[i].state != OP_DONE) {
			s->timeouts++;
			op_complete(s, ctx, i, -ETIMEDOUT);
		}
	}
}

static int rc_submit(struct slnf_store *base, struct slnf_store_batch *b)
{
	struct rc_store *s = rc_of(base);
	if (b->n > RC_MAX_BATCH)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	uint64_t ticket;
	struct rc_ctx *ctx = ctx_get(s, b->n, &ticket);
	if (!ctx) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	uint64_t now = slnf_redis_now_ns();
	s->st.batches++;
	s->st.ops += b->n;
	ctx->b = b;
	ctx->pending = b->n;
	ctx->deadline_ns = now + (uint64_t)s->batch_ms * NS_PER_MS;
	b->ticket = ticket;
	for (unsigned i = 0; i < b->n; i++) {
		struct rc_opstate *st = &ctx->st[i];
		memset(st, 0, sizeof(*st));
		st->state = OP_INFLIGHT;
		struct slnf_store_op *op = &b->ops[i];
		char key[SLNF_REDIS_KEY_MAX];
		int klen = slnf_redis_op_check(op) < 0 ? -EINVAL
						       : slnf_redis_key(&op->key, key, sizeof(key));
		if (klen < 0) {
			op_complete(s, ctx, i, -EINVAL);
			continue;
		}
		st->slot = (uint16_t)slnf_cluster_key_slot(key, (size_t)klen);
		op_route(s, ctx, i);
	}
	maybe_refresh(s, now);
	round_end(s);
	ctx_finish(ctx);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int rc_poll(struct slnf_store *base, struct slnf_store_batch *b)
{
	struct rc_store *s = rc_of(base);
	pthread_mutex_lock(&s->lock);
	struct rc_ctx *ctx = ctx_of(s, b);
	if (!ctx) {
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	for (unsigned i = 0; i < s->map.n_nodes; i++)
		if (s->nodes[i].init && slnf_redis_conn_owed(&s->nodes[i].conn))
			node_process(s, i);
	uint64_t now = slnf_redis_now_ns();
	maybe_refresh(s, now);
	if (ctx->pending && now >= ctx->deadline_ns)
		ctx_expire(s, ctx);
	round_end(s);
	ctx_finish(ctx);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- stats ---- */

/* The number after "\r\nfield:" in an INFO text, or 0. */
static uint64_t info_field(const char *info, const char *field)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\n%s:", field);
	const char *p = strstr(info, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* DBSIZE and INFO of one master, on a connection of its own. */
static void master_stats(const struct slnf_cluster_addr *a, uint32_t timeout_ms,
			 struct slnf_store_stats *out)
{
	struct slnf_redis_conn c;
	struct slnf_redis_conn_cfg cfg = {.port = a->port, .timeout_ms = timeout_ms};
	conn_host(&cfg, a);
	if (slnf_redis_conn_init(&c, &cfg) < 0)
		return;
	const char *dbsize[] = {"DBSIZE"};
	const size_t dbsize_len[] = {6};
	struct redisReply *r = NULL;
	if (slnf_redis_conn_command(&c, &r, 1, dbsize, dbsize_len) == 0) {
		if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
			out->entries += (uint64_t)r->integer;
		freeReplyObject(r);
	}
	const char *info[] = {"INFO"};
	const size_t info_len[] = {4};
	if (slnf_redis_conn_command(&c, &r, 1, info, info_len) == 0) {
		if (r->type == REDIS_REPLY_STRING) {
			out->expired += info_field(r->str, "expired_keys");
			out->memory_bytes += info_field(r->str, "used_memory");
		}
		freeReplyObject(r);
	}
	slnf_redis_conn_fini(&c);
}

static void rc_stats(struct slnf_store *base, struct slnf_store_stats *out)
{
	struct rc_store *s = rc_of(base);
	struct slnf_cluster_addr masters[SLNF_CLUSTER_MAX_NODES];
	unsigned n = 0;
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	for (unsigned i = 0; i < s->map.n_nodes; i++)
		if (s->map.nodes[i].in_use && s->map.nodes[i].slots)
			masters[n++] = s->map.nodes[i].addr;
	uint32_t timeout_ms = s->timeout_ms;
	pthread_mutex_unlock(&s->lock);
	out->capacity = s->capacity;
	out->entries = out->expired = out->memory_bytes = 0;
	for (unsigned i = 0; i < n; i++)
		master_stats(&masters[i], timeout_ms, out);
}

/* ---- open and close ---- */

static void rc_close(struct slnf_store *base)
{
	struct rc_store *s = rc_of(base);
	SLNF_DEBUG(RC_LOG, "closing: %" PRIu64 " ops in %" PRIu64 " batches, %" PRIu64
		   " failures (%" PRIu64 " unavailable, %" PRIu64 " lost, %" PRIu64
		   " timed out), %" PRIu64 " MOVED, %" PRIu64 " ASK, %" PRIu64 " map refreshes",
		   s->st.ops, s->st.batches, s->st.failures, s->unavailable, s->lost, s->timeouts,
		   s->moved, s->asked, s->refreshes);
	for (unsigned i = 0; i < SLNF_CLUSTER_MAX_NODES; i++)
		if (s->nodes[i].init)
			slnf_redis_conn_fini(&s->nodes[i].conn);
	for (unsigned c = 0; c < s->n_ctxs; c++) {
		free(s->ctxs[c]->st);
		free(s->ctxs[c]);
	}
	free(s->ctxs);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Load the first map from the seeds, synchronously. */
static int load_map(struct rc_store *s, struct slnf_error *err)
{
	char last[256] = "no seed tried";
	for (unsigned k = 0; k < s->n_seeds; k++) {
		int idx = slnf_cluster_map_node(&s->map, &s->seeds[k]);
		if (idx < 0)
			break;
		struct rc_node *n = &s->nodes[idx];
		int rc = node_init(s, (unsigned)idx);
		struct redisReply *r = NULL;
		static const char *argv[] = {"CLUSTER", "SLOTS"};
		static const size_t argvlen[] = {7, 5};
		if (rc == 0)
			rc = slnf_redis_conn_command(&n->conn, &r, 2, argv, argvlen);
		if (rc < 0) {
			snprintf(last, sizeof(last), "%s:%u: %s", s->seeds[k].host, s->seeds[k].port,
				 slnf_redis_conn_error(&n->conn));
			continue;
		}
		char why[200];
		int covered;
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, sizeof(why), "CLUSTER SLOTS: %.150s", r->str);
			covered = -EIO;
		} else {
			covered = slnf_cluster_map_parse(&s->map, r, s->seeds[k].host, why,
							 sizeof(why));
		}
		freeReplyObject(r);
		if (covered > 0) {
			s->covered = covered;
			if (covered < SLNF_CLUSTER_SLOTS)
				SLNF_WARN(RC_LOG, "only %d of %d slots have a master", covered,
					  SLNF_CLUSTER_SLOTS);
			return 0;
		}
		if (covered == 0)
			snprintf(why, sizeof(why), "no slot has a master yet");
		snprintf(last, sizeof(last), "%s:%u: %s", s->seeds[k].host, s->seeds[k].port, why);
	}
	return slnf_errorf(err, EIO, NULL, "store.redis.nodes",
			   "no seed gave a usable cluster slot map (last: %s)", last);
}

static int rc_open(const struct slnf_store_config *cfg, struct slnf_store **out,
		   struct slnf_error *err)
{
	if (cfg->redis.n_nodes == 0)
		return slnf_errorf(err, EINVAL, NULL, "store.redis.nodes",
				   "redis-cluster needs at least one seed node \"host:port\"");
	if (cfg->redis.n_nodes > SLNF_STORE_MAX_NODES)
		return slnf_errorf(err, EINVAL, NULL, "store.redis.nodes",
				   "%u seed nodes, at most %d", cfg->redis.n_nodes,
				   SLNF_STORE_MAX_NODES);
	struct rc_store *s = calloc(1, sizeof(*s));
	if (!s)
		return slnf_errorf(err, ENOMEM, NULL, "store", "out of memory");
	for (unsigned i = 0; i < cfg->redis.n_nodes; i++) {
		const char *seed = cfg->redis.nodes[i];
		size_t len = strnlen(seed, sizeof(cfg->redis.nodes[i]));
		if (slnf_cluster_addr_parse(seed, len, &s->seeds[i]) < 0) {
			free(s);
			return slnf_errorf(err, EINVAL, NULL, "store.redis.nodes",
					   "seed %u '%.*s' is not \"host:port\"", i, (int)len, seed);
		}
	}
	s->n_seeds = cfg->redis.n_nodes;
	s->capacity = cfg->capacity;
	s->timeout_ms = cfg->redis.timeout_ms ? cfg->redis.timeout_ms : RC_DEFAULT_TIMEOUT_MS;
	s->wait_replicas = cfg->redis.wait_replicas;
	s->wait_timeout_ms = cfg->redis.wait_timeout_ms ? cfg->redis.wait_timeout_ms
							 : RC_DEFAULT_WAIT_TIMEOUT_MS;
	uint64_t batch_ms = (uint64_t)s->timeout_ms + (s->wait_replicas ? s->wait_timeout_ms : 0);
	s->batch_ms = batch_ms > RC_MAX_BATCH_MS ? RC_MAX_BATCH_MS : (uint32_t)batch_ms;
	slnf_cluster_map_init(&s->map);
	pthread_mutex_init(&s->lock, NULL);
	int rc = load_map(s, err);
	if (rc < 0) {
		rc_close(&s->base);
		return rc;
	}
	nodes_gc(s);
	/* Connect to every master now; one that is down is retried later. */
	for (unsigned i = 0; i < s->map.n_nodes; i++)
		if (s->map.nodes[i].in_use)
			node_up(s, i);
	s->need_refresh = false;
	*out = &s->base;
	return 0;
}

static const struct slnf_store_backend redis_cluster_backend = {
	.name = "redis-cluster",
	.open = rc_open,
	.close = rc_close,
	.submit = rc_submit,
	.poll = rc_poll,
	.stats = rc_stats,
};

SLNF_STORE_BACKEND_REGISTER(redis_cluster_backend)
