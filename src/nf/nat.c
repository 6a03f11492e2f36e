/*
 * nat.c - the "nat" NF: source NAT44 whose mappings live in the state
 * store, so any instance can translate a flow another instance mapped.
 *
 * A packet arriving on an "inside" port is outbound: its source endpoint
 * (address, port or ICMP echo identifier, protocol) is looked up in a
 * mapping record M(inside endpoint) -> outside endpoint, and rewritten to
 * it. A packet from elsewhere addressed to a pool address is inbound: the
 * reverse record R(outside endpoint) -> inside endpoint rewrites its
 * destination. Anything else passes untouched. Mapping and filtering are
 * endpoint-independent (RFC 4787): one outside endpoint per inside
 * endpoint whatever the destination, and any remote may use it.
 *
 * prepare() asks, for an outbound packet, for its mapping and for the
 * reverse records of up to NAT_PROBES candidate outside ports (the inside
 * port first, for port preservation; then random ports of the same
 * parity), all in one batch. process() walks the burst in order with a
 * working copy of each mapping: a live mapping translates; one with less
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_random.h>

#include "slnf/nf.h"
#include "core/icmp.h"
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
};

struct nat {
	uint32_t tenant_id;
	bool inside[SLNF_MAX_PORTS];
	uint32_t icmp_src[SLNF_MAX_PORTS]; /* first address of each port, 0: none */
	uint32_t *pool;
	unsigned n_pool;
	uint16_t port_lo, port_hi;
	uint32_t timeout_ms[TO_NUM];
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

static int parse_filtering(const struct slnf_nf_env *env, json_t *params,
			   struct slnf_error *err)
{
	unsigned f = 0;
	int rc = slnf_params_word(env, env->field, params, "filtering", false, filtering_words,
				  &f, err);

	if (rc >= 0 && f != 0)
		return slnf_params_fail_at(env, err, ENOTSUP, env->field, "filtering",
					   "only endpoint-independent is implemented");
	return rc < 0 ? rc : 0;
}

static void nat_destroy(void *ctx)
{
	struct nat *n = ctx;

	if (!n)
		return;
	free(n->pool);
	free(n);
}

static int nat_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
		      struct slnf_error *err)
{
	static const char *const keys[] = { "nf",    "inside",	  "pool", "ports",
					    "timeouts", "filtering", NULL };
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
		rc = parse_ports(n, env, params, err);
	if (rc >= 0)
		rc = parse_timeouts(n, env, params, err);
	if (rc >= 0)
		rc = parse_filtering(env, params, err);
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

enum nat_dir { NAT_PASS, NAT_OUT, NAT_IN, NAT_UNSUPPORTED };

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ep_key(const struct nat *n, char kind, const struct nat_ep *e,
		   struct slnf_store_key *k)
{
	uint8_t d[NAT_KEY_LEN] = { (uint8_t)kind,	  (uint8_t)(e->ip >> 24),
				   (uint8_t)(e->ip >> 16), (uint8_t)(e->ip >> 8),
				   (uint8_t)e->ip,	  (uint8_t)(e->port >> 8),
				   (uint8_t)e->port,	  e->proto };

