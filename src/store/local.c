/*
 * local.c - the "local" store backend: state in the process's own memory.
 *
 * This is the classic stateful NF, kept as the baseline that benchmarks and
 * failover tests compare the real backends against: nothing survives the
 * process, and nothing is shared with another one. Keys go into an rte_hash
 * (the whole struct slnf_store_key, hashed and compared as bytes); the
 * position rte_hash hands back indexes a preallocated array of records, so
 * a write never allocates. Capacity is fixed at open: a write that needs a
 * new record when the table is full fails with -ENOSPC and live state is
 * never evicted to make room.
 *
 * TTLs are checked on every access (an expired record is absent to every
 * opcode) and reclaimed incrementally: each batch looks at a few slots from
 * a rotating cursor, so there is never a stop-the-world sweep. Batches
 * complete synchronously inside submit. Several workers may share one
 * handle; a spinlock serialises whole batches, which is what a baseline
 * needs and no more.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_spinlock.h>

#include "slnf/store.h"

/* Slots the incremental TTL sweep examines per batch, and per write that
 * finds the table full. */
#define LOCAL_SWEEP_BATCH 8
#define LOCAL_SWEEP_FULL 64
/* rte_hash refuses tables smaller than one bucket. */
#define LOCAL_HASH_MIN 8
#define LOCAL_DEFAULT_CAPACITY 65536

struct local_record {
	uint64_t version;   /* 0: slot unused */
	uint64_t expiry_ms; /* 0: never */
	int64_t counter;
	uint16_t val_len;
	uint8_t val[SLNF_STORE_VAL_MAX];
};

struct local_store {
	struct slnf_store base;
	rte_spinlock_t lock;
	struct rte_hash *hash;
	struct local_record *recs;
	uint32_t slots;    /* records allocated (>= capacity) */
	uint32_t capacity; /* records allowed */
	uint32_t used;
	uint32_t cursor;   /* next slot the sweep looks at */
	uint64_t ms_div;   /* timer cycles per millisecond */
	uint64_t memory_bytes;
	struct slnf_store_stats st;
};

static atomic_uint local_seq;

static inline struct local_store *local_of(struct slnf_store *s)
{
	return (struct local_store *)s;
}

static uint64_t local_now_ms(const struct local_store *ls)
{
	return rte_get_timer_cycles() / ls->ms_div;
}

static inline bool rec_live(const struct local_record *r, uint64_t now)
{
	return r->version && (!r->expiry_ms || now < r->expiry_ms);
}

/* Remove the record at pos (its key is key) from the table. */
static void local_remove(struct local_store *ls, int32_t pos, const struct slnf_store_key *key)
{
	rte_hash_del_key(ls->hash, key);
	ls->recs[pos].version = 0;
	ls->used--;
}

/* Look at up to n slots from the cursor and reclaim expired records. */
static void local_sweep(struct local_store *ls, unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t pos = ls->cursor++;
		if (ls->cursor >= ls->slots)
			ls->cursor = 0;
		struct local_record *r = &ls->recs[pos];
		if (!r->version || rec_live(r, now))
			continue;
		void *stored;
		if (rte_hash_get_key_with_position(ls->hash, (int32_t)pos, &stored) < 0)
			continue;
		/* Copy: the stored key lives in the slot being freed. */
		struct slnf_store_key key;
		memcpy(&key, stored, sizeof(key));
		local_remove(ls, (int32_t)pos, &key);
		ls->st.expired++;
	}
}

/* Find the live record of key: its slot, or -ENOENT. An expired record
 * found on the way is reclaimed. */
static int32_t local_find(struct local_store *ls, const struct slnf_store_key *key, uint64_t now)
{
	int32_t pos = rte_hash_lookup(ls->hash, key);
	if (pos < 0)
		return -ENOENT;
	if ((uint32_t)pos >= ls->slots)
		return -EIO;
	if (!rec_live(&ls->recs[pos], now)) {
		local_remove(ls, pos, key);
		ls->st.expired++;
		return -ENOENT;
	}
	return pos;
}

