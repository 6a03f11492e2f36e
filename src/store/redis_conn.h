/*
 * redis_conn.h - one connection to one Redis server, never waiting unbounded.
 *
 * A connection is a pipeline: callers append any number of commands, each
 * with a tag of their choosing, flush them without blocking, and read the
 * replies back in order as they arrive, each with the tag it was sent
 * with. The connection remembers which replies the server still owes; when
 * it fails (connection reset, end of file, a caller-declared timeout), every
 * owed reply comes back out of slnf_redis_conn_read as "lost" with the
 * error, so a caller can fail exactly the operations that were in flight.
 *
 * hiredis 0.14 is used to connect (TCP or Unix socket, non-blocking, so a
 * connect waits at most timeout_ms) and for its reply parser; commands are
 * written in RESP by this file and sent with MSG_NOSIGNAL (a dead peer gives
 * an error, never SIGPIPE). After a failure the connection stays down for
 * a backoff delay (doubling from backoff_min_ms up to backoff_max_ms on
 * every failed attempt, reset by a success); during it slnf_redis_conn_connect
 * answers -ECONNREFUSED at once, without a system call. Every new connection
 * loads the configured Lua scripts (SCRIPT LOAD) before it is used, and
 * slnf_redis_conn_sha gives their SHA1s for EVALSHA.
 *
 * Nothing here knows about slots or single servers: a cluster client opens
 * one struct slnf_redis_conn per node. A connection is not thread-safe; its
 * owner serialises calls.
 */
#ifndef SLNF_REDIS_CONN_H
#define SLNF_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisContext;
struct redisReply;

#define SLNF_REDIS_CONN_SCRIPTS 2
#define SLNF_REDIS_SHA_LEN 40

struct slnf_redis_conn_cfg {
	char host[64];         /* TCP: address or name (default 127.0.0.1) */
	uint16_t port;         /* TCP port (default 6379) */
	char unix_path[108];   /* when set: a Unix socket; host/port unused */
	uint32_t timeout_ms;   /* connect + script load, synchronous commands
				  (default 1000) */
	uint32_t backoff_min_ms; /* first delay after a failure (default 10) */
	uint32_t backoff_max_ms; /* longest delay (default 1000) */
	const char *scripts[SLNF_REDIS_CONN_SCRIPTS]; /* loaded on every connect */
	unsigned n_scripts;
};

/* What a caller attaches to a command and gets back with its reply. */
struct slnf_redis_tag {
	void *ptr;
	uint32_t idx;
};

/* Fields are private to redis_conn.c; the struct is public so callers can
 * embed connections (e.g. one per cluster node). */
struct slnf_redis_conn {
	struct slnf_redis_conn_cfg cfg;
	char name[128];           /* "host:port" or the socket path, for messages */
	struct redisContext *ctx; /* NULL while down */
	char sha[SLNF_REDIS_CONN_SCRIPTS][SLNF_REDIS_SHA_LEN + 1];
	char *obuf;               /* encoded commands not yet written */
	size_t olen, ooff, ocap;
	struct slnf_redis_tag *tags; /* replies owed, a ring, oldest first */
	unsigned tag_head, tag_n, tag_cap;
	int lost_err;             /* error given to owed replies after a failure */
	uint64_t retry_at_ns;     /* down: no attempt before this */
	uint32_t backoff_ms;      /* the delay after the next failure */
	uint64_t connects;        /* successful connects */
	uint64_t drops;           /* failures of an established connection */
	char err[192];            /* the last failure, for messages */
};

/* Monotonic clock in nanoseconds (the base of every deadline here). */
uint64_t slnf_redis_now_ns(void);

/* Set up c from cfg (no I/O; defaults filled in). 0 or -EINVAL. */
int slnf_redis_conn_init(struct slnf_redis_conn *c, const struct slnf_redis_conn_cfg *cfg);
/* Close and free; owed replies are forgotten. */
void slnf_redis_conn_fini(struct slnf_redis_conn *c);

/* Make sure c is connected with its scripts loaded. 0 when up; while down
 * inside the backoff delay -ECONNREFUSED at once; otherwise one attempt,
 * bounded by timeout_ms: -ECONNREFUSED (refused, no such socket),
 * -ETIMEDOUT, -EIO (script load failed) and a new backoff delay. Call it
 * only when no reply is owed (slnf_redis_conn_owed() == 0) or c is up. */
int slnf_redis_conn_connect(struct slnf_redis_conn *c);
bool slnf_redis_conn_is_up(const struct slnf_redis_conn *c);

/* Queue one command (no I/O); its reply comes back with tag. 0, -ENOTCONN
 * when c is down, -ENOMEM. */
int slnf_redis_conn_append(struct slnf_redis_conn *c, int argc, const char **argv,
			   const size_t *argvlen, struct slnf_redis_tag tag);
/* Write queued commands without blocking: 0 all written, 1 some left (call
 * again later), or a negative errno when the connection failed (it is then
 * dropped: see slnf_redis_conn_read). */
int slnf_redis_conn_flush(struct slnf_redis_conn *c);
/* Take the next reply without blocking. 1: *reply (free it with
 * freeReplyObject) answers the command sent with *tag; 0: nothing yet, or
 * nothing owed; negative errno: the connection failed and the reply to
 * *tag is lost (*reply is NULL): call again until it returns 0 to collect
 * every lost tag. */
int slnf_redis_conn_read(struct slnf_redis_conn *c, struct redisReply **reply,
			 struct slnf_redis_tag *tag);
/* Replies the server still owes (lost ones included until read). */
unsigned slnf_redis_conn_owed(const struct slnf_redis_conn *c);
/* Sleep until c's socket can make progress (readable, or writable while
 * commands wait) or deadline_ns: 0, -ETIMEDOUT, -ENOTCONN. For synchronous
 * users; a data path polls instead. */
int slnf_redis_conn_wait(struct slnf_redis_conn *c, uint64_t deadline_ns);
/* Close c now (err < 0, e.g. -ETIMEDOUT when a caller's deadline passed;
 * fmt says why, for slnf_redis_conn_error). Owed replies come out of
 * slnf_redis_conn_read as lost with err; reconnect after the backoff. */
void slnf_redis_conn_drop(struct slnf_redis_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One command, synchronously: connects if needed, waits at most timeout_ms.
 * Only when no reply is owed (else -EBUSY). 0 with *reply (the caller frees
 * it), or -ECONNREFUSED / -ETIMEDOUT / -EIO. */
int slnf_redis_conn_command(struct slnf_redis_conn *c, struct redisReply **reply, int argc,
			    const char **argv, const size_t *argvlen);

/* SHA1 (40 hex digits) of cfg.scripts[i] as loaded on this connection;
 * NULL while down or when i is out of range. */
const char *slnf_redis_conn_sha(const struct slnf_redis_conn *c, unsigned i);
/* The last failure as text ("127.0.0.1:6379: Connection refused"). */
const char *slnf_redis_conn_error(const struct slnf_redis_conn *c);

#endif
