/*
 * redis_server.h - a standalone redis-server for tests, started from
 * Debian's binary on loopback, listening on a free TCP port and on a Unix
 * socket in its own temporary directory, with no persistence (--save ""
 * --appendonly no).
 *
 * Start waits until the server answers PING (bounded); every other wait
 * is bounded too. Servers die with the test process (PR_SET_PDEATHSIG) and
 * are stopped by PID; slnf_redis_server_stop also removes the directory,
 * and every started server is stopped from an atexit handler, so a failed
 * assertion leaves nothing behind.
 */
#ifndef SLNF_REDIS_SERVER_H
#define SLNF_REDIS_SERVER_H

#include <stdint.h>
#include <sys/types.h>

struct redisReply;

struct slnf_redis_server {
	char dir[64];        /* temporary directory: socket, log */
	char unix_path[108]; /* dir/redis.sock */
	uint16_t port;
	uint16_t master_port; /* a replica of 127.0.0.1:master_port, or 0 */
	pid_t pid;            /* 0: not running */
};

/* Start a server (a replica of 127.0.0.1:master_port unless that is 0) on
 * a free port; 0 or negative errno with the reason (and the server's log)
 * on stderr. */
int slnf_redis_server_start(struct slnf_redis_server *s, uint16_t master_port);
/* Stop it (SIGTERM, SIGKILL after a grace period) and remove its
 * directory. Safe to call twice. */
void slnf_redis_server_stop(struct slnf_redis_server *s);
/* Kill the process only (SIGKILL), keeping port and directory. */
void slnf_redis_server_kill(struct slnf_redis_server *s);
/* Start it again on the same port and socket after a kill. */
int slnf_redis_server_restart(struct slnf_redis_server *s);
/* Freeze (SIGSTOP) or thaw (SIGCONT) it: a server that accepts nothing. */
void slnf_redis_server_freeze(struct slnf_redis_server *s, int frozen);

/* One command (hiredis format) over TCP, bounded by 2 s: the reply (free
 * it with freeReplyObject) or NULL. */
struct redisReply *slnf_redis_server_command(const struct slnf_redis_server *s,
					     const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* FLUSHALL and CONFIG RESETSTAT: 0 or -EIO. */
int slnf_redis_server_flush(const struct slnf_redis_server *s);
/* Wait (bounded by timeout_ms) until a replica's link to its master is
 * up: 0 or -ETIMEDOUT. */
int slnf_redis_server_wait_link(const struct slnf_redis_server *s, unsigned timeout_ms);

#endif
