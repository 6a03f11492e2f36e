/*
 * router.c - the "router" NF: IPv4 forwarding by longest prefix match.
 *
 * Each router element of a tenant's chain owns an rte_lpm table with the
 * routes of its parameters plus a connected (on-link) route for every
 * address of every port the tenant is reached on; a configured route for
 * the same prefix replaces the connected one. process() looks up the whole
 * burst with one bulk call, then per packet decrements the TTL (RFC 1624
 * update of the header checksum, never a full recompute) and sets the
 * egress port and the next hop the data path resolves with ARP: the
 * route's gateway, or the destination itself when the route is on-link.
 *
 * A packet that cannot be forwarded (no route, TTL expired) is dropped as
 * far as the counters go, but its buffer becomes the ICMP error that
 * answers it (src/core/icmp.c), sent from the ingress port's first address
 * and routed back through the same table, so it leaves with verdict
 * FORWARD. When no error may be sent (RFC 1812 rules, no address on the
 * ingress port, no route back) the packet is dropped with the reason.
 *
 * rte_lpm takes prefix lengths 1 to 32 only, so a default route (/0) is
 * kept beside the table and used on a miss. The table's first level has
 * 2^24 entries: each router instance costs 64 MiB of DPDK memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_malloc.h>

#include "slnf/csum.h"
#include "slnf/nf.h"
#include "core/icmp.h"
#include "nf/params.h"

#define ROUTER_NF_ID 1
#define ROUTER_MAX_ROUTES 1024
#define ROUTE_NONE UINT32_MAX
#define LPM_HOP_MASK 0x00ffffffu

struct route {
	uint32_t net; /* host order, no bits past len */
	uint8_t len;
	uint16_t port;
	uint32_t via; /* gateway, host order; 0: on-link */
	int conf;     /* index in "routes", -1 for a connected route */
};

struct router_counters {
	_Atomic uint64_t forwarded;
	_Atomic uint64_t no_route;
	_Atomic uint64_t ttl_exceeded;
	_Atomic uint64_t icmp_sent;
} __rte_cache_aligned;

struct router {
	struct rte_lpm *lpm;
	uint32_t default_route; /* index in routes, or ROUTE_NONE */
	uint32_t port_addr[SLNF_MAX_PORTS]; /* first address of each port, 0: none */
	uint32_t own[SLNF_MAX_PORTS * SLNF_MAX_ADDRS]; /* every port address */
	unsigned n_own;
	unsigned n_routes;
	struct route routes[ROUTER_MAX_ROUTES];
	struct router_counters cnt;
};

/* Per-burst totals, added to the shared counters once per burst. */
struct router_tally {
	uint32_t forwarded, no_route, ttl_exceeded, icmp_sent;
};

static int find_route(const struct router *r, uint32_t net, uint8_t len)
{
	for (unsigned i = 0; i < r->n_routes; i++)
		if (r->routes[i].net == net && r->routes[i].len == len)
			return (int)i;
	return -1;
}

/* Does addr lie on one of the networks of port? */
static bool on_port_network(const struct slnf_port_config *port, uint32_t addr)
{
	for (unsigned i = 0; i < port->n_addrs; i++) {
		uint32_t mask = slnf_prefix_mask(port->addrs[i].len);

		if ((addr & mask) == (port->addrs[i].addr & mask))
			return true;
	}
	return false;
}

static bool is_port_address(const struct slnf_port_config *port, uint32_t addr)
{
	for (unsigned i = 0; i < port->n_addrs; i++)
		if (port->addrs[i].addr == addr)
			return true;
	return false;
}

