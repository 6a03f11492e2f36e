/*
 * redis.c - the "redis" store backend: all state on one Redis server.
 *
 * A store handle owns one pipelined connection (redis_conn.c). submit
 * encodes every op of a batch (redis_proto.c: HMGET for GET, the store
 * script by EVALSHA for writes), appends them all, and writes them with one
 * non-blocking send; poll collects whatever replies have arrived, never
 * waiting, and finishes a batch when its last reply is in. Several batches
 * may be in flight at once: each reply carries a tag (the batch's slot and
 * the op's index), and the server answers in order.
 *
 * Every batch has a deadline, timeout_ms after submit (plus wait_timeout_ms
 * when it ends with WAIT). When the oldest unfinished batch passes it, the
 * connection is dropped: nothing answered so far can be matched any more,
 * so every op still in flight fails with -ETIMEDOUT; a server that closes
 * the connection fails them with -EIO. While the connection is down, submit
 * fails ops at once with -ECONNREFUSED (or -ETIMEDOUT when a connect
 * attempt timed out) and retries the connection after a backoff that
 * doubles from 10 ms to 1 s. A server that answers NOSCRIPT (its script
 * cache was flushed) gets the op again as EVAL with the script's text, which
 * reloads it; that op then runs after the rest of its batch.
 *
 * Durability: with wait_replicas > 0, a batch holding a write that may
 * create state ends with "WAIT n wait_timeout_ms" in the same pipeline.
 * When fewer replicas acknowledged, every write of that batch that created
 * or changed state (slnf_redis_op_needs_wait) fails with -EIO: the master
 * has it, but a failover could lose it. docs/state-model.md has the rest.
 *
 * A mutex serialises submit and poll, so threads may share a handle (each
 * data-path worker should still have its own). stats() asks the server on a
 * second connection (DBSIZE, INFO): entries and expiries are the server's,
 * for the whole database.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "slnf/store.h"
#include "redis_conn.h"
#include "redis_proto.h"

#define REDIS_DEFAULT_TIMEOUT_MS 200
#define REDIS_DEFAULT_WAIT_TIMEOUT_MS 100
/* The longest a batch may wait, whatever the config says: below
 * slnf_store_exec's 5 s, so no batch can outlive a caller that gave up. */
#define REDIS_MAX_BATCH_MS 4000
/* Batches one handle keeps in flight at once. */
#define REDIS_MAX_INFLIGHT 256
/* Tag index of a WAIT; the retry bit marks an op re-sent after NOSCRIPT. */
#define TAG_WAIT UINT32_MAX
#define TAG_RETRY 0x80000000u

struct inflight {
	struct slnf_store_batch *b; /* NULL: slot free */
	uint64_t deadline_ns;
	uint32_t owed;      /* replies still to come */
	int32_t wait_acked; /* fewest replicas a WAIT acknowledged, or -1 */
	bool waited;        /* a WAIT was sent */
};

struct redis_store {
	struct slnf_store base;
	pthread_mutex_t lock; /* conn, fl, st */
	struct slnf_redis_conn conn;
	struct inflight fl[REDIS_MAX_INFLIGHT];
	unsigned fl_used;
	unsigned fl_hw; /* slots below this may be in use */
	uint32_t timeout_ms;
	uint32_t wait_replicas;
	uint32_t wait_timeout_ms;
	struct slnf_store_stats st;
	pthread_mutex_t ctl_lock; /* ctl */
	struct slnf_redis_conn ctl;
};

static inline struct redis_store *rs_of(struct slnf_store *s)
{
	return (struct redis_store *)s;
}

static bool is_failure(int status)
{
	return status < 0 && status != -ENOENT && status != -EEXIST && status != -ESTALE;
}