/* A fresh record for key (known absent): its slot or -ENOSPC. */
static int32_t local_create(struct local_store *ls, const struct slnf_store_key *key, uint64_t now)
{
	if (ls->used >= ls->capacity) {
		local_sweep(ls, LOCAL_SWEEP_FULL, now);
		if (ls->used >= ls->capacity) {
			ls->st.full++;
			return -ENOSPC;
		}
	}
	int32_t pos = rte_hash_add_key(ls->hash, key);
	if (pos < 0) {
		if (pos == -ENOSPC)
			ls->st.full++;
		return pos;
	}
	if ((uint32_t)pos >= ls->slots) {
		rte_hash_del_key(ls->hash, key);
		return -EIO;
	}
	struct local_record *r = &ls->recs[pos];
	r->version = 0;
	r->counter = 0;
	r->val_len = 0;
	ls->used++;
	return pos;
}

static void rec_out(const struct local_record *r, struct slnf_store_op *op)
{
	op->version = r->version;
	op->val_len = r->val_len;
	op->counter = r->counter;
	memcpy(op->val, r->val, r->val_len);
}

/* Apply a write to r: new value (or counter), TTL and version. */
static void rec_write(struct local_record *r, struct slnf_store_op *op, uint64_t now)
{
	if (op->opcode == SLNF_STORE_INCR) {
		r->counter += op->delta;
		op->counter = r->counter;
	} else {
		r->val_len = op->val_len;
		memcpy(r->val, op->val, op->val_len);
	}
	r->expiry_ms = op->ttl_ms ? now + op->ttl_ms : 0;
	r->version++;
	op->version = r->version;
}

static int local_op(struct local_store *ls, struct slnf_store_op *op, uint64_t now)
{
	if (op->key.len > SLNF_STORE_KEY_DATA_MAX || op->val_len > SLNF_STORE_VAL_MAX ||
	    op->opcode > SLNF_STORE_INCR)
		return -EINVAL;
	/* Keys compare as bytes: whatever sits past len must not matter. */
	struct slnf_store_key key = op->key;
	memset(key.data + key.len, 0, SLNF_STORE_KEY_DATA_MAX - key.len);

	int32_t pos = local_find(ls, &key, now);
	if (pos < 0 && pos != -ENOENT)
		return pos;
	struct local_record *r = pos >= 0 ? &ls->recs[pos] : NULL;

	switch (op->opcode) {
	case SLNF_STORE_GET:
		if (!r)
			return -ENOENT;
		rec_out(r, op);
		return 0;
	case SLNF_STORE_DEL:
		if (!r)
			return -ENOENT;
		op->version = r->version;
		local_remove(ls, pos, &key);
		return 0;
	case SLNF_STORE_PUT_IF_ABSENT:
		if (r) {
			rec_out(r, op);
			return -EEXIST;
		}
		break;
	case SLNF_STORE_CAS:
		if (!r)
			return -ENOENT;
		if (r->version != op->version) {
			rec_out(r, op);
			return -ESTALE;
		}
		break;
	default: /* PUT, INCR create when absent */
		break;
	}
	if (!r) {
		pos = local_create(ls, &key, now);
		if (pos < 0)
			return pos;
		r = &ls->recs[pos];
	}
	rec_write(r, op, now);
	return 0;
}

static int local_submit(struct slnf_store *s, struct slnf_store_batch *b)
{
	struct local_store *ls = local_of(s);
	rte_spinlock_lock(&ls->lock);
	uint64_t now = local_now_ms(ls);
	local_sweep(ls, LOCAL_SWEEP_BATCH, now);
	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_store_op *op = &b->ops[i];
		int rc = local_op(ls, op, now);
		op->status = (int16_t)rc;
		if (rc < 0 && rc != -ENOENT && rc != -EEXIST && rc != -ESTALE)
			ls->st.failures++;
	}
	ls->st.ops += b->n;
	ls->st.batches++;
	rte_spinlock_unlock(&ls->lock);
	b->done = true;
	return 0;
}

static int local_poll(struct slnf_store *s, struct slnf_store_batch *b)
{
	/* Every batch completes in submit. */
	return b->done ? 0 : -EINVAL;
}

