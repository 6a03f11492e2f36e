/*
 * cache.c - the per-worker instance cache; see cache.h for the rules.
 *
 * Layout: a power-of-two number of 8-way sets. Each set has a one-cache-line
 * header with a 32-bit signature (from the key's hash, never 0; 0 marks an
 * empty way) and a last-use tick per way, so a lookup reads one header line
 * and then only the entry whose signature matches. A key lives in at most
 * one way of its set: a fill reuses the key's way when there is one, else
 * an empty way, else the least recently used one.
 *
 * Liveness: an entry is live when it was filled in the current generation
 * and its expiry lies ahead. The generation moves on (one increment, no
 * scan) when the owner sees a new epoch at a lookup, so every entry from
 * before is dead at once; dead entries are freed when a lookup meets them
 * or reused as victims.
 *
 * Keys are normalised (bytes past len zeroed) before hashing and compare,
 * as the store does; a key longer than the store allows is never cached,
 * so the store gets to refuse it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/cache.h"

#define WAYS 8
#define CACHE_CAPACITY_MAX (1u << 24)
#define NO_EXPIRY UINT64_MAX

_Static_assert(sizeof(struct slnf_store_key) == 48, "key hashing reads 6 words");

struct cache_set {
	uint32_t sig[WAYS];  /* 0: empty way */
	uint32_t used[WAYS]; /* tick of the last hit or fill */
};

struct cache_entry {
	struct slnf_store_key key; /* normalised */
	uint64_t gen;
	uint64_t expires_ms;
	uint64_t version;
	int64_t counter;
	uint16_t val_len;
	uint8_t val[SLNF_STORE_VAL_MAX];
};

struct slnf_cache {
	struct cache_set *sets;
	struct cache_entry *entries;
	uint32_t mask; /* sets - 1 */
	uint32_t tick;
	uint32_t read_max_age_ms;
	uint64_t gen;   /* entries of another generation are dead */
	uint64_t epoch; /* the epoch gen belongs to */
	_Atomic uint64_t want_epoch;
	struct slnf_cache_stats st;
};

/* A record as the cache keeps it. */
struct cache_rec {
	uint64_t version;
	int64_t counter;
	uint64_t expires_ms;
	uint16_t val_len;
	const uint8_t *val;
};

int slnf_cache_create(const struct slnf_cache_config *cfg, struct slnf_cache **out)
{
	*out = NULL;
	if (!cfg->capacity || cfg->capacity > CACHE_CAPACITY_MAX)
		return -EINVAL;
	uint32_t cap = WAYS;
	while (cap < cfg->capacity)
		cap <<= 1;
	struct slnf_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sets = calloc(cap / WAYS, sizeof(*c->sets));
	c->entries = calloc(cap, sizeof(*c->entries));
	if (!c->sets || !c->entries) {
		slnf_cache_destroy(c);
		return -ENOMEM;
	}
	c->mask = cap / WAYS - 1;
	c->read_max_age_ms = cfg->read_max_age_ms ? cfg->read_max_age_ms :
						    SLNF_CACHE_DEFAULT_READ_MAX_AGE_MS;
	c->gen = 1;
	c->st.capacity = cap;
	*out = c;
	return 0;
}

void slnf_cache_destroy(struct slnf_cache *c)
{
	if (!c)
		return;
	free(c->sets);
	free(c->entries);
	free(c);
}

uint64_t slnf_cache_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void slnf_cache_set_epoch(struct slnf_cache *c, uint64_t epoch)
{
	atomic_store_explicit(&c->want_epoch, epoch, memory_order_relaxed);
}

uint64_t slnf_cache_epoch(const struct slnf_cache *c)
{
	return atomic_load_explicit(&c->want_epoch, memory_order_relaxed);
}

static void sync_epoch(struct slnf_cache *c)
{
	uint64_t want = atomic_load_explicit(&c->want_epoch, memory_order_relaxed);
	if (want == c->epoch)
		return;
	c->epoch = want;
	c->gen++;
	c->st.epoch_changes++;
}