/* The batch's last answer is in: apply the WAIT verdict, count, finish. */
static void batch_finish(struct redis_store *rs, struct slnf_store_batch *b, bool waited,
			 int32_t wait_acked)
{
	bool unreplicated = waited && wait_acked < (int32_t)rs->wait_replicas;
	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_store_op *op = &b->ops[i];
		if (unreplicated && slnf_redis_op_needs_wait(op))
			op->status = -EIO;
		if (is_failure(op->status))
			rs->st.failures++;
		if (op->status == -ENOSPC)
			rs->st.full++;
	}
	/* Statuses first: another thread may be waiting on done. */
	__atomic_store_n(&b->done, true, __ATOMIC_RELEASE);
}

static void fl_release(struct redis_store *rs, struct inflight *f)
{
	batch_finish(rs, f->b, f->waited, f->wait_acked);
	f->b = NULL;
	rs->fl_used--;
	while (rs->fl_hw && !rs->fl[rs->fl_hw - 1].b)
		rs->fl_hw--;
}

static int append_wait(struct redis_store *rs, struct inflight *f)
{
	struct slnf_redis_cmd cmd;
	slnf_redis_encode_wait(rs->wait_replicas, rs->wait_timeout_ms, &cmd);
	struct slnf_redis_tag tag = {.ptr = f, .idx = TAG_WAIT};
	int rc = slnf_redis_conn_append(&rs->conn, cmd.argc, cmd.argv, cmd.argvlen, tag);
	f->waited = true;
	if (rc == 0)
		f->owed++;
	else
		f->wait_acked = 0; /* no WAIT, no proof of replication */
	return rc;
}

/* Encode op and queue it; sha NULL sends the script's text (EVAL). */
static int append_op(struct redis_store *rs, struct inflight *f, uint32_t idx, const char *sha)
{
	struct slnf_store_op *op = &f->b->ops[idx & ~TAG_RETRY];
	char key[SLNF_REDIS_KEY_MAX];
	int klen = slnf_redis_key(&op->key, key, sizeof(key));
	if (klen < 0)
		return klen;
	struct slnf_redis_cmd cmd;
	int rc = slnf_redis_encode(op, key, (size_t)klen, sha, &cmd);
	if (rc < 0)
		return rc;
	struct slnf_redis_tag tag = {.ptr = f, .idx = idx};
	rc = slnf_redis_conn_append(&rs->conn, cmd.argc, cmd.argv, cmd.argvlen, tag);
	if (rc == 0)
		f->owed++;
	return rc;
}

/* One reply (r) or a lost one (r NULL, err its error) for tag. */
static void on_reply(struct redis_store *rs, struct slnf_redis_tag tag, redisReply *r, int err)
{
	struct inflight *f = tag.ptr;
	f->owed--;
	if (tag.idx == TAG_WAIT) {
		int acked = r ? slnf_redis_decode_wait(r) : 0;
		if (acked < 0)
			acked = 0;
		if (f->wait_acked < 0 || acked < f->wait_acked)
			f->wait_acked = acked;
	} else {
		struct slnf_store_op *op = &f->b->ops[tag.idx & ~TAG_RETRY];
		if (!r) {
			op->status = (int16_t)err;
		} else if (slnf_redis_reply_error(r, NULL, NULL) == SLNF_REDIS_ERR_NOSCRIPT &&
			   !(tag.idx & TAG_RETRY) && append_op(rs, f, tag.idx | TAG_RETRY, NULL) == 0) {
			/* Re-sent with the script's text; its own WAIT follows. */
			if (f->waited && slnf_redis_op_may_need_wait(op))
				append_wait(rs, f);
		} else {
			slnf_redis_decode(op, r);
		}
	}
	if (r)
		freeReplyObject(r);
	if (!f->owed)
		fl_release(rs, f);
}

/* Take every reply that has arrived; fail what a dead connection owed. */
static void drain(struct redis_store *rs)
{
	for (;;) {
		redisReply *r;
		struct slnf_redis_tag tag;
		int rc = slnf_redis_conn_read(&rs->conn, &r, &tag);
		if (rc == 0)
			break;
		on_reply(rs, tag, r, rc < 0 ? rc : 0);
	}
}

