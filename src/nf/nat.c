/*
 * nat.c - the "nat" NF: NAT44 whose mappings live in the state store, so
 * any instance can translate a flow another instance mapped.
 *
 * A packet arriving on an "inside" port is outbound: its source endpoint
 * (address, port or ICMP echo identifier, protocol) is looked up in a
 * mapping record M(inside endpoint) -> outside endpoint, and rewritten to
 * it. A packet from elsewhere addressed to a pool address is inbound: the
 * reverse record R(outside endpoint) -> inside endpoint rewrites its
 * destination. Anything else passes untouched. Mapping is
 * endpoint-independent (RFC 4787): one outside endpoint per inside
 * endpoint whatever the destination. Filtering is endpoint-independent
 * (any remote may use it) or address-dependent: a permission record
 * P(outside endpoint, remote address), written on outbound, must exist
 * for an inbound packet to pass.
 *
 * On top of that: ICMP errors are translated through the record of the
 * endpoint their quote names (nat_icmp.c rewrites the quote); an outbound
 * packet to a pool address is hairpinned (source mapped, then destination
 * translated through the R record); and port forwards (nat_forward.c) are
 * static mappings from the config that need no record. classify() says
 * which of these a packet is, and is called by both phases.
 *
 * prepare() asks, for an outbound packet, for its mapping and for the
 * reverse records of up to NAT_PROBES candidate outside ports (the inside
 * port first, for port preservation; then random ports of the same
 * parity), all in one batch; packets needing the same record share one
 * read, and process() finds reads by key. process() walks the burst in
 * order with a working copy of each record read: a live mapping translates; one with less
 * than half its TTL left is refreshed (CAS on the mapping, PUT on the
 * reverse record, which always outlives its mapping by NAT_GRACE_MS). No
 * mapping: the first free candidate is claimed with PUT_IF_ABSENT on its
 * reverse record (or CAS when the record is this endpoint's own, left over
 * from an expired mapping), then the mapping is created with
 * PUT_IF_ABSENT; both writes precede the packet (write before forward).
 * A lost claim drops the packet as store_conflict and its retransmit
 * probes other ports. When the candidates covered the whole port range
 * and all were taken, the pool is exhausted: counted, and the packet
 * answered with ICMP destination unreachable, communication
 * administratively prohibited (type 3 code 13).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_random.h>

#include "slnf/nf.h"
#include "core/icmp.h"
#include "nf/nat_forward.h"
#include "nf/nat_icmp.h"
#include "nf/nat_rewrite.h"
#include "nf/params.h"

#define NAT_NF_ID 4
#define NAT_KEY_LEN 8
#define NAT_REC_LEN 16
#define NAT_PROBES 3
#define NAT_POOL_MAX 4096
#define NAT_GRACE_MS 30000u
#define NAT_KEY_MAPPING 'M'
#define NAT_KEY_REVERSE 'R'
#define NAT_KEY_PERMIT 'P'
#define NAT_PERMIT_KEY_LEN 12
#define NAT_PERMIT_LEN 8

enum nat_timeout { TO_TCP, TO_UDP, TO_ICMP, TO_NUM };
static const char *const timeout_names[] = { "tcp", "udp", "icmp", NULL };
/* RFC 5382 REQ-5 (established TCP), RFC 4787 REQ-5, RFC 5508 REQ-1. */
static const uint32_t timeout_defaults[TO_NUM] = { 7440, 300, 60 };

static const char *const filtering_words[] = { "endpoint-independent", "address-dependent",
					       NULL };

struct nat_counters {
	_Atomic uint64_t out, in, passed;
	_Atomic uint64_t created, preserved, adopted, refreshed;
	_Atomic uint64_t unmapped, unsupported, exhausted, probe_failed, icmp_sent;
	_Atomic uint64_t store_errors;
	_Atomic uint64_t icmp_errors_in, icmp_errors_out, bad_quote;
	_Atomic uint64_t hairpinned, forwarded_in, forwarded_out;
	_Atomic uint64_t filtered, permits;
};

struct nat {
	uint32_t tenant_id;
	bool inside[SLNF_MAX_PORTS];
	uint32_t icmp_src[SLNF_MAX_PORTS]; /* first address of each port, 0: none */
	uint32_t *pool;	  /* in config order: pool_addr() indexes it */
	uint32_t *pool_sorted; /* the same, sorted, for in_pool() */
	unsigned n_pool;
	uint16_t port_lo, port_hi;
	uint32_t timeout_ms[TO_NUM];
	bool address_dependent; /* filtering: RFC 4787 REQ-8's address-dependent */
	struct slnf_nat_forwards fwd;
	struct nat_counters cnt;
};

/* ---- parameters ---- */

static int parse_inside(struct nat *n, const struct slnf_nf_env *env, json_t *params,
			struct slnf_error *err)
{
	const struct slnf_config *cfg = env->cfg;
	json_t *arr, *v;
	size_t i;
	int rc = slnf_params_array(env, env->field, params, "inside", true, &arr, err);

	if (rc < 0)
		return rc;
	if (json_array_size(arr) == 0)
		return slnf_params_fail_at(env, err, EINVAL, env->field, "inside",
					   "must name at least one port");
	json_array_foreach(arr, i, v) {
		unsigned k;

		for (k = 0; json_is_string(v) && k < cfg->n_ports; k++)
			if (!strcmp(cfg->ports[k].name, json_string_value(v)))
				break;
		if (!json_is_string(v) || k == cfg->n_ports)
			return slnf_params_fail_at(env, err, EINVAL, env->field, "inside",
						   "element %zu is not the name of a port", i);
		n->inside[k] = true;
	}
	for (unsigned k = 0; k < cfg->n_ports && k < SLNF_MAX_PORTS; k++)
		n->icmp_src[k] = cfg->ports[k].n_addrs ? cfg->ports[k].addrs[0].addr : 0;
	return 0;
}

