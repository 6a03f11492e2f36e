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
 * Chain traffic waits for the store, so a worker keeps up to
 * SLNF_INFLIGHT rx bursts in flight (slots, see instance.h) instead of
 * idling through a round trip. Each loop polls the slots in flight, starts
 * held ones, transmits completed ones strictly in rx order (a slot done
 * early waits for the ones before it, so each port's packet order is
 * kept) and receives only into a free slot. Per-flow rule: a slot none of
 * whose packets' flow hashes (p->hash, in SLNF_FLOW_HOLDS buckets) is in a
 * running slot starts at once; otherwise it is held, not started, until
 * those complete, and slots start in rx order. Bucket collisions only
 * delay. So two bursts never touch one flow's state concurrently. ARP and
 * packets for our own addresses are answered at once, outside the slots.
 * With a store that completes inside submit (local, shm) a slot completes
 * as it is queued and the loop behaves as a synchronous one.
 *
 * A worker that finds no packets and has no slot in flight backs off with
 * a sleep that doubles up to workers.idle_sleep_max_us, so several slnfd
 * processes, Redis and traffic tools can share a small machine; busy_poll
 * turns this off for dedicated cores. Worker 0 also runs neighbour maintenance every 100 ms.
 *
 * Chains can be swapped under the loop by a live reload: a slot records the
 * generation it started in and the loop publishes, once per iteration, the
 * oldest generation it still runs (publish_generation; dp/reload.c).
 */
#include <sched.h>
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

/* Role steer: send the packet to the instance the tenant's table picks,
 * on the port it came in on, with the instance's MAC on that port. */
static void steer_out(struct slnf_worker *w, struct tx_batch *tx, struct slnf_pkt *p)
{
	struct slnf_instance *inst = w->inst;
	uint16_t port = p->in_port;
	struct slnf_steer_target *x = slnf_steer_pick(inst->steer, p->tenant, port, &p->key);
	if (!x || !x->has_mac[port]) {
		drop(w, p->m, port, SLNF_DROP_STEER_NO_INSTANCE);
		return;
	}
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	rte_ether_addr_copy(&x->mac[port], &eth->dst_addr);
	rte_ether_addr_copy(&inst->macs[port], &eth->src_addr);
	tx_add(w, tx, port, port, p->m);
}

/* L2 acceptance: our MAC or broadcast; frames for others are not ours. */
static bool l2_for_us(const struct slnf_worker *w, struct rte_mbuf *m, uint16_t port)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	return rte_is_broadcast_ether_addr(&eth->dst_addr) ||
	       rte_is_same_ether_addr(&eth->dst_addr, &w->inst->macs[port]);
}

/* ---- bursts in flight ---- */

static struct slnf_slot *slot_at(struct slnf_worker *w, unsigned i)
{
	return &w->slots[(w->slot_head + i) % SLNF_INFLIGHT];
}

/* The hold bucket of a packet: by the symmetric flow hash, so both
 * directions of a connection (which share state, e.g. one conntrack
 * record) are never in flight at once. Taken once, when the packet joins
 * its slot: NFs that translate (nat, lb) rewrite p->key, and the bucket
 * released must be the one counted. */
static unsigned hold_bucket(const struct slnf_pkt *p)
{
	return slnf_flow_hash_symmetric(&p->key) & (SLNF_FLOW_HOLDS - 1);
}

/* Count (delta 1) or uncount (-1) the slot's packets in the holds. */
static void slot_holds(struct slnf_worker *w, struct slnf_slot *s, int delta)
{
	for (uint16_t i = 0; i < s->n_pkts; i++)
		w->holds[s->buckets[i]] += (uint16_t)delta;
	s->holds = delta > 0;
}

/* Does a packet of s share a flow hash bucket with a running slot? */
static bool slot_blocked(const struct slnf_worker *w, const struct slnf_slot *s)
{
	for (uint16_t i = 0; i < s->n_pkts; i++)
		if (w->holds[s->buckets[i]])
			return true;
	return false;
}

/* The tenant's chain is read only now, after the slot's generation: see
 * publish_generation. */
static void slot_start_tenant(struct slnf_worker *w, struct slnf_slot *s)
{
	uint16_t g = s->groups[s->cur];
	struct slnf_chain *c = __atomic_load_n(&w->inst->chains[g / 2], __ATOMIC_ACQUIRE);
	slnf_chain_start(&s->run, c, &s->by_group[g], w->inst->store, &s->scratch);
}

