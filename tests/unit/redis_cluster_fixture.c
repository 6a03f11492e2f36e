/*
 * redis_cluster_fixture.c - see redis_cluster_fixture.h.
 *
 * Ports: six consecutive ports (and their cluster bus ports, +10000) are
 * picked from a range derived from the PID and checked free by binding
 * them, so two test programs (or a developer's own Redis) do not collide.
 * Servers are started with fork/exec, each with its own log file in the
 * temporary directory; a child asks the kernel to kill it when the test
 * process dies (PR_SET_PDEATHSIG), so even a crashed test leaves no server
 * behind. SIGTERM/SIGINT (meson's timeout) kill the servers and remove the
 * files from a signal handler that uses only kill/unlink/rmdir on paths
 * prepared in advance. Readiness is not a sleep: the fixture waits for PING,
 * for redis-cli's exit status, then for cluster_state:ok on every node and
 * one online replica per master, each wait with a deadline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>

#include "redis_cluster_fixture.h"

#define RC_PORT_FIRST 21000
#define RC_PORT_SPAN 9000 /* bus ports stay below 41000 */
#define RC_PING_TIMEOUT_MS 5000
#define RC_CREATE_TIMEOUT_MS 30000
#define RC_READY_TIMEOUT_MS 15000
#define RC_CMD_TIMEOUT_MS 2000
#define RC_MAX_FILES (3 * SLNF_RC_NODES + 4)

/* The one fixture of the process, for atexit and signal handlers. */
static struct slnf_rc *live_rc;
static char cleanup_paths[RC_MAX_FILES][320];
static unsigned n_cleanup_paths;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static bool port_free(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int pick_ports(struct slnf_rc *rc)
{
	unsigned slots = RC_PORT_SPAN / 16;
	unsigned start = (unsigned)getpid() % slots;
	for (unsigned attempt = 0; attempt < 50; attempt++) {
		uint16_t base = (uint16_t)(RC_PORT_FIRST + ((start + attempt * 7) % slots) * 16);
		bool ok = true;
		for (unsigned i = 0; i < SLNF_RC_NODES && ok; i++)
			ok = port_free((uint16_t)(base + i)) && port_free((uint16_t)(base + i + 10000));
		if (!ok)
			continue;
		for (unsigned i = 0; i < SLNF_RC_NODES; i++)
			rc->ports[i] = (uint16_t)(base + i);
		return 0;
	}
	fprintf(stderr, "redis cluster fixture: no 6 free loopback ports in %d-%d\n",
		RC_PORT_FIRST, RC_PORT_FIRST + RC_PORT_SPAN);
	return -EADDRINUSE;
}

/* Async-signal-safe: kill the servers, remove the known files and dir. */
static void rc_emergency_cleanup(void)
{
	struct slnf_rc *rc = live_rc;
	if (!rc)
		return;
	for (unsigned i = 0; i < SLNF_RC_NODES; i++)
		if (rc->pids[i] > 0)
			kill(rc->pids[i], SIGKILL);
	/* Reap them: SIGKILL takes effect at once, and an orphan would stay
	 * a zombie wherever PID 1 does not reap. */
	for (unsigned i = 0; i < SLNF_RC_NODES; i++)
		if (rc->pids[i] > 0)
			waitpid(rc->pids[i], NULL, 0);
	for (unsigned i = 0; i < n_cleanup_paths; i++)
		unlink(cleanup_paths[i]);
	rmdir(rc->dir);
}

static void rc_signal(int sig)
{
	rc_emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void rc_atexit(void)
{
	if (live_rc)
		slnf_rc_stop(live_rc);
}

static void add_cleanup_path(const char *path)
{
	if (n_cleanup_paths < RC_MAX_FILES)
		snprintf(cleanup_paths[n_cleanup_paths++], sizeof(cleanup_paths[0]), "%s", path);
}

/* fork/exec argv with stdout and stderr to log; the child dies with us. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) {
			dup2(devnull, 0);
			close(devnull);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int start_server(struct slnf_rc *rc, unsigned i)
{
	char port[8], conf[32], log[300];
	snprintf(port, sizeof(port), "%u", rc->ports[i]);
	snprintf(conf, sizeof(conf), "nodes-%u.conf", rc->ports[i]);
	snprintf(log, sizeof(log), "%s/redis-%u.log", rc->dir, rc->ports[i]);
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", rc->dir, conf);
	add_cleanup_path(path);
	add_cleanup_path(log);
	snprintf(path, sizeof(path), "%s/dump.rdb", rc->dir);
	if (i == 0)
		add_cleanup_path(path);
	char *argv[] = {
		"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", rc->dir,
		"--cluster-enabled", "yes", "--cluster-config-file", conf,
		"--cluster-node-timeout", "1000",
		/* Partial availability: the masters that are up keep serving
		 * their slots while a failed one is replaced. */
		"--cluster-require-full-coverage", "no",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		/* Replication straight from socket to memory: no RDB files in
		 * the shared directory, no wait before a full sync. */
		"--repl-diskless-sync-delay", "0", "--repl-diskless-load", "swapdb",
		"--protected-mode", "no", "--logfile", "", NULL,
	};
	pid_t pid = spawn(argv, log);
	if (pid < 0) {
		fprintf(stderr, "redis cluster fixture: cannot start redis-server on port %u: %s\n",
			rc->ports[i], strerror(-pid));
		return (int)pid;
	}
	rc->pids[i] = pid;
	return 0;
}