static int parse_via(const struct slnf_nf_env *env, const char *path, json_t *obj,
		     const struct slnf_port_config *port, uint32_t *via, struct slnf_error *err)
{
	const char *s;
	int rc = slnf_params_string(env, path, obj, "via", false, &s, err);

	*via = 0;
	if (rc <= 0)
		return rc;
	if (slnf_parse_ipv4(s, via) || *via == 0)
		return slnf_params_fail_at(env, err, EINVAL, path, "via", "bad address \"%s\"", s);
	if (is_port_address(port, *via))
		return slnf_params_fail_at(env, err, EINVAL, path, "via",
					   "%s is an address of port \"%s\" itself", s, port->name);
	if (!on_port_network(port, *via))
		return slnf_params_fail_at(env, err, EINVAL, path, "via",
					   "%s is not on a connected network of port \"%s\"", s,
					   port->name);
	return 0;
}

static int parse_route(struct router *r, const struct slnf_nf_env *env, json_t *routes,
		       size_t i, struct slnf_error *err)
{
	static const char *const keys[] = { "prefix", "port", "via", NULL };
	char path[SLNF_PARAMS_PATH_MAX], net[20];
	struct slnf_ipv4_prefix pfx;
	const char *port_name;
	struct route *rt;
	json_t *o;
	int rc, port, dup;

	rc = slnf_params_element(env, env->field, "routes", routes, i, keys, path, &o, err);
	if (rc < 0)
		return rc;
	rc = slnf_params_prefix(env, path, o, "prefix", true, &pfx, err);
	if (rc < 0)
		return rc;
	rc = slnf_params_string(env, path, o, "port", true, &port_name, err);
	if (rc < 0)
		return rc;
	port = slnf_config_port_index(env->cfg, port_name);
	if (port < 0)
		return slnf_params_fail_at(env, err, EINVAL, path, "port", "unknown port \"%s\"",
					   port_name);
	dup = find_route(r, pfx.addr, pfx.len);
	if (dup >= 0) {
		slnf_params_format_prefix(net, pfx.addr, pfx.len);
		return slnf_params_fail_at(env, err, EEXIST, path, "prefix",
					   "duplicate prefix %s (also routes[%d])", net,
					   r->routes[dup].conf);
	}
	rt = &r->routes[r->n_routes];
	rc = parse_via(env, path, o, &env->cfg->ports[port], &rt->via, err);
	if (rc < 0)
		return rc;
	rt->net = pfx.addr;
	rt->len = pfx.len;
	rt->port = (uint16_t)port;
	rt->conf = (int)i;
	r->n_routes++;
	return 0;
}

static int parse_routes(struct router *r, const struct slnf_nf_env *env, json_t *params,
			struct slnf_error *err)
{
	json_t *routes;
	size_t n;
	int rc = slnf_params_array(env, env->field, params, "routes", false, &routes, err);