/* Drop the connection when an unfinished batch is past its deadline. */
static void check_deadlines(struct redis_store *rs)
{
	if (!rs->fl_used)
		return;
	uint64_t now = slnf_redis_now_ns();
	for (unsigned i = 0; i < rs->fl_hw; i++) {
		if (rs->fl[i].b && now >= rs->fl[i].deadline_ns) {
			slnf_redis_conn_drop(&rs->conn, -ETIMEDOUT, "no reply within %" PRIu32 " ms",
					     rs->timeout_ms);
			drain(rs);
			return;
		}
	}
}

static void progress(struct redis_store *rs)
{
	if (slnf_redis_conn_is_up(&rs->conn))
		slnf_redis_conn_flush(&rs->conn);
	drain(rs);
	check_deadlines(rs);
	if (rs->fl_used && slnf_redis_conn_is_up(&rs->conn))
		slnf_redis_conn_flush(&rs->conn); /* retries queued by drain */
}

static struct inflight *fl_get(struct redis_store *rs)
{
	if (rs->fl_used == REDIS_MAX_INFLIGHT)
		return NULL;
	for (unsigned i = 0; i < REDIS_MAX_INFLIGHT; i++) {
		struct inflight *f = &rs->fl[i];
		if (f->b)
			continue;
		rs->fl_used++;
		if (i >= rs->fl_hw)
			rs->fl_hw = i + 1;
		return f;
	}
	return NULL;
}

/* Fail every op of b still pending with rc and finish it. */
static void fail_batch(struct redis_store *rs, struct slnf_store_batch *b, int rc)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->ops[i].status == -EINPROGRESS)
			b->ops[i].status = (int16_t)rc;
	batch_finish(rs, b, false, 0);
}

static void redis_send(struct redis_store *rs, struct slnf_store_batch *b)
{
	unsigned valid = 0;
	bool may_wait = false;
	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_store_op *op = &b->ops[i];
		if (slnf_redis_op_check(op) < 0) {
			op->status = -EINVAL;
			continue;
		}
		valid++;
		may_wait |= slnf_redis_op_may_need_wait(op);
	}
	if (!valid) {
		batch_finish(rs, b, false, 0);
		return;
	}
	if (!slnf_redis_conn_is_up(&rs->conn))
		drain(rs); /* collect what the last connection owed */
	int rc = slnf_redis_conn_connect(&rs->conn);
	if (rc < 0) {
		fail_batch(rs, b, rc);
		return;
	}
	struct inflight *f = fl_get(rs);
	if (!f) {
		fail_batch(rs, b, -ENOBUFS);
		return;
	}
	*f = (struct inflight){.b = b, .wait_acked = -1};
	uint64_t wait_ms = rs->timeout_ms;
	const char *sha = slnf_redis_conn_sha(&rs->conn, 0);
	for (unsigned i = 0; i < b->n; i++) {
		if (b->ops[i].status != -EINPROGRESS)
			continue;
		rc = append_op(rs, f, i, sha);
		if (rc < 0)
			b->ops[i].status = (int16_t)rc;
	}
	if (rs->wait_replicas && may_wait) {
		append_wait(rs, f);
		wait_ms += rs->wait_timeout_ms;
	}
	if (wait_ms > REDIS_MAX_BATCH_MS)
		wait_ms = REDIS_MAX_BATCH_MS;
	f->deadline_ns = slnf_redis_now_ns() + wait_ms * 1000000ull;
	b->ticket = (uint64_t)(f - rs->fl);
	if (!f->owed) {
		fl_release(rs, f);
		return;
	}
	slnf_redis_conn_flush(&rs->conn);
}

