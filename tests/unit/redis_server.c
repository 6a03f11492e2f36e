/*
 * redis_server.c - start, stop, kill and restart a standalone redis-server
 * for tests (see redis_server.h).
 *
 * The port comes from the kernel (bind port 0 on 127.0.0.1, read it back,
 * close); a server that cannot take it after all is started again on
 * another, a few times. The child runs redis-server in the foreground with
 * its log in the temporary directory, and dies with the test process. Every
 * wait polls with short sleeps and a deadline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_server.h"

#define SERVER_START_MS 5000
#define SERVER_STOP_MS 2000
#define SERVER_CMD_MS 2000
#define SERVER_PORT_TRIES 5
#define SERVERS_MAX 8

static struct slnf_redis_server *started[SERVERS_MAX];

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void stop_all(void)
{
	for (unsigned i = 0; i < SERVERS_MAX; i++)
		if (started[i])
			slnf_redis_server_stop(started[i]);
}

static void remember(struct slnf_redis_server *s, bool on)
{
	static bool registered;
	if (!registered) {
		atexit(stop_all);
		registered = true;
	}
	for (unsigned i = 0; i < SERVERS_MAX; i++) {
		if (on && !started[i]) {
			started[i] = s;
			return;
		}
		if (!on && started[i] == s)
			started[i] = NULL;
	}
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void print_log(const struct slnf_redis_server *s)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/redis.log", s->dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	fprintf(stderr, "--- %s ---\n", path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static pid_t spawn(const struct slnf_redis_server *s)
{
	char port[8], log[160], master[8];
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	snprintf(master, sizeof(master), "%u", s->master_port);
	const char *argv[32] = {
		"redis-server", "--port", port, "--bind", "127.0.0.1", "--unixsocket",
		s->unix_path, "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
		"--dir", s->dir, "--logfile", log, "--daemonize", "no",
		/* A replica's first sync starts at once, not after 5 s. */
		"--repl-diskless-sync-delay", "0",
	};
	unsigned n = 21;
	if (s->master_port) {
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = master;
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
	}
	execvp(argv[0], (char *const *)argv);
	fprintf(stderr, "exec redis-server: %s\n", strerror(errno));
	_exit(127);
}

static bool pings(const struct slnf_redis_server *s)
{
	redisReply *r = slnf_redis_server_command(s, "PING");
	bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
	if (r)
		freeReplyObject(r);
	return ok;
}

/* Run the server on s->port and wait for PONG: 0, -EADDRINUSE (it exited:
 * try another port) or -ETIMEDOUT. */
static int run(struct slnf_redis_server *s)
{
	s->pid = spawn(s);
	if (s->pid < 0) {
		s->pid = 0;
		return -errno;
	}
	uint64_t deadline = mono_ms() + SERVER_START_MS;
	while (mono_ms() < deadline) {
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -EADDRINUSE;
		}
		if (pings(s))
			return 0;
		nap_ms(10);
	}
	slnf_redis_server_kill(s);
	return -ETIMEDOUT;
}

int slnf_redis_server_start(struct slnf_redis_server *s, uint16_t master_port)
{
	memset(s, 0, sizeof(*s));
	s->master_port = master_port;
	snprintf(s->dir, sizeof(s->dir), "/tmp/slnf-redis-XXXXXX");
	if (!mkdtemp(s->dir)) {
		int e = errno;
		fprintf(stderr, "redis fixture: mkdtemp: %s\n", strerror(e));
		s->dir[0] = '\0';
		return -e;
	}
	snprintf(s->unix_path, sizeof(s->unix_path), "%s/redis.sock", s->dir);
	remember(s, true);
	int rc = -EADDRINUSE;
	for (unsigned i = 0; i < SERVER_PORT_TRIES && rc == -EADDRINUSE; i++) {
		s->port = free_port();
		rc = s->port ? run(s) : -EADDRNOTAVAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "redis fixture: cannot start redis-server on 127.0.0.1:%u: %s\n",
			s->port, strerror(-rc));
		print_log(s);
		slnf_redis_server_stop(s);
	}
	return rc;
}

/* Signal the server and wait (bounded) until it is gone. */
static void end(struct slnf_redis_server *s, int sig)
{
	if (!s->pid)
		return;
	kill(s->pid, SIGCONT); /* a frozen server cannot act on SIGTERM */
	kill(s->pid, sig);
	uint64_t deadline = mono_ms() + SERVER_STOP_MS;
	for (;;) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
			break;
		if (mono_ms() >= deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			break;
		}
		nap_ms(5);
	}
	s->pid = 0;
}

void slnf_redis_server_kill(struct slnf_redis_server *s)
{
	end(s, SIGKILL);
}

void slnf_redis_server_stop(struct slnf_redis_server *s)
{
	end(s, SIGTERM);
	remember(s, false);
	if (!s->dir[0])
		return;
	/* Log, socket, and whatever a replica's sync left (dump.rdb, temp-*). */
	DIR *d = opendir(s->dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char path[sizeof(s->dir) + sizeof(e->d_name) + 1];
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	if (rmdir(s->dir) < 0)
		fprintf(stderr, "redis fixture: rmdir %s: %s\n", s->dir, strerror(errno));
	s->dir[0] = '\0';
}

int slnf_redis_server_restart(struct slnf_redis_server *s)
{
	if (s->pid)
		return -EBUSY;
	/* The old listener may linger briefly: retry the same port. */
	int rc = -EADDRINUSE;
	for (unsigned i = 0; i < SERVER_PORT_TRIES && rc == -EADDRINUSE; i++) {
		rc = run(s);
		if (rc == -EADDRINUSE)
			nap_ms(100);
	}
	if (rc < 0) {
		fprintf(stderr, "redis fixture: cannot restart on port %u: %s\n", s->port,
			strerror(-rc));
		print_log(s);
	}
	return rc;
}

void slnf_redis_server_freeze(struct slnf_redis_server *s, int frozen)
{
	if (s->pid)
		kill(s->pid, frozen ? SIGSTOP : SIGCONT);
}

redisReply *slnf_redis_server_command(const struct slnf_redis_server *s, const char *fmt, ...)
{
	struct timeval tv = {.tv_sec = SERVER_CMD_MS / 1000,
			     .tv_usec = (SERVER_CMD_MS % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	if (!c)
		return NULL;
	redisReply *r = NULL;
	if (!c->err && redisSetTimeout(c, tv) == REDIS_OK) {
		va_list ap;
		va_start(ap, fmt);
		r = redisvCommand(c, fmt, ap);
		va_end(ap);
	}
	redisFree(c);
	return r;
}

int slnf_redis_server_flush(const struct slnf_redis_server *s)
{
	int rc = 0;
	for (unsigned i = 0; i < 2; i++) {
		redisReply *r = i ? slnf_redis_server_command(s, "CONFIG RESETSTAT")
				  : slnf_redis_server_command(s, "FLUSHALL");
		if (!r || r->type == REDIS_REPLY_ERROR)
			rc = -EIO;
		if (r)
			freeReplyObject(r);
	}
	return rc;
}

int slnf_redis_server_wait_link(const struct slnf_redis_server *s, unsigned timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	do {
		redisReply *r = slnf_redis_server_command(s, "INFO replication");
		bool up = r && r->type == REDIS_REPLY_STRING &&
			  strstr(r->str, "master_link_status:up");
		if (r)
			freeReplyObject(r);
		if (up)
			return 0;
		nap_ms(20);
	} while (mono_ms() < deadline);
	return -ETIMEDOUT;
}
