/*
 * stats.c - build the stats document; see stats.h and docs/stats.md.
 * Every drop reason is listed, zero or not, so scripts can rely on keys.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "dp/stats.h"

static const char *const port_type_names[] = {
	[SLNF_PORT_AF_PACKET] = "af_packet", [SLNF_PORT_AF_XDP] = "af_xdp",
	[SLNF_PORT_TAP] = "tap",             [SLNF_PORT_PCAP] = "pcap",
	[SLNF_PORT_RING] = "ring",           [SLNF_PORT_NULL] = "null",
	[SLNF_PORT_PCI] = "pci",
};

static json_t *drops_json(const uint64_t *drops)
{
	json_t *o = json_object();
	for (unsigned r = 1; r < SLNF_DROP__COUNT; r++)
		json_object_set_new(o, slnf_drop_reason_name(r), json_integer((json_int_t)drops[r]));
	return o;
}

static json_t *ports_json(struct slnf_instance *inst, uint64_t *total_drops)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < inst->cfg.n_ports; i++) {
		struct slnf_port_counters sum = {0};
		for (unsigned w = 0; w < inst->n_workers; w++) {
			const struct slnf_port_counters *c = &inst->workers[w].ports[i];
			sum.rx_packets += c->rx_packets;
			sum.rx_bytes += c->rx_bytes;
			sum.tx_packets += c->tx_packets;
			sum.tx_bytes += c->tx_bytes;
			for (unsigned r = 0; r < SLNF_DROP__COUNT; r++)
				sum.drops[r] += c->drops[r];
		}
		for (unsigned r = 0; r < SLNF_DROP__COUNT; r++)
			total_drops[r] += sum.drops[r];
		struct rte_eth_stats es = {0};
		if (inst->port_ids[i] < RTE_MAX_ETHPORTS)
			rte_eth_stats_get(inst->port_ids[i], &es);
		char mac[RTE_ETHER_ADDR_FMT_SIZE];
		rte_ether_format_addr(mac, sizeof(mac), &inst->macs[i]);
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
				       inst->cfg.ports[i].name, "type",
				       port_type_names[inst->cfg.ports[i].type], "mac", mac,
				       "rx_packets", (json_int_t)sum.rx_packets, "rx_bytes",
				       (json_int_t)sum.rx_bytes, "tx_packets", (json_int_t)sum.tx_packets,
				       "tx_bytes", (json_int_t)sum.tx_bytes, "rx_missed",
				       (json_int_t)es.imissed, "rx_errors", (json_int_t)es.ierrors,
				       "tx_errors", (json_int_t)es.oerrors, "drops", drops_json(sum.drops)));
	}
	return arr;
}

static json_t *host_json(struct slnf_instance *inst)
{
	struct slnf_host_stats s = {0};
	for (unsigned w = 0; w < inst->n_workers; w++) {
		const struct slnf_host_stats *c = &inst->workers[w].host;
		s.arp_requests_rx += c->arp_requests_rx;
		s.arp_replies_tx += c->arp_replies_tx;
		s.arp_requests_tx += c->arp_requests_tx;
		s.arp_replies_rx += c->arp_replies_rx;
		s.icmp_echo_replies += c->icmp_echo_replies;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "arp_requests_rx", (json_int_t)s.arp_requests_rx,
			 "arp_replies_tx", (json_int_t)s.arp_replies_tx, "arp_requests_tx",
			 (json_int_t)s.arp_requests_tx, "arp_replies_rx", (json_int_t)s.arp_replies_rx,
			 "icmp_echo_replies", (json_int_t)s.icmp_echo_replies);
}

static json_t *tenants_json(struct slnf_instance *inst)
{
	json_t *arr = json_array();
	for (unsigned t = 0; t < inst->cfg.n_tenants; t++) {
		uint64_t rx = 0;
		for (unsigned w = 0; w < inst->n_workers; w++)
			rx += inst->workers[w].tenant_rx[t];
		json_t *nfs = json_array();
		if (inst->chains[t])
			slnf_chain_stats(inst->chains[t], nfs);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:o}", "name",
						     inst->cfg.tenants[t].name, "id",
						     (json_int_t)inst->cfg.tenants[t].id, "rx_packets",
						     (json_int_t)rx, "nfs", nfs));
	}
	return arr;
}

static json_t *neigh_json(struct slnf_instance *inst, uint64_t now)
{
	static struct slnf_neigh_entry snap[1024];
	unsigned n = slnf_neigh_snapshot(&inst->neigh, now, snap, 1024);
	json_t *arr = json_array();
	for (unsigned i = 0; i < n; i++) {
		const struct slnf_neigh_entry *e = &snap[i];
		char ip[INET_ADDRSTRLEN], mac[18];
		struct in_addr a = {.s_addr = htonl(e->ip)};
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1],
			 e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
		double age = e->state == SLNF_NEIGH_STATIC || e->state == SLNF_NEIGH_INCOMPLETE ?
				     0 : (double)(now - e->confirmed_ms) / 1000.0;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:f}", "port",
						     inst->cfg.ports[e->port].name, "ip", ip, "mac",
						     e->state == SLNF_NEIGH_INCOMPLETE ? "" : mac,
						     "state", slnf_neigh_state_name(e->state),
						     "age_s", age));
	}
	return arr;
}

static json_t *store_json(struct slnf_instance *inst)
{
	struct slnf_store_stats s = {0};
	slnf_store_stats(inst->store, &s);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "backend",
			 inst->cfg.store.backend, "entries", (json_int_t)s.entries, "capacity",
			 (json_int_t)s.capacity, "memory_bytes", (json_int_t)s.memory_bytes, "ops",
			 (json_int_t)s.ops, "batches", (json_int_t)s.batches, "expired",
			 (json_int_t)s.expired, "failures", (json_int_t)s.failures, "full",
			 (json_int_t)s.full);
}

/* The workers' instance caches, summed. */
static json_t *cache_json(struct slnf_instance *inst)
{
	struct slnf_cache_stats s = {0};
	for (unsigned w = 0; w < inst->n_workers; w++)
		if (inst->workers[w].cache)
			slnf_cache_stats_add(inst->workers[w].cache, &s);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "capacity",
			 (json_int_t)s.capacity, "hits", (json_int_t)s.hits, "misses",
			 (json_int_t)s.misses, "stale", (json_int_t)s.stale, "inserts",
			 (json_int_t)s.inserts, "evictions", (json_int_t)s.evictions,
			 "invalidations", (json_int_t)s.invalidations, "epoch_changes",
			 (json_int_t)s.epoch_changes);
}

