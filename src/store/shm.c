/*
 * shm.c - the "shm" store backend: one table in POSIX shared memory that
 * every slnfd (and tool) on a host opens by name, so instances on one
 * machine share their NF state and fail over without a server. Plain POSIX,
 * no DPDK EAL.
 *
 * Layout (one file, /dev/shm/<store.shm_name>):
 *
 *   header (4 KiB)   magic, layout version, geometry, hash seed, the
 *                    "ready" flag, the record count and its lock, the GC
 *                    cursor and the stats counters (atomic adds)
 *   buckets          32 bytes each: lock word, map word, tags, overflow count
 *   slots            9 x 64 bytes per bucket
 *
 * A bucket indexes up to 8 records. Its map word holds eight 4-bit entries
 * (0: empty, else 1 + the slot holding the record's head) and, in the high
 * 32 bits, a sequence number bumped on every change; tags holds one hash
 * byte per entry so a lookup reads only matching heads. A record is a
 * 64-byte head (version, expiry, key length, value length, tenant, NF,
 * and 40 bytes of payload) plus up to 3 extension slots of 64 payload bytes
 * each, taken from the same bucket's 9 slots. The payload is the key, the
 * value and (only once an INCR made it non-zero) the 8-byte counter: a
 * record whose key + value (+ counter) is at most 40 bytes, e.g. an IPv4
 * 5-tuple key with a 27-byte value, is one slot. Keys hash (with a seed
 * chosen at creation) to a home bucket among the first n_main = capacity/7
 * buckets and probe forward (linear, never wrapping; a tail of extra
 * buckets follows). A bucket's overflow count says how many records homed at
 * or before it live after it, so a lookup stops at the first bucket that
 * lacks the key and has a zero count.
 *
 * Writes are out of place: a writer fills free slots of the bucket with the
 * new record and then publishes it with one atomic store of the map word
 * (new head index, sequence + 1). Slots referenced by the published map are
 * never written, and a bucket always keeps at least as many free slots as
 * its longest record needs (admission rule), so any record can be rewritten
 * at its size; a record that grows may find its bucket too crowded (-ENOSPC,
 * counted as full). Readers take no lock: they load the map (acquire),
 * copy the heads and payload they need, and load the map again; an unchanged
 * map (the sequence included) means nothing they read was a free slot that a
 * writer could reuse. They retry a few times and then read under the
 * bucket lock, so they never starve; they never wait for a writer that
 * died, since a dead writer leaves no "write in progress" mark.
 *
 * Locks: every bucket has a lock word holding its owner's identity (PID in
 * the high half, the low 32 bits of the process start time from
 * /proc/<pid>/stat in the low half), taken with a CAS. All changes to a key
 * happen under the lock of its home bucket; a change in another bucket of
 * the probe also takes that bucket's lock. Locks are always taken in
 * increasing bucket order (home first, probes go forward, never wrap), so
 * there is no deadlock. A waiter that has spun a while checks the owner: a
 * PID that no longer exists (ESRCH), a zombie, or a PID whose start time
 * differs (reused) is dead, and the waiter takes the lock over with a CAS.
 * A live owner that never lets go (stopped) costs waiters at most
 * SHM_LOCK_TIMEOUT_NS and then -ETIMEDOUT.
 *
 * The record count (stats.entries, and the capacity check) cannot be an
 * atomic add after the publish: a writer killed between the two would
 * leave it wrong for good. Inserts and deletes therefore publish through
 * the count lock (a lock word like a bucket's, in the header): under it the
 * writer checks capacity, writes a redo log {bucket, new map word, new
 * count}, sets log_valid, stores the count, stores the map word, and clears
 * log_valid. Whoever takes the count lock over from a dead owner replays a
 * valid log (two absolute stores, so replaying twice is harmless). Whoever
 * takes a bucket lock over from a dead owner passes through the count lock
 * before touching the bucket, so a pending publish into that bucket is
 * replayed first.
 *
 * Kill points (SIGKILL can land between any two instructions):
 *  - before a publish: the new record sits in slots no map references, and
 *    the next writer of the bucket reuses them. A new entry's tag byte may
 *    have changed, but the entry is empty in the map, so nobody reads it.
 *    Overflow counts raised for the insert stay raised: lookups probe a
 *    bucket further, nothing else (slnf_store_shm_check reports the excess).
 *  - the publish itself is one 64-bit store: before it, the old record is
 *    intact; after it, the new one is complete.
 *  - inside the count lock: before log_valid, nothing is visible; from
 *    log_valid to its clearing, the replay finishes the job.
 *  - after a publish: locks stay held until a waiter finds the owner dead;
 *    stats counter increments (ops, expired, ...) may be lost, the record
 *    count may not. After a delete, overflow counts are lowered afterwards,
 *    so a kill leaves them too high, never too low.
 *  - while taking a lock over: the takeover is a CAS; a second dead owner
 *    is taken over again; the replay is idempotent.
 * So a killed process never leaves a torn record, a lost or duplicated
 * record, a wrong count or a lock nobody can take.
 *
 * Expiry: TTLs are milliseconds of CLOCK_MONOTONIC, which all processes on
 * a host share. An expired record is absent to every opcode and reclaimed
 * by whoever meets it. Each batch also looks at one bucket from a shared
 * rotating cursor and reclaims what expired there (32 buckets when a write
 * finds the table full), so garbage is collected incrementally and there is
 * never a stop-the-world scan.
 *
 * Creation: the first opener creates the file with O_EXCL, reserves its
 * memory (posix_fallocate, so a full /dev/shm fails at open and not later
 * with SIGBUS), fills the header and sets "ready" last. Later openers wait
 * (bounded) for "ready", then validate the header and use its geometry, so
 * a second opener with a different capacity gets the existing table.
 * Closing never removes the table; slnf_store_shm_unlink does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slnf/store.h"
#include "store/shm.h"

#define SHM_MAGIC 0x31454c4241544e53ull /* "SNTABLE1" */
#define SHM_LAYOUT 1
#define SHM_HDR_SIZE 4096
#define SHM_ENTRIES 8      /* records a bucket indexes */
#define SHM_SLOTS 9        /* slots a bucket owns */
#define SHM_SLOT_SIZE 64
#define SHM_HEAD_DATA 40   /* payload bytes in a head slot */
#define SHM_EXT_MAX 3      /* extension slots of one record */
#define SHM_PAYLOAD_MAX (SLNF_STORE_KEY_DATA_MAX + SLNF_STORE_VAL_MAX + 8)
#define SHM_F_COUNTER 1    /* the payload ends with the counter */
#define SHM_DEFAULT_CAPACITY 65536
#define SHM_CAPACITY_MAX (1u << 28)
#define SHM_LOAD_DIV 7     /* home buckets: one per 7 records of capacity */
#define SHM_SWEEP_BATCH 1  /* buckets the GC looks at per batch */
#define SHM_SWEEP_FULL 32  /* ... and when a write finds the table full */
#define SHM_PROBE_MAX 128  /* buckets a key may live away from home */
#define SHM_READ_TRIES 16  /* lock-free read attempts before taking the lock */
#define SHM_LOCK_TIMEOUT_NS 1000000000ull
#define SHM_OPEN_WAIT_MS 2000
#define SHM_DEFAULT_NAME "slnf-store"
#define SHM_VERSION_MASK ((UINT64_C(1) << 48) - 1)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shm needs lock-free 64-bit atomics");
_Static_assert(SHM_HEAD_DATA + SHM_EXT_MAX * SHM_SLOT_SIZE >= SHM_PAYLOAD_MAX,
	       "a record must fit in a head and its extensions");