/* Copy key with the bytes past len zeroed; false when it is too long. */
static bool key_normalise(const struct slnf_store_key *in, struct slnf_store_key *out)
{
	if (in->len > SLNF_STORE_KEY_DATA_MAX)
		return false;
	*out = *in;
	memset(out->data + out->len, 0, SLNF_STORE_KEY_DATA_MAX - out->len);
	return true;
}

static uint64_t key_hash(const struct slnf_store_key *k)
{
	uint64_t w[6], h = 0x9e3779b97f4a7c15ull;
	memcpy(w, k, sizeof(w));
	for (unsigned i = 0; i < 6; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

/* Where key lives or would live. */
struct cache_slot {
	struct cache_set *set;
	struct cache_entry *ways; /* the set's entries */
	uint32_t sig;
	int way; /* the key's way, -1 when absent */
};

static void slot_find(struct slnf_cache *c, const struct slnf_store_key *key, struct cache_slot *s)
{
	uint64_t h = key_hash(key);
	uint32_t idx = (uint32_t)h & c->mask;
	s->set = &c->sets[idx];
	s->ways = &c->entries[(size_t)idx * WAYS];
	s->sig = (uint32_t)(h >> 32) | 1;
	s->way = -1;
	for (int w = 0; w < WAYS; w++) {
		if (s->set->sig[w] == s->sig && !memcmp(&s->ways[w].key, key, sizeof(*key))) {
			s->way = w;
			return;
		}
	}
}

static bool entry_live(const struct slnf_cache *c, const struct cache_entry *e, uint64_t now)
{
	return e->gen == c->gen && now < e->expires_ms;
}

static void slot_free(struct cache_slot *s)
{
	s->set->sig[s->way] = 0;
	s->ways[s->way].gen = 0;
	s->way = -1;
}

/* The way a new key takes: an empty one, else the least recently used. */
static int slot_victim(struct slnf_cache *c, struct cache_slot *s, uint64_t now)
{
	int victim = 0;
	uint32_t oldest = 0;
	for (int w = 0; w < WAYS; w++) {
		if (!s->set->sig[w])
			return w;
		uint32_t age = c->tick - s->set->used[w];
		if (age >= oldest) {
			oldest = age;
			victim = w;
		}
	}
	if (entry_live(c, &s->ways[victim], now))
		c->st.evictions++;
	return victim;
}

static void slot_fill(struct slnf_cache *c, struct cache_slot *s, const struct slnf_store_key *key,
		      const struct cache_rec *r, uint64_t now)
{
	if (s->way < 0)
		s->way = slot_victim(c, s, now);
	struct cache_entry *e = &s->ways[s->way];
	e->key = *key;
	e->gen = c->gen;
	e->expires_ms = r->expires_ms;
	e->version = r->version;
	e->counter = r->counter;
	e->val_len = r->val_len;
	if (r->val_len && r->val != e->val)
		memcpy(e->val, r->val, r->val_len);
	s->set->sig[s->way] = s->sig;
	s->set->used[s->way] = ++c->tick;
	c->st.inserts++;
}

static void slot_drop(struct slnf_cache *c, struct cache_slot *s)
{
	if (s->way < 0)
		return;
	if (s->ways[s->way].gen == c->gen)
		c->st.invalidations++;
	slot_free(s);
}

int slnf_cache_lookup(struct slnf_cache *c, struct slnf_store_op *op, uint64_t now_ms)
{
	struct slnf_store_key key;
	sync_epoch(c);
	if (!key_normalise(&op->key, &key)) {
		c->st.misses++;
		return -ENOENT;
	}
	struct cache_slot s;
	slot_find(c, &key, &s);
	if (s.way < 0) {
		c->st.misses++;
		return -ENOENT;
	}
	const struct cache_entry *e = &s.ways[s.way];
	if (!entry_live(c, e, now_ms)) {
		slot_free(&s);
		c->st.misses++;
		c->st.stale++;
		return -ENOENT;
	}
	op->status = 0;
	op->version = e->version;
	op->counter = e->counter;
	op->val_len = e->val_len;
	memcpy(op->val, e->val, e->val_len);
	s.set->used[s.way] = ++c->tick;
	c->st.hits++;
	return 0;
}

/* The whole record as the store returned it (GET, or a lost PUT_IF_ABSENT
 * or CAS): how much TTL it has left is unknown, so it lives read_max_age. */
static void fill_returned(struct slnf_cache *c, struct cache_slot *s,
			  const struct slnf_store_key *key, const struct slnf_store_op *res,
			  uint64_t now)
{
	if (res->val_len > SLNF_STORE_VAL_MAX) {
		slot_drop(c, s);
		return;
	}
	struct cache_rec r = {
		.version = res->version, .counter = res->counter, .val_len = res->val_len,
		.val = res->val, .expires_ms = now + c->read_max_age_ms,
	};
	slot_fill(c, s, key, &r, now);
}

/* An acknowledged PUT, PUT_IF_ABSENT, CAS or INCR. The store answers with
 * the new version but not the half of the record the write left alone (the
 * counter for value writes, the value for INCR): that half is known when
 * the write created the record (version 1: counter 0, empty value) or when
 * the cache held the version just before this one. Otherwise the entry is
 * dropped rather than guessed. */
static void fill_written(struct slnf_cache *c, struct cache_slot *s,
			 const struct slnf_store_key *key, const struct slnf_store_op *req,
			 const struct slnf_store_op *res, uint64_t now)
{
	const struct cache_entry *prev = s->way >= 0 ? &s->ways[s->way] : NULL;
	bool created = res->version == 1;
	if (!created && !(prev && entry_live(c, prev, now) && prev->version + 1 == res->version)) {
		slot_drop(c, s);
		return;
	}
	struct cache_rec r = {
		.version = res->version,
		.expires_ms = req->ttl_ms ? now + req->ttl_ms : NO_EXPIRY,
	};
	if (req->opcode == SLNF_STORE_INCR) {
		r.counter = res->counter;
		r.val_len = created ? 0 : prev->val_len;
		r.val = created ? NULL : prev->val;
	} else {
		if (req->val_len > SLNF_STORE_VAL_MAX) {
			slot_drop(c, s);
			return;
		}
		r.counter = created ? 0 : prev->counter;
		r.val_len = req->val_len;
		r.val = req->val;
	}
	slot_fill(c, s, key, &r, now);
}

void slnf_cache_update(struct slnf_cache *c, const struct slnf_store_op *req,
		       const struct slnf_store_op *res, uint64_t now_ms)
{
	struct slnf_store_key key;
	if (!key_normalise(&req->key, &key))
		return;
	struct cache_slot s;
	slot_find(c, &key, &s);
	int status = res->status;

	switch (req->opcode) {
	case SLNF_STORE_GET:
		/* A failed read says nothing about the record: keep what we
		 * have (a fail-closed NF keeps serving cached flows). */
		if (!status)
			fill_returned(c, &s, &key, res, now_ms);
		else if (status == -ENOENT)
			slot_drop(c, &s);
		return;
	case SLNF_STORE_PUT_IF_ABSENT:
	case SLNF_STORE_CAS:
		if (status == -EEXIST || status == -ESTALE) {
			fill_returned(c, &s, &key, res, now_ms);
			return;
		}
		/* fall through */
	case SLNF_STORE_PUT:
	case SLNF_STORE_INCR:
		if (!status) {
			fill_written(c, &s, &key, req, res, now_ms);
			return;
		}
		/* The record is gone (-ENOENT) or the outcome unknown
		 * (timeout, error): forget it, like a DEL. */
		/* fall through */
	default:
		slot_drop(c, &s);
		return;
	}
}

void slnf_cache_invalidate(struct slnf_cache *c, const struct slnf_store_key *key)
{
	struct slnf_store_key k;
	if (!key_normalise(key, &k))
		return;
	struct cache_slot s;
	slot_find(c, &k, &s);
	slot_drop(c, &s);
}

void slnf_cache_stats(const struct slnf_cache *c, struct slnf_cache_stats *out)
{
	*out = c->st;
}

void slnf_cache_stats_add(const struct slnf_cache *c, struct slnf_cache_stats *sum)
{
	const struct slnf_cache_stats *s = &c->st;
	sum->capacity += s->capacity;
	sum->hits += s->hits;
	sum->misses += s->misses;
	sum->stale += s->stale;
	sum->inserts += s->inserts;
	sum->evictions += s->evictions;
	sum->invalidations += s->invalidations;
	sum->epoch_changes += s->epoch_changes;
}