	slnf_store_key_init(k, n->tenant_id, NAT_NF_ID, d, NAT_KEY_LEN);
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

static uint32_t timeout_of(const struct nat *n, uint8_t proto)
{
	return n->timeout_ms[proto == IPPROTO_TCP ? TO_TCP : proto == IPPROTO_UDP ? TO_UDP
										   : TO_ICMP];
}

static bool in_pool(const struct nat *n, uint32_t ip)
{
	for (unsigned i = 0; i < n->n_pool; i++)
		if (n->pool[i] == ip)
			return true;
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

/* Which way p goes through the NAT and the endpoint its record is keyed by. */
static enum nat_dir pkt_dir(const struct nat *n, const struct slnf_pkt *p, struct nat_ep *e)
{
	bool out = p->in_port < SLNF_MAX_PORTS && n->inside[p->in_port];
	uint8_t proto = p->key.proto;
	bool ported = proto == IPPROTO_TCP || proto == IPPROTO_UDP;

	if (!out && !in_pool(n, p->key.dst_ip))
		return NAT_PASS;
	if (proto == IPPROTO_ICMP && !later_fragment(p))
		ported = icmp_type(p) == (out ? RTE_IP_ICMP_ECHO_REQUEST : RTE_IP_ICMP_ECHO_REPLY);
	if (!ported || later_fragment(p))
		return out ? NAT_UNSUPPORTED : NAT_PASS;
	e->proto = proto;
	e->ip = out ? p->key.src_ip : p->key.dst_ip;
	e->port = out ? p->key.src_port : p->key.dst_port;
	return out ? NAT_OUT : NAT_IN;
}

/* ---- prepare: the mapping and the candidate ports ---- */

static uint32_t pool_addr(const struct nat *n, uint32_t inside_ip)
{
	/* paired pooling (RFC 4787 REQ-2): one outside address per inside host */
	return n->pool[(inside_ip * 2654435761u >> 8) % n->n_pool];
}

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

/* Packet i shares the requests of an earlier packet with the same key. */
static bool share_earlier(struct slnf_burst *b, const struct slnf_store_key *keys, uint16_t i)
{
	for (uint16_t j = 0; j < i; j++) {
		if (keys[j].len && b->pkts[j]->state_req >= 0 &&
		    !memcmp(keys[j].data, keys[i].data, NAT_KEY_LEN)) {
			b->pkts[i]->state_req = b->pkts[j]->state_req;
			return true;
		}
	}
	return false;
}

static void request_probes(const struct nat *n, struct slnf_state_batch *reads,
			   struct slnf_burst *b, uint16_t i, const struct nat_ep *e)
{
	struct nat_ep o = { pool_addr(n, e->ip), 0, e->proto };
	struct slnf_store_key k;
	unsigned np = n_probes(n);

	for (unsigned j = 0; j < np; j++) {
		o.port = candidate(n, e->port, j);
		ep_key(n, NAT_KEY_REVERSE, &o, &k);
		slnf_state_get(reads, b, i, &k);
	}
}

static void nat_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	struct nat *n = ctx;
	struct slnf_store_key keys[SLNF_BURST_MAX];

	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		struct nat_ep e;
		enum nat_dir d = p->verdict == SLNF_VERDICT_FORWARD ? pkt_dir(n, p, &e) : NAT_PASS;

		keys[i].len = 0;
		if (d != NAT_OUT && d != NAT_IN)
			continue;
		ep_key(n, d == NAT_OUT ? NAT_KEY_MAPPING : NAT_KEY_REVERSE, &e, &keys[i]);
		if (share_earlier(b, keys, i))
			continue;
		/* an outbound packet's requests are consecutive: all or none */
		if (d == NAT_OUT && (unsigned)(reads->cap - reads->n) < 1 + n_probes(n))
			continue;
		if (slnf_state_get(reads, b, i, &keys[i]) && d == NAT_OUT)
			request_probes(n, reads, b, i, &e);
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

static void work_load(struct nat_work *w, const struct slnf_store_op *rd, uint64_t now)
{
	w->init = true;
	w->stored = rd->status == 0;
	w->version = rd->version;
	w->live = rec_decode(&w->rec, rd) && w->rec.expires_ms > now;
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

/* The first usable candidate port for e: free, or held by e itself.
 * Returns its probe index or -1; *covered tells whether the probes were
 * the whole port range. */
static int pick_port(struct nat_run *r, const struct slnf_pkt *p, const struct nat_ep *e,
		     struct nat_ep *o, bool *covered)
{
	unsigned np = n_probes(r->n);
	int first = p->state_req + 1;
	struct nat_rec rv;

	*covered = (uint32_t)r->n->port_hi - r->n->port_lo + 1 <= np;
	if (first + (int)np > (int)r->reads->n)
		return -1;
	for (unsigned j = 0; j < np; j++) {
		const struct slnf_store_op *op = &r->reads->reqs[first + (int)j].op;

		o->ip = pool_addr(r->n, e->ip);
		o->port = key_port(&op->key);
		o->proto = e->proto;
		if (claimed(&r->claims, o))
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
static void create_mapping(struct nat_run *r, struct slnf_pkt *p, uint16_t i,
			   const struct nat_ep *e, struct nat_work *w)
{
	struct nat_ep o;
	bool covered;
	int j = pick_port(r, p, e, &o, &covered);
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
	rev = &r->reads->reqs[p->state_req + 1 + j].op;
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

static void nat_outbound(struct nat_run *r, struct slnf_pkt *p, uint16_t i,
			 const struct nat_ep *e, struct nat_work *w)
{
	uint32_t ttl = timeout_of(r->n, e->proto);

	if (!w->live) {
		create_mapping(r, p, i, e, w);
	} else if (w->rec.expires_ms < r->now + ttl / 2) {
		struct nat_ep o = { w->rec.ip, w->rec.port, e->proto };

		if (!write_mapping(r, i, e, &o, NULL, w)) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			return;
		}
		slnf_counter_add(&r->n->cnt.refreshed, 1);
	}
	if (p->verdict != SLNF_VERDICT_FORWARD || p->drop_reason)
		return;
	slnf_nat_rewrite(p, SLNF_NAT_SRC, w->rec.ip, w->rec.port);
	slnf_counter_add(&r->n->cnt.out, 1);
}

static void nat_inbound(struct nat_run *r, struct slnf_pkt *p, struct nat_work *w)
{
	if (!w->live) {
		slnf_counter_add(&r->n->cnt.unmapped, 1);
		slnf_pkt_drop(p, SLNF_DROP_NAT_UNMAPPED);
		return;
	}
	slnf_nat_rewrite(p, SLNF_NAT_DST, w->rec.ip, w->rec.port);
	slnf_counter_add(&r->n->cnt.in, 1);
}

static void nat_packet(struct nat_run *r, struct slnf_pkt *p, uint16_t i)
{
	struct nat_ep e;
	enum nat_dir d = pkt_dir(r->n, p, &e);
	const struct slnf_store_op *rd;
	struct nat_work *w;

	if (d == NAT_PASS || d == NAT_UNSUPPORTED) {
		slnf_counter_add(d == NAT_PASS ? &r->n->cnt.passed : &r->n->cnt.unsupported, 1);
		if (d == NAT_UNSUPPORTED)
			slnf_pkt_drop(p, SLNF_DROP_NAT_UNSUPPORTED);
		return;
	}
	rd = p->state_req >= 0 ? &r->reads->reqs[p->state_req].op : NULL;
	if (!rd || (rd->status && rd->status != -ENOENT)) {
		/* fail closed: no translation without the store */
		slnf_counter_add(&r->n->cnt.store_errors, 1);
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	w = &r->work[p->state_req];
	if (!w->init)
		work_load(w, rd, r->now);
	if (d == NAT_OUT)
		nat_outbound(r, p, i, &e, w);
	else
		nat_inbound(r, p, w);
}

static void nat_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			struct slnf_state_batch *writes)
{
	struct nat_work work[SLNF_BURST_MAX * 4];
	struct nat_run r = { .n = ctx, .b = b, .reads = reads, .writes = writes, .work = work,
			     .now = now_ms() };

	for (unsigned i = 0; i < reads->n && i < RTE_DIM(work); i++)
		work[i].init = false;
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];

		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		if (p->state_req >= (int)RTE_DIM(work)) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			continue;
		}
		nat_packet(&r, p, i);
	}
}

static void nat_stats(void *ctx, json_t *obj)
{
	struct nat *n = ctx;
	const struct nat_counters *c = &n->cnt;

	if (!obj)
		return;
	json_object_set_new(obj, "pool_addresses", json_integer(n->n_pool));
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
}

static const struct slnf_nf_type nat_nf = {
	.name = "nat",
	.id = NAT_NF_ID,
	.summary = "source NAT44 with endpoint-independent mapping kept in the store",
	.create = nat_create,
	.destroy = nat_destroy,
	.prepare = nat_prepare,
	.process = nat_process,
	.stats = nat_stats,
};

SLNF_NF_REGISTER(nat_nf)
