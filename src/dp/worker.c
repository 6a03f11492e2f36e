/*
 * worker.c - the data path loop; see worker.h.
 *
 * Each iteration polls every port once. A burst is handled as a vector:
 * parse and validate every packet, peel off what is for the host (ARP,
 * ICMP to our addresses), group the rest by tenant and run each tenant's
 * chain once over its packets, then resolve next hops and transmit in
 * bursts per port. Every packet that is not transmitted is counted with a
 * reason on its ingress port.
 *
 * A worker that finds no packets backs off with a sleep that doubles up to
 * workers.idle_sleep_max_us, so several slnfd processes, Redis and traffic
 * tools can share a small machine; busy_poll turns this off for dedicated
 * cores. Worker 0 also runs neighbour maintenance every 100 ms.
 */
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp/worker.h"

#define TX_MAX (SLNF_BURST_MAX * 2)

struct tx_batch {
	uint16_t n[SLNF_MAX_PORTS];
	struct rte_mbuf *m[SLNF_MAX_PORTS][TX_MAX];
	uint16_t in_port[SLNF_MAX_PORTS][TX_MAX]; /* where to count a tx drop */
};

uint64_t slnf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count_drop(struct slnf_worker *w, uint16_t port, unsigned reason)
{
	w->ports[port].drops[reason]++;
}

static void drop(struct slnf_worker *w, struct rte_mbuf *m, uint16_t port, unsigned reason)
{
	count_drop(w, port, reason);
	rte_pktmbuf_free(m);
}

static void tx_flush_port(struct slnf_worker *w, struct tx_batch *tx, uint16_t port)
{
	uint16_t n = tx->n[port], sent = 0;
	if (!n)
		return;
	uint16_t pid = w->inst->port_ids[port];
	for (int tries = 0; tries < 4 && sent < n; tries++)
		sent += rte_eth_tx_burst(pid, w->queue, tx->m[port] + sent, (uint16_t)(n - sent));
	for (uint16_t i = 0; i < sent; i++) {
		w->ports[port].tx_packets++;
		w->ports[port].tx_bytes += rte_pktmbuf_pkt_len(tx->m[port][i]);
	}
	for (uint16_t i = sent; i < n; i++)
		drop(w, tx->m[port][i], tx->in_port[port][i], SLNF_DROP_TX_FULL);
	tx->n[port] = 0;
}

static void tx_add(struct slnf_worker *w, struct tx_batch *tx, uint16_t port, uint16_t in_port,
		   struct rte_mbuf *m)
{
	if (tx->n[port] == TX_MAX)
		tx_flush_port(w, tx, port);
	tx->in_port[port][tx->n[port]] = in_port;
	tx->m[port][tx->n[port]++] = m;
}

static void tx_flush(struct slnf_worker *w, struct tx_batch *tx)
{
	for (uint16_t p = 0; p < w->inst->cfg.n_ports; p++)
		tx_flush_port(w, tx, p);
}

static void send_arp_request(struct slnf_worker *w, struct tx_batch *tx, uint16_t port, uint32_t ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->inst->pool);
	if (!m) {
		count_drop(w, port, SLNF_DROP_NO_MBUF);
		return;
	}
	if (slnf_host_arp_request(&w->inst->host, m, port, ip) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	w->host.arp_requests_tx++;
	tx_add(w, tx, port, port, m);
}

/* Transmit frames that waited for a neighbour that just answered. */
static void release_waiting(struct slnf_worker *w, struct tx_batch *tx, uint16_t port,
			    struct rte_mbuf **ms, unsigned n, const uint8_t mac[6])
{
	for (unsigned i = 0; i < n; i++) {
		slnf_host_set_l2(&w->inst->host, ms[i], port, mac);
		tx_add(w, tx, port, port, ms[i]);
	}
}