/* Append the addresses of prefix text s to the pool. */
static int pool_add(struct nat *n, const struct slnf_nf_env *env, const char *path,
		    const char *s, struct slnf_error *err)
{
	struct slnf_ipv4_prefix pfx;
	uint64_t count;

	if (slnf_parse_prefix(s, &pfx) || (pfx.addr & ~slnf_prefix_mask(pfx.len)))
		return slnf_params_fail(env, err, EINVAL, path,
					"bad address or prefix \"%s\" (expected a.b.c.d or "
					"a.b.c.d/len with no host bits)", s);
	count = (uint64_t)1 << (32 - pfx.len);
	if (pfx.len == 0 || n->n_pool + count > NAT_POOL_MAX)
		return slnf_params_fail(env, err, E2BIG, path, "more than %u pool addresses",
					NAT_POOL_MAX);
	for (uint64_t a = 0; a < count; a++)
		n->pool[n->n_pool++] = pfx.addr + (uint32_t)a;
	return 0;
}

static int parse_pool(struct nat *n, const struct slnf_nf_env *env, json_t *params,
		      struct slnf_error *err)
{
	char path[SLNF_PARAMS_PATH_MAX];
	json_t *v = json_object_get(params, "pool"), *e;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s.pool", env->field);
	if (!v)
		return slnf_params_fail(env, err, EINVAL, path, "missing (required)");
	n->pool = calloc(NAT_POOL_MAX, sizeof(*n->pool));
	if (!n->pool)
		return slnf_params_fail(env, err, ENOMEM, path, "out of memory");
	if (json_is_string(v))
		return pool_add(n, env, path, json_string_value(v), err);
	if (!json_is_array(v) || json_array_size(v) == 0)
		return slnf_params_fail(env, err, EINVAL, path,
					"must be a prefix or a non-empty array of addresses");
	json_array_foreach(v, i, e) {
		char epath[SLNF_PARAMS_PATH_MAX];

		if (snprintf(epath, sizeof(epath), "%s[%zu]", path, i) >= (int)sizeof(epath))
			epath[sizeof(epath) - 1] = '\0';
		if (!json_is_string(e))
			return slnf_params_fail(env, err, EINVAL, epath, "must be a string");
		rc = pool_add(n, env, epath, json_string_value(e), err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted copy in_pool() searches; a repeated address is refused. */
static int sort_pool(struct nat *n, const struct slnf_nf_env *env, struct slnf_error *err)
{
	n->pool_sorted = malloc(n->n_pool * sizeof(*n->pool_sorted));
	if (!n->pool_sorted)
		return slnf_params_fail_at(env, err, ENOMEM, env->field, "pool", "out of memory");
	memcpy(n->pool_sorted, n->pool, n->n_pool * sizeof(*n->pool_sorted));
	qsort(n->pool_sorted, n->n_pool, sizeof(*n->pool_sorted), cmp_addr);
	for (unsigned i = 1; i < n->n_pool; i++)
		if (n->pool_sorted[i] == n->pool_sorted[i - 1])
			return slnf_params_fail_at(env, err, EINVAL, env->field, "pool",
						   "address %u.%u.%u.%u is given twice",
						   n->pool_sorted[i] >> 24, n->pool_sorted[i] >> 16 & 255,
						   n->pool_sorted[i] >> 8 & 255, n->pool_sorted[i] & 255);
	return 0;
}

static int parse_timeouts(struct nat *n, const struct slnf_nf_env *env, json_t *params,
			  struct slnf_error *err)
{
	return slnf_params_timeouts(env, params, timeout_names, timeout_defaults, n->timeout_ms,
				    err);
}

static int parse_ports(struct nat *n, const struct slnf_nf_env *env, json_t *params,
		       struct slnf_error *err)
{
	int rc = slnf_params_port_range(env, env->field, params, "ports", &n->port_lo,
					&n->port_hi, err);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		n->port_lo = 1024;
		n->port_hi = UINT16_MAX;
	} else if (n->port_lo == 0) {
		return slnf_params_fail_at(env, err, EINVAL, env->field, "ports",
					   "port 0 cannot be allocated (start at 1 or above)");
	}
	return 0;
}

static int parse_filtering(struct nat *n, const struct slnf_nf_env *env, json_t *params,
			   struct slnf_error *err)
{
	unsigned f = 0;
	int rc = slnf_params_word(env, env->field, params, "filtering", false, filtering_words,
				  &f, err);

	n->address_dependent = f == 1;
	return rc < 0 ? rc : 0;
}

static void nat_destroy(void *ctx)
{
	struct nat *n = ctx;

	if (!n)
		return;
	free(n->pool);
	free(n->pool_sorted);
	free(n);
}

static int nat_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
		      struct slnf_error *err)
{
	static const char *const keys[] = { "nf",	"inside",    "pool",	 "ports",
					    "timeouts", "filtering", "forwards", NULL };
	struct nat *n;
	int rc;

