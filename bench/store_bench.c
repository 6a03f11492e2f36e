/*
 * store_bench.c - slnf-store-bench: how fast each state store backend
 * answers batches, single-threaded, with redis-benchmark run in the same
 * session as the reference for what a Redis server can do on this machine.
 *
 *   slnf-store-bench [--seconds S] [--keys N] [--backend NAME]...
 *                    [--redis-server PATH] [--no-redis]
 *
 * For every backend (local, shm, redis over TCP, redis over a Unix socket;
 * "cache" is the per-worker instance cache answering hits, for scale) and
 * batch size 1, 8, 32, 128: GETs of pre-populated keys, then PUTs of the
 * same keys (64-byte values), each point run for S seconds (default 1).
 * Keys are drawn at random from N (default 65536), so the working set does
 * not sit in the L2 cache. Reported per point: ops/s, and the latency of a
 * whole batch (submit until every op has its status) at p50 and p99.
 *
 * The Redis server is started here from Debian's redis-server on a free
 * loopback port (no persistence) and stopped by its PID at the end. A
 * backend that is not built yet (not registered, or open fails) is
 * reported "not available" and the run goes on. This is a measurement,
 * not a test: the exit status is 0 unless the run itself could not start.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <rte_cycles.h>
#include <rte_eal.h>

#include "slnf/store.h"
#include "store/cache.h"

#define BATCH_MAX 128
#define VAL_LEN_DEFAULT 16 /* a small per-flow record (conntrack state, NAT mapping) */
#define HIST_N 2048
#define MAX_BACKENDS 8
#define MAX_WAIT_S 5 /* a batch not done by then ends the point */
#define BENCH_NF 0xbe00
#define DEPTH_MAX 8 /* batches in flight for the "pipelined" redis rows */

static const unsigned batch_sizes[] = {1, 8, 32, 128};
#define N_BATCH_SIZES (sizeof(batch_sizes) / sizeof(batch_sizes[0]))

struct opts {
	double seconds;
	unsigned keys;
	const char *backends[MAX_BACKENDS];
	unsigned n_backends;
	const char *redis_server;
	bool redis;
};

/* Latency histogram in TSC cycles: 32 linear steps per power of two. */
struct hist {
	uint64_t n;
	uint64_t count[HIST_N];
};

static unsigned hist_idx(uint64_t v)
{
	if (v < 32)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned i = (msb - 4) * 32 + (unsigned)((v >> (msb - 5)) & 31);
	return i < HIST_N ? i : HIST_N - 1;
}

static uint64_t hist_val(unsigned i)
{
	if (i < 32)
		return i;
	unsigned msb = i / 32 + 4;
	return (uint64_t)(32 + i % 32) << (msb - 5);
}

static double hist_pct_us(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)(p * (double)h->n), seen = 0;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->count[i];
		if (seen > want)
			return (double)hist_val(i) * 1e6 / (double)rte_get_tsc_hz();
	}
	return 0;
}

struct point {
	bool ok;
	double ops_s, p50_us, p99_us;
	uint64_t errors;
	char why[96];
};

struct target {
	const char *label;
	struct slnf_store *store;  /* a backend, or */
	struct slnf_cache *cache;  /* the instance cache */
	unsigned depth;            /* batches kept in flight (1: one at a time) */
	struct point get[N_BATCH_SIZES], put[N_BATCH_SIZES];
	bool available;
	char why[600];
};

static struct slnf_store_key *keys;
static unsigned val_len = VAL_LEN_DEFAULT;
static struct hist hist;

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void make_keys(unsigned n)
{
	keys = calloc(n, sizeof(*keys));
	if (!keys) {
		fprintf(stderr, "slnf-store-bench: out of memory\n");
		exit(1);
	}
	/* 13-byte keys shaped like an IPv4 5-tuple: what NFs key flows by */
	for (unsigned i = 0; i < n; i++) {
		uint8_t data[13] = {10, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), 192, 0, 2, 1,
				    (uint8_t)(i >> 8), (uint8_t)i, 0, 80, 6};
		slnf_store_key_init(&keys[i], 1, BENCH_NF, data, sizeof(data));
	}
}

