/*
 * store.h - the state store: where every piece of NF state lives.
 *
 * NFs never keep authoritative state in process memory; they read and write
 * small versioned records through this interface. Operations are submitted in
 * batches and completed asynchronously (submit, then poll), so a remote
 * backend can keep a pipeline full while the worker does other work; a
 * synchronous helper (slnf_store_exec) sits on top for slow paths and tests.
 *
 * Semantics every backend implements:
 *  - versions start at 1 on creation and grow by one on every write;
 *  - GET: status 0 with val/val_len/version, or -ENOENT;
 *  - PUT: create or overwrite, status 0, version out;
 *  - PUT_IF_ABSENT: create; if the key exists, status -EEXIST and the
 *    existing record in val/val_len/version (the loser adopts the winner);
 *  - CAS: write only if the stored version equals op.version; otherwise
 *    -ESTALE with the current record, or -ENOENT if there is none;
 *  - DEL: status 0 or -ENOENT;
 *  - INCR: add delta to a signed 64-bit counter (created at 0 if absent),
 *    the new value in counter;
 *  - ttl_ms on every write: 0 means no expiry, otherwise the record is gone
 *    ttl_ms after the write (a later write sets a new TTL);
 *  - other failures: -ENOSPC (store full), -ETIMEDOUT, -EIO, -EINVAL, and
 *    -EAGAIN (redis-cluster: no master owns the slot right now; retry later).
 *
 * Backends register themselves with SLNF_STORE_BACKEND_REGISTER and are chosen
 * by name in the config (store.backend).
 */
#ifndef SLNF_STORE_H
#define SLNF_STORE_H

#include <stdint.h>
#include <stdbool.h>

#include "slnf/error.h"

#define SLNF_STORE_KEY_DATA_MAX 40
#define SLNF_STORE_VAL_MAX 128

/* Keys are namespaced: a tenant never sees another tenant's keys, and two
 * NFs of one chain never collide. */
struct slnf_store_key {
	uint32_t tenant;
	uint16_t nf;  /* NF type id (slnf_nf_type.id) */
	uint16_t len; /* bytes used in data */
	uint8_t data[SLNF_STORE_KEY_DATA_MAX];
};

enum slnf_store_opcode {
	SLNF_STORE_GET = 0,
	SLNF_STORE_PUT,
	SLNF_STORE_PUT_IF_ABSENT,
	SLNF_STORE_CAS,
	SLNF_STORE_DEL,
	SLNF_STORE_INCR,
};

struct slnf_store_op {
	uint8_t opcode;   /* enum slnf_store_opcode */
	int16_t status;   /* out: 0 or negative errno, -EINPROGRESS while pending */
	uint16_t val_len; /* in for writes, out for reads and conflicts */
	uint32_t ttl_ms;  /* writes: 0 = no expiry */
	uint64_t version; /* CAS: expected version in; all: stored version out */
	int64_t delta;    /* INCR amount */
	int64_t counter;  /* INCR result */
	struct slnf_store_key key;
	uint8_t val[SLNF_STORE_VAL_MAX];
};

#define SLNF_STORE_MAX_NODES 16

struct slnf_store_config {
	char backend[32];  /* "local", "shm", "redis", "redis-cluster" */
	uint32_t capacity; /* maximum records (local, shm) */
	uint32_t cache_entries; /* per-worker instance cache size; 0 = no cache */
	char shm_name[64]; /* shm: name of the shared table (a file in /dev/shm) */
	struct {
		char host[64];          /* redis: server address (default 127.0.0.1) */
		uint16_t port;          /* redis: TCP port (default 6379) */
		char unix_path[108];    /* redis: Unix socket; when set, host/port unused */
		char nodes[SLNF_STORE_MAX_NODES][72]; /* redis-cluster: seed "host:port" */
		unsigned n_nodes;
		uint32_t timeout_ms;    /* every wait on the server is bounded by this */
		uint32_t wait_replicas; /* durability: WAIT for this many replicas on
					   state-creating writes (0 = asynchronous) */
		uint32_t wait_timeout_ms; /* WAIT's timeout */
	} redis;
};