static int redis_submit(struct slnf_store *s, struct slnf_store_batch *b)
{
	struct redis_store *rs = rs_of(s);
	pthread_mutex_lock(&rs->lock);
	rs->st.ops += b->n;
	rs->st.batches++;
	redis_send(rs, b);
	pthread_mutex_unlock(&rs->lock);
	return 0;
}

static int redis_poll(struct slnf_store *s, struct slnf_store_batch *b)
{
	struct redis_store *rs = rs_of(s);
	pthread_mutex_lock(&rs->lock);
	if (!b->done)
		progress(rs);
	pthread_mutex_unlock(&rs->lock);
	return 0;
}

/* "name:value" from an INFO reply, 0 when absent. */
static uint64_t info_field(const redisReply *r, const char *name)
{
	if (!r || r->type != REDIS_REPLY_STRING)
		return 0;
	size_t n = strlen(name);
	for (const char *p = r->str; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return strtoull(p + n + 1, NULL, 10);
	}
	return 0;
}

static redisReply *ctl_command(struct redis_store *rs, const char *a0, const char *a1)
{
	const char *argv[2] = {a0, a1};
	size_t argvlen[2] = {strlen(a0), a1 ? strlen(a1) : 0};
	redisReply *r = NULL;
	if (slnf_redis_conn_command(&rs->ctl, &r, a1 ? 2 : 1, argv, argvlen) < 0)
		return NULL;
	return r;
}

/* One key the scan found: its version and data (HMGET v d) and what is
 * left of its TTL (PTTL); a key gone meanwhile is skipped. */
static int scan_one(struct redis_store *rs, const redisReply *key, slnf_store_scan_fn fn, void *arg,
		    bool *go)
{
	struct slnf_store_key k;
	if (key->type != REDIS_REPLY_STRING || slnf_redis_key_parse(key->str, key->len, &k))
		return 0; /* not one of ours */
	const char *hm[4] = {"HMGET", key->str, "v", "d"}, *pt[2] = {"PTTL", key->str};
	size_t hml[4] = {5, key->len, 1, 1}, ptl[2] = {4, key->len};
	redisReply *r = NULL, *t = NULL;
	int rc = slnf_redis_conn_command(&rs->ctl, &r, 4, hm, hml);
	if (!rc)
		rc = slnf_redis_conn_command(&rs->ctl, &t, 2, pt, ptl);
	if (!rc && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING && t->type == REDIS_REPLY_INTEGER &&
	    t->integer != -2) {
		const redisReply *d = r->element[1];
		bool has_d = d->type == REDIS_REPLY_STRING && d->len <= SLNF_STORE_VAL_MAX;
		struct slnf_store_record rec = {
			.key = &k,
			.val = has_d ? (const uint8_t *)d->str : (const uint8_t *)"",
			.val_len = has_d ? (uint16_t)d->len : 0,
			.version = strtoull(r->element[0]->str, NULL, 10),
			.ttl_left_ms = t->integer < 0 ? -1 : t->integer};
		*go = fn(&rec, arg);
	}
	if (r)
		freeReplyObject(r);
	if (t)
		freeReplyObject(t);
	return rc;
}

/* Visit (tenant, nf)'s records: SCAN with the keys' prefix as MATCH on the
 * control connection, then each key read on its own. Slow (two round
 * trips a record) and, like any SCAN, not a snapshot: keys written during
 * it may be missed or seen twice. For operators' listings only. */
