/*
 * config_diff.c - where two parsed configs differ outside the tenants'
 * chains; see slnf_config_diff in config.h.
 *
 * A live reload (src/dp/reload.c) may only replace chains: ports, the
 * store, workers, EAL and the tenants' names, ids and matches are fixed
 * while slnfd runs. This walks the parsed structs (not the JSON, so a
 * field left out and the same field given at its default are equal) in
 * the order of docs/config.md and names the first field that differs, as
 * a JSON path like the validation errors do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "slnf/config.h"

struct diff {
	char *field;
	size_t size;
	bool found;
};

/* Record path (printf-style) as the difference if none was found yet. */
static bool differs(struct diff *d, bool cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool differs(struct diff *d, bool cond, const char *fmt, ...)
{
	if (d->found || !cond)
		return d->found;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->field, d->size, fmt, ap);
	va_end(ap);
	d->found = true;
	return true;
}

static bool str_ne(const char *a, const char *b)
{
	return strcmp(a, b) != 0;
}

static void diff_top(struct diff *d, const struct slnf_config *a, const struct slnf_config *b)
{
	differs(d, str_ne(a->name, b->name), "name");
	differs(d, str_ne(a->role, b->role), "role");
	differs(d, a->workers.count != b->workers.count, "workers.count");
	differs(d, a->workers.busy_poll != b->workers.busy_poll, "workers.busy_poll");
	differs(d, a->workers.idle_sleep_max_us != b->workers.idle_sleep_max_us,
		"workers.idle_sleep_max_us");
	differs(d, a->workers.burst != b->workers.burst, "workers.burst");
	differs(d, a->eal.hugepages != b->eal.hugepages, "eal.hugepages");
	differs(d, a->eal.memory_mb != b->eal.memory_mb, "eal.memory_mb");
	differs(d, str_ne(a->eal.file_prefix, b->eal.file_prefix), "eal.file_prefix");
	differs(d, str_ne(a->eal.lcores, b->eal.lcores), "eal.lcores");
	differs(d, str_ne(a->eal.log_level, b->eal.log_level), "eal.log_level");
	differs(d, a->mbufs != b->mbufs, "mbufs");
	differs(d, str_ne(a->control_socket, b->control_socket), "control.socket");
}

static void diff_store(struct diff *d, const struct slnf_store_config *a,
		       const struct slnf_store_config *b)
{
	differs(d, str_ne(a->backend, b->backend), "store.backend");
	differs(d, a->capacity != b->capacity, "store.capacity");
	differs(d, a->cache_entries != b->cache_entries, "store.cache_entries");
	differs(d, str_ne(a->shm_name, b->shm_name), "store.shm.name");
	differs(d, str_ne(a->redis.host, b->redis.host), "store.redis.host");
	differs(d, a->redis.port != b->redis.port, "store.redis.port");
	differs(d, str_ne(a->redis.unix_path, b->redis.unix_path), "store.redis.unix");
	differs(d, a->redis.n_nodes != b->redis.n_nodes, "store.redis.nodes");
	for (unsigned i = 0; i < a->redis.n_nodes && !d->found; i++)
		differs(d, str_ne(a->redis.nodes[i], b->redis.nodes[i]), "store.redis.nodes[%u]",
			i);
	differs(d, a->redis.timeout_ms != b->redis.timeout_ms, "store.redis.timeout_ms");
	differs(d, a->redis.wait_replicas != b->redis.wait_replicas, "store.redis.wait_replicas");
	differs(d, a->redis.wait_timeout_ms != b->redis.wait_timeout_ms,
		"store.redis.wait_timeout_ms");
}