static void handle_arp(struct slnf_worker *w, struct tx_batch *tx, struct rte_mbuf *m,
		       uint16_t port, uint64_t now)
{
	struct rte_mbuf *released[64];
	unsigned n_released = 0, reason = SLNF_DROP_NONE;
	uint8_t mac[6];
	enum slnf_host_action a = slnf_host_arp(&w->inst->host, &w->inst->neigh, m, port, now,
						&w->host, &reason, released, 64, &n_released, mac);
	release_waiting(w, tx, port, released, n_released, mac);
	if (a == SLNF_HOST_TX)
		tx_add(w, tx, port, port, m);
	else if (a == SLNF_HOST_FREE)
		rte_pktmbuf_free(m);
	else
		drop(w, m, port, reason);
}

/* Hand a forwarded packet to its next hop, or hold it until ARP answers. */
static void output(struct slnf_worker *w, struct tx_batch *tx, struct slnf_pkt *p, uint64_t now)
{
	uint16_t port = p->out_port;
	if (port >= w->inst->cfg.n_ports) {
		drop(w, p->m, p->in_port, SLNF_DROP_NO_CHAIN_PORT);
		return;
	}
	uint32_t nh = p->next_hop ? p->next_hop : p->key.dst_ip;
	uint8_t mac[6];
	switch (slnf_neigh_resolve(&w->inst->neigh, port, nh, now, p->m, mac)) {
	case SLNF_NEIGH_HIT_PROBE:
		send_arp_request(w, tx, port, nh);
		/* fall through */
	case SLNF_NEIGH_HIT:
		slnf_host_set_l2(&w->inst->host, p->m, port, mac);
		tx_add(w, tx, port, p->in_port, p->m);
		break;
	case SLNF_NEIGH_HELD_PROBE:
		send_arp_request(w, tx, port, nh);
		break;
	case SLNF_NEIGH_HELD:
		break;
	case SLNF_NEIGH_FULL:
		drop(w, p->m, p->in_port, SLNF_DROP_NEIGH_QUEUE_FULL);
		break;
	}
}

/* L2 acceptance: our MAC or broadcast; frames for others are not ours. */
static bool l2_for_us(const struct slnf_worker *w, struct rte_mbuf *m, uint16_t port)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	return rte_is_broadcast_ether_addr(&eth->dst_addr) ||
	       rte_is_same_ether_addr(&eth->dst_addr, &w->inst->macs[port]);
}

static void handle_burst(struct slnf_worker *w, struct tx_batch *tx, uint16_t port,
			 struct rte_mbuf **ms, uint16_t n, uint64_t now)
{
	struct slnf_instance *inst = w->inst;
	struct slnf_pkt pkts[SLNF_BURST_MAX];
	struct slnf_burst by_tenant[SLNF_MAX_TENANTS];
	uint16_t tenants_seen[SLNF_BURST_MAX], n_seen = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		struct slnf_pkt *p = &pkts[i];
		w->ports[port].rx_packets++;
		w->ports[port].rx_bytes += rte_pktmbuf_pkt_len(m);
		if (rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN && !l2_for_us(w, m, port)) {
			drop(w, m, port, SLNF_DROP_L2_NOT_OURS);
			continue;
		}
		memset(p, 0, sizeof(*p));
		p->m = m;
		p->in_port = port;
		p->out_port = SLNF_PORT_NONE;
		p->state_req = -1;
		uint16_t ethertype = 0;
		unsigned reason = slnf_pkt_parse(p, &ethertype);
		if (reason == SLNF_DROP_L2_UNSUPPORTED && ethertype == RTE_ETHER_TYPE_ARP) {
			handle_arp(w, tx, m, port, now);
			continue;
		}
		if (reason != SLNF_DROP_NONE) {
			drop(w, m, port, reason);
			continue;
		}
		if (slnf_host_is_local(&inst->host, p->key.dst_ip)) {
			unsigned why = SLNF_DROP_NONE;
			if (slnf_host_local(&inst->host, p, &w->host, &why) == SLNF_HOST_TX)
				tx_add(w, tx, port, port, m);
			else
				drop(w, m, port, why);
			continue;
		}
		uint16_t t = slnf_classify(inst->classifier, port, p->vlan);
		if (t == SLNF_NO_TENANT) {
			drop(w, m, port, SLNF_DROP_NO_TENANT);
			continue;
		}
		p->tenant = t;
		w->tenant_rx[t]++;
		bool seen = false;
		for (uint16_t k = 0; k < n_seen && !seen; k++)
			seen = tenants_seen[k] == t;
		if (!seen) {
			tenants_seen[n_seen++] = t;
			by_tenant[t].n = 0;
		}
		by_tenant[t].pkts[by_tenant[t].n++] = p;
	}

	for (uint16_t k = 0; k < n_seen; k++) {
		struct slnf_burst *b = &by_tenant[tenants_seen[k]];
		slnf_chain_run(inst->chains[tenants_seen[k]], b, inst->store, &w->scratch);
		for (uint16_t i = 0; i < b->n; i++) {
			struct slnf_pkt *p = b->pkts[i];
			if (p->verdict == SLNF_VERDICT_DROP) {
				drop(w, p->m, p->in_port, p->drop_reason);
				continue;
			}
			if (p->drop_reason != SLNF_DROP_NONE) /* answered with ICMP */
				count_drop(w, p->in_port, p->drop_reason);
			output(w, tx, p, now);
		}
	}
}