static void fill_op(struct slnf_store_op *op, enum slnf_store_opcode opcode, unsigned key)
{
	slnf_store_op_init(op, opcode, &keys[key]);
	if (opcode == SLNF_STORE_PUT) {
		op->val_len = (uint16_t)val_len;
		memset(op->val, (int)(key & 0xff), val_len);
	}
}

/* Submit ops and poll until done; -ETIMEDOUT after MAX_WAIT_S. */
static int run_batch(struct slnf_store *s, struct slnf_store_op *ops, unsigned n)
{
	struct slnf_store_batch b = {.ops = ops, .n = n};
	int rc = slnf_store_submit(s, &b);
	uint64_t deadline = rte_rdtsc() + MAX_WAIT_S * rte_get_tsc_hz();
	while (rc == 0 && !b.done) {
		rc = slnf_store_poll(s, &b);
		if (rc == 0 && !b.done && rte_rdtsc() > deadline)
			rc = -ETIMEDOUT;
	}
	return rc;
}

/* One batch through the instance cache: lookups of cached keys (GET) or
 * the update a PUT's answer makes (PUT). */
static int run_cache_batch(struct slnf_cache *c, struct slnf_store_op *ops, unsigned n,
			   uint64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		if (ops[i].opcode == SLNF_STORE_GET) {
			if (slnf_cache_lookup(c, &ops[i], now) < 0)
				ops[i].status = -ENOENT;
		} else {
			struct slnf_store_op res = ops[i];
			res.status = 0;
			res.version = 1;
			slnf_cache_update(c, &ops[i], &res, now);
			ops[i].status = 0;
		}
	}
	return 0;
}

static int target_batch(struct target *t, struct slnf_store_op *ops, unsigned n, uint64_t now)
{
	return t->cache ? run_cache_batch(t->cache, ops, n, now) : run_batch(t->store, ops, n);
}

static void run_point(struct target *t, enum slnf_store_opcode opcode, unsigned batch,
		      const struct opts *o, struct point *pt)
{
	static struct slnf_store_op ops[BATCH_MAX];
	uint64_t rng = 0x2545f4914f6cdd1dull ^ batch;
	uint64_t hz = rte_get_tsc_hz(), now_ms = slnf_cache_now_ms();
	uint64_t start = rte_rdtsc(), end = start + (uint64_t)(o->seconds * (double)hz);
	uint64_t n_ops = 0, t1 = start;
	memset(&hist, 0, sizeof(hist));
	memset(pt, 0, sizeof(*pt));
	while (t1 < end) {
		for (unsigned i = 0; i < batch; i++)
			fill_op(&ops[i], opcode, (unsigned)(rng_next(&rng) % o->keys));
		uint64_t t0 = rte_rdtsc();
		int rc = target_batch(t, ops, batch, now_ms);
		t1 = rte_rdtsc();
		if (rc < 0) {
			snprintf(pt->why, sizeof(pt->why), "batch failed: %s", strerror(-rc));
			return;
		}
		for (unsigned i = 0; i < batch; i++)
			pt->errors += ops[i].status != 0;
		hist.count[hist_idx(t1 - t0)]++;
		hist.n++;
		n_ops += batch;
	}
	pt->ok = true;
	pt->ops_s = (double)n_ops * (double)hz / (double)(t1 - start);
	pt->p50_us = hist_pct_us(&hist, 0.50);
	pt->p99_us = hist_pct_us(&hist, 0.99);
}

/* Like run_point, with t->depth batches in flight: as soon as the oldest
 * is done it is refilled and submitted again, the way a worker keeps
 * several bursts in flight. Latency is still submit to done per batch. */