void slnf_rc_addr(const struct slnf_rc *rc, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%u", rc->ports[i]);
}

static redisContext *rc_connect(const struct slnf_rc *rc, unsigned i)
{
	struct timeval tv = {.tv_sec = RC_CMD_TIMEOUT_MS / 1000,
			     .tv_usec = (RC_CMD_TIMEOUT_MS % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", rc->ports[i], tv);
	if (!c)
		return NULL;
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static redisReply *rc_vcommand(const struct slnf_rc *rc, unsigned i, const char *fmt, va_list ap)
{
	if (rc->pids[i] <= 0)
		return NULL;
	redisContext *c = rc_connect(rc, i);
	if (!c)
		return NULL;
	redisReply *r = redisvCommand(c, fmt, ap);
	redisFree(c);
	return r;
}

redisReply *slnf_rc_command(const struct slnf_rc *rc, unsigned i, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = rc_vcommand(rc, i, fmt, ap);
	va_end(ap);
	return r;
}

/* Does node i's reply to "cmd [arg]" contain needle? */
static bool reply_has(const struct slnf_rc *rc, unsigned i, const char *needle, const char *cmd,
		      const char *arg)
{
	redisReply *r = arg ? slnf_rc_command(rc, i, "%s %s", cmd, arg)
			    : slnf_rc_command(rc, i, "%s", cmd);
	bool yes = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
		   strstr(r->str, needle);
	if (r)
		freeReplyObject(r);
	return yes;
}

static void print_logs(const struct slnf_rc *rc)
{
	for (unsigned i = 0; i < n_cleanup_paths; i++) {
		if (!strstr(cleanup_paths[i], ".log"))
			continue;
		FILE *f = fopen(cleanup_paths[i], "r");
		if (!f)
			continue;
		fprintf(stderr, "---- %s (last lines) ----\n", cleanup_paths[i]);
		char lines[20][256];
		unsigned n = 0;
		while (fgets(lines[n % 20], sizeof(lines[0]), f))
			n++;
		for (unsigned j = n > 20 ? n - 20 : 0; j < n; j++)
			fputs(lines[j % 20], stderr);
		fclose(f);
	}
}

/* Wait for a child with a deadline; kill it when it overruns. */
static int wait_child(pid_t pid, unsigned timeout_ms, int *status)
{
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0)
			return -errno;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
}

static int create_cluster(struct slnf_rc *rc)
{
	char addrs[SLNF_RC_NODES][32], log[300];
	char *argv[SLNF_RC_NODES + 8];
	unsigned n = 0;
	argv[n++] = "redis-cli";
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		slnf_rc_addr(rc, i, addrs[i], sizeof(addrs[i]));
		argv[n++] = addrs[i];
	}
	argv[n++] = "--cluster-replicas";
	argv[n++] = "1";
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/create.log", rc->dir);
	add_cleanup_path(log);
	pid_t pid = spawn(argv, log);
	if (pid < 0)
		return (int)pid;
	int status = 0;
	int r = wait_child(pid, RC_CREATE_TIMEOUT_MS, &status);
	if (r < 0) {
		fprintf(stderr, "redis cluster fixture: redis-cli --cluster create: %s\n",
			strerror(-r));
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "redis cluster fixture: redis-cli --cluster create failed "
			"(status %d), see below\n", status);
		return -EIO;
	}
	return 0;
}

