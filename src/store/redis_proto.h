/*
 * redis_proto.h - how a store op looks on a Redis server, with no I/O.
 *
 * This is the pure half of the Redis backends ("redis" and "redis-cluster"):
 * the key string a struct slnf_store_key becomes, the command one struct
 * slnf_store_op becomes, and how the reply to that command is turned back
 * into status/val/version/counter. Sockets, pipelines and routing live in
 * redis_conn.c, redis.c and redis_cluster.c.
 *
 * Key string (at most SLNF_REDIS_KEY_MAX - 1 bytes, plain ASCII):
 *
 *	slnf:{TTTTTTTT:NNNN:DD..DD}
 *
 * T = tenant as 8 lower-case hex digits, N = NF type id as 4, DD..DD = the
 * key's len data bytes as 2 hex digits each (empty when len is 0). The whole
 * identity sits inside the {hash tag}, so Redis Cluster puts a record in the
 * slot of CRC16("TTTTTTTT:NNNN:DD..DD"), and hex digits can never contain
 * the '}' that would cut the tag short.
 *
 * Record: one Redis hash per key with the fields
 *	v  the version, decimal (1 on creation, +1 on every write);
 *	d  the value bytes, binary (absent or empty when never written);
 *	c  the INCR counter, decimal signed 64-bit (absent means 0).
 * PUT/PUT_IF_ABSENT/CAS replace d and keep c; INCR changes c and keeps d.
 * The key's Redis TTL is the record's TTL (PEXPIRE ms, PERSIST for 0).
 *
 * Commands: GET is "HMGET key v d c" (one read, atomic by itself). Every
 * write is one Lua script (slnf_redis_script), called as
 *	EVALSHA sha 1 key OP ttl_ms ARG [VALUE]
 * OP is P (put), A (put-if-absent), C (cas; ARG = expected version),
 * D (del), I (incr; ARG = delta). The script answers an array
 * {code, version, value, counter}: code 0 ok, 1 absent, 2 exists,
 * 3 stale; version and counter are decimal strings so 64 bits survive.
 */
#ifndef SLNF_REDIS_PROTO_H
#define SLNF_REDIS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slnf/store.h"

struct redisReply;

/* Room for the longest key string plus its NUL. */
#define SLNF_REDIS_KEY_MAX (24 + 2 * SLNF_STORE_KEY_DATA_MAX)
/* Most arguments one encoded command has. */
#define SLNF_REDIS_CMD_ARGS 8

/* The store script (see above); load it with SCRIPT LOAD, call it by SHA. */
extern const char slnf_redis_script[];

/* One command as an argument vector, ready for slnf_redis_conn_append.
 * argv[] points into the key string, the op's val, the sha given to
 * slnf_redis_encode and num[]: keep those alive until it is appended. */
struct slnf_redis_cmd {
	int argc;
	const char *argv[SLNF_REDIS_CMD_ARGS];
	size_t argvlen[SLNF_REDIS_CMD_ARGS];
	char num[2][24];
};

/* Kinds of error reply a caller may have to act on. */
enum slnf_redis_err {
	SLNF_REDIS_ERR_NONE = 0, /* not an error reply */
	SLNF_REDIS_ERR_MOVED,    /* cluster: the slot lives elsewhere */
	SLNF_REDIS_ERR_ASK,      /* cluster: ask elsewhere once (migration) */
	SLNF_REDIS_ERR_NOSCRIPT, /* EVALSHA of a script the server lacks */
	SLNF_REDIS_ERR_TRYAGAIN, /* cluster: multi-key op during resharding */
	SLNF_REDIS_ERR_CLUSTERDOWN,
	SLNF_REDIS_ERR_READONLY, /* written to a replica (after failover) */
	SLNF_REDIS_ERR_LOADING,  /* server loading its dataset */
	SLNF_REDIS_ERR_OOM,      /* maxmemory reached (decoded as -ENOSPC) */
	SLNF_REDIS_ERR_OTHER,
};

/* 0 when op can be sent: a known opcode, key.len <= 40, val_len <= 128;
 * otherwise -EINVAL. */
int slnf_redis_op_check(const struct slnf_store_op *op);

/* Write the key string of k into out (cap bytes, NUL-terminated). Returns
 * its length, or -EINVAL (key too long) / -ENOSPC (cap too small). */
int slnf_redis_key(const struct slnf_store_key *k, char *out, size_t cap);
/* The other way: a key string of slnf_redis_key's form into *k. 0, or
 * -EINVAL for any other string. */
int slnf_redis_key_parse(const char *s, size_t len, struct slnf_store_key *k);
/* The SCAN MATCH pattern of every key of (tenant, nf) into out. */
void slnf_redis_key_pattern(uint32_t tenant, uint16_t nf, char *out, size_t cap);

/* Encode op against key (its key string, key_len bytes). sha is the loaded
 * script's SHA1 (40 hex digits); NULL sends "EVAL <script>" instead, which
 * also puts the script into the server's cache (the answer to NOSCRIPT).
 * Returns 0 or -EINVAL (slnf_redis_op_check). */
int slnf_redis_encode(const struct slnf_store_op *op, const char *key, size_t key_len,
		      const char *sha, struct slnf_redis_cmd *cmd);

/* Set op->status (and val/val_len, version, counter as store.h says) from
 * r, the reply to the command slnf_redis_encode built for op. Returns the
 * status. An error reply gives -EIO (-ENOSPC for OOM: the server is at
 * maxmemory): look at slnf_redis_reply_error first when redirects or
 * NOSCRIPT must be handled. A reply of the wrong shape also gives -EIO. */
int slnf_redis_decode(struct slnf_store_op *op, const struct redisReply *r);

/* The kind of error r is (SLNF_REDIS_ERR_NONE for any other reply); msg and
 * len (either may be NULL) get the raw error text, e.g. "MOVED 3999
 * 127.0.0.1:6381" for slnf_cluster_redirect_parse. */
enum slnf_redis_err slnf_redis_reply_error(const struct redisReply *r, const char **msg,
					   size_t *len);

/* Durability (WAIT). An op that may create or change state and so may
 * need a replica's acknowledgement: PUT, PUT_IF_ABSENT, CAS, INCR. */
bool slnf_redis_op_may_need_wait(const struct slnf_store_op *op);
/* After decoding: the op wrote state that WAIT must cover (PUT, a
 * PUT_IF_ABSENT that created, a CAS that matched, an INCR that created). */
bool slnf_redis_op_needs_wait(const struct slnf_store_op *op);
/* "WAIT replicas timeout_ms". */
void slnf_redis_encode_wait(uint32_t replicas, uint32_t timeout_ms, struct slnf_redis_cmd *cmd);
/* The number of replicas that acknowledged (>= 0), or -EIO. */
int slnf_redis_decode_wait(const struct redisReply *r);

#endif