static void run_point_pipelined(struct target *t, enum slnf_store_opcode opcode, unsigned batch,
				const struct opts *o, struct point *pt)
{
	static struct slnf_store_op ops[DEPTH_MAX][BATCH_MAX];
	struct slnf_store_batch b[DEPTH_MAX];
	uint64_t sent_at[DEPTH_MAX];
	uint64_t rng = 0x2545f4914f6cdd1dull ^ batch;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t start = rte_rdtsc(), end = start + (uint64_t)(o->seconds * (double)hz);
	uint64_t n_ops = 0, now = start;
	unsigned depth = t->depth > DEPTH_MAX ? DEPTH_MAX : t->depth, in_flight = 0, head = 0;
	memset(&hist, 0, sizeof(hist));
	memset(pt, 0, sizeof(*pt));
	for (;;) {
		while (now < end && in_flight < depth) {
			unsigned k = (head + in_flight) % depth;
			for (unsigned i = 0; i < batch; i++)
				fill_op(&ops[k][i], opcode, (unsigned)(rng_next(&rng) % o->keys));
			b[k] = (struct slnf_store_batch){.ops = ops[k], .n = batch};
			sent_at[k] = rte_rdtsc();
			if (slnf_store_submit(t->store, &b[k]) < 0) {
				snprintf(pt->why, sizeof(pt->why), "submit failed");
				return;
			}
			in_flight++;
		}
		if (!in_flight)
			break;
		struct slnf_store_batch *oldest = &b[head];
		if (!oldest->done && slnf_store_poll(t->store, oldest) < 0) {
			snprintf(pt->why, sizeof(pt->why), "poll failed");
			return;
		}
		now = rte_rdtsc();
		if (!oldest->done) {
			if (now - sent_at[head] > MAX_WAIT_S * hz) {
				snprintf(pt->why, sizeof(pt->why), "batch not done in %d s", MAX_WAIT_S);
				return;
			}
			continue;
		}
		for (unsigned i = 0; i < batch; i++)
			pt->errors += ops[head][i].status != 0;
		hist.count[hist_idx(now - sent_at[head])]++;
		hist.n++;
		n_ops += batch;
		head = (head + 1) % depth;
		in_flight--;
	}
	pt->ok = true;
	pt->ops_s = (double)n_ops * (double)hz / (double)(now - start);
	pt->p50_us = hist_pct_us(&hist, 0.50);
	pt->p99_us = hist_pct_us(&hist, 0.99);
}

/* Write every key once, so GETs find them. */
static int populate(struct target *t, unsigned n_keys)
{
	static struct slnf_store_op ops[BATCH_MAX];
	uint64_t now = slnf_cache_now_ms();
	for (unsigned k = 0; k < n_keys;) {
		unsigned n = 0;
		for (; n < BATCH_MAX && k < n_keys; n++, k++)
			fill_op(&ops[n], SLNF_STORE_PUT, k);
		int rc = target_batch(t, ops, n, now);
		if (rc < 0)
			return rc;
		for (unsigned i = 0; i < n; i++)
			if (ops[i].status)
				return ops[i].status;
	}
	return 0;
}

static void run_target(struct target *t, const struct opts *o)
{
	int rc = populate(t, o->keys);
	if (rc < 0) {
		t->available = false;
		snprintf(t->why, sizeof(t->why), "populating %u keys failed: %s", o->keys,
			 strerror(-rc));
		return;
	}
	void (*point)(struct target *, enum slnf_store_opcode, unsigned, const struct opts *,
		      struct point *) = t->depth > 1 ? run_point_pipelined : run_point;
	for (unsigned b = 0; b < N_BATCH_SIZES; b++) {
		point(t, SLNF_STORE_GET, batch_sizes[b], o, &t->get[b]);
		point(t, SLNF_STORE_PUT, batch_sizes[b], o, &t->put[b]);
	}
}

/* ---- the Redis server of this run ---- */

struct redis_srv {
	pid_t pid;
	uint16_t port;
	char sock[108];
	char dir[64]; /* its working directory: a replica writes the RDB it loads there */
};

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	uint16_t port = 0;
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool redis_ping(uint16_t port)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	bool ok = false;
	if (rc && !rc->err) {
		redisReply *r = redisCommand(rc, "PING");
		ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
		if (r)
			freeReplyObject(r);
	}
	if (rc)
		redisFree(rc);
	return ok;
}

static void redis_stop(struct redis_srv *srv)
{
	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(srv->pid, NULL, WNOHANG) == srv->pid) {
			srv->pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
	srv->pid = 0;
}