	rc = slnf_params_check_keys(env, env->field, params, keys, err);
	if (rc < 0)
		return rc;
	n = calloc(1, sizeof(*n));
	if (!n)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	n->tenant_id = env->cfg->tenants[env->tenant].id;
	rc = parse_inside(n, env, params, err);
	if (rc >= 0)
		rc = parse_pool(n, env, params, err);
	if (rc >= 0)
		rc = sort_pool(n, env, err);
	if (rc >= 0)
		rc = parse_ports(n, env, params, err);
	if (rc >= 0)
		rc = parse_timeouts(n, env, params, err);
	if (rc >= 0)
		rc = parse_filtering(n, env, params, err);
	if (rc >= 0)
		rc = slnf_nat_forwards_parse(env, params, n->pool, n->n_pool, &n->fwd, err);
	if (rc < 0) {
		nat_destroy(n);
		return rc;
	}
	*ctx = n;
	return 0;
}

/* ---- endpoints, keys and records ---- */

struct nat_ep {
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
};

/* A mapping or reverse record: the other endpoint and the mapping's expiry. */
struct nat_rec {
	uint32_t ip;
	uint16_t port;
	uint64_t expires_ms;
};

enum nat_dir {
	NAT_PASS,	 /* not the NAT's */
	NAT_OUT,	 /* from inside: source translated (and destination, hairpin) */
	NAT_IN,		 /* to a pool address: destination translated */
	NAT_ERR_OUT,	 /* ICMP error from inside quoting an inbound packet */
	NAT_ERR_IN,	 /* ICMP error to a pool address quoting an outbound packet */
	NAT_UNSUPPORTED, /* from inside, cannot be translated */
	NAT_BAD_QUOTE,	 /* an ICMP error whose quote cannot be read */
};

/* What the NAT makes of a packet. */
struct nat_cls {
	enum nat_dir d;
	/* the endpoint that decides: OUT, ERR_OUT: the inside endpoint (its M
	 * record); IN, ERR_IN: the outside one (its R record) */
	struct nat_ep e;
	uint32_t remote; /* the remote address filtering looks at */
	const struct slnf_nat_forward *fwd; /* e is this forward's */
	bool hairpin;			    /* OUT to a pool address */
	struct nat_ep hp;		    /* hairpin: the outside destination */
	const struct slnf_nat_forward *hp_fwd;
	struct slnf_nat_quote q; /* ERR_*: the quoted packet */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_ep(uint8_t *d, const struct nat_ep *e)
{
	d[0] = (uint8_t)(e->ip >> 24);
	d[1] = (uint8_t)(e->ip >> 16);
	d[2] = (uint8_t)(e->ip >> 8);
	d[3] = (uint8_t)e->ip;
	d[4] = (uint8_t)(e->port >> 8);
	d[5] = (uint8_t)e->port;
	d[6] = e->proto;
}

static void ep_key(const struct nat *n, char kind, const struct nat_ep *e,
		   struct slnf_store_key *k)
{
	uint8_t d[NAT_KEY_LEN] = { (uint8_t)kind };

	put_ep(d + 1, e);
	slnf_store_key_init(k, n->tenant_id, NAT_NF_ID, d, NAT_KEY_LEN);
}

/* The permission for remote address remote to reach outside endpoint o. */
static void permit_key(const struct nat *n, const struct nat_ep *o, uint32_t remote,
		       struct slnf_store_key *k)
{
	uint8_t d[NAT_PERMIT_KEY_LEN] = { NAT_KEY_PERMIT };

