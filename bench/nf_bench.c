/*
 * nf_bench.c - slnf-nf-bench: packets per second of each NF on one core,
 * with its state in the `local` and the `shm` store, side by side.
 *
 *   slnf-nf-bench [--seconds S] [--flows N] [--rounds R] [--chain NAME]...
 *
 * No ports and no kernel: frames are built in memory (UDP, one per flow,
 * N flows from inside hosts to one server or to an lb VIP), copied into
 * mbufs, parsed and run through a chain with the same runner, instance
 * cache and store the workers use (slnf_chain_run). That isolates the cost
 * of the NF and its state from the veth topology, which caps slnfd's
 * forwarding on this machine (bench/forward.py).
 *
 * Each chain ends with the router, and "router" alone is the baseline: the
 * ratio column is the chain's rate over the router's in the same round, so
 * the copy and parse cost common to all is in both. For each chain and
 * backend the bench reports the first pass over the flows (every packet
 * creates state: new flows per second) and the steady state (every packet
 * finds its state: packets per second), as medians of R interleaved
 * rounds. Every round starts from an empty store. --chain limits the run
 * to the named chains (the router baseline always runs), e.g. for perf. Not a test: nothing
 * passes or fails on speed; packets the chain drops are reported, and a
 * run with drops is suspect.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "slnf/config.h"
#include "slnf/csum.h"
#include "slnf/store.h"
#include "dp/chain.h"
#include "store/cache.h"
#include "store/shm.h"

#define FRAME_LEN 60
#define MAX_ROUNDS 15

#define PORTS                                                                              \
	"\"ports\": [ { \"name\": \"lan\", \"type\": \"null\", \"ipv4\": [\"10.10.1.1/24\"] }," \
	" { \"name\": \"wan\", \"type\": \"null\", \"ipv4\": [\"10.10.2.1/24\"] } ]"
#define ROUTER                                                                        \
	"{ \"nf\": \"router\", \"routes\": [ { \"prefix\": \"10.10.2.0/24\", \"port\": \"wan\" }," \
	" { \"prefix\": \"10.10.0.0/16\", \"port\": \"lan\" } ] }"

struct variant {
	const char *name;
	const char *chain; /* chain elements before the router */
	bool to_vip;       /* traffic goes to the lb VIP */
	bool stateful;     /* run with both backends */
};