_Static_assert(SHM_HEAD_DATA >= SLNF_STORE_KEY_DATA_MAX, "keys must fit in the head");
_Static_assert(SHM_SLOTS < 16 && SHM_ENTRIES * 4 == 32, "map entries are 4 bits");

struct shm_header {
	uint64_t magic;
	uint32_t layout;
	uint32_t slot_size;
	uint32_t bucket_entries;
	uint32_t bucket_slots;
	uint32_t capacity;
	uint32_t n_main;    /* home buckets */
	uint32_t n_buckets; /* home buckets + tail */
	uint32_t pad0;
	uint64_t seed;
	uint64_t total_bytes;
	_Atomic uint32_t ready;
	/* Record count, its lock and the redo log of a count-changing publish. */
	alignas(64) _Atomic uint64_t count_lock;
	_Atomic uint64_t used;
	_Atomic uint64_t log_valid;
	_Atomic uint64_t log_bucket;
	_Atomic uint64_t log_map;
	_Atomic uint64_t log_used;
	alignas(64) _Atomic uint64_t cursor;
	alignas(64) _Atomic uint64_t ops;
	_Atomic uint64_t batches;
	_Atomic uint64_t expired;
	_Atomic uint64_t failures;
	_Atomic uint64_t full;
};
_Static_assert(sizeof(struct shm_header) <= SHM_HDR_SIZE, "header too big");

struct shm_bucket {
	_Atomic uint64_t lock;
	_Atomic uint64_t map;  /* 8 x 4-bit entries | seq << 32 */
	_Atomic uint64_t tags; /* one hash byte per entry */
	_Atomic uint32_t ovf;  /* records homed here or before, stored after */
	uint32_t pad;
};
_Static_assert(sizeof(struct shm_bucket) == 32, "bucket header size");

struct shm_slot {
	uint64_t w0;     /* version (48 bits) | klen << 48 | vlen << 56 */
	uint64_t w1;     /* expiry in ms (48 bits, 0: never) | nf << 48 */
	uint32_t tenant;
	uint16_t ext;    /* extension slot indices, 4 bits each */
	uint8_t n_ext;
	uint8_t flags;
	uint8_t data[SHM_HEAD_DATA];
};
_Static_assert(sizeof(struct shm_slot) == SHM_SLOT_SIZE, "slot size");

/* A record as the code handles it, decoded from its slots. */
struct shm_rec {
	uint64_t version;
	uint64_t expiry;
	int64_t counter;
	struct slnf_store_key key;
	uint16_t vlen;
	uint8_t val[SLNF_STORE_VAL_MAX];
};

/* Where a record is: bucket, map entry, head slot. */
struct shm_loc {
	uint32_t b;
	unsigned e;
	unsigned p;
};

/* A locked bucket's occupancy. */
struct shm_bstate {
	uint64_t map;
	uint16_t used_mask; /* slots referenced by the map */
	unsigned n;         /* entries in use */
	unsigned span[SHM_ENTRIES];
};

struct shm_store {
	struct slnf_store base;
	struct shm_header *hdr;
	struct shm_bucket *bk;
	struct shm_slot *slots;
	uint32_t n_main;
	uint32_t n_buckets;
	uint32_t capacity;
	uint64_t seed;
	size_t size;
};