	put_ep(d + 1, o);
	d[8] = (uint8_t)(remote >> 24);
	d[9] = (uint8_t)(remote >> 16);
	d[10] = (uint8_t)(remote >> 8);
	d[11] = (uint8_t)remote;
	slnf_store_key_init(k, n->tenant_id, NAT_NF_ID, d, NAT_PERMIT_KEY_LEN);
}

static uint16_t key_port(const struct slnf_store_key *k)
{
	return (uint16_t)(k->data[5] << 8 | k->data[6]);
}

static void rec_encode(const struct nat_rec *r, uint8_t *v)
{
	memset(v, 0, NAT_REC_LEN);
	memcpy(v, &r->ip, 4);
	memcpy(v + 4, &r->port, 2);
	memcpy(v + 8, &r->expires_ms, 8);
}

static bool rec_decode(struct nat_rec *r, const struct slnf_store_op *op)
{
	if (op->status || op->val_len != NAT_REC_LEN)
		return false;
	memcpy(&r->ip, op->val, 4);
	memcpy(&r->port, op->val + 4, 2);
	memcpy(&r->expires_ms, op->val + 8, 8);
	return true;
}

/* The expiry a permission record holds, 0 when none. */
static uint64_t permit_expiry(const struct slnf_store_op *op)
{
	uint64_t exp;

	if (!op || op->status || op->val_len != NAT_PERMIT_LEN)
		return 0;
	memcpy(&exp, op->val, sizeof(exp));
	return exp;
}

static uint32_t timeout_of(const struct nat *n, uint8_t proto)
{
	return n->timeout_ms[proto == IPPROTO_TCP ? TO_TCP : proto == IPPROTO_UDP ? TO_UDP
										   : TO_ICMP];
}

static bool in_pool(const struct nat *n, uint32_t ip)
{
	unsigned lo = 0, hi = n->n_pool;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (n->pool_sorted[mid] == ip)
			return true;
		if (n->pool_sorted[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool later_fragment(const struct slnf_pkt *p)
{
	return (p->flags & SLNF_PKT_F_FRAG) && !(p->flags & SLNF_PKT_F_FIRST_FRAG);
}

static uint8_t icmp_type(const struct slnf_pkt *p)
{
	return *rte_pktmbuf_mtod_offset(p->m, const uint8_t *, p->l4_off);
}

static uint32_t pool_addr(const struct nat *n, uint32_t inside_ip)
{
	/* paired pooling (RFC 4787 REQ-2): one outside address per inside host */
	return n->pool[(inside_ip * 2654435761u >> 8) % n->n_pool];
}

/* An ICMP error: which way, and the endpoint of the quote that decides. */
static enum nat_dir classify_error(const struct nat *n, const struct slnf_pkt *p, bool out,
				   struct nat_cls *c)
{
	struct slnf_nat_quote *q = &c->q;

	if (slnf_nat_quote_parse(p, q) < 0)
		return NAT_BAD_QUOTE;
	c->e.proto = q->proto;
	if (out) {
		/* the quote is a packet the NAT sent in: its destination */
		c->e.ip = q->dst;
		c->e.port = q->dport;
		if (q->proto != IPPROTO_ICMP)
			c->fwd = slnf_nat_forward_in(&n->fwd, q->proto, q->dst, q->dport);
		return NAT_ERR_OUT;
	}
	/* the quote is a packet the NAT sent out: its source */
	c->e.ip = q->src;
	c->e.port = q->sport;
	c->remote = q->dst;
	if (q->proto != IPPROTO_ICMP)
		c->fwd = slnf_nat_forward_out(&n->fwd, q->proto, q->src, q->sport);
	return NAT_ERR_IN;
}

/* Which way p goes through the NAT and what decides its translation. */
static enum nat_dir classify(const struct nat *n, const struct slnf_pkt *p, struct nat_cls *c)
{
	bool out = p->in_port < SLNF_MAX_PORTS && n->inside[p->in_port];
	uint8_t proto = p->key.proto;

	memset(c, 0, offsetof(struct nat_cls, q));
	if (!out && !in_pool(n, p->key.dst_ip))
		return c->d = NAT_PASS;
	if (later_fragment(p))
		return c->d = out ? NAT_UNSUPPORTED : NAT_PASS;
	if (proto == IPPROTO_ICMP) {
		uint8_t type = icmp_type(p);

		if (slnf_nat_icmp_is_error(type))
			return c->d = classify_error(n, p, out, c);
		if (type != (out ? RTE_IP_ICMP_ECHO_REQUEST : RTE_IP_ICMP_ECHO_REPLY))
			return c->d = out ? NAT_UNSUPPORTED : NAT_PASS;
	} else if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		return c->d = out ? NAT_UNSUPPORTED : NAT_PASS;
	}
	c->e.proto = proto;
	c->e.ip = out ? p->key.src_ip : p->key.dst_ip;
	c->e.port = out ? p->key.src_port : p->key.dst_port;
	c->remote = out ? p->key.dst_ip : p->key.src_ip;
	if (proto == IPPROTO_ICMP)
		return c->d = out ? NAT_OUT : NAT_IN;
	c->fwd = out ? slnf_nat_forward_in(&n->fwd, proto, c->e.ip, c->e.port)
		     : slnf_nat_forward_out(&n->fwd, proto, c->e.ip, c->e.port);
	if (out && in_pool(n, p->key.dst_ip)) {
		c->hairpin = true;
		c->hp = (struct nat_ep){ p->key.dst_ip, p->key.dst_port, proto };
		c->hp_fwd = slnf_nat_forward_out(&n->fwd, proto, c->hp.ip, c->hp.port);
	}
	return c->d = out ? NAT_OUT : NAT_IN;
}

/* The outside address an inside endpoint's packets leave with. */
static uint32_t outside_addr(const struct nat *n, const struct nat_cls *c)
{
	return c->fwd ? c->fwd->out_ip : pool_addr(n, c->e.ip);
}

/* ---- prepare: the records each packet needs ---- */

/* Candidate j of nprobes for inside port: the whole range when it is
 * small, else the inside port (preserved) then random same-parity ports. */
static uint16_t candidate(const struct nat *n, uint16_t port, unsigned j)
{
	uint32_t size = (uint32_t)n->port_hi - n->port_lo + 1, c;

	if (size <= NAT_PROBES)
		return (uint16_t)(n->port_lo + j);
	if (j == 0 && port >= n->port_lo && port <= n->port_hi)
		return port;
	c = n->port_lo + (uint32_t)(rte_rand() % size);
	c = (c & ~1u) | (port & 1u);
	if (c > n->port_hi)
		c -= 2;
	if (c < n->port_lo)
		c += 2;
	return (uint16_t)c;
}

static unsigned n_probes(const struct nat *n)
{
	uint32_t size = (uint32_t)n->port_hi - n->port_lo + 1;

	return size < NAT_PROBES ? size : NAT_PROBES;
}

static bool same_key(const struct slnf_store_key *a, const struct slnf_store_key *b)
{
	return a->len == b->len && a->data[0] == b->data[0] && a->tenant == b->tenant &&
	       a->nf == b->nf && !memcmp(a->data, b->data, a->len);
}

/* The index of the request for key in batch, or -1. Packets of a burst
 * that need one record share one read (and one working copy of it). */
static int find_req(const struct slnf_state_batch *batch, const struct slnf_store_key *k)
{
	for (int j = 0; j < (int)batch->n; j++)
		if (same_key(&batch->reqs[j].op.key, k))
			return j;
	return -1;
}

/* Read k for packet i unless the batch reads it already. A read that was
 * only a candidate probe (made unless the mapping hits the cache) becomes
 * unconditional: this packet needs it either way, e.g. a hairpinned
 * packet to its own sender's outside endpoint. */
static void need(struct slnf_state_batch *reads, struct slnf_burst *b, uint16_t i,
		 const struct slnf_store_key *k)
{
	int idx = find_req(reads, k);

	if (idx < 0)
		slnf_state_get(reads, b, i, k);
	else
		reads->reqs[idx].unless_hit = -1;
}

/* The mapping of inside endpoint e, followed by the reverse records of its
 * candidate outside ports: all or nothing, so process() finds the probes
 * right behind every M read. */
static void need_mapping(const struct nat *n, struct slnf_state_batch *reads,
			 struct slnf_burst *b, uint16_t i, const struct nat_ep *e)
{
	struct nat_ep o = { pool_addr(n, e->ip), 0, e->proto };
	struct slnf_store_key k;
	unsigned np = n_probes(n);

	ep_key(n, NAT_KEY_MAPPING, e, &k);
	if (find_req(reads, &k) >= 0 || (unsigned)(reads->cap - reads->n) < 1 + np)
		return;
	int16_t m = (int16_t)reads->n;
	slnf_state_get(reads, b, i, &k);
	/* the probes are only needed when the mapping is not in the cache */
	for (unsigned j = 0; j < np; j++) {
		o.port = candidate(n, e->port, j);
		ep_key(n, NAT_KEY_REVERSE, &o, &k);
		slnf_state_get_unless_hit(reads, b, i, &k, m);
	}
}

static void prepare_out(const struct nat *n, struct slnf_state_batch *reads,
			struct slnf_burst *b, uint16_t i, const struct nat_cls *c)
{
	struct slnf_store_key k;

	if (!c->fwd)
		need_mapping(n, reads, b, i, &c->e);
	if (c->hairpin && !c->hp_fwd) {
		ep_key(n, NAT_KEY_REVERSE, &c->hp, &k);
		need(reads, b, i, &k);
		if (n->address_dependent) {
			permit_key(n, &c->hp, outside_addr(n, c), &k);
			need(reads, b, i, &k);
		}
	}
	if (n->address_dependent && !c->fwd) {
		/* optional: the permission under the preserved port, the usual
		 * outside endpoint; without it process() writes the permission */
		struct nat_ep guess = { pool_addr(n, c->e.ip), c->e.port, c->e.proto };

		permit_key(n, &guess, c->remote, &k);
		if (reads->n < reads->cap)
			need(reads, b, i, &k);
	}
}

static void nat_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	struct nat *n = ctx;

	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		struct slnf_store_key k;
		struct nat_cls c;

		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		switch (classify(n, p, &c)) {
		case NAT_OUT:
			prepare_out(n, reads, b, i, &c);
			break;
		case NAT_ERR_OUT:
			if (!c.fwd)
				need_mapping(n, reads, b, i, &c.e);
			break;
		case NAT_IN:
		case NAT_ERR_IN:
			if (c.fwd)
				break;
			ep_key(n, NAT_KEY_REVERSE, &c.e, &k);
			need(reads, b, i, &k);
			if (n->address_dependent) {
				permit_key(n, &c.e, c.remote, &k);
				need(reads, b, i, &k);
			}
			break;
		default:
			break;
		}
	}
}

/* ---- process ---- */

/* A mapping as the burst has left it so far. */
struct nat_work {
	bool init;
	bool stored; /* the store holds the mapping at version */
	bool live;   /* rec is valid and unexpired */
	uint64_t version;
	struct nat_rec rec;
};

/* Ports claimed in this burst, so two inside endpoints never take the same
 * free candidate. */
struct nat_claims {
	unsigned n;
	struct nat_ep ep[SLNF_BURST_MAX];
};

struct nat_run {
	struct nat *n;
	struct slnf_burst *b;
	struct slnf_state_batch *reads, *writes;
	struct nat_work *work;
	struct nat_claims claims;
	uint64_t now;
};

static bool claimed(const struct nat_claims *c, const struct nat_ep *o)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->ep[i].ip == o->ip && c->ep[i].port == o->port && c->ep[i].proto == o->proto)
			return true;
	return false;
}