static const struct variant variants[] = {
	{ "router", "", false, false },
	{ "filter", "{ \"nf\": \"filter\", \"default\": \"allow\", \"rules\": ["
		    " { \"name\": \"no-telnet\", \"action\": \"deny\", \"proto\": \"tcp\","
		    " \"dst_port\": \"23\" } ] },", false, false },
	{ "firewall", "{ \"nf\": \"firewall\", \"default\": \"deny\", \"rules\": ["
		      " { \"name\": \"ret\", \"action\": \"allow\", \"state\": [\"established\"] },"
		      " { \"name\": \"out\", \"action\": \"allow\", \"state\": [\"new\"] } ] },",
	  false, true },
	{ "nat", "{ \"nf\": \"nat\", \"inside\": [\"lan\"], \"pool\": \"10.10.2.100/30\" },",
	  false, true },
	{ "lb", "{ \"nf\": \"lb\", \"snat\": \"10.10.2.200\", \"vips\": [ { \"vip\": \"10.10.9.9\","
		" \"port\": 53, \"proto\": \"udp\", \"backends\": ["
		" { \"addr\": \"10.10.2.10\", \"port\": 53, \"weight\": 1 },"
		" { \"addr\": \"10.10.2.11\", \"port\": 53, \"weight\": 1 },"
		" { \"addr\": \"10.10.2.12\", \"port\": 53, \"weight\": 2 } ] } ] },",
	  true, true },
	{ "firewall+nat", "{ \"nf\": \"firewall\", \"default\": \"deny\", \"rules\": ["
			  " { \"name\": \"ret\", \"action\": \"allow\", \"state\": [\"established\"] },"
			  " { \"name\": \"out\", \"action\": \"allow\", \"state\": [\"new\"] } ] },"
			  "{ \"nf\": \"nat\", \"inside\": [\"lan\"], \"pool\": \"10.10.2.100/30\" },",
	  false, true },
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static const char *const backends[] = { "local", "shm" };

struct result {
	double setup_fps[MAX_ROUNDS], pps[MAX_ROUNDS];
	uint64_t drops;
};

static struct rte_mempool *pool;
static char shm_name[64];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An Ethernet + IPv4 + UDP frame of flow i (inside host 10.10.1.x, port
 * 1024 + i % 50000) to dst:dport, with a valid IPv4 and UDP checksum. */
static void build_frame(uint8_t *f, unsigned i, uint32_t dst, uint16_t dport)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint32_t src = (10u << 24) | (10u << 16) | (1u << 8) | (2 + i / 50000);

	memset(f, 0, FRAME_LEN);
	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(FRAME_LEN - 14);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16((uint16_t)(1024 + i % 50000));
	udp->dst_port = rte_cpu_to_be_16(dport);
	udp->dgram_len = rte_cpu_to_be_16(FRAME_LEN - 14 - 20);
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

struct run {
	struct slnf_config cfg;
	struct slnf_store *store;
	struct slnf_chain *chain;
	struct slnf_chain_scratch scratch;
	struct rte_mbuf *mbufs[SLNF_BURST_MAX];
	struct slnf_pkt pkts[SLNF_BURST_MAX];
	struct slnf_burst b;
};

static int run_open(struct run *r, const struct variant *v, const char *backend)
{
	char text[4096];
	struct slnf_error err = { { 0 } };
	struct slnf_cache_config cc = { .capacity = SLNF_CACHE_DEFAULT_CAPACITY };

	snprintf(text, sizeof(text),
		 "{ \"name\": \"nfbench\", \"store\": { \"backend\": \"%s\", \"capacity\": 1048576,"
		 " \"shm\": { \"name\": \"%s\" } }, " PORTS ", \"tenants\": [ { \"name\": \"t\","
		 " \"id\": 1, \"match\": { \"ports\": [\"lan\", \"wan\"] }, \"chain\": [ %s " ROUTER
		 " ] } ] }",
		 backend, shm_name, v->chain);
	memset(r, 0, sizeof(*r));
	if (slnf_config_parse(text, "nf-bench", &r->cfg, &err) < 0 ||
	    slnf_store_open(&r->cfg.store, &r->store, &err) < 0 ||
	    slnf_chain_create(&r->cfg, 0, &r->chain, &err) < 0 ||
	    slnf_cache_create(&cc, &r->scratch.cache) < 0 ||
	    rte_pktmbuf_alloc_bulk(pool, r->mbufs, SLNF_BURST_MAX) < 0) {
		fprintf(stderr, "slnf-nf-bench: %s %s: %s\n", v->name, backend,
			err.msg[0] ? err.msg : "out of memory");
		return -1;
	}
	return 0;
}

static void run_close(struct run *r)
{
	rte_pktmbuf_free_bulk(r->mbufs, SLNF_BURST_MAX);
	slnf_cache_destroy(r->scratch.cache);
	slnf_chain_destroy(r->chain);
	slnf_store_close(r->store);
	slnf_config_free(&r->cfg);
	slnf_store_shm_unlink(shm_name);
}

/* Run the burst of flows first..first+31 (mod n); returns packets dropped. */
static unsigned run_burst(struct run *r, const uint8_t *frames, unsigned n, unsigned first)
{
	unsigned drops = 0;

	r->b.n = SLNF_BURST_MAX;
	for (unsigned i = 0; i < SLNF_BURST_MAX; i++) {
		struct slnf_pkt *p = &r->pkts[i];
		struct rte_mbuf *m = r->mbufs[i];

		rte_pktmbuf_reset(m);
		memcpy(rte_pktmbuf_append(m, FRAME_LEN), frames + (size_t)((first + i) % n) * FRAME_LEN,
		       FRAME_LEN);
		memset(p, 0, sizeof(*p));
		p->m = m;
		p->out_port = SLNF_PORT_NONE;
		slnf_pkt_parse(p, NULL);
		r->b.pkts[i] = p;
	}
	slnf_chain_run(r->chain, &r->b, r->store, &r->scratch);
	for (unsigned i = 0; i < SLNF_BURST_MAX; i++)
		drops += r->pkts[i].verdict == SLNF_VERDICT_DROP;
	return drops;
}

static void measure(const struct variant *v, const char *backend, const uint8_t *frames,
		    unsigned n, double seconds, struct result *res, unsigned round)
{
	struct run r;
	unsigned bursts = (n + SLNF_BURST_MAX - 1) / SLNF_BURST_MAX;
	uint64_t pkts = 0;
	double t0, t1;

	if (run_open(&r, v, backend) < 0)
		exit(1);
	t0 = now_s();
	for (unsigned k = 0; k < bursts; k++)
		res->drops += run_burst(&r, frames, n, k * SLNF_BURST_MAX);
	res->setup_fps[round] = (double)bursts * SLNF_BURST_MAX / (now_s() - t0);
	t0 = now_s();
	do {
		for (unsigned k = 0; k < 64; k++, pkts += SLNF_BURST_MAX)
			res->drops += run_burst(&r, frames, n, (unsigned)(pkts % n));
		t1 = now_s();
	} while (t1 - t0 < seconds);
	res->pps[round] = (double)pkts / (t1 - t0);
	run_close(&r);
}

/* Mark the variant called name in only; false when there is none. */
static bool select_chain(const char *name, bool *only)
{
	for (unsigned v = 0; v < N_VARIANTS; v++)
		if (!strcmp(variants[v].name, name))
			return only[v] = true;
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, unsigned n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	double seconds = 1;
	unsigned flows = 4096, rounds = 3;
	bool only[N_VARIANTS] = { true }, all = true;
	static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
					      { "flows", required_argument, NULL, 'f' },
					      { "rounds", required_argument, NULL, 'r' },
					      { "chain", required_argument, NULL, 'c' },
					      { NULL, 0, NULL, 0 } };
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (c == 's')
			seconds = atof(optarg);
		else if (c == 'f')
			flows = (unsigned)atoi(optarg);
		else if (c == 'r')
			rounds = (unsigned)atoi(optarg);
		else if (c == 'c' && select_chain(optarg, only))
			all = false;
		else {
			fprintf(stderr, "usage: slnf-nf-bench [--seconds S] [--flows N] [--rounds R]"
					" [--chain NAME]...\n");
			return 2;
		}
	}
	if (flows < SLNF_BURST_MAX || flows > 1000000 || rounds < 1 || rounds > MAX_ROUNDS ||
	    seconds <= 0) {
		fprintf(stderr, "slnf-nf-bench: --flows 32..1000000, --rounds 1..%d, --seconds > 0\n",
			MAX_ROUNDS);
		return 2;
	}
	char *eal[] = { "slnf-nf-bench", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			"--file-prefix", "slnf-nf-bench", "--log-level", "lib.*:error", NULL };
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "slnf-nf-bench: EAL init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("nfbench", 1024, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	snprintf(shm_name, sizeof(shm_name), "slnf-nf-bench-%d", (int)getpid());
	uint8_t *to_server = malloc((size_t)flows * FRAME_LEN);
	uint8_t *to_vip = malloc((size_t)flows * FRAME_LEN);
	if (!pool || !to_server || !to_vip) {
		fprintf(stderr, "slnf-nf-bench: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < flows; i++) {
		build_frame(to_server + (size_t)i * FRAME_LEN, i, 0x0a0a0202, 5201);
		build_frame(to_vip + (size_t)i * FRAME_LEN, i, 0x0a0a0909, 53);
	}

	static struct result res[N_VARIANTS][2];
	for (unsigned rnd = 0; rnd < rounds; rnd++)
		for (unsigned v = 0; v < N_VARIANTS; v++)
			for (unsigned b = 0; (all || only[v]) && b < (variants[v].stateful ? 2u : 1u); b++)
				measure(&variants[v], backends[b], variants[v].to_vip ? to_vip : to_server,
					flows, seconds, &res[v][b], rnd);

	double base = median(res[0][0].pps, rounds);
	printf("%u flows (UDP, 60-byte frames), %u rounds of %.1f s, one core; medians\n\n", flows,
	       rounds, seconds);
	printf("%-14s %-6s %14s %14s %9s %8s\n", "chain (+router)", "store", "new flows/s",
	       "packets/s", "vs router", "drops");
	for (unsigned v = 0; v < N_VARIANTS; v++)
		for (unsigned b = 0; (all || only[v]) && b < (variants[v].stateful ? 2u : 1u); b++) {
			const struct result *x = &res[v][b];
			double pps = median(x->pps, rounds);
			printf("%-14s %-6s %14.0f %14.0f %9.2f %8llu\n", variants[v].name,
			       variants[v].stateful ? backends[b] : "-", median(x->setup_fps, rounds),
			       pps, pps / base, (unsigned long long)x->drops);
		}
	free(to_server);
	free(to_vip);
	rte_eal_cleanup();
	return 0;
}
