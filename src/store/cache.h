/*
 * cache.h - the instance cache: a per-worker copy of records the worker
 * recently read or wrote, in front of any store backend.
 *
 * Steering gives a flow affinity to one instance (and one worker), so the
 * records its packets need are usually the ones the worker touched last.
 * The chain runner looks up GETs here first and sends only the misses to
 * the store; it feeds every store answer back (fresh reads, acknowledged
 * writes, the current record returned by a lost PUT_IF_ABSENT or CAS).
 * Writes are never answered from the cache: they always go to the store,
 * version-checked where the NF uses CAS, so a stale entry can cost a packet
 * (its write comes back -ESTALE) but never overwrite newer state.
 *
 * Lifetimes:
 *  - an entry filled from a write lives no longer than the TTL written;
 *  - an entry filled from a read (or a conflict answer) lives at most
 *    read_max_age_ms, because the store does not say how much of the
 *    record's TTL is left;
 *  - slnf_cache_set_epoch with a new number turns every entry filled before
 *    it into a miss, in O(1): entries carry the generation they were filled
 *    in and the cache compares generations. Any thread may call it (the
 *    orchestrator bumps the steering epoch); the owning worker applies it at
 *    its next lookup, and entries filled from store answers that were in
 *    flight across the bump are already older than the new generation.
 *
 * One worker owns a cache; apart from set_epoch nothing here is thread-safe
 * and nothing here allocates after create. Fixed capacity, 8-way set
 * associative, least recently used entry of a set evicted for a new one.
 */
#ifndef SLNF_STORE_CACHE_H
#define SLNF_STORE_CACHE_H

#include <stdint.h>

#include "slnf/store.h"

#define SLNF_CACHE_DEFAULT_CAPACITY 4096
#define SLNF_CACHE_DEFAULT_READ_MAX_AGE_MS 1000

struct slnf_cache_config {
	uint32_t capacity;        /* entries, rounded up to a power of two >= 8 */
	uint32_t read_max_age_ms; /* cap for entries filled from reads; 0 = default */
};

struct slnf_cache_stats {
	uint64_t capacity;
	uint64_t hits;
	uint64_t misses;        /* lookups not served, stale ones included */
	uint64_t stale;         /* misses that found the key, expired or from an older epoch */
	uint64_t inserts;       /* entries filled or refreshed from store answers */
	uint64_t evictions;     /* live entries displaced to make room */
	uint64_t invalidations; /* live entries dropped: deletes, failed writes */
	uint64_t epoch_changes;
};

struct slnf_cache;

/* 0, -EINVAL for a capacity of 0 or above 2^24, -ENOMEM. */
int slnf_cache_create(const struct slnf_cache_config *cfg, struct slnf_cache **out);
void slnf_cache_destroy(struct slnf_cache *c);

/* Monotonic milliseconds, the clock every now_ms below is read from. */
uint64_t slnf_cache_now_ms(void);

/* Steering changed: entries filled before are misses from now on. Safe from
 * any thread; setting the current epoch again changes nothing. */
void slnf_cache_set_epoch(struct slnf_cache *c, uint64_t epoch);
uint64_t slnf_cache_epoch(const struct slnf_cache *c);

/* Serve a GET: on a hit fill op's val, val_len, version and counter, set
 * status 0 and return 0; -ENOENT on a miss (op untouched). */
int slnf_cache_lookup(struct slnf_cache *c, struct slnf_store_op *op, uint64_t now_ms);

/* Feed back a completed store op: req is the op as submitted (opcode,
 * expected version, TTL), res the same op as the store completed it.
 * Reads fill the entry, acknowledged writes update it, conflicts store the
 * current record returned, anything the cache cannot know the outcome of
 * (deletes, errors) drops it. Other keys are never touched. */
void slnf_cache_update(struct slnf_cache *c, const struct slnf_store_op *req,
		       const struct slnf_store_op *res, uint64_t now_ms);

/* Drop key's entry, if any. */
void slnf_cache_invalidate(struct slnf_cache *c, const struct slnf_store_key *key);

void slnf_cache_stats(const struct slnf_cache *c, struct slnf_cache_stats *out);
/* Add c's counters to sum (capacity included). */
void slnf_cache_stats_add(const struct slnf_cache *c, struct slnf_cache_stats *sum);

#endif