/* Remove a stopped server's working directory and what it wrote there. */
static void redis_remove_dir(struct redis_srv *srv)
{
	char path[128];
	if (!srv->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/dump.rdb", srv->dir);
	unlink(path);
	rmdir(srv->dir);
	srv->dir[0] = 0;
}

/* Start redis-server on a free loopback port and a Unix socket; 0 once it
 * answers PING. Run before EAL pins this process to one core. */
/* True once the master on port has n replicas in sync (WAIT n answers n). */
static bool redis_has_replicas(uint16_t port, int n)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	bool ok = false;
	if (rc && !rc->err) {
		redisReply *r = redisCommand(rc, "WAIT %d 200", n);
		ok = r && r->type == REDIS_REPLY_INTEGER && r->integer >= n;
		if (r)
			freeReplyObject(r);
	}
	if (rc)
		redisFree(rc);
	return ok;
}

/* Start a redis-server on a free port; replica_of != 0 makes it a replica
 * of the server on that port. */
static int redis_start(struct redis_srv *srv, const char *server, uint16_t replica_of)
{
	memset(srv, 0, sizeof(*srv));
	srv->port = free_port();
	if (!srv->port)
		return -EADDRNOTAVAIL;
	snprintf(srv->sock, sizeof(srv->sock), "/tmp/slnf-store-bench-%d-%u.sock", (int)getpid(),
		 srv->port);
	char port[8], master[8];
	snprintf(srv->dir, sizeof(srv->dir), "/tmp/slnf-store-bench-XXXXXX");
	if (!mkdtemp(srv->dir))
		return -errno;
	snprintf(port, sizeof(port), "%u", srv->port);
	snprintf(master, sizeof(master), "%u", replica_of);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		if (replica_of)
			execlp(server, server, "--port", port, "--bind", "127.0.0.1",
			       "--unixsocket", srv->sock, "--unixsocketperm", "700", "--save", "",
			       "--appendonly", "no", "--daemonize", "no", "--dir", srv->dir,
			       "--replicaof", "127.0.0.1", master, (char *)NULL);
		else
			execlp(server, server, "--port", port, "--bind", "127.0.0.1",
			       "--unixsocket", srv->sock, "--unixsocketperm", "700", "--save", "",
			       "--appendonly", "no", "--daemonize", "no", "--dir", srv->dir,
			       "--repl-diskless-sync-delay", "0", (char *)NULL);
		_exit(127);
	}
	srv->pid = pid;
	for (int i = 0; i < 100; i++) {
		if (redis_ping(srv->port))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			srv->pid = 0;
			return -ECHILD;
		}
		usleep(50000);
	}
	redis_stop(srv);
	return -ETIMEDOUT;
}

/* redis-benchmark's GET and SET requests per second; 0 when it failed. */
static void redis_benchmark(const struct redis_srv *srv, char *cmd, size_t cmd_size,
			    double *get, double *set)
{
	snprintf(cmd, cmd_size, "redis-benchmark -p %u -P 32 -t get,set -q -n 200000",
		 srv->port);
	*get = *set = 0;
	char full[160];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *f = popen(full, "r");
	if (!f)
		return;
	char line[512];
	size_t used = 0;
	int ch;
	/* Progress lines end in '\r', results in '\n'. */
	while ((ch = fgetc(f)) != EOF) {
		if (ch != '\r' && ch != '\n') {
			if (used < sizeof(line) - 1)
				line[used++] = (char)ch;
			continue;
		}
		line[used] = '\0';
		used = 0;
		double v;
		if (sscanf(line, "GET: %lf requests per second", &v) == 1)
			*get = v;
		else if (sscanf(line, "SET: %lf requests per second", &v) == 1)
			*set = v;
	}
	pclose(f);
}

/* ---- set-up and report ---- */

static void eal_start(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=slnf-bench-%d", (int)getpid());
	char *argv[] = {"slnf-store-bench", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			prefix, "-l", "0", "--log-level", "error", NULL};
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "slnf-store-bench: DPDK EAL initialisation failed\n");
		exit(1);
	}
}

static void open_target(struct target *t, const char *label, const struct slnf_store_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->label = label;
	if (!slnf_store_backend_find(cfg->backend)) {
		snprintf(t->why, sizeof(t->why), "not available (backend '%s' not built)",
			 cfg->backend);
		return;
	}
	struct slnf_error err = {{0}};
	if (slnf_store_open(cfg, &t->store, &err) < 0) {
		snprintf(t->why, sizeof(t->why), "not available (%s)", err.msg);
		return;
	}
	t->available = true;
}

