/*
 * redis_cluster_fixture.h - a real 6-node Redis Cluster (3 masters, one
 * replica each) for tests, started from Debian's redis-server on loopback
 * in a temporary directory.
 *
 * Servers run with cluster-node-timeout 1000 and no persistence; the
 * cluster is created with `redis-cli --cluster create ... --cluster-replicas
 * 1 --cluster-yes` and is ready when every node says cluster_state:ok. Every
 * wait is bounded. Servers are children of the test process that die with
 * it (PR_SET_PDEATHSIG), and slnf_rc_stop kills them by PID and removes the
 * directory; it is also registered with atexit, so a failed assertion or an
 * early exit leaves nothing behind.
 */
#ifndef SLNF_REDIS_CLUSTER_FIXTURE_H
#define SLNF_REDIS_CLUSTER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SLNF_RC_NODES 6

struct redisReply;

struct slnf_rc {
	char dir[256];
	uint16_t ports[SLNF_RC_NODES];
	pid_t pids[SLNF_RC_NODES]; /* 0: not running */
	bool started;
};

/* Start the cluster and wait until it is usable (bounded, ~10 s at most).
 * 0, or negative errno with the reason on stderr (the servers' logs are
 * printed too). Stops whatever it started when it fails. */
int slnf_rc_start(struct slnf_rc *rc);
/* Stop every server by PID (SIGKILL after a short grace period) and remove
 * the directory. Safe to call twice. */
void slnf_rc_stop(struct slnf_rc *rc);

/* "127.0.0.1:<port>" of node i. */
void slnf_rc_addr(const struct slnf_rc *rc, unsigned i, char *buf, size_t len);

/* One command on node i (hiredis format string), bounded by 2 s. Returns
 * the reply (free with freeReplyObject) or NULL when the node does not
 * answer. */
struct redisReply *slnf_rc_command(const struct slnf_rc *rc, unsigned i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* FLUSHALL on every live master (and reset their stats counters). 0 or
 * -EIO. */
int slnf_rc_flush(const struct slnf_rc *rc);

/* Node index of the master serving slot, as the live nodes see it; -ENOENT
 * when no live node names a reachable master for it. */
int slnf_rc_master_of(const struct slnf_rc *rc, unsigned slot);

/* SIGKILL the master serving slot; returns its node index. */
int slnf_rc_kill_master(struct slnf_rc *rc, unsigned slot);

/* Wait (bounded by timeout_ms) until a live node other than dead serves
 * slot as a master and the cluster is ok again on every live node. Returns
 * the new master's index, -ETIMEDOUT otherwise. */
int slnf_rc_wait_promoted(const struct slnf_rc *rc, unsigned slot, unsigned dead,
			  unsigned timeout_ms);

#endif