	if (rc <= 0)
		return rc;
	n = json_array_size(routes);
	if (n > ROUTER_MAX_ROUTES)
		return slnf_params_fail_at(env, err, E2BIG, env->field, "routes",
					   "%zu routes, at most %d", n, ROUTER_MAX_ROUTES);
	for (size_t i = 0; i < n; i++) {
		rc = parse_route(r, env, routes, i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* On-link routes for the networks of the tenant's ports, unless configured. */
static int add_connected(struct router *r, const struct slnf_nf_env *env, struct slnf_error *err)
{
	const struct slnf_config *cfg = env->cfg;
	const struct slnf_tenant_config *t = &cfg->tenants[env->tenant];

	for (unsigned i = 0; i < t->n_ports; i++) {
		const struct slnf_port_config *port = &cfg->ports[t->ports[i]];

		for (unsigned a = 0; a < port->n_addrs; a++) {
			uint8_t len = port->addrs[a].len;
			uint32_t net = port->addrs[a].addr & slnf_prefix_mask(len);
			struct route *rt;

			if (find_route(r, net, len) >= 0)
				continue;
			if (r->n_routes == ROUTER_MAX_ROUTES)
				return slnf_params_fail_at(env, err, E2BIG, env->field, "routes",
							   "routes and connected networks exceed %d",
							   ROUTER_MAX_ROUTES);
			rt = &r->routes[r->n_routes++];
			rt->net = net;
			rt->len = len;
			rt->port = t->ports[i];
			rt->via = 0;
			rt->conf = -1;
		}
	}
	return 0;
}

static int build_lpm(struct router *r, const struct slnf_nf_env *env, struct slnf_error *err)
{
	struct rte_lpm_config lc = {
		.max_rules = ROUTER_MAX_ROUTES,
		.number_tbl8s = ROUTER_MAX_ROUTES, /* one per route longer than /24, at worst */
	};
	char name[RTE_LPM_NAMESIZE], net[20];
	int rc;

	slnf_params_object_name(name, sizeof(name), "rt", env);
	r->lpm = rte_lpm_create(name, SOCKET_ID_ANY, &lc);
	if (!r->lpm)
		return slnf_params_fail(env, err, ENOMEM, env->field,
					"cannot create routing table %s (64 MiB): %s", name,
					rte_strerror(rte_errno));
	for (unsigned i = 0; i < r->n_routes; i++) {
		const struct route *rt = &r->routes[i];

		if (rt->len == 0) {
			r->default_route = i;
			continue;
		}
		rc = rte_lpm_add(r->lpm, rt->net, rt->len, i);
		if (rc < 0) {
			slnf_params_format_prefix(net, rt->net, rt->len);
			return slnf_params_fail(env, err, -rc, env->field,
						"cannot add route %s to %s: %s", net, name,
						rte_strerror(-rc));
		}
	}
	return 0;
}

static void router_destroy(void *ctx)
{
	struct router *r = ctx;

	if (!r)
		return;
	rte_lpm_free(r->lpm);
	free(r);
}

static int router_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
			 struct slnf_error *err)
{
	static const char *const keys[] = { "nf", "routes", NULL };
	const struct slnf_config *cfg = env->cfg;
	struct router *r;
	int rc;

	rc = slnf_params_check_keys(env, env->field, params, keys, err);
	if (rc < 0)
		return rc;
	r = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sizeof(*r), RTE_CACHE_LINE_SIZE));
	if (!r)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	memset(r, 0, sizeof(*r));
	r->default_route = ROUTE_NONE;
	for (unsigned i = 0; i < cfg->n_ports && i < SLNF_MAX_PORTS; i++)
		r->port_addr[i] = cfg->ports[i].n_addrs ? cfg->ports[i].addrs[0].addr : 0;
	for (unsigned i = 0; i < cfg->n_ports && i < SLNF_MAX_PORTS; i++)
		for (unsigned k = 0; k < cfg->ports[i].n_addrs; k++)
			r->own[r->n_own++] = cfg->ports[i].addrs[k].addr;

	rc = parse_routes(r, env, params, err);
	if (rc == 0)
		rc = add_connected(r, env, err);
	if (rc == 0 && !env->check_only)
		rc = build_lpm(r, env, err);
	if (rc < 0) {
		router_destroy(r);
		return rc;
	}
	*ctx = r;
	return 0;
}

/* The route an rte_lpm lookup result stands for, the default on a miss. */
static inline const struct route *route_of(const struct router *r, uint32_t hop)
{
	if (hop & RTE_LPM_LOOKUP_SUCCESS)
		return &r->routes[hop & LPM_HOP_MASK];
	return r->default_route == ROUTE_NONE ? NULL : &r->routes[r->default_route];
}

static inline void set_hop(struct slnf_pkt *p, const struct route *rt, uint32_t dst)
{
	p->out_port = rt->port;
	p->next_hop = rt->via ? rt->via : dst;
}

/* Answer p with an ICMP error and route it, or drop p for reason. */
static void reject(const struct router *r, struct slnf_pkt *p, uint8_t type, uint8_t code,
		   unsigned reason, struct router_tally *tally)
{
	uint32_t src = p->in_port < SLNF_MAX_PORTS ? r->port_addr[p->in_port] : 0;
	const struct route *rt;
	uint32_t hop = 0, dst;

	if (!src || !slnf_icmp_error_allowed(p) || slnf_icmp_error_inplace(p, type, code, src)) {
		slnf_pkt_drop(p, reason);
		return;
	}
	dst = p->key.dst_ip;
	if (rte_lpm_lookup(r->lpm, dst, &hop) == 0)
		hop |= RTE_LPM_LOOKUP_SUCCESS;
	rt = route_of(r, hop);
	if (!rt) {
		slnf_pkt_drop(p, reason);
		return;
	}
	set_hop(p, rt, dst);
	p->drop_reason = (uint8_t)reason; /* the original is counted as dropped */
	tally->icmp_sent++;
}