static inline struct shm_store *shm_of(struct slnf_store *s)
{
	return (struct shm_store *)s;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* ---- process identity and lock words ---- */

/* State and start time (clock ticks since boot) of pid, from /proc. */
static int proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so parse from
	 * the last ')'. starttime is field 22, the 20th after comm. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	*state = *p;
	for (unsigned field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

static _Atomic uint64_t self_id;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_forget(void)
{
	atomic_store(&self_id, 0);
}

static void self_atfork(void)
{
	pthread_atfork(NULL, NULL, self_forget);
}

/* This process's lock owner word: PID and start time (cached; a forked
 * child computes its own). */
static uint64_t self_owner(void)
{
	uint64_t id = atomic_load_explicit(&self_id, memory_order_relaxed);
	if (id)
		return id;
	pthread_once(&self_once, self_atfork);
	pid_t pid = getpid();
	char st;
	uint64_t start = 0;
	if (proc_stat(pid, &st, &start) < 0)
		start = 0; /* no /proc: liveness falls back to kill() alone */
	id = (uint64_t)(uint32_t)pid << 32 | (uint32_t)start;
	atomic_store_explicit(&self_id, id, memory_order_relaxed);
	return id;
}

/* Is the owner recorded in lock word w gone for good? */
static bool owner_dead(uint64_t w)
{
	pid_t pid = (pid_t)(w >> 32);
	if ((w >> 32) == self_owner() >> 32)
		return false; /* another thread of this process */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	char st;
	uint64_t start;
	int rc = proc_stat(pid, &st, &start);
	if (rc == -ENOENT || rc == -ESRCH)
		return true;
	if (rc < 0)
		return false; /* cannot tell: keep waiting */
	if (st == 'Z' || st == 'X' || st == 'x')
		return true; /* killed, not reaped yet */
	return (uint32_t)start != (uint32_t)w; /* PID reused */
}

/* Take lock word w: 0, 1 when taken over from a dead owner, or -ETIMEDOUT. */
static int lock_take(_Atomic uint64_t *w)
{
	uint64_t me = self_owner(), cur = 0;
	if (atomic_compare_exchange_strong_explicit(w, &cur, me, memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	uint64_t deadline = 0;
	for (unsigned spin = 1;; spin++) {
		cur = atomic_load_explicit(w, memory_order_relaxed);
		if (cur == 0) {
			if (atomic_compare_exchange_weak_explicit(w, &cur, me, memory_order_acquire,
								  memory_order_relaxed))
				return 0;
			continue;
		}
		if (spin % 64) {
			cpu_relax();
			continue;
		}
		if (spin % 512 == 0) {
			if (owner_dead(cur) &&
			    atomic_compare_exchange_strong_explicit(w, &cur, me,
								    memory_order_acquire,
								    memory_order_relaxed))
				return 1;
			uint64_t now = now_ns();
			if (!deadline)
				deadline = now + SHM_LOCK_TIMEOUT_NS;
			else if (now >= deadline)
				return -ETIMEDOUT;
		}
		sched_yield();
	}
}

static inline void lock_drop(_Atomic uint64_t *w)
{
	atomic_store_explicit(w, 0, memory_order_release);
}

/* Finish a count-changing publish whose owner died inside the count lock. */
static void count_replay(struct shm_store *ss)
{
	struct shm_header *h = ss->hdr;
	if (!atomic_load_explicit(&h->log_valid, memory_order_acquire))
		return;
	uint64_t b = atomic_load_explicit(&h->log_bucket, memory_order_relaxed);
	uint64_t map = atomic_load_explicit(&h->log_map, memory_order_relaxed);
	uint64_t used = atomic_load_explicit(&h->log_used, memory_order_relaxed);
	if (b < ss->n_buckets)
		atomic_store_explicit(&ss->bk[b].map, map, memory_order_release);
	atomic_store_explicit(&h->used, used, memory_order_release);
	atomic_store_explicit(&h->log_valid, 0, memory_order_release);
}

static int count_lock(struct shm_store *ss)
{
	int rc = lock_take(&ss->hdr->count_lock);
	if (rc == 1)
		count_replay(ss);
	return rc < 0 ? rc : 0;
}

/* Lock bucket b; 1 if taken over from a dead owner. A bucket taken over
 * may have a publish pending in the count log: passing through the count
 * lock replays it before the bucket is used. */
static int bucket_lock_ex(struct shm_store *ss, uint32_t b)
{
	int rc = lock_take(&ss->bk[b].lock);
	if (rc == 1) {
		int c = count_lock(ss);
		if (c < 0) {
			lock_drop(&ss->bk[b].lock);
			return c;
		}
		lock_drop(&ss->hdr->count_lock);
	}
	return rc;
}

static inline int bucket_lock(struct shm_store *ss, uint32_t b)
{
	int rc = bucket_lock_ex(ss, b);
	return rc < 0 ? rc : 0;
}

static inline void bucket_unlock(struct shm_store *ss, uint32_t b)
{
	lock_drop(&ss->bk[b].lock);
}

/* ---- hashing, maps, slots ---- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t key_hash(uint64_t seed, const struct slnf_store_key *k)
{
	uint64_t h = mix64(seed ^ ((uint64_t)k->tenant | (uint64_t)k->nf << 32 |
				   (uint64_t)k->len << 48));
	for (unsigned i = 0; i < k->len; i += 8) {
		uint64_t w = 0;
		memcpy(&w, k->data + i, k->len - i < 8 ? k->len - i : 8);
		h = mix64((h ^ w) * 0x9e3779b97f4a7c15ull + i);
	}
	return h;
}

static inline uint32_t hash_home(const struct shm_store *ss, uint64_t h)
{
	return (uint32_t)(((h & 0xffffffffull) * ss->n_main) >> 32);
}

static inline uint8_t hash_tag(uint64_t h)
{
	return (uint8_t)(h >> 56);
}

static inline unsigned map_nib(uint64_t map, unsigned e)
{
	return (unsigned)(map >> (4 * e)) & 0xf;
}

/* map with entry e set to nib and the sequence bumped. */
static inline uint64_t map_next(uint64_t map, unsigned e, unsigned nib)
{
	uint64_t low = (map & 0xffffffffull & ~(0xfull << (4 * e))) | (uint64_t)nib << (4 * e);
	uint64_t seq = (map >> 32) + 1;
	return seq << 32 | low;
}

static inline struct shm_slot *slot_at(const struct shm_store *ss, uint32_t b, unsigned p)
{
	return &ss->slots[(size_t)b * SHM_SLOTS + p];
}

static inline unsigned payload_ext(size_t len)
{
	return len <= SHM_HEAD_DATA ? 0
				    : (unsigned)((len - SHM_HEAD_DATA + SHM_SLOT_SIZE - 1) /
						 SHM_SLOT_SIZE);
}

static inline size_t rec_payload_len(const struct shm_rec *r)
{
	return (size_t)r->key.len + r->vlen + (r->counter ? 8 : 0);
}

static inline unsigned rec_span(const struct shm_rec *r)
{
	return 1 + payload_ext(rec_payload_len(r));
}

static inline bool rec_expired(const struct shm_rec *r, uint64_t now)
{
	return r->expiry && now >= r->expiry;
}

static inline bool key_eq(const struct slnf_store_key *a, const struct slnf_store_key *b)
{
	return a->tenant == b->tenant && a->nf == b->nf && a->len == b->len &&
	       memcmp(a->data, b->data, a->len) == 0;
}

/* Decode the record whose head is slot p of bucket b. The slots may be
 * changing under a lock-free reader, so everything is bounds-checked:
 * -EIO for an impossible record, -ENOENT when want is set and the key
 * differs (then r holds only garbage). */
static int rec_load(const struct shm_store *ss, uint32_t b, unsigned p,
		    const struct slnf_store_key *want, struct shm_rec *r)
{
	struct shm_slot h;
	memcpy(&h, slot_at(ss, b, p), sizeof(h));
	unsigned klen = (unsigned)(h.w0 >> 48) & 0xff, vlen = (unsigned)(h.w0 >> 56);
	if (klen > SLNF_STORE_KEY_DATA_MAX || vlen > SLNF_STORE_VAL_MAX ||
	    h.n_ext > SHM_EXT_MAX)
		return -EIO;
	if (want && (h.tenant != want->tenant || (uint16_t)(h.w1 >> 48) != want->nf ||
		     klen != want->len || memcmp(h.data, want->data, klen) != 0))
		return -ENOENT;
	size_t len = klen + vlen + (h.flags & SHM_F_COUNTER ? 8 : 0);
	if (payload_ext(len) != h.n_ext)
		return -EIO;
	uint8_t buf[SHM_HEAD_DATA + SHM_EXT_MAX * SHM_SLOT_SIZE];
	size_t got = len < SHM_HEAD_DATA ? len : SHM_HEAD_DATA;
	memcpy(buf, h.data, got);
	for (unsigned i = 0; i < h.n_ext; i++) {
		unsigned x = (h.ext >> (4 * i)) & 0xf;
		if (x >= SHM_SLOTS || x == p)
			return -EIO;
		size_t n = len - got < SHM_SLOT_SIZE ? len - got : SHM_SLOT_SIZE;
		memcpy(buf + got, slot_at(ss, b, x), n);
		got += n;
	}
	memset(&r->key, 0, sizeof(r->key));
	r->key.tenant = h.tenant;
	r->key.nf = (uint16_t)(h.w1 >> 48);
	r->key.len = (uint16_t)klen;
	memcpy(r->key.data, buf, klen);
	r->vlen = (uint16_t)vlen;
	memcpy(r->val, buf + klen, vlen);
	r->counter = 0;
	if (h.flags & SHM_F_COUNTER)
		memcpy(&r->counter, buf + klen + vlen, 8);
	r->version = h.w0 & SHM_VERSION_MASK;
	r->expiry = h.w1 & SHM_VERSION_MASK;
	return 0;
}

/* Occupancy of bucket b, whose lock the caller holds. */
static void bucket_state(const struct shm_store *ss, uint32_t b, struct shm_bstate *st)
{
	st->map = atomic_load_explicit(&ss->bk[b].map, memory_order_acquire);
	st->used_mask = 0;
	st->n = 0;
	for (unsigned e = 0; e < SHM_ENTRIES; e++) {
		unsigned nib = map_nib(st->map, e);
		st->span[e] = 0;
		if (!nib)
			continue;
		unsigned p = nib - 1;
		const struct shm_slot *h = slot_at(ss, b, p);
		st->n++;
		st->span[e] = 1;
		st->used_mask |= (uint16_t)(1u << p);
		unsigned n_ext = h->n_ext <= SHM_EXT_MAX ? h->n_ext : SHM_EXT_MAX;
		for (unsigned i = 0; i < n_ext; i++) {
			unsigned x = (h->ext >> (4 * i)) & 0xf;
			if (x < SHM_SLOTS) {
				st->used_mask |= (uint16_t)(1u << x);
				st->span[e]++;
			}
		}
	}
}

static inline unsigned free_slots(const struct shm_bstate *st)
{
	return SHM_SLOTS - (unsigned)__builtin_popcount(st->used_mask);
}

/* Longest record of the bucket, leaving out entry skip (-1: none). */
static unsigned max_span(const struct shm_bstate *st, int skip)
{
	unsigned m = 1;
	for (unsigned e = 0; e < SHM_ENTRIES; e++)
		if ((int)e != skip && st->span[e] > m)
			m = st->span[e];
	return m;
}

/* Write r into free slots of bucket b (locked; st its state). Returns the
 * head slot. The caller checked that 1 + extensions slots are free. */
static unsigned rec_store(struct shm_store *ss, uint32_t b, const struct shm_bstate *st,
			  const struct shm_rec *r)
{
	uint8_t buf[SHM_HEAD_DATA + SHM_EXT_MAX * SHM_SLOT_SIZE];
	size_t len = rec_payload_len(r);
	memcpy(buf, r->key.data, r->key.len);
	memcpy(buf + r->key.len, r->val, r->vlen);
	if (r->counter)
		memcpy(buf + r->key.len + r->vlen, &r->counter, 8);
	unsigned n_ext = payload_ext(len), idx[1 + SHM_EXT_MAX], k = 0;
	for (unsigned p = 0; p < SHM_SLOTS && k <= n_ext; p++)
		if (!(st->used_mask & (1u << p)))
			idx[k++] = p;
	size_t off = len < SHM_HEAD_DATA ? len : SHM_HEAD_DATA;
	uint16_t ext = 0;
	for (unsigned i = 0; i < n_ext; i++) {
		size_t n = len - off < SHM_SLOT_SIZE ? len - off : SHM_SLOT_SIZE;
		memcpy(slot_at(ss, b, idx[1 + i]), buf + off, n);
		off += n;
		ext |= (uint16_t)(idx[1 + i] << (4 * i));
	}
	struct shm_slot *h = slot_at(ss, b, idx[0]);
	h->w0 = (r->version & SHM_VERSION_MASK) | (uint64_t)r->key.len << 48 |
		(uint64_t)r->vlen << 56;
	h->w1 = (r->expiry & SHM_VERSION_MASK) | (uint64_t)r->key.nf << 48;
	h->tenant = r->key.tenant;
	h->ext = ext;
	h->n_ext = (uint8_t)n_ext;
	h->flags = r->counter ? SHM_F_COUNTER : 0;
	memcpy(h->data, buf, len < SHM_HEAD_DATA ? len : SHM_HEAD_DATA);
	return idx[0];
}

/* ---- lookups ---- */

/* Look for key in bucket b. held: the caller holds b's lock. Lock-free
 * otherwise (seqlock on the map word), falling back to the lock. */
static int bucket_find(struct shm_store *ss, uint32_t b, const struct slnf_store_key *key,
		       uint8_t tag, bool held, struct shm_loc *loc, struct shm_rec *r)
{
	struct shm_bucket *bk = &ss->bk[b];
	for (unsigned attempt = 0;; attempt++) {
		bool locked = false;
		if (attempt == SHM_READ_TRIES && !held) {
			int lrc = bucket_lock(ss, b);
			if (lrc < 0)
				return lrc;
			locked = true;
		}
		uint64_t m1 = atomic_load_explicit(&bk->map, memory_order_acquire);
		uint64_t tags = atomic_load_explicit(&bk->tags, memory_order_relaxed);
		int rc = -ENOENT;
		for (unsigned e = 0; e < SHM_ENTRIES && rc == -ENOENT; e++) {
			unsigned nib = map_nib(m1, e);
			if (!nib || (uint8_t)(tags >> (8 * e)) != tag)
				continue;
			if (nib > SHM_SLOTS) {
				rc = -EIO;
				break;
			}
			rc = rec_load(ss, b, nib - 1, key, r);
			if (rc == 0)
				*loc = (struct shm_loc){.b = b, .e = e, .p = nib - 1};
		}
		atomic_thread_fence(memory_order_acquire);
		uint64_t m2 = atomic_load_explicit(&bk->map, memory_order_relaxed);
		if (locked)
			bucket_unlock(ss, b);
		if (m1 == m2 || held || locked)
			return rc;
	}
}

/* Find key's record, probing from its home bucket. held_home: the caller
 * holds the home lock (then the result stays valid while it does). */
static int lookup(struct shm_store *ss, const struct slnf_store_key *key, uint64_t hash,
		  bool held_home, struct shm_loc *loc, struct shm_rec *r)
{
	uint32_t home = hash_home(ss, hash);
	uint8_t tag = hash_tag(hash);
	uint32_t end = ss->n_buckets - home > SHM_PROBE_MAX ? home + SHM_PROBE_MAX : ss->n_buckets;
	for (uint32_t b = home; b < end; b++) {
		int rc = bucket_find(ss, b, key, tag, held_home && b == home, loc, r);
		if (rc != -ENOENT)
			return rc;
		if (!atomic_load_explicit(&ss->bk[b].ovf, memory_order_acquire))
			break;
	}
	return -ENOENT;
}

/* ---- changes (the home lock held) ---- */

static void ovf_add(struct shm_store *ss, uint32_t from, uint32_t to, int d)
{
	for (uint32_t b = from; b < to; b++) {
		if (d > 0)
			atomic_fetch_add_explicit(&ss->bk[b].ovf, 1, memory_order_release);
		else
			atomic_fetch_sub_explicit(&ss->bk[b].ovf, 1, memory_order_release);
	}
}

/* Publish map word m for bucket b (locked) while changing the record count
 * by d, through the count lock and its redo log. */
static int count_publish(struct shm_store *ss, uint32_t b, uint64_t m, int d)
{
	struct shm_header *h = ss->hdr;
	int rc = count_lock(ss);
	if (rc < 0)
		return rc;
	uint64_t used = atomic_load_explicit(&h->used, memory_order_relaxed);
	if (d > 0 && used >= ss->capacity) {
		lock_drop(&h->count_lock);
		return -ENOSPC;
	}
	used += (uint64_t)(int64_t)d;
	atomic_store_explicit(&h->log_bucket, b, memory_order_relaxed);
	atomic_store_explicit(&h->log_map, m, memory_order_relaxed);
	atomic_store_explicit(&h->log_used, used, memory_order_relaxed);
	atomic_store_explicit(&h->log_valid, 1, memory_order_release);
	atomic_store_explicit(&h->used, used, memory_order_release);
	atomic_store_explicit(&ss->bk[b].map, m, memory_order_release);
	atomic_store_explicit(&h->log_valid, 0, memory_order_release);
	lock_drop(&h->count_lock);
	return 0;
}

static inline int lock_other(struct shm_store *ss, uint32_t home, uint32_t b)
{
	return b == home ? 0 : bucket_lock(ss, b);
}

static inline void unlock_other(struct shm_store *ss, uint32_t home, uint32_t b)
{
	if (b != home)
		bucket_unlock(ss, b);
}

/* Remove the record at loc (found under the home lock). */
static int rec_remove(struct shm_store *ss, uint32_t home, const struct shm_loc *loc)
{
	int rc = lock_other(ss, home, loc->b);
	if (rc < 0)
		return rc;
	uint64_t map = atomic_load_explicit(&ss->bk[loc->b].map, memory_order_acquire);
	if (map_nib(map, loc->e) != loc->p + 1) {
		rc = -EIO; /* cannot happen: the home lock pins the record */
	} else {
		rc = count_publish(ss, loc->b, map_next(map, loc->e, 0), -1);
		if (rc == 0)
			ovf_add(ss, home, loc->b, -1);
	}
	unlock_other(ss, home, loc->b);
	return rc;
}

/* Rewrite the record at loc as r (same key), out of place. */
static int rec_update(struct shm_store *ss, uint32_t home, const struct shm_loc *loc,
		      const struct shm_rec *r)
{
	int rc = lock_other(ss, home, loc->b);
	if (rc < 0)
		return rc;
	struct shm_bstate st;
	bucket_state(ss, loc->b, &st);
	unsigned need = rec_span(r), fr = free_slots(&st);
	unsigned keep = max_span(&st, (int)loc->e);
	if (map_nib(st.map, loc->e) != loc->p + 1) {
		rc = -EIO;
	} else if (need > fr || fr - need + st.span[loc->e] < (need > keep ? need : keep)) {
		rc = -ENOSPC; /* grew beyond what its crowded bucket can hold */
	} else {
		unsigned p = rec_store(ss, loc->b, &st, r);
		atomic_store_explicit(&ss->bk[loc->b].map, map_next(st.map, loc->e, p + 1),
				      memory_order_release);
	}
	unlock_other(ss, home, loc->b);
	return rc;
}

/* May a new record of need slots go into a bucket of state st? Afterwards
 * the bucket must still have room to rewrite its longest record. */
static bool bucket_admits(const struct shm_bstate *st, unsigned need)
{
	unsigned fr = free_slots(st), keep = max_span(st, -1);
	return st->n < SHM_ENTRIES && fr >= need + (need > keep ? need : keep);
}

/* Insert r (its key absent) into the first bucket from home with room. */
static int rec_insert(struct shm_store *ss, uint32_t home, uint8_t tag, const struct shm_rec *r)
{
	if (atomic_load_explicit(&ss->hdr->used, memory_order_relaxed) >= ss->capacity)
		return -ENOSPC;
	unsigned need = rec_span(r);
	uint32_t end = ss->n_buckets - home > SHM_PROBE_MAX ? home + SHM_PROBE_MAX : ss->n_buckets;
	for (uint32_t b = home; b < end; b++) {
		struct shm_bstate st;
		/* A look without the lock first (a torn view only misplaces
		 * the record a little further), then the real check. */
		if (b != home) {
			bucket_state(ss, b, &st);
			if (!bucket_admits(&st, need))
				continue;
		}
		int rc = lock_other(ss, home, b);
		if (rc < 0)
			return rc;
		bucket_state(ss, b, &st);
		if (!bucket_admits(&st, need)) {
			unlock_other(ss, home, b);
			continue;
		}
		unsigned e = 0;
		while (map_nib(st.map, e))
			e++;
		ovf_add(ss, home, b, 1);
		unsigned p = rec_store(ss, b, &st, r);
		uint64_t tags = atomic_load_explicit(&ss->bk[b].tags, memory_order_relaxed);
		tags = (tags & ~(0xffull << (8 * e))) | (uint64_t)tag << (8 * e);
		atomic_store_explicit(&ss->bk[b].tags, tags, memory_order_relaxed);
		rc = count_publish(ss, b, map_next(st.map, e, p + 1), 1);
		if (rc < 0)
			ovf_add(ss, home, b, -1);
		unlock_other(ss, home, b);
		return rc;
	}
	return -ENOSPC; /* no room within SHM_PROBE_MAX buckets */
}

static void rec_out(const struct shm_rec *r, struct slnf_store_op *op)
{
	op->version = r->version;
	op->val_len = r->vlen;
	op->counter = r->counter;
	memcpy(op->val, r->val, r->vlen);
}

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Reclaim key's record if it has expired. Takes the home lock. */
static int reclaim(struct shm_store *ss, const struct slnf_store_key *key, uint64_t now)
{
	uint64_t hash = key_hash(ss->seed, key);
	uint32_t home = hash_home(ss, hash);
	int rc = bucket_lock(ss, home);
	if (rc < 0)
		return rc;
	struct shm_loc loc;
	struct shm_rec cur;
	rc = lookup(ss, key, hash, true, &loc, &cur);
	if (rc == 0 && rec_expired(&cur, now)) {
		rc = rec_remove(ss, home, &loc);
		if (rc == 0)
			stat_add(&ss->hdr->expired, 1);
	}
	bucket_unlock(ss, home);
	return rc;
}

/* Look at n buckets from the shared cursor; reclaim what expired there. */
static void sweep(struct shm_store *ss, unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t b = (uint32_t)(atomic_fetch_add_explicit(&ss->hdr->cursor, 1,
								  memory_order_relaxed) %
					ss->n_buckets);
		uint64_t m = atomic_load_explicit(&ss->bk[b].map, memory_order_acquire);
		if (!(m & 0xffffffffull))
			continue;
		for (unsigned e = 0; e < SHM_ENTRIES; e++) {
			unsigned nib = map_nib(m, e);
			if (!nib)
				continue;
			struct shm_rec r;
			/* A torn read only makes a candidate; reclaim checks
			 * again under the lock. */
			if (rec_load(ss, b, nib - 1, NULL, &r) == 0 && rec_expired(&r, now))
				reclaim(ss, &r.key, now);
		}
	}
}

static int op_get(struct shm_store *ss, struct slnf_store_op *op,
		  const struct slnf_store_key *key, uint64_t hash, uint64_t now)
{
	struct shm_loc loc;
	struct shm_rec cur;
	int rc = lookup(ss, key, hash, false, &loc, &cur);
	if (rc < 0)
		return rc;
	if (rec_expired(&cur, now)) {
		rc = reclaim(ss, key, now);
		return rc < 0 && rc != -ENOENT ? rc : -ENOENT;
	}
	rec_out(&cur, op);
	return 0;
}

/* Every opcode but GET, under the home lock. */
static int op_write(struct shm_store *ss, struct slnf_store_op *op,
		    const struct slnf_store_key *key, uint64_t hash, uint64_t now)
{
	struct shm_loc loc;
	struct shm_rec cur, nr;
	uint32_t home = hash_home(ss, hash);
	bool found = false;
	int rc = lookup(ss, key, hash, true, &loc, &cur);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0 && rec_expired(&cur, now)) {
		rc = rec_remove(ss, home, &loc);
		if (rc < 0)
			return rc;
		stat_add(&ss->hdr->expired, 1);
	} else if (rc == 0) {
		found = true;
	}

	switch (op->opcode) {
	case SLNF_STORE_DEL:
		if (!found)
			return -ENOENT;
		op->version = cur.version;
		return rec_remove(ss, home, &loc);
	case SLNF_STORE_PUT_IF_ABSENT:
		if (found) {
			rec_out(&cur, op);
			return -EEXIST;
		}
		break;
	case SLNF_STORE_CAS:
		if (!found)
			return -ENOENT;
		if (cur.version != op->version) {
			rec_out(&cur, op);
			return -ESTALE;
		}
		break;
	default: /* PUT and INCR create when absent */
		break;
	}

	if (found) {
		nr = cur;
	} else {
		memset(&nr, 0, offsetof(struct shm_rec, val));
		nr.key = *key;
	}
	if (op->opcode == SLNF_STORE_INCR) {
		nr.counter = (int64_t)((uint64_t)nr.counter + (uint64_t)op->delta);
	} else {
		nr.vlen = op->val_len;
		memcpy(nr.val, op->val, op->val_len);
	}
	nr.expiry = op->ttl_ms ? now + op->ttl_ms : 0;
	nr.version = found ? cur.version + 1 : 1;
	rc = found ? rec_update(ss, home, &loc, &nr) : rec_insert(ss, home, hash_tag(hash), &nr);
	if (rc < 0)
		return rc;
	op->version = nr.version;
	if (op->opcode == SLNF_STORE_INCR)
		op->counter = nr.counter;
	return 0;
}

static int shm_op(struct shm_store *ss, struct slnf_store_op *op, uint64_t now)
{
	if (op->key.len > SLNF_STORE_KEY_DATA_MAX || op->val_len > SLNF_STORE_VAL_MAX ||
	    op->opcode > SLNF_STORE_INCR)
		return -EINVAL;
	/* Only the first len bytes of a key count. */
	struct slnf_store_key key = op->key;
	memset(key.data + key.len, 0, SLNF_STORE_KEY_DATA_MAX - key.len);
	uint64_t hash = key_hash(ss->seed, &key);
	if (op->opcode == SLNF_STORE_GET)
		return op_get(ss, op, &key, hash, now);
	uint32_t home = hash_home(ss, hash);
	int rc = bucket_lock(ss, home);
	if (rc < 0)
		return rc;
	rc = op_write(ss, op, &key, hash, now);
	bucket_unlock(ss, home);
	return rc;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static int shm_submit(struct slnf_store *s, struct slnf_store_batch *b)
{
	struct shm_store *ss = shm_of(s);
	uint64_t now = now_ms(), failures = 0, full = 0;
	sweep(ss, SHM_SWEEP_BATCH, now);
	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_store_op *op = &b->ops[i];
		int rc = shm_op(ss, op, now);
		if (rc == -ENOSPC) {
			/* Make room from expired records, then try once more. */
			sweep(ss, SHM_SWEEP_FULL, now);
			rc = shm_op(ss, op, now);
			if (rc == -ENOSPC)
				full++;
		}
		op->status = (int16_t)rc;
		if (rc < 0 && rc != -ENOENT && rc != -EEXIST && rc != -ESTALE)
			failures++;
	}
	struct shm_header *h = ss->hdr;
	stat_add(&h->ops, b->n);
	stat_add(&h->batches, 1);
	stat_add(&h->failures, failures);
	stat_add(&h->full, full);
	b->done = true;
	return 0;
}

static int shm_poll(struct slnf_store *s, struct slnf_store_batch *b)
{
	/* Every batch completes in submit. */
	return b->done ? 0 : -EINVAL;
}

static void shm_stats(struct slnf_store *s, struct slnf_store_stats *out)
{
	struct shm_store *ss = shm_of(s);
	struct shm_header *h = ss->hdr;
	out->entries = atomic_load(&h->used);
	out->capacity = ss->capacity;
	out->memory_bytes = ss->size;
	out->ops = atomic_load(&h->ops);
	out->batches = atomic_load(&h->batches);
	out->expired = atomic_load(&h->expired);
	out->failures = atomic_load(&h->failures);
	out->full = atomic_load(&h->full);
}

/* Visit the live records of (tenant, nf), one bucket at a time under its
 * lock, so each record is seen whole. Records moved by concurrent writers
 * between buckets may be missed or seen twice: a listing, not a snapshot. */
static int shm_scan(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		    void *arg)
{
	struct shm_store *ss = shm_of(s);
	uint64_t now = now_ms();
	for (uint32_t b = 0; b < ss->n_buckets; b++) {
		int rc = bucket_lock(ss, b);
		if (rc < 0)
			return rc;
		struct shm_bstate st;
		bool go = true;
		bucket_state(ss, b, &st);
		for (unsigned e = 0; e < SHM_ENTRIES && go; e++) {
			unsigned nib = map_nib(st.map, e);
			struct shm_rec r;
			if (!nib || nib > SHM_SLOTS || rec_load(ss, b, nib - 1, NULL, &r) ||
			    r.key.tenant != tenant || r.key.nf != nf || rec_expired(&r, now))
				continue;
			struct slnf_store_record out = {
				.key = &r.key, .val = r.val, .val_len = r.vlen, .version = r.version,
				.ttl_left_ms = r.expiry ? (int64_t)(r.expiry - now) : -1};
			go = fn(&out, arg);
		}
		bucket_unlock(ss, b);
		if (!go)
			break;
	}
	return 0;
}

/* ---- open, create, close ---- */

struct shm_geometry {
	uint32_t n_main, n_buckets;
	size_t bucket_bytes, total;
};

static void geometry(uint32_t n_main, uint32_t n_buckets, struct shm_geometry *g)
{
	g->n_main = n_main;
	g->n_buckets = n_buckets;
	g->bucket_bytes = ((size_t)n_buckets * sizeof(struct shm_bucket) + 63) & ~(size_t)63;
	g->total = SHM_HDR_SIZE + g->bucket_bytes +
		   (size_t)n_buckets * SHM_SLOTS * SHM_SLOT_SIZE;
}

static void attach(struct shm_store *ss, void *base, const struct shm_geometry *g)
{
	ss->hdr = base;
	ss->bk = (struct shm_bucket *)((uint8_t *)base + SHM_HDR_SIZE);
	ss->slots = (struct shm_slot *)((uint8_t *)base + SHM_HDR_SIZE + g->bucket_bytes);
	ss->n_main = g->n_main;
	ss->n_buckets = g->n_buckets;
	ss->capacity = ss->hdr->capacity;
	ss->seed = ss->hdr->seed;
	ss->size = g->total;
}

static int shm_path(const char *name, char *path, size_t size)
{
	if (!name[0] || strchr(name, '/') || strlen(name) + 2 > size)
		return -EINVAL;
	snprintf(path, size, "/%s", name);
	return 0;
}

static int create_table(struct shm_store *ss, int fd, const char *path, const char *name,
			uint32_t capacity, struct slnf_error *err)
{
	struct shm_geometry g;
	uint32_t n_main = (capacity + SHM_LOAD_DIV - 1) / SHM_LOAD_DIV;
	geometry(n_main, n_main + 8 + n_main / 32, &g);
	int e = posix_fallocate(fd, 0, (off_t)g.total);
	if (e) {
		shm_unlink(path);
		return slnf_errorf(err, e, NULL, "store.shm_name",
				   "cannot reserve %zu bytes for table '%s' in /dev/shm: %s",
				   g.total, name, strerror(e));
	}
	void *base = mmap(NULL, g.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		e = errno;
		shm_unlink(path);
		return slnf_errorf(err, e, NULL, "store.shm_name", "cannot map table '%s': %s",
				   name, strerror(e));
	}
	/* The file is all zeroes: every bucket empty, every lock free. */
	struct shm_header *h = base;
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = now_ns() ^ (uint64_t)getpid() << 32;
	h->layout = SHM_LAYOUT;
	h->slot_size = SHM_SLOT_SIZE;
	h->bucket_entries = SHM_ENTRIES;
	h->bucket_slots = SHM_SLOTS;
	h->capacity = capacity;
	h->n_main = g.n_main;
	h->n_buckets = g.n_buckets;
	h->seed = seed;
	h->total_bytes = g.total;
	h->magic = SHM_MAGIC;
	atomic_store_explicit(&h->ready, 1, memory_order_release);
	attach(ss, base, &g);
	return 0;
}

/* Wait (bounded) for another process to finish creating the table, then
 * check its header and map it. */
static int join_table(struct shm_store *ss, int fd, const char *name, struct slnf_error *err)
{
	uint64_t deadline = now_ns() + SHM_OPEN_WAIT_MS * 1000000ull;
	struct shm_header h;
	struct stat sb;
	for (;;) {
		if (fstat(fd, &sb) < 0)
			return slnf_errorf(err, errno, NULL, "store.shm_name",
					   "cannot stat table '%s': %s", name, strerror(errno));
		memset(&h, 0, sizeof(h));
		if ((size_t)sb.st_size >= SHM_HDR_SIZE &&
		    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			return slnf_errorf(err, EIO, NULL, "store.shm_name",
					   "cannot read the header of table '%s'", name);
		if (h.magic && h.magic != SHM_MAGIC)
			return slnf_errorf(err, EINVAL, NULL, "store.shm_name",
					   "/dev/shm/%s is not an slnf state table (bad magic "
					   "%#llx); remove it or choose another name",
					   name, (unsigned long long)h.magic);
		if (h.magic && h.ready)
			break;
		if (now_ns() >= deadline) {
			if ((size_t)sb.st_size < SHM_HDR_SIZE && sb.st_size > 0)
				return slnf_errorf(err, EINVAL, NULL, "store.shm_name",
						   "/dev/shm/%s is too small (%lld bytes) to be "
						   "an slnf state table",
						   name, (long long)sb.st_size);
			return slnf_errorf(err, ETIMEDOUT, NULL, "store.shm_name",
					   "table '%s' never became ready within %d ms (its "
					   "creator died?); remove /dev/shm/%s",
					   name, SHM_OPEN_WAIT_MS, name);
		}
		usleep(1000);
	}
	if (h.layout != SHM_LAYOUT || h.slot_size != SHM_SLOT_SIZE ||
	    h.bucket_entries != SHM_ENTRIES || h.bucket_slots != SHM_SLOTS)
		return slnf_errorf(err, EINVAL, NULL, "store.shm_name",
				   "table '%s' has layout %u (slots %u x %u bytes), this build "
				   "uses layout %u (%u x %u)",
				   name, h.layout, h.bucket_slots, h.slot_size, SHM_LAYOUT,
				   SHM_SLOTS, SHM_SLOT_SIZE);
	struct shm_geometry g;
	geometry(h.n_main, h.n_buckets, &g);
	if (!h.capacity || h.capacity > SHM_CAPACITY_MAX || !h.n_main ||
	    h.n_buckets <= h.n_main || h.n_buckets > SHM_CAPACITY_MAX ||
	    h.total_bytes != g.total || (uint64_t)sb.st_size != g.total)
		return slnf_errorf(err, EINVAL, NULL, "store.shm_name",
				   "table '%s' has a corrupt header (capacity %u, %u/%u "
				   "buckets, %llu bytes, file %lld bytes)",
				   name, h.capacity, h.n_main, h.n_buckets,
				   (unsigned long long)h.total_bytes, (long long)sb.st_size);
	void *base = mmap(NULL, g.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return slnf_errorf(err, errno, NULL, "store.shm_name",
				   "cannot map table '%s': %s", name, strerror(errno));
	attach(ss, base, &g);
	return 0;
}

static int shm_open_store(const struct slnf_store_config *cfg, struct slnf_store **out,
			  struct slnf_error *err)
{
	const char *name = cfg->shm_name[0] ? cfg->shm_name : SHM_DEFAULT_NAME;
	char path[sizeof(cfg->shm_name) + 2];
	if (shm_path(name, path, sizeof(path)) < 0)
		return slnf_errorf(err, EINVAL, NULL, "store.shm_name",
				   "'%s' is not a valid table name (no '/', at most %zu bytes)",
				   name, sizeof(cfg->shm_name) - 1);
	uint32_t capacity = cfg->capacity ? cfg->capacity : SHM_DEFAULT_CAPACITY;
	if (capacity > SHM_CAPACITY_MAX)
		return slnf_errorf(err, EINVAL, NULL, "store.capacity",
				   "%u records is more than the shm backend holds (max %u)",
				   capacity, SHM_CAPACITY_MAX);
	struct shm_store *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return slnf_errorf(err, ENOMEM, NULL, "store", "out of memory");
	int rc = -ENOENT;
	/* A table removed between our two opens: start again (bounded). */
	for (unsigned attempt = 0; attempt < 3 && rc == -ENOENT; attempt++) {
		int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			rc = create_table(ss, fd, path, name, capacity, err);
			close(fd);
			break;
		}
		if (errno != EEXIST) {
			rc = slnf_errorf(err, errno, NULL, "store.shm_name",
					 "cannot create table '%s' in /dev/shm: %s", name,
					 strerror(errno));
			break;
		}
		fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0) {
			rc = errno == ENOENT ? -ENOENT
					     : slnf_errorf(err, errno, NULL, "store.shm_name",
							   "cannot open table '%s': %s", name,
							   strerror(errno));
			continue;
		}
		rc = join_table(ss, fd, name, err);
		close(fd);
	}
	if (rc == -ENOENT)
		rc = slnf_errorf(err, ENOENT, NULL, "store.shm_name",
				 "table '%s' keeps disappearing while being opened", name);
	if (rc < 0) {
		free(ss);
		return rc;
	}
	*out = &ss->base;
	return 0;
}

static void shm_close(struct slnf_store *s)
{
	struct shm_store *ss = shm_of(s);
	munmap(ss->hdr, ss->size);
	free(ss);
}

int slnf_store_shm_unlink(const char *name)
{
	char path[80];
	if (!name || shm_path(name, path, sizeof(path)) < 0)
		return -EINVAL;
	return shm_unlink(path) < 0 ? -errno : 0;
}

/* ---- consistency check ---- */

struct check_rec {
	uint64_t hash;
	uint32_t b;
	uint8_t p;
};

static int check_cmp(const void *a, const void *b)
{
	const struct check_rec *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

#define CHECK_FAIL(c, err, ...)                                                   \
	do {                                                                      \
		if (!(c)->errors++)                                               \
			slnf_errorf(err, EIO, NULL, "store.shm", __VA_ARGS__);    \
	} while (0)

/* Check bucket b (locked): slots, records, tags; records go to recs. */
static void check_bucket(struct shm_store *ss, uint32_t b, uint32_t *need,
			 struct check_rec *recs, struct slnf_store_shm_check *c,
			 struct slnf_error *err)
{
	uint64_t map = atomic_load_explicit(&ss->bk[b].map, memory_order_acquire);
	uint64_t tags = atomic_load_explicit(&ss->bk[b].tags, memory_order_relaxed);
	uint64_t now = now_ms();
	uint16_t seen = 0;
	unsigned spans = 0, maxsp = 1, n = 0;
	for (unsigned e = 0; e < SHM_ENTRIES; e++) {
		unsigned nib = map_nib(map, e);
		if (!nib)
			continue;
		struct shm_rec r;
		if (nib > SHM_SLOTS || rec_load(ss, b, nib - 1, NULL, &r) < 0) {
			CHECK_FAIL(c, err, "bucket %u entry %u: unreadable record", b, e);
			continue;
		}
		const struct shm_slot *h = slot_at(ss, b, nib - 1);
		uint16_t mine = (uint16_t)(1u << (nib - 1));
		for (unsigned i = 0; i < h->n_ext; i++)
			mine |= (uint16_t)(1u << ((h->ext >> (4 * i)) & 0xf));
		if (seen & mine)
			CHECK_FAIL(c, err, "bucket %u entry %u: slot shared with another record",
				   b, e);
		seen |= mine;
		unsigned span = 1u + h->n_ext;
		spans += span;
		maxsp = span > maxsp ? span : maxsp;
		c->ext_slots += h->n_ext;
		n++;
		uint64_t hash = key_hash(ss->seed, &r.key);
		uint32_t home = hash_home(ss, hash);
		if (!r.version)
			CHECK_FAIL(c, err, "bucket %u entry %u: version 0", b, e);
		if (home > b)
			CHECK_FAIL(c, err, "bucket %u entry %u: stored before its home %u", b,
				   e, home);
		else if (b - home > c->max_probe)
			c->max_probe = b - home;
		if ((uint8_t)(tags >> (8 * e)) != hash_tag(hash))
			CHECK_FAIL(c, err, "bucket %u entry %u: wrong tag", b, e);
		for (uint32_t i = home; i < b; i++)
			need[i]++;
		if (rec_expired(&r, now))
			c->expired++;
		recs[c->records++] = (struct check_rec){.hash = hash, .b = b, .p = (uint8_t)(nib - 1)};
	}
	if (n && SHM_SLOTS - spans < maxsp)
		CHECK_FAIL(c, err, "bucket %u: %u free slots, its longest record needs %u", b,
			   SHM_SLOTS - spans, maxsp);
}

int slnf_store_shm_check(struct slnf_store *s, struct slnf_store_shm_check *c,
			 struct slnf_error *err)
{
	if (!s || !s->backend || strcmp(s->backend->name, "shm") != 0)
		return slnf_errorf(err, EINVAL, NULL, "store.backend", "not a shm store");
	struct shm_store *ss = shm_of(s);
	memset(c, 0, sizeof(*c));
	uint32_t *need = calloc(ss->n_buckets, sizeof(*need));
	struct check_rec *recs = calloc((size_t)ss->n_buckets * SHM_ENTRIES, sizeof(*recs));
	if (!need || !recs) {
		free(need);
		free(recs);
		return slnf_errorf(err, ENOMEM, NULL, "store.shm", "out of memory");
	}
	int rc = 0;
	for (uint32_t b = 0; b < ss->n_buckets && rc == 0; b++) {
		int l = bucket_lock_ex(ss, b);
		if (l < 0) {
			rc = slnf_errorf(err, -l, NULL, "store.shm", "bucket %u: lock: %s", b,
					 strerror(-l));
			break;
		}
		c->stolen += l == 1;
		check_bucket(ss, b, need, recs, c, err);
		bucket_unlock(ss, b);
	}
	if (rc == 0) {
		/* A dead count-lock owner's publish is replayed on takeover. */
		int l = lock_take(&ss->hdr->count_lock);
		if (l == 1) {
			count_replay(ss);
			c->stolen++;
		}
		if (l >= 0)
			lock_drop(&ss->hdr->count_lock);
		c->used = atomic_load(&ss->hdr->used);
		if (c->used != c->records)
			CHECK_FAIL(c, err, "record count %llu, a scan finds %llu",
				   (unsigned long long)c->used, (unsigned long long)c->records);
		for (uint32_t b = 0; b < ss->n_buckets; b++) {
			uint32_t ovf = atomic_load(&ss->bk[b].ovf);
			if (ovf < need[b])
				CHECK_FAIL(c, err, "bucket %u: overflow count %u, records need %u",
					   b, ovf, need[b]);
			else
				c->ovf_excess += ovf - need[b];
		}
		qsort(recs, c->records, sizeof(*recs), check_cmp);
		for (uint64_t i = 1; i < c->records; i++) {
			if (recs[i].hash != recs[i - 1].hash)
				continue;
			struct shm_rec x, y;
			if (rec_load(ss, recs[i].b, recs[i].p, NULL, &x) == 0 &&
			    rec_load(ss, recs[i - 1].b, recs[i - 1].p, NULL, &y) == 0 &&
			    key_eq(&x.key, &y.key))
				CHECK_FAIL(c, err, "a key is stored twice (buckets %u and %u)",
					   recs[i].b, recs[i - 1].b);
		}
		if (c->errors)
			rc = -EIO;
	}
	free(need);
	free(recs);
	return rc;
}

static const struct slnf_store_backend shm_backend = {
	.name = "shm",
	.open = shm_open_store,
	.close = shm_close,
	.submit = shm_submit,
	.poll = shm_poll,
	.stats = shm_stats,
	.scan = shm_scan,
};

SLNF_STORE_BACKEND_REGISTER(shm_backend)