static bool wanted(const struct opts *o, const char *name)
{
	if (!o->n_backends)
		return true;
	for (unsigned i = 0; i < o->n_backends; i++)
		if (!strcmp(o->backends[i], name))
			return true;
	return false;
}

static void print_target(const struct target *t)
{
	if (!t->available) {
		printf("| %s | - | - | %s | | | | | |\n", t->label, t->why);
		return;
	}
	for (unsigned b = 0; b < N_BATCH_SIZES; b++) {
		const struct point *g = &t->get[b], *p = &t->put[b];
		printf("| %s | %u |", t->label, batch_sizes[b]);
		if (g->ok)
			printf(" %.0f | %.2f | %.2f |", g->ops_s, g->p50_us, g->p99_us);
		else
			printf(" %s | | |", g->why);
		if (p->ok)
			printf(" %.0f | %.2f | %.2f |", p->ops_s, p->p50_us, p->p99_us);
		else
			printf(" %s | | |", p->why);
		printf(" %llu |\n", (unsigned long long)(g->errors + p->errors));
	}
}

static double best_get(const struct target *t)
{
	double best = 0;
	for (unsigned b = 0; t->available && b < N_BATCH_SIZES; b++)
		if (t->get[b].ok && t->get[b].ops_s > best)
			best = t->get[b].ops_s;
	return best;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: slnf-store-bench [--seconds S] [--keys N] [--backend NAME]...\n"
		   "                        [--redis-server PATH] [--no-redis] [--value-bytes N]\n"
		   "backends: cache local shm redis redis-unix redis-wait (default: all)\n");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, 's'}, {"keys", required_argument, NULL, 'k'},
		{"backend", required_argument, NULL, 'b'},
		{"redis-server", required_argument, NULL, 'r'},
		{"no-redis", no_argument, NULL, 'n'},      {"help", no_argument, NULL, 'h'},
		{"value-bytes", required_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.seconds = 1.0, .keys = 65536, .redis_server = "redis-server",
			   .redis = true};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->seconds = atof(optarg);
			break;
		case 'k':
			o->keys = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			if (o->n_backends < MAX_BACKENDS)
				o->backends[o->n_backends++] = optarg;
			break;
		case 'r':
			o->redis_server = optarg;
			break;
		case 'n':
			o->redis = false;
			break;
		case 'v':
			val_len = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (o->seconds <= 0 || o->seconds > 60 || o->keys < 1 || o->keys > 1u << 22 ||
	    val_len < 1 || val_len > SLNF_STORE_VAL_MAX || optind != argc) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct redis_srv srv = {0}, replica = {0};
	int redis_rc = -ENOENT, replica_rc = -ENOENT;
	if (o.redis && (wanted(&o, "redis") || wanted(&o, "redis-unix")))
		redis_rc = redis_start(&srv, o.redis_server, 0);
	if (redis_rc == 0 && wanted(&o, "redis-wait")) {
		replica_rc = redis_start(&replica, o.redis_server, srv.port);
		for (int i = 0; replica_rc == 0 && !redis_has_replicas(srv.port, 1); i++)
			if (i == 25)
				replica_rc = -ETIMEDOUT;
	}
	eal_start();
	make_keys(o.keys);

	static struct target targets[8];
	unsigned n = 0;
	struct slnf_store_config cfg;

	if (wanted(&o, "cache")) {
		struct target *t = &targets[n++];
		t->label = "cache (hits)";
		struct slnf_cache_config cc = {.capacity = o.keys * 4};
		int rc = slnf_cache_create(&cc, &t->cache);
		t->available = rc == 0;
		snprintf(t->why, sizeof(t->why), "not available (%s)", strerror(-rc));
	}
	if (wanted(&o, "local")) {
		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.backend, sizeof(cfg.backend), "local");
		cfg.capacity = o.keys * 2;
		open_target(&targets[n++], "local", &cfg);
	}
	char shm_name[64];
	snprintf(shm_name, sizeof(shm_name), "slnf-store-bench-%d", (int)getpid());
	if (wanted(&o, "shm")) {
		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.backend, sizeof(cfg.backend), "shm");
		snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", shm_name);
		cfg.capacity = o.keys * 2;
		open_target(&targets[n++], "shm", &cfg);
	}
	/* Rows 0-3: redis over TCP / Unix socket, one or 8 batches in flight;
	 * rows 4-5: the same server with a replica, writes waiting for it. */
	static const char *const redis_labels[] = {
		"redis",	"redis-unix",	"redis 8 in flight", "redis-unix 8 in flight",
		"redis WAIT 1", "", "redis WAIT 1, 8 in flight"};
	for (int v = 0; v < 7; v++) {
		int unix_sock = v & 1, pipelined = (v >> 1) & 1, wait = v >= 4;
		const char *want = wait ? "redis-wait" : unix_sock ? "redis-unix" : "redis";
		if ((wait && unix_sock) || !wanted(&o, want))
			continue;
		struct target *t = &targets[n++];
		int rc = wait ? replica_rc : redis_rc;
		if (rc < 0) {
			memset(t, 0, sizeof(*t));
			t->label = redis_labels[v];
			snprintf(t->why, sizeof(t->why), "not available (%s: %s)",
				 !o.redis ? "--no-redis" : wait ? "replica" : "redis-server",
				 strerror(-rc));
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.backend, sizeof(cfg.backend), "redis");
		snprintf(cfg.redis.host, sizeof(cfg.redis.host), "127.0.0.1");
		cfg.redis.port = srv.port;
		if (unix_sock)
			snprintf(cfg.redis.unix_path, sizeof(cfg.redis.unix_path), "%s", srv.sock);
		cfg.redis.timeout_ms = 1000;
		cfg.redis.wait_replicas = wait ? 1 : 0;
		cfg.redis.wait_timeout_ms = 1000;
		open_target(t, redis_labels[v], &cfg);
		t->depth = pipelined ? DEPTH_MAX : 1;
	}

	printf("slnf-store-bench: %u keys, %.1f s per point, one thread, %u-byte values\n",
	       o.keys, o.seconds, val_len);
	for (unsigned i = 0; i < n; i++) {
		if (targets[i].available)
			run_target(&targets[i], &o);
		fprintf(stderr, "slnf-store-bench: %s done\n", targets[i].label);
	}

	char cmd[128] = "";
	double ref_get = 0, ref_set = 0;
	if (redis_rc == 0)
		redis_benchmark(&srv, cmd, sizeof(cmd), &ref_get, &ref_set);

	printf("\n| backend | batch | GET ops/s | GET p50 us | GET p99 us | PUT ops/s | "
	       "PUT p50 us | PUT p99 us | errors |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned i = 0; i < n; i++)
		print_target(&targets[i]);
	printf("\nLatency is per batch (submit until every op is done). errors: ops that did not\n"
	       "succeed; for the cache, lookups of keys evicted from a full set.\n");

	printf("\nreference: `%s`: GET %.0f/s, SET %.0f/s%s\n", cmd[0] ? cmd : "redis-benchmark",
	       ref_get, ref_set, redis_rc ? " (not run)" : "");
	for (unsigned i = 0; i < n; i++) {
		const struct target *t = &targets[i];
		double best = best_get(t);
		if (!strcmp(t->label, "shm"))
			printf("goal: shm batched GETs >= 5000000/s per core: %s (best %.0f/s)\n",
			       !t->available ? "not measured" : best >= 5e6 ? "met" : "NOT met",
			       best);
		if (!strncmp(t->label, "redis", 5) && ref_get > 0 && t->available)
			printf("goal: %s best GET ops/s >= 0.8 x redis-benchmark -P 32 GET: "
			       "ratio %.2f, %s\n",
			       t->label, best / ref_get,
			       !t->available ? "not measured" : best >= 0.8 * ref_get ? "met" :
											"NOT met");
	}

	for (unsigned i = 0; i < n; i++) {
		if (targets[i].store)
			slnf_store_close(targets[i].store);
		slnf_cache_destroy(targets[i].cache);
	}
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);
	unlink(path);
	redis_stop(&replica);
	unlink(replica.sock);
	redis_remove_dir(&replica);
	redis_stop(&srv);
	unlink(srv.sock);
	redis_remove_dir(&srv);
	free(keys);
	rte_eal_cleanup();
	return 0;
}