struct slnf_store_stats {
	uint64_t entries;
	uint64_t capacity;
	uint64_t memory_bytes;
	uint64_t ops;
	uint64_t batches;
	uint64_t expired;
	uint64_t failures; /* ops that completed with an error other than the
			      expected -ENOENT/-EEXIST/-ESTALE */
	uint64_t full;     /* writes refused because the store was full */
};

struct slnf_store;

/* A record visited by slnf_store_scan; valid during the callback only. */
struct slnf_store_record {
	const struct slnf_store_key *key;
	const uint8_t *val;
	uint16_t val_len;
	uint64_t version;
	int64_t ttl_left_ms; /* -1: no expiry */
};

/* The scan callback: false stops the scan. */
typedef bool (*slnf_store_scan_fn)(const struct slnf_store_record *r, void *arg);

/* A batch in flight. Owned by the caller; opaque fields are the backend's. */
struct slnf_store_batch {
	struct slnf_store_op *ops;
	unsigned n;
	bool done;
	uint64_t ticket; /* backend use */
};

struct slnf_store_backend {
	const char *name;
	int (*open)(const struct slnf_store_config *cfg, struct slnf_store **out,
		    struct slnf_error *err);
	void (*close)(struct slnf_store *s);
	/* Start a batch. May complete it at once (set done). */
	int (*submit)(struct slnf_store *s, struct slnf_store_batch *b);
	/* Make progress; set b->done when every op has its status. */
	int (*poll)(struct slnf_store *s, struct slnf_store_batch *b);
	void (*stats)(struct slnf_store *s, struct slnf_store_stats *out);
	/* Optional: visit every live record of (tenant, nf), for listings such
	 * as `slnfctl flows`; slow path, never on the data path. */
	int (*scan)(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		    void *arg);
};

/* Every backend's handle starts with this. */
struct slnf_store {
	const struct slnf_store_backend *backend;
};

void slnf_store_backend_register(const struct slnf_store_backend *b);
const struct slnf_store_backend *slnf_store_backend_find(const char *name);

#define SLNF_STORE_BACKEND_REGISTER(b)                                              \
	static void __attribute__((constructor)) slnf_store_register_##b(void)     \
	{                                                                           \
		slnf_store_backend_register(&b);                                    \
	}

/* Open the backend named in cfg. */
int slnf_store_open(const struct slnf_store_config *cfg, struct slnf_store **out,
		    struct slnf_error *err);
void slnf_store_close(struct slnf_store *s);

/* Asynchronous use: submit, then poll until b->done. */
int slnf_store_submit(struct slnf_store *s, struct slnf_store_batch *b);
int slnf_store_poll(struct slnf_store *s, struct slnf_store_batch *b);

/* Synchronous helper: submit ops and poll until all are done. Returns 0 when
 * the batch completed (check each op's status), negative errno otherwise. */
int slnf_store_exec(struct slnf_store *s, struct slnf_store_op *ops, unsigned n);

void slnf_store_stats(struct slnf_store *s, struct slnf_store_stats *out);
/* Visit the live records of (tenant, nf) until fn returns false. 0, or
 * -EOPNOTSUPP when the backend cannot list (redis-cluster), or the
 * backend's error. Takes each shm bucket's lock briefly: for operators'
 * listings, not for the data path. */
int slnf_store_scan(struct slnf_store *s, uint32_t tenant, uint16_t nf, slnf_store_scan_fn fn,
		    void *arg);

/* Helpers to fill an op. */
void slnf_store_op_init(struct slnf_store_op *op, enum slnf_store_opcode opcode,
			const struct slnf_store_key *key);
void slnf_store_key_init(struct slnf_store_key *k, uint32_t tenant, uint16_t nf,
			 const void *data, uint16_t len);

#endif