/* Run the slot's tenant groups one after the other (they share its scratch);
 * true when the last one is done. */
static bool slot_step(struct slnf_worker *w, struct slnf_slot *s)
{
	while (s->cur < s->n_groups) {
		if (!slnf_chain_poll(&s->run))
			return false;
		if (++s->cur < s->n_groups)
			slot_start_tenant(w, s);
	}
	return true;
}

static void slot_finish(struct slnf_worker *w, struct slnf_slot *s)
{
	if (s->holds)
		slot_holds(w, s, -1);
	s->state = SLNF_SLOT_DONE;
}

/* Start the slot's chains. A store that completes inside submit finishes
 * them right here; otherwise its flows are held until it completes. */
static void slot_begin(struct slnf_worker *w, struct slnf_slot *s)
{
	s->state = SLNF_SLOT_RUNNING;
	s->cur = 0;
	s->gen = __atomic_load_n(&w->inst->generation, __ATOMIC_ACQUIRE);
	slot_start_tenant(w, s);
	if (slot_step(w, s))
		slot_finish(w, s);
	else
		slot_holds(w, s, 1);
}

/* Transmit or drop every packet of a completed slot, group by group. */
static void slot_output(struct slnf_worker *w, struct tx_batch *tx, struct slnf_slot *s,
			uint64_t now)
{
	for (uint16_t k = 0; k < s->n_groups; k++) {
		struct slnf_burst *b = &s->by_group[s->groups[k]];
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
	s->state = SLNF_SLOT_FREE;
}

/* Poll the running slots, start held ones whose flows are free (in rx
 * order: a held slot keeps later ones waiting), and transmit completed
 * slots from the front of the ring, so output keeps rx order per port. */
static void slots_progress(struct slnf_worker *w, struct tx_batch *tx, uint64_t now)
{
	bool blocked = false;
	for (unsigned i = 0; i < w->n_slots; i++) {
		struct slnf_slot *s = slot_at(w, i);
		if (s->state == SLNF_SLOT_RUNNING && slot_step(w, s))
			slot_finish(w, s);
		else if (s->state == SLNF_SLOT_HELD && !blocked) {
			blocked = slot_blocked(w, s);
			if (!blocked)
				slot_begin(w, s);
		}
	}
	while (w->n_slots && slot_at(w, 0)->state == SLNF_SLOT_DONE) {
		slot_output(w, tx, slot_at(w, 0), now);
		w->slot_head = (w->slot_head + 1) % SLNF_INFLIGHT;
		w->n_slots--;
	}
}

/* Queue a filled slot behind the others; it starts when its turn and its
 * flows allow. */
static void slot_enqueue(struct slnf_worker *w, struct tx_batch *tx, uint64_t now)
{
	struct slnf_slot *s = slot_at(w, w->n_slots);
	w->n_slots++;
	s->state = SLNF_SLOT_HELD;
	s->holds = false;
	slots_progress(w, tx, now);
}

/* Add a classified packet (s->pkts[s->n_pkts]) to its group's burst in
 * the slot: its tenant, and whether it came in on one of the tenant's
 * inside ports (forward) or not (reverse, when the tenant names any). */
static void slot_add(const struct slnf_config *cfg, struct slnf_slot *s, struct slnf_pkt *p)
{
	const struct slnf_tenant_config *tc = &cfg->tenants[p->tenant];
	bool reverse = tc->n_inside && !tc->inside[p->in_port];
	uint16_t g = (uint16_t)(p->tenant * 2 + reverse);
	bool seen = false;
	for (uint16_t k = 0; k < s->n_groups && !seen; k++)
		seen = s->groups[k] == g;
	if (!seen) {
		s->groups[s->n_groups++] = g;
		s->by_group[g].n = 0;
		s->by_group[g].reverse = reverse;
	}
	s->by_group[g].pkts[s->by_group[g].n++] = p;
	s->buckets[s->n_pkts++] = (uint16_t)hold_bucket(p);
}

/* Parse, validate and classify a burst: what is for the host is answered
 * at once, chain traffic fills the next free slot. */
static void handle_burst(struct slnf_worker *w, struct tx_batch *tx, uint16_t port,
			 struct rte_mbuf **ms, uint16_t n, uint64_t now)
{
	struct slnf_instance *inst = w->inst;
	struct slnf_slot *s = slot_at(w, w->n_slots);
	s->n_pkts = 0;
	s->n_groups = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		struct slnf_pkt *p = &s->pkts[s->n_pkts];
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
		if (slnf_host_takes(&inst->host, p)) {
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
		if (inst->steer) {
			steer_out(w, tx, p);
			continue;
		}
		slot_add(&inst->cfg, s, p);
	}
	if (s->n_pkts)
		slot_enqueue(w, tx, now);
}

/* Tell a reload (dp/reload.c) the oldest chain generation this worker may
 * still be using: that of its oldest running slot, else the current one.
 * Slots that are done or held use no chain. */
static void publish_generation(struct slnf_worker *w)
{
	uint64_t gen = __atomic_load_n(&w->inst->generation, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < w->n_slots; i++) {
		const struct slnf_slot *s = slot_at(w, i);
		if (s->state == SLNF_SLOT_RUNNING && s->gen < gen)
			gen = s->gen;
	}
	__atomic_store_n(&w->active_gen, gen, __ATOMIC_RELEASE);
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

/* At stop, let the bursts in flight finish (every backend completes its
 * batches by its deadline) and transmit them. */
static void slots_drain(struct slnf_worker *w, struct tx_batch *tx)
{
	while (w->n_slots) {
		slots_progress(w, tx, slnf_now_ms());
		if (w->n_slots)
			sched_yield();
	}
}

/* Receive from every port into free slots; the number of packets. */
static unsigned rx_ports(struct slnf_worker *w, struct tx_batch *tx, uint16_t burst, uint64_t now)
{
	struct slnf_instance *inst = w->inst;
	struct rte_mbuf *ms[SLNF_BURST_MAX];
	unsigned total = 0;
	for (uint16_t port = 0; port < inst->cfg.n_ports; port++) {
		if (w->n_slots == SLNF_INFLIGHT) {
			slots_progress(w, tx, now);
			if (w->n_slots == SLNF_INFLIGHT)
				break;
		}
		uint16_t n = rte_eth_rx_burst(inst->port_ids[port], w->queue, ms, burst);
		if (!n)
			continue;
		total += n;
		handle_burst(w, tx, port, ms, n, now);
	}
	return total;
}

bool slnf_workers_quiesce(void *arg)
{
	struct slnf_instance *inst = arg;
	uint64_t seen[SLNF_MAX_WORKERS];
	for (unsigned i = 0; i < inst->n_workers; i++)
		seen[i] = __atomic_load_n(&inst->workers[i].loops, __ATOMIC_ACQUIRE);
	uint64_t deadline = slnf_now_ms() + 500; /* a loop iteration takes microseconds */
	for (unsigned i = 0; i < inst->n_workers; i++)
		while (__atomic_load_n(&inst->workers[i].loops, __ATOMIC_ACQUIRE) == seen[i]) {
			if (inst->stop || slnf_now_ms() > deadline)
				return inst->stop;
			rte_delay_us_sleep(20);
		}
	return true;
}

int slnf_worker_main(void *arg)
{
	struct slnf_worker *w = arg;
	struct slnf_instance *inst = w->inst;
	const unsigned max_sleep = inst->cfg.workers.idle_sleep_max_us;
	const uint16_t burst = (uint16_t)inst->cfg.workers.burst;
	static struct tx_batch tx_batches[SLNF_MAX_WORKERS];
	struct tx_batch *tx = &tx_batches[w->index];
	unsigned sleep_us = 0;
	uint64_t next_tick = 0;

	memset(tx, 0, sizeof(*tx));
	for (unsigned i = 0; i < SLNF_INFLIGHT; i++)
		w->slots[i].scratch.cache = w->cache;
	/* Linux rounds sleeps up by the timer slack (50 us by default), which
	 * would turn the 1 us first back-off step into 50 us of added latency. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!inst->stop) {
		uint64_t now = slnf_now_ms();
		unsigned total = rx_ports(w, tx, burst, now);
		if (w->n_slots)
			slots_progress(w, tx, now);
		if (w->index == 0 && now >= next_tick) {
			neigh_maintenance(w, tx, now);
			next_tick = now + 100;
		}
		tx_flush(w, tx);
		publish_generation(w);
		__atomic_store_n(&w->loops, w->loops + 1, __ATOMIC_RELEASE);
		/* Slots waiting on the store are polled without sleeping. */
		if (total || w->n_slots || inst->cfg.workers.busy_poll) {
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
	slots_drain(w, tx);
	tx_flush(w, tx);
	return 0;
}