/* Queue a write of rec under key for packet i. */
static bool queue_write(struct nat_run *r, uint16_t i, enum slnf_store_opcode opc,
			const struct slnf_store_key *k, const struct nat_rec *rec,
			uint64_t version, uint32_t ttl)
{
	struct slnf_store_op *op = slnf_state_write(r->writes, i, opc, k);

	if (!op)
		return false;
	op->ttl_ms = ttl;
	op->version = version;
	op->val_len = NAT_REC_LEN;
	rec_encode(rec, op->val);
	return true;
}

/* Write the mapping e -> o (and its reverse, first) for packet i. rev is
 * the reverse record's read when it exists (this endpoint's own), else
 * NULL. Advances the working copy. */
static bool write_mapping(struct nat_run *r, uint16_t i, const struct nat_ep *e,
			  const struct nat_ep *o, const struct slnf_store_op *rev,
			  struct nat_work *w)
{
	uint32_t ttl = timeout_of(r->n, e->proto);
	struct nat_rec m = { o->ip, o->port, r->now + ttl }, rv = { e->ip, e->port, m.expires_ms };
	struct slnf_store_key mk, rk;
	enum slnf_store_opcode ropc = rev ? SLNF_STORE_CAS : SLNF_STORE_PUT_IF_ABSENT;