/* Every live node ok, every master with an online replica. */
static bool cluster_ready(const struct slnf_rc *rc, bool need_replicas)
{
	unsigned masters = 0;
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		if (rc->pids[i] <= 0)
			continue;
		if (!reply_has(rc, i, "cluster_state:ok", "CLUSTER", "INFO"))
			return false;
		if (reply_has(rc, i, "role:master", "INFO", "replication")) {
			masters++;
			if (need_replicas && !reply_has(rc, i, ",state=online,", "INFO", "replication"))
				return false;
		}
	}
	return masters == SLNF_RC_NODES / 2;
}

int slnf_rc_start(struct slnf_rc *rc)
{
	memset(rc, 0, sizeof(*rc));
	n_cleanup_paths = 0;
	snprintf(rc->dir, sizeof(rc->dir), "/tmp/slnf-rc-XXXXXX");
	if (!mkdtemp(rc->dir)) {
		int e = errno;
		fprintf(stderr, "redis cluster fixture: mkdtemp: %s\n", strerror(e));
		rc->dir[0] = '\0';
		return -e;
	}
	rc->started = true;
	live_rc = rc;
	static bool hooks;
	if (!hooks) {
		hooks = true;
		atexit(rc_atexit);
		signal(SIGTERM, rc_signal);
		signal(SIGINT, rc_signal);
	}
	int r = pick_ports(rc);
	for (unsigned i = 0; r == 0 && i < SLNF_RC_NODES; i++)
		r = start_server(rc, i);

	/* Every server answers PING. */
	uint64_t deadline = now_ms() + RC_PING_TIMEOUT_MS;
	for (unsigned i = 0; r == 0 && i < SLNF_RC_NODES;) {
		if (reply_has(rc, i, "PONG", "PING", NULL)) {
			i++;
			continue;
		}
		int status;
		if (waitpid(rc->pids[i], &status, WNOHANG) == rc->pids[i]) {
			rc->pids[i] = 0;
			fprintf(stderr, "redis cluster fixture: redis-server on port %u exited\n",
				rc->ports[i]);
			r = -EIO;
		} else if (now_ms() > deadline) {
			fprintf(stderr, "redis cluster fixture: port %u does not answer PING\n",
				rc->ports[i]);
			r = -ETIMEDOUT;
		} else {
			sleep_ms(20);
		}
	}
	if (r == 0)
		r = create_cluster(rc);
	if (r == 0) {
		deadline = now_ms() + RC_READY_TIMEOUT_MS;
		while (!cluster_ready(rc, true)) {
			if (now_ms() > deadline) {
				fprintf(stderr, "redis cluster fixture: cluster not ok after %d ms\n",
					RC_READY_TIMEOUT_MS);
				r = -ETIMEDOUT;
				break;
			}
			sleep_ms(50);
		}
	}
	if (r < 0) {
		print_logs(rc);
		slnf_rc_stop(rc);
	}
	return r;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[512];
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		fprintf(stderr, "redis cluster fixture: cannot remove %s: %s\n", dir,
			strerror(errno));
}