static void diff_neighbours(struct diff *d, const struct slnf_config *a,
			    const struct slnf_config *b)
{
	differs(d, a->neigh.reachable_s != b->neigh.reachable_s, "neighbours.reachable_s");
	differs(d, a->neigh.max_pending != b->neigh.max_pending, "neighbours.max_pending");
	differs(d, a->neigh.n_statics != b->neigh.n_statics, "neighbours.static");
	for (unsigned i = 0; i < a->neigh.n_statics && !d->found; i++) {
		const struct slnf_static_neigh *x = &a->neigh.statics[i], *y = &b->neigh.statics[i];
		differs(d, x->port != y->port || x->ip != y->ip || memcmp(x->mac, y->mac, 6),
			"neighbours.static[%u]", i);
	}
}

static void diff_port(struct diff *d, unsigned i, const struct slnf_port_config *a,
		      const struct slnf_port_config *b)
{
	differs(d, str_ne(a->name, b->name), "ports[%u].name", i);
	differs(d, a->type != b->type, "ports[%u].type", i);
	differs(d, str_ne(a->iface, b->iface), "ports[%u].iface", i);
	differs(d, str_ne(a->rx_pcap, b->rx_pcap), "ports[%u].rx_pcap", i);
	differs(d, str_ne(a->tx_pcap, b->tx_pcap), "ports[%u].tx_pcap", i);
	differs(d, str_ne(a->pci, b->pci), "ports[%u].pci", i);
	differs(d, str_ne(a->mac, b->mac), "ports[%u].mac", i);
	differs(d, a->n_addrs != b->n_addrs, "ports[%u].ipv4", i);
	for (unsigned k = 0; k < a->n_addrs && !d->found; k++)
		differs(d,
			a->addrs[k].addr != b->addrs[k].addr || a->addrs[k].len != b->addrs[k].len,
			"ports[%u].ipv4[%u]", i, k);
	differs(d, a->rx_desc != b->rx_desc, "ports[%u].rx_desc", i);
	differs(d, a->tx_desc != b->tx_desc, "ports[%u].tx_desc", i);
}

static void diff_tenant(struct diff *d, unsigned i, const struct slnf_tenant_config *a,
			const struct slnf_tenant_config *b)
{
	differs(d, str_ne(a->name, b->name), "tenants[%u].name", i);
	differs(d, a->id != b->id, "tenants[%u].id", i);
	differs(d,
		a->n_ports != b->n_ports ||
		    memcmp(a->ports, b->ports, a->n_ports * sizeof(a->ports[0])),
		"tenants[%u].match.ports", i);
	differs(d,
		a->n_vlans != b->n_vlans ||
		    memcmp(a->vlans, b->vlans, a->n_vlans * sizeof(a->vlans[0])),
		"tenants[%u].match.vlans", i);
	/* the data path may read it from the start-up config: not reloadable */
	differs(d, a->n_inside != b->n_inside || memcmp(a->inside, b->inside, sizeof(a->inside)),
		"tenants[%u].inside", i);
}

bool slnf_config_diff(const struct slnf_config *a, const struct slnf_config *b, char *field,
		      size_t size)
{
	struct diff d = {.field = field, .size = size};
	if (size)
		field[0] = '\0';
	diff_top(&d, a, b);
	diff_store(&d, &a->store, &b->store);
	differs(&d, a->n_ports != b->n_ports, "ports");
	for (unsigned i = 0; i < a->n_ports && !d.found; i++)
		diff_port(&d, i, &a->ports[i], &b->ports[i]);
	diff_neighbours(&d, a, b);
	differs(&d, a->n_tenants != b->n_tenants, "tenants");
	for (unsigned i = 0; i < a->n_tenants && !d.found; i++)
		diff_tenant(&d, i, &a->tenants[i], &b->tenants[i]);
	return d.found;
}

bool slnf_config_chain_equal(const struct slnf_tenant_config *a, const struct slnf_tenant_config *b)
{
	if (a->n_chain != b->n_chain)
		return false;
	for (unsigned i = 0; i < a->n_chain; i++)
		if (!json_equal(a->chain[i].params, b->chain[i].params))
			return false;
	return true;
}