	ep_key(r->n, NAT_KEY_MAPPING, e, &mk);
	ep_key(r->n, NAT_KEY_REVERSE, o, &rk);
	if (w->live)
		ropc = SLNF_STORE_PUT; /* refresh: the reverse outlives its mapping */
	if (!queue_write(r, i, ropc, &rk, &rv, rev ? rev->version : 0, ttl + NAT_GRACE_MS) ||
	    !queue_write(r, i, w->stored ? SLNF_STORE_CAS : SLNF_STORE_PUT_IF_ABSENT, &mk, &m,
			 w->version, ttl))
		return false;
	w->version = w->stored ? w->version + 1 : 1;
	w->stored = w->live = true;
	w->rec = m;
	return true;
}

/* The working copy of the record read at index idx. */
static struct nat_work *work_of(struct nat_run *r, int idx)
{
	struct nat_work *w = &r->work[idx];
	const struct slnf_store_op *rd = &r->reads->reqs[idx].op;

	if (!w->init) {
		w->init = true;
		w->stored = rd->status == 0;
		w->version = rd->version;
		w->live = rec_decode(&w->rec, rd) && w->rec.expires_ms > r->now;
	}
	return w;
}

/* The read of record key k, or -1 (and p dropped) when it was not read or
 * the read failed: no translation without the store (fail closed). */
static int read_of(struct nat_run *r, struct slnf_pkt *p, const struct slnf_store_key *k)
{
	int idx = find_req(r->reads, k);
	const struct slnf_store_op *rd = idx >= 0 ? &r->reads->reqs[idx].op : NULL;

	if (!rd || (rd->status && rd->status != -ENOENT) || idx >= (int)(SLNF_BURST_MAX * 4)) {
		slnf_counter_add(&r->n->cnt.store_errors, 1);
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return -1;
	}
	return idx;
}

/* The live mapping (kind M) or reverse record (kind R) of e, or NULL with p
 * dropped (store error, or unmapped). */
static const struct nat_rec *live_rec(struct nat_run *r, struct slnf_pkt *p, char kind,
				      const struct nat_ep *e)
{
	struct slnf_store_key k;
	struct nat_work *w;
	int idx;

	ep_key(r->n, kind, e, &k);
	idx = read_of(r, p, &k);
	if (idx < 0)
		return NULL;
	w = work_of(r, idx);
	if (!w->live) {
		slnf_counter_add(&r->n->cnt.unmapped, 1);
		slnf_pkt_drop(p, SLNF_DROP_NAT_UNMAPPED);
		return NULL;
	}
	return &w->rec;
}

/* Address-dependent filtering: may remote reach outside endpoint o? A
 * missing read fails closed like any other. */
static bool permitted(struct nat_run *r, struct slnf_pkt *p, const struct nat_ep *o,
		      uint32_t remote)
{
	struct slnf_store_key k;
	int idx;

	permit_key(r->n, o, remote, &k);
	idx = read_of(r, p, &k);
	if (idx < 0)
		return false;
	if (permit_expiry(&r->reads->reqs[idx].op) > r->now)
		return true;
	slnf_counter_add(&r->n->cnt.filtered, 1);
	slnf_pkt_drop(p, SLNF_DROP_NAT_FILTERED);
	return false;
}

/* Outbound from o to remote: make sure the permission for remote exists
 * and has at least half its lifetime left. */
static bool permit(struct nat_run *r, uint16_t i, const struct nat_ep *o, uint32_t remote)
{
	uint32_t ttl = timeout_of(r->n, o->proto);
	uint64_t exp = r->now + ttl;
	struct slnf_store_key k;
	struct slnf_store_op *op;
	int idx;

	permit_key(r->n, o, remote, &k);
	idx = find_req(r->reads, &k);
	if (idx >= 0 && permit_expiry(&r->reads->reqs[idx].op) > r->now + ttl / 2)
		return true;
	if (find_req(r->writes, &k) >= 0)
		return true; /* an earlier packet of this burst writes it */
	op = slnf_state_write(r->writes, i, SLNF_STORE_PUT, &k);
	if (!op)
		return false;
	op->ttl_ms = ttl;
	op->val_len = NAT_PERMIT_LEN;
	memcpy(op->val, &exp, sizeof(exp));
	slnf_counter_add(&r->n->cnt.permits, 1);
	return true;
}

/* Answer p with ICMP 3/13 from its ingress port's address, if allowed. */
static void answer_exhausted(struct nat_run *r, struct slnf_pkt *p)
{
	uint32_t src = p->in_port < SLNF_MAX_PORTS ? r->n->icmp_src[p->in_port] : 0;

	slnf_counter_add(&r->n->cnt.exhausted, 1);
	if (!src || !slnf_icmp_error_allowed(p) ||
	    slnf_icmp_error_inplace(p, SLNF_ICMP_DEST_UNREACH, SLNF_ICMP_ADMIN_PROHIBITED, src)) {
		slnf_pkt_drop(p, SLNF_DROP_STORE_CONFLICT);
		return;
	}
	/* forwarded as the ICMP error; the drop is counted under the reason */
	p->drop_reason = SLNF_DROP_STORE_CONFLICT;
	slnf_counter_add(&r->n->cnt.icmp_sent, 1);
}

/* The first usable candidate port for e among the probes read after the
 * mapping at index m: free (no record, not a forward's, not claimed in
 * this burst), or held by e itself. Returns its probe index or -1;
 * *covered tells whether the probes were the whole port range. */