json_t *slnf_stats_json(struct slnf_instance *inst)
{
	uint64_t now = slnf_now_ms();
	uint64_t drops[SLNF_DROP__COUNT] = {0};
	uint64_t idle = 0;
	for (unsigned w = 0; w < inst->n_workers; w++)
		idle += inst->workers[w].idle_sleeps;
	json_t *ports = ports_json(inst, drops);
	json_t *doc = json_pack("{s:s, s:i, s:f, s:f, s:i, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "name", inst->cfg.name, "pid", (int)getpid(), "uptime_s",
			 (double)(now - inst->start_ms) / 1000.0, "eal_init_ms", inst->eal_init_ms,
			 "workers", (int)inst->n_workers, "idle_sleeps", (json_int_t)idle, "ports",
			 ports, "drops", drops_json(drops), "host", host_json(inst), "tenants",
			 tenants_json(inst), "neighbours", neigh_json(inst, now), "store",
			 store_json(inst), "cache", cache_json(inst), "reload", slnf_reload_stats(inst));
	json_object_set_new(doc, "role", json_string(inst->cfg.role));
	json_object_set_new(doc, "epoch", json_integer((json_int_t)inst->epoch));
	if (inst->steer)
		json_object_set_new(doc, "steering", slnf_steer_json(inst->steer));
	return doc;
}