void slnf_rc_stop(struct slnf_rc *rc)
{
	if (!rc->started)
		return;
	for (unsigned i = 0; i < SLNF_RC_NODES; i++)
		if (rc->pids[i] > 0)
			kill(rc->pids[i], SIGTERM);
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		if (rc->pids[i] <= 0)
			continue;
		int status;
		if (wait_child(rc->pids[i], 2000, &status) < 0)
			fprintf(stderr, "redis cluster fixture: port %u needed SIGKILL\n",
				rc->ports[i]);
		rc->pids[i] = 0;
	}
	if (rc->dir[0])
		remove_dir(rc->dir);
	rc->started = false;
	if (live_rc == rc)
		live_rc = NULL;
}

int slnf_rc_flush(const struct slnf_rc *rc)
{
	int ret = 0;
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		if (rc->pids[i] <= 0)
			continue;
		redisReply *r = slnf_rc_command(rc, i, "FLUSHALL");
		if (!r) {
			fprintf(stderr, "redis cluster fixture: FLUSHALL on port %u: no answer\n",
				rc->ports[i]);
			ret = -EIO;
			continue;
		}
		/* Replicas refuse writes (READONLY); their master's flush reaches them. */
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) != 0) {
			fprintf(stderr, "redis cluster fixture: FLUSHALL on port %u: %s\n",
				rc->ports[i], r->str);
			ret = -EIO;
		}
		freeReplyObject(r);
	}
	return ret;
}

static int node_of_port(const struct slnf_rc *rc, long long port)
{
	for (unsigned i = 0; i < SLNF_RC_NODES; i++)
		if (rc->ports[i] == port)
			return (int)i;
	return -ENOENT;
}

/* The port node i believes serves slot, or -ENOENT. */
static int slot_owner_seen_by(const struct slnf_rc *rc, unsigned i, unsigned slot)
{
	redisReply *r = slnf_rc_command(rc, i, "CLUSTER SLOTS");
	int port = -ENOENT;
	if (r && r->type == REDIS_REPLY_ARRAY) {
		for (size_t e = 0; e < r->elements; e++) {
			redisReply *rg = r->element[e];
			if (rg->type != REDIS_REPLY_ARRAY || rg->elements < 3 ||
			    rg->element[2]->type != REDIS_REPLY_ARRAY ||
			    rg->element[2]->elements < 2)
				continue;
			if (slot >= rg->element[0]->integer && slot <= rg->element[1]->integer) {
				port = (int)rg->element[2]->element[1]->integer;
				break;
			}
		}
	}
	if (r)
		freeReplyObject(r);
	return port;
}

int slnf_rc_master_of(const struct slnf_rc *rc, unsigned slot)
{
	for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
		if (rc->pids[i] <= 0)
			continue;
		int port = slot_owner_seen_by(rc, i, slot);
		int n = port > 0 ? node_of_port(rc, port) : -ENOENT;
		if (n >= 0 && rc->pids[n] > 0)
			return n;
	}
	return -ENOENT;
}

int slnf_rc_kill_master(struct slnf_rc *rc, unsigned slot)
{
	int n = slnf_rc_master_of(rc, slot);
	if (n < 0)
		return n;
	kill(rc->pids[n], SIGKILL);
	int status;
	waitpid(rc->pids[n], &status, 0);
	rc->pids[n] = 0;
	return n;
}

int slnf_rc_wait_promoted(const struct slnf_rc *rc, unsigned slot, unsigned dead,
			  unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	while (now_ms() < deadline) {
		for (unsigned i = 0; i < SLNF_RC_NODES; i++) {
			if (i == dead || rc->pids[i] <= 0)
				continue;
			/* A node that serves slot itself and calls itself master. */
			if (slot_owner_seen_by(rc, i, slot) == rc->ports[i] &&
			    reply_has(rc, i, "role:master", "INFO", "replication") &&
			    cluster_ready(rc, false))
				return (int)i;
		}
		sleep_ms(50);
	}
	return -ETIMEDOUT;
}