static int pick_port(struct nat_run *r, int m, const struct nat_ep *e, struct nat_ep *o,
		     bool *covered)
{
	unsigned np = n_probes(r->n);
	struct nat_rec rv;

	*covered = (uint32_t)r->n->port_hi - r->n->port_lo + 1 <= np;
	if (m + 1 + (int)np > (int)r->reads->n)
		return -1;
	for (unsigned j = 0; j < np; j++) {
		const struct slnf_store_op *op = &r->reads->reqs[m + 1 + (int)j].op;

		o->ip = pool_addr(r->n, e->ip);
		o->port = key_port(&op->key);
		o->proto = e->proto;
		if (claimed(&r->claims, o) ||
		    slnf_nat_forward_out(&r->n->fwd, o->proto, o->ip, o->port))
			continue;
		if (op->status == -ENOENT)
			return (int)j;
		if (rec_decode(&rv, op) && rv.ip == e->ip && rv.port == e->port)
			return (int)j;
		if (op->status && op->status != -ENOENT)
			*covered = false; /* unknown, not taken */
	}
	return -1;
}

/* No live mapping: claim a port and create one. */
static void create_mapping(struct nat_run *r, struct slnf_pkt *p, uint16_t i, int m,
			   const struct nat_ep *e, struct nat_work *w)
{
	struct nat_ep o;
	bool covered;
	int j = pick_port(r, m, e, &o, &covered);
	const struct slnf_store_op *rev;

	if (j < 0) {
		if (covered) {
			answer_exhausted(r, p);
			return;
		}
		slnf_counter_add(&r->n->cnt.probe_failed, 1);
		slnf_pkt_drop(p, SLNF_DROP_STORE_CONFLICT);
		return;
	}
	rev = &r->reads->reqs[m + 1 + j].op;
	if (!write_mapping(r, i, e, &o, rev->status == 0 ? rev : NULL, w)) {
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	if (r->claims.n < SLNF_BURST_MAX)
		r->claims.ep[r->claims.n++] = o;
	slnf_counter_add(&r->n->cnt.created, 1);
	if (rev->status == 0)
		slnf_counter_add(&r->n->cnt.adopted, 1);
	else if (o.port == e->port)
		slnf_counter_add(&r->n->cnt.preserved, 1);
}

/* The outside endpoint of inside endpoint e, created or refreshed as
 * needed; false when p was dropped (or became an ICMP error). */
static bool map_source(struct nat_run *r, struct slnf_pkt *p, uint16_t i,
		       const struct nat_ep *e, struct nat_ep *o)
{
	uint32_t ttl = timeout_of(r->n, e->proto);
	struct slnf_store_key k;
	struct nat_work *w;
	int m;

	ep_key(r->n, NAT_KEY_MAPPING, e, &k);
	m = read_of(r, p, &k);
	if (m < 0)
		return false;
	w = work_of(r, m);
	if (!w->live) {
		create_mapping(r, p, i, m, e, w);
	} else if (w->rec.expires_ms < r->now + ttl / 2) {
		struct nat_ep cur = { w->rec.ip, w->rec.port, e->proto };

		if (!write_mapping(r, i, e, &cur, NULL, w)) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			return false;
		}
		slnf_counter_add(&r->n->cnt.refreshed, 1);
	}
	if (p->verdict != SLNF_VERDICT_FORWARD || p->drop_reason)
		return false;
	*o = (struct nat_ep){ w->rec.ip, w->rec.port, e->proto };
	return true;
}

/* Hairpinning (RFC 4787 REQ-9): the inside endpoint behind the outside
 * destination c->hp, as an inbound packet from src_out would find it. */
static bool hairpin_target(struct nat_run *r, struct slnf_pkt *p, const struct nat_cls *c,
			   uint32_t src_out, struct nat_ep *to)
{
	const struct nat_rec *rec;

	if (c->hp_fwd) {
		*to = (struct nat_ep){ c->hp_fwd->in_ip, c->hp_fwd->in_port, c->hp.proto };
		return true;
	}
	rec = live_rec(r, p, NAT_KEY_REVERSE, &c->hp);
	if (!rec || (r->n->address_dependent && !permitted(r, p, &c->hp, src_out)))
		return false;
	*to = (struct nat_ep){ rec->ip, rec->port, c->hp.proto };
	return true;
}