/* Traffic to one of slnf's own addresses that no NF before the router
 * claimed (a NAT translates replies to its pool) is not forwarded. */
static bool is_own(const struct router *r, uint32_t addr)
{
	for (unsigned i = 0; i < r->n_own; i++)
		if (r->own[i] == addr)
			return true;
	return false;
}

static void router_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			   struct slnf_state_batch *writes)
{
	struct router *r = ctx;
	struct slnf_pkt *live[SLNF_BURST_MAX];
	uint32_t dst[SLNF_BURST_MAX], hop[SLNF_BURST_MAX];
	struct router_tally tally = { 0 };
	unsigned n = 0;

	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];

		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		dst[n] = rte_be_to_cpu_32(slnf_pkt_ip(p)->dst_addr);
		if (is_own(r, dst[n])) {
			slnf_pkt_drop(p, SLNF_DROP_LOCAL_UNSUPPORTED);
			continue;
		}
		live[n++] = p;
	}
	if (n == 0)
		return;
	rte_lpm_lookup_bulk(r->lpm, dst, hop, n);

	for (unsigned i = 0; i < n; i++) {
		struct slnf_pkt *p = live[i];
		struct rte_ipv4_hdr *ip = slnf_pkt_ip(p);
		const struct route *rt = route_of(r, hop[i]);
		uint16_t old, csum;

		if (!rt) {
			tally.no_route++;
			reject(r, p, SLNF_ICMP_DEST_UNREACH, SLNF_ICMP_NET_UNREACH,
			       SLNF_DROP_NO_ROUTE, &tally);
			continue;
		}
		if (ip->time_to_live <= 1) {
			tally.ttl_exceeded++;
			reject(r, p, SLNF_ICMP_TIME_EXCEEDED, SLNF_ICMP_TTL_EXCEEDED,
			       SLNF_DROP_TTL_EXCEEDED, &tally);
			continue;
		}
		old = (uint16_t)(ip->time_to_live << 8 | ip->next_proto_id);
		ip->time_to_live--;
		csum = slnf_csum_update16(rte_be_to_cpu_16(ip->hdr_checksum), old,
					  (uint16_t)(old - 0x100));
		ip->hdr_checksum = rte_cpu_to_be_16(csum);
		set_hop(p, rt, dst[i]);
		tally.forwarded++;
	}
	slnf_counter_add(&r->cnt.forwarded, tally.forwarded);
	slnf_counter_add(&r->cnt.no_route, tally.no_route);
	slnf_counter_add(&r->cnt.ttl_exceeded, tally.ttl_exceeded);
	slnf_counter_add(&r->cnt.icmp_sent, tally.icmp_sent);
}

static void router_stats(void *ctx, json_t *obj)
{
	struct router *r = ctx;

	if (!obj)
		return;
	json_object_set_new(obj, "routes", json_integer(r->n_routes));
	slnf_counter_report(obj, "forwarded", &r->cnt.forwarded);
	slnf_counter_report(obj, "no_route", &r->cnt.no_route);
	slnf_counter_report(obj, "ttl_exceeded", &r->cnt.ttl_exceeded);
	slnf_counter_report(obj, "icmp_sent", &r->cnt.icmp_sent);
}

static const struct slnf_nf_type router_nf = {
	.name = "router",
	.id = ROUTER_NF_ID,
	.summary = "IPv4 longest-prefix-match forwarding, TTL, ICMP errors",
	.create = router_create,
	.destroy = router_destroy,
	.process = router_process,
	.stats = router_stats,
};

SLNF_NF_REGISTER(router_nf)