static int redis_scan(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		      void *arg)
{
	struct redis_store *rs = rs_of(s);
	char pattern[48], cursor[32] = "0";
	bool go = true;
	int rc = 0;
	slnf_redis_key_pattern(tenant, nf, pattern, sizeof(pattern));
	pthread_mutex_lock(&rs->ctl_lock);
	do {
		const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "512"};
		size_t argvlen[6];
		redisReply *r = NULL;
		for (unsigned i = 0; i < 6; i++)
			argvlen[i] = strlen(argv[i]);
		rc = slnf_redis_conn_command(&rs->ctl, &r, 6, argv, argvlen);
		if (rc < 0)
			break;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			rc = -EIO;
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; go && rc >= 0 && i < r->element[1]->elements; i++)
			rc = scan_one(rs, r->element[1]->element[i], fn, arg, &go);
		freeReplyObject(r);
	} while (rc >= 0 && go && strcmp(cursor, "0"));
	pthread_mutex_unlock(&rs->ctl_lock);
	return rc < 0 ? rc : 0;
}

static void redis_stats(struct slnf_store *s, struct slnf_store_stats *out)
{
	struct redis_store *rs = rs_of(s);
	pthread_mutex_lock(&rs->lock);
	*out = rs->st;
	pthread_mutex_unlock(&rs->lock);

	pthread_mutex_lock(&rs->ctl_lock);
	redisReply *r = ctl_command(rs, "DBSIZE", NULL);
	if (r && r->type == REDIS_REPLY_INTEGER)
		out->entries = (uint64_t)r->integer;
	if (r)
		freeReplyObject(r);
	r = ctl_command(rs, "INFO", "stats");
	out->expired = info_field(r, "expired_keys");
	if (r)
		freeReplyObject(r);
	r = ctl_command(rs, "INFO", "memory");
	out->memory_bytes = info_field(r, "used_memory");
	if (r)
		freeReplyObject(r);
	pthread_mutex_unlock(&rs->ctl_lock);
}

static void redis_close(struct slnf_store *s)
{
	struct redis_store *rs = rs_of(s);
	slnf_redis_conn_fini(&rs->conn);
	slnf_redis_conn_fini(&rs->ctl);
	pthread_mutex_destroy(&rs->lock);
	pthread_mutex_destroy(&rs->ctl_lock);
	free(rs);
}

static int redis_open(const struct slnf_store_config *cfg, struct slnf_store **out,
		      struct slnf_error *err)
{
	struct slnf_redis_conn_cfg cc = {
		.port = cfg->redis.port,
		.timeout_ms = cfg->redis.timeout_ms ? cfg->redis.timeout_ms
						    : REDIS_DEFAULT_TIMEOUT_MS,
		.scripts = {slnf_redis_script},
		.n_scripts = 1,
	};
	snprintf(cc.host, sizeof(cc.host), "%s", cfg->redis.host);
	snprintf(cc.unix_path, sizeof(cc.unix_path), "%s", cfg->redis.unix_path);

	struct redis_store *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return slnf_errorf(err, ENOMEM, NULL, "store", "out of memory");
	rs->timeout_ms = cc.timeout_ms;
	rs->wait_replicas = cfg->redis.wait_replicas;
	rs->wait_timeout_ms = cfg->redis.wait_timeout_ms ? cfg->redis.wait_timeout_ms
							 : REDIS_DEFAULT_WAIT_TIMEOUT_MS;
	rs->st.capacity = cfg->capacity;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_mutex_init(&rs->ctl_lock, NULL);
	int rc = slnf_redis_conn_init(&rs->conn, &cc);
	if (rc == 0)
		rc = slnf_redis_conn_init(&rs->ctl, &cc);
	if (rc == 0)
		rc = slnf_redis_conn_connect(&rs->conn);
	if (rc < 0) {
		rc = slnf_errorf(err, -rc, NULL, "store.redis", "cannot open the redis store: %s",
				 slnf_redis_conn_error(&rs->conn));
		redis_close(&rs->base);
		return rc;
	}
	*out = &rs->base;
	return 0;
}

static const struct slnf_store_backend redis_backend = {
	.name = "redis",
	.open = redis_open,
	.close = redis_close,
	.submit = redis_submit,
	.poll = redis_poll,
	.stats = redis_stats,
	.scan = redis_scan,
};

SLNF_STORE_BACKEND_REGISTER(redis_backend)