static void local_stats(struct slnf_store *s, struct slnf_store_stats *out)
{
	struct local_store *ls = local_of(s);
	rte_spinlock_lock(&ls->lock);
	*out = ls->st;
	out->entries = ls->used;
	out->capacity = ls->capacity;
	out->memory_bytes = ls->memory_bytes;
	rte_spinlock_unlock(&ls->lock);
}

static void local_close(struct slnf_store *s)
{
	struct local_store *ls = local_of(s);
	rte_hash_free(ls->hash);
	free(ls->recs);
	free(ls);
}

static int local_open(const struct slnf_store_config *cfg, struct slnf_store **out,
		      struct slnf_error *err)
{
	uint32_t capacity = cfg->capacity ? cfg->capacity : LOCAL_DEFAULT_CAPACITY;
	if (capacity > RTE_HASH_ENTRIES_MAX)
		return slnf_errorf(err, EINVAL, NULL, "store.capacity",
				   "%u records is more than the local backend holds (max %u)",
				   capacity, (unsigned)RTE_HASH_ENTRIES_MAX);
	uint32_t slots = capacity < LOCAL_HASH_MIN ? LOCAL_HASH_MIN : capacity;

	struct local_store *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return slnf_errorf(err, ENOMEM, NULL, "store", "out of memory");
	ls->recs = calloc(slots, sizeof(*ls->recs));
	if (!ls->recs) {
		free(ls);
		return slnf_errorf(err, ENOMEM, NULL, "store.capacity",
				   "cannot allocate %u records", capacity);
	}
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "slnf_local_%u", atomic_fetch_add(&local_seq, 1));
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = slots,
		.key_len = sizeof(struct slnf_store_key),
		.socket_id = SOCKET_ID_ANY,
		/* Without the extendable table, cuckoo collisions could refuse
		 * a key before the table holds capacity records. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	ls->hash = rte_hash_create(&hp);
	if (!ls->hash) {
		int e = rte_errno ? rte_errno : ENOMEM;
		free(ls->recs);
		free(ls);
		return slnf_errorf(err, e, NULL, "store.capacity",
				   "cannot create a hash table of %u records: %s (is EAL up?)",
				   capacity, rte_strerror(e));
	}
	rte_spinlock_init(&ls->lock);
	ls->slots = slots;
	ls->capacity = capacity;
	uint64_t hz = rte_get_timer_hz();
	ls->ms_div = hz >= 1000 ? hz / 1000 : 1;
	/* Records, plus the hash's key store and buckets (an estimate: rte_hash
	 * does not report its footprint). */
	ls->memory_bytes = sizeof(*ls) + (uint64_t)slots * sizeof(*ls->recs) +
			   (uint64_t)(slots + 1) * (sizeof(struct slnf_store_key) + 8) +
			   (uint64_t)rte_align32pow2(slots) * 8;
	*out = &ls->base;
	return 0;
}

/* Visit the live records of (tenant, nf) under the store's lock. */
static int local_scan(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		      void *arg)
{
	struct local_store *ls = local_of(s);
	const void *k;
	void *data;
	uint32_t next = 0;
	int32_t pos;
	rte_spinlock_lock(&ls->lock);
	uint64_t now = local_now_ms(ls);
	while ((pos = rte_hash_iterate(ls->hash, &k, &data, &next)) >= 0) {
		const struct slnf_store_key *key = k;
		const struct local_record *r = &ls->recs[pos];
		if (key->tenant != tenant || key->nf != nf || !rec_live(r, now))
			continue;
		struct slnf_store_record out = {
			.key = key, .val = r->val, .val_len = r->val_len, .version = r->version,
			.ttl_left_ms = r->expiry_ms ? (int64_t)(r->expiry_ms - now) : -1};
		if (!fn(&out, arg))
			break;
	}
	rte_spinlock_unlock(&ls->lock);
	return 0;
}

static const struct slnf_store_backend local_backend = {
	.name = "local",
	.open = local_open,
	.close = local_close,
	.submit = local_submit,
	.poll = local_poll,
	.stats = local_stats,
	.scan = local_scan,
};

SLNF_STORE_BACKEND_REGISTER(local_backend)