static void probe_cb(uint16_t port, uint32_t ip, void *arg)
{
	void **ctx = arg;
	send_arp_request(ctx[0], ctx[1], port, ip);
}

static void neigh_maintenance(struct slnf_worker *w, struct tx_batch *tx, uint64_t now)
{
	struct rte_mbuf *dropped[256];
	unsigned n_dropped = 0;
	void *ctx[2] = {w, tx};
	unsigned lost = slnf_neigh_tick(&w->inst->neigh, now, probe_cb, ctx, dropped, 256, &n_dropped);
	for (unsigned i = 0; i < n_dropped; i++)
		rte_pktmbuf_free(dropped[i]);
	/* held packets have no ingress port any more; charge the first port */
	w->ports[0].drops[SLNF_DROP_NEIGH_UNRESOLVED] += lost;
}

int slnf_worker_main(void *arg)
{
	struct slnf_worker *w = arg;
	struct slnf_instance *inst = w->inst;
	const unsigned max_sleep = inst->cfg.workers.idle_sleep_max_us;
	const uint16_t burst = (uint16_t)inst->cfg.workers.burst;
	static struct tx_batch tx_batches[SLNF_MAX_WORKERS];
	struct tx_batch *tx = &tx_batches[w->index];
	struct rte_mbuf *ms[SLNF_BURST_MAX];
	unsigned sleep_us = 0;
	uint64_t next_tick = 0;

	memset(tx, 0, sizeof(*tx));
	/* Linux rounds sleeps up by the timer slack (50 us by default), which
	 * would turn the 1 us first back-off step into 50 us of added latency. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!inst->stop) {
		unsigned total = 0;
		uint64_t now = slnf_now_ms();
		for (uint16_t port = 0; port < inst->cfg.n_ports; port++) {
			uint16_t n = rte_eth_rx_burst(inst->port_ids[port], w->queue, ms, burst);
			if (!n)
				continue;
			total += n;
			handle_burst(w, tx, port, ms, n, now);
		}
		if (w->index == 0 && now >= next_tick) {
			neigh_maintenance(w, tx, now);
			next_tick = now + 100;
		}
		tx_flush(w, tx);
		if (total || inst->cfg.workers.busy_poll) {
			sleep_us = 0;
			continue;
		}
		sleep_us = sleep_us ? sleep_us * 2 : 1;
		if (sleep_us > max_sleep)
			sleep_us = max_sleep;
		if (sleep_us) {
			w->idle_sleeps++;
			rte_delay_us_sleep(sleep_us);
		}
	}
	tx_flush(w, tx);
	return 0;
}