static void nat_outbound(struct nat_run *r, struct slnf_pkt *p, uint16_t i,
			 const struct nat_cls *c)
{
	struct nat_ep o, to = { 0, 0, 0 };

	/* the source first: a hairpinned packet filtered at its destination
	 * still makes its mapping and permission, as one sent out would */
	if (c->fwd) {
		o = (struct nat_ep){ c->fwd->out_ip, c->fwd->out_port, c->e.proto };
		slnf_counter_add(&r->n->cnt.forwarded_out, 1);
	} else if (!map_source(r, p, i, &c->e, &o)) {
		return;
	} else if (r->n->address_dependent && !permit(r, i, &o, c->remote)) {
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	if (c->hairpin && !hairpin_target(r, p, c, o.ip, &to))
		return;
	slnf_nat_rewrite(p, SLNF_NAT_SRC, o.ip, o.port);
	slnf_counter_add(&r->n->cnt.out, 1);
	if (c->hairpin) {
		slnf_nat_rewrite(p, SLNF_NAT_DST, to.ip, to.port);
		slnf_counter_add(&r->n->cnt.hairpinned, 1);
	}
}

/* Inbound, or an ICMP error inbound: the inside endpoint from a forward or
 * the reverse record (and, filtering by address, its permission). */
static void nat_inbound(struct nat_run *r, struct slnf_pkt *p, struct nat_cls *c)
{
	struct nat_ep to = { 0, 0, c->e.proto };

	if (c->fwd) {
		to.ip = c->fwd->in_ip;
		to.port = c->fwd->in_port;
		slnf_counter_add(&r->n->cnt.forwarded_in, 1);
	} else {
		const struct nat_rec *rec = live_rec(r, p, NAT_KEY_REVERSE, &c->e);

		if (!rec || (r->n->address_dependent && !permitted(r, p, &c->e, c->remote)))
			return;
		to.ip = rec->ip;
		to.port = rec->port;
	}
	if (c->d == NAT_IN) {
		slnf_nat_rewrite(p, SLNF_NAT_DST, to.ip, to.port);
		slnf_counter_add(&r->n->cnt.in, 1);
		return;
	}
	slnf_nat_quote_rewrite(p, &c->q, SLNF_NAT_SRC, to.ip, to.port);
	slnf_nat_rewrite_addr(p, SLNF_NAT_DST, to.ip);
	slnf_counter_add(&r->n->cnt.icmp_errors_in, 1);
}

/* An ICMP error from inside about an inbound packet: the quote's
 * destination and the error's source become the outside endpoint. Never
 * creates a mapping. */
static void nat_error_out(struct nat_run *r, struct slnf_pkt *p, struct nat_cls *c)
{
	struct nat_ep o = { 0, 0, c->e.proto };

	if (c->fwd) {
		o.ip = c->fwd->out_ip;
		o.port = c->fwd->out_port;
	} else {
		const struct nat_rec *rec = live_rec(r, p, NAT_KEY_MAPPING, &c->e);

		if (!rec)
			return;
		o.ip = rec->ip;
		o.port = rec->port;
	}
	slnf_nat_quote_rewrite(p, &c->q, SLNF_NAT_DST, o.ip, o.port);
	slnf_nat_rewrite_addr(p, SLNF_NAT_SRC, o.ip);
	slnf_counter_add(&r->n->cnt.icmp_errors_out, 1);
}

static void nat_packet(struct nat_run *r, struct slnf_pkt *p, uint16_t i)
{
	struct nat_cls c;

	switch (classify(r->n, p, &c)) {
	case NAT_PASS:
		slnf_counter_add(&r->n->cnt.passed, 1);
		break;
	case NAT_UNSUPPORTED:
		slnf_counter_add(&r->n->cnt.unsupported, 1);
		slnf_pkt_drop(p, SLNF_DROP_NAT_UNSUPPORTED);
		break;
	case NAT_BAD_QUOTE:
		slnf_counter_add(&r->n->cnt.bad_quote, 1);
		slnf_pkt_drop(p, SLNF_DROP_ICMP_MALFORMED);
		break;
	case NAT_OUT:
		nat_outbound(r, p, i, &c);
		break;
	case NAT_ERR_OUT:
		nat_error_out(r, p, &c);
		break;
	case NAT_IN:
	case NAT_ERR_IN:
		nat_inbound(r, p, &c);
		break;
	}
}

static void nat_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			struct slnf_state_batch *writes)
{
	struct nat_work work[SLNF_BURST_MAX * 4];
	struct nat_run r = { .n = ctx, .b = b, .reads = reads, .writes = writes, .work = work,
			     .now = now_ms() };

	for (unsigned i = 0; i < RTE_DIM(work); i++)
		work[i].init = false;
	for (uint16_t i = 0; i < b->n; i++) {
		if (b->pkts[i]->verdict == SLNF_VERDICT_FORWARD)
			nat_packet(&r, b->pkts[i], i);
	}
}

static void nat_stats(void *ctx, json_t *obj)
{
	struct nat *n = ctx;
	const struct nat_counters *c = &n->cnt;

	if (!obj)
		return;
	json_object_set_new(obj, "pool_addresses", json_integer(n->n_pool));
	json_object_set_new(obj, "forwards", json_integer(n->fwd.n));
	slnf_counter_report(obj, "translated_out", &c->out);
	slnf_counter_report(obj, "translated_in", &c->in);
	slnf_counter_report(obj, "passed", &c->passed);
	slnf_counter_report(obj, "created", &c->created);
	slnf_counter_report(obj, "preserved", &c->preserved);
	slnf_counter_report(obj, "adopted", &c->adopted);
	slnf_counter_report(obj, "refreshed", &c->refreshed);
	slnf_counter_report(obj, "unmapped", &c->unmapped);
	slnf_counter_report(obj, "unsupported", &c->unsupported);
	slnf_counter_report(obj, "exhausted", &c->exhausted);
	slnf_counter_report(obj, "probe_failed", &c->probe_failed);
	slnf_counter_report(obj, "icmp_sent", &c->icmp_sent);
	slnf_counter_report(obj, "store_errors", &c->store_errors);
	slnf_counter_report(obj, "icmp_errors_in", &c->icmp_errors_in);
	slnf_counter_report(obj, "icmp_errors_out", &c->icmp_errors_out);
	slnf_counter_report(obj, "bad_quote", &c->bad_quote);
	slnf_counter_report(obj, "hairpinned", &c->hairpinned);
	slnf_counter_report(obj, "forwarded_in", &c->forwarded_in);
	slnf_counter_report(obj, "forwarded_out", &c->forwarded_out);
	slnf_counter_report(obj, "filtered", &c->filtered);
	slnf_counter_report(obj, "permits", &c->permits);
}

static const struct slnf_nf_type nat_nf = {
	.name = "nat",
	.id = NAT_NF_ID,
	.summary = "NAT44: endpoint-independent mappings kept in the store, port forwards, "
		   "hairpinning, ICMP error translation",
	.create = nat_create,
	.destroy = nat_destroy,
	.prepare = nat_prepare,
	.process = nat_process,
	.stats = nat_stats,
};

SLNF_NF_REGISTER(nat_nf)
