/*
 * lb.c - the "lb" NF: an L4 load balancer whose flow pins live in the
 * state store.
 *
 * Each VIP (address, port, tcp or udp) has a weighted backend pool and a
 * Maglev table (core/maglev.h) over its non-draining backends. The NF does
 * full NAT: towards a backend the source becomes the "snat" address and a
 * port chosen for the flow, so the backend answers to slnf, which
 * translates the answer back. Two records per connection:
 *
 *   pin     (client, client port, VIP, VIP port, proto) -> backend,
 *           backend port, snat port;
 *   reverse (backend, backend port, snat, snat port, proto) -> client,
 *           client port, VIP, VIP port.
 *
 * prepare() asks for the pin of a packet to a VIP, or the reverse record
 * of a packet from a backend to the snat address. A packet that may open a
 * flow (a TCP SYN without ACK, any UDP packet) also asks for the reverse
 * records of LB_CANDIDATES snat ports derived from the flow hash, towards
 * the backend Maglev picks. process() forwards a flow with a live pin to
 * its pinned backend, whatever the tables say now (so pins survive
 * backend changes and draining), and creates a new flow with the first
 * candidate port that is free: PUT_IF_ABSENT on the pin and on the
 * reverse record. A lost race on either is dropped by the runner as
 * store_conflict and the retransmit finds the winner's pin (or another
 * free port). Each direction refreshes its own record lazily, when less
 * than half its TTL is left, with a CAS on the version it read.
 *
 * Packets that are neither pass untouched. Unknown return traffic and
 * mid-flow packets without a pin are dropped; a record that cannot be read
 * fails closed (store_error).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "core/maglev.h"
#include "slnf/csum.h"
#include "slnf/nf.h"
#include "nf/nat_rewrite.h"
#include "nf/params.h"

#define LB_NF_ID 5
#define LB_MAX_VIPS 256
#define LB_MAX_BACKENDS 1024
#define LB_KEY_LEN 14
#define LB_PIN_LEN 16
#define LB_REV_LEN 20
#define LB_CANDIDATES 3
#define LB_PORT_LO 1024u
#define LB_TTL_TCP_MS (3600u * 1000)
#define LB_TTL_UDP_MS (120u * 1000)

struct lb_backend {
	uint32_t ip;
	uint16_t port;
	uint32_t weight;
	bool drain;
};

struct lb_vip {
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
	unsigned n_backends, n_active;
	struct lb_backend *be;
	uint16_t *active;  /* Maglev index -> backend index */
	uint32_t table_size;
	uint16_t *table;   /* NULL when every backend drains */
};

struct lb_counters {
	_Atomic uint64_t new_flows, pinned, returned, refreshed, adopted_port;
	_Atomic uint64_t no_backend, no_pin, unknown_return, ports_busy, store_errors;
};

struct lb {
	uint32_t tenant_id;
	uint32_t snat;
	unsigned n_vips;
	struct lb_vip *vips;
	struct lb_counters cnt;
};

/* ---- parameters ---- */

static int get_addr(const struct slnf_nf_env *env, const char *path, json_t *o, const char *key,
		    bool required, uint32_t *out, struct slnf_error *err)
{
	struct slnf_ipv4_prefix pfx;
	int rc = slnf_params_prefix(env, path, o, key, required, &pfx, err);

	if (rc <= 0)
		return rc;
	if (pfx.len != 32)
		return slnf_params_fail_at(env, err, EINVAL, path, key,
					   "must be an address, not a prefix");
	*out = pfx.addr;
	return 1;
}

static int get_uint(const struct slnf_nf_env *env, const char *path, json_t *o, const char *key,
		    bool required, uint32_t lo, uint32_t hi, uint32_t *out,
		    struct slnf_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (required)
			return slnf_params_fail_at(env, err, EINVAL, path, key, "is required");
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return slnf_params_fail_at(env, err, EINVAL, path, key,
					   "must be an integer, %u to %u", lo, hi);
	*out = (uint32_t)json_integer_value(v);
	return 1;
}

static int get_bool(const struct slnf_nf_env *env, const char *path, json_t *o, const char *key,
		    bool *out, struct slnf_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return slnf_params_fail_at(env, err, EINVAL, path, key, "must be true or false");
	*out = json_is_true(v);
	return 1;
}

static int parse_backend(const struct slnf_nf_env *env, const char *vpath, json_t *arr,
			 size_t i, struct lb_backend *b, struct slnf_error *err)
{
	static const char *const keys[] = { "addr", "port", "weight", "drain", NULL };
	char path[SLNF_PARAMS_PATH_MAX];
	uint32_t port = 0;
	json_t *o;
	int rc;

	b->weight = 1;
	rc = slnf_params_element(env, vpath, "backends", arr, i, keys, path, &o, err);
	if (rc >= 0)
		rc = get_addr(env, path, o, "addr", true, &b->ip, err);
	if (rc >= 0)
		rc = get_uint(env, path, o, "port", true, 1, 65535, &port, err);
	if (rc >= 0)
		rc = get_uint(env, path, o, "weight", false, 1, SLNF_MAGLEV_MAX_WEIGHT, &b->weight,
			      err);
	if (rc >= 0)
		rc = get_bool(env, path, o, "drain", &b->drain, err);
	b->port = (uint16_t)port;
	return rc < 0 ? rc : 0;
}

/* The Maglev table over the non-draining backends, named "a.b.c.d:port". */
static int build_table(const struct slnf_nf_env *env, const char *path, struct lb_vip *v,
		       struct slnf_error *err)
{
	struct slnf_maglev_backend mb[LB_MAX_BACKENDS];
	char names[LB_MAX_BACKENDS][24];
	int rc;

	v->active = calloc(v->n_backends, sizeof(*v->active));
	if (!v->active)
		return slnf_params_fail(env, err, ENOMEM, path, "out of memory");
	for (unsigned i = 0; i < v->n_backends; i++) {
		const struct lb_backend *b = &v->be[i];

		if (b->drain)
			continue;
		snprintf(names[v->n_active], sizeof(names[0]), "%u.%u.%u.%u:%u", b->ip >> 24,
			 (b->ip >> 16) & 0xff, (b->ip >> 8) & 0xff, b->ip & 0xff, b->port);
		mb[v->n_active] = (struct slnf_maglev_backend){ names[v->n_active], b->weight };
		v->active[v->n_active++] = (uint16_t)i;
	}
	if (!v->n_active)
		return 0;
	v->table = malloc((size_t)v->table_size * sizeof(*v->table));
	if (!v->table)
		return slnf_params_fail(env, err, ENOMEM, path, "out of memory");
	rc = slnf_maglev_build(v->table, v->table_size, mb, v->n_active);
	if (rc < 0)
		return slnf_params_fail(env, err, -rc, path, "cannot build the Maglev table");
	return 0;
}

static int parse_backends(const struct slnf_nf_env *env, const char *path, json_t *o,
			  struct lb_vip *v, struct slnf_error *err)
{
	json_t *arr;
	size_t n;
	int rc = slnf_params_array(env, path, o, "backends", true, &arr, err);

	if (rc < 0)
		return rc;
	n = json_array_size(arr);
	if (n < 1 || n > LB_MAX_BACKENDS)
		return slnf_params_fail_at(env, err, EINVAL, path, "backends",
					   "must list 1 to %u backends", LB_MAX_BACKENDS);
	v->be = calloc(n, sizeof(*v->be));
	if (!v->be)
		return slnf_params_fail(env, err, ENOMEM, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		rc = parse_backend(env, path, arr, i, &v->be[i], err);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (v->be[j].ip == v->be[i].ip && v->be[j].port == v->be[i].port)
				return slnf_params_fail_at(env, err, EINVAL, path, "backends",
							   "element %zu repeats element %zu", i, j);
		v->n_backends++;
	}
	return 0;
}

static int parse_vip(struct lb *l, const struct slnf_nf_env *env, json_t *arr, size_t i,
		     struct slnf_error *err)
{
	static const char *const keys[] = { "vip", "port", "proto", "backends", "table_size", NULL };
	static const char *const protos[] = { "tcp", "udp", NULL };
	char path[SLNF_PARAMS_PATH_MAX];
	struct lb_vip *v = &l->vips[i];
	uint32_t port = 0;
	unsigned proto = 0;
	json_t *o;
	int rc;

	v->table_size = SLNF_MAGLEV_DEFAULT_SIZE;
	rc = slnf_params_element(env, env->field, "vips", arr, i, keys, path, &o, err);
	if (rc >= 0)
		rc = get_addr(env, path, o, "vip", true, &v->ip, err);
	if (rc >= 0)
		rc = get_uint(env, path, o, "port", true, 1, 65535, &port, err);
	if (rc >= 0)
		rc = slnf_params_word(env, path, o, "proto", true, protos, &proto, err);
	if (rc >= 0)
		rc = get_uint(env, path, o, "table_size", false, 3, SLNF_MAGLEV_MAX_SIZE,
			      &v->table_size, err);
	if (rc >= 0 && !slnf_maglev_is_prime(v->table_size))
		rc = slnf_params_fail_at(env, err, EINVAL, path, "table_size", "must be a prime");
	if (rc < 0)
		return rc;
	v->port = (uint16_t)port;
	v->proto = proto ? IPPROTO_UDP : IPPROTO_TCP;
	l->n_vips++;
	for (size_t j = 0; j < i; j++)
		if (l->vips[j].ip == v->ip && l->vips[j].port == v->port &&
		    l->vips[j].proto == v->proto)
			return slnf_params_fail(env, err, EINVAL, path, "repeats vips[%zu]", j);
	rc = parse_backends(env, path, o, v, err);
	return rc < 0 ? rc : build_table(env, path, v, err);
}

static int parse_vips(struct lb *l, const struct slnf_nf_env *env, json_t *params,
		      struct slnf_error *err)
{
	json_t *arr;
	size_t n;
	int rc = slnf_params_array(env, env->field, params, "vips", true, &arr, err);

	if (rc < 0)
		return rc;
	n = json_array_size(arr);
	if (n < 1 || n > LB_MAX_VIPS)
		return slnf_params_fail_at(env, err, EINVAL, env->field, "vips",
					   "must list 1 to %u VIPs", LB_MAX_VIPS);
	l->vips = calloc(n, sizeof(*l->vips));
	if (!l->vips)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	for (size_t i = 0; i < n; i++) {
		rc = parse_vip(l, env, arr, i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void lb_destroy(void *ctx)
{
	struct lb *l = ctx;

	if (!l)
		return;
	for (unsigned i = 0; i < l->n_vips; i++) {
		free(l->vips[i].be);
		free(l->vips[i].active);
		free(l->vips[i].table);
	}
	free(l->vips);
	free(l);
}

static int lb_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
		     struct slnf_error *err)
{
	static const char *const keys[] = { "nf", "vips", "snat", NULL };
	struct lb *l;
	int rc = slnf_params_check_keys(env, env->field, params, keys, err);

	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	l->tenant_id = env->cfg->tenants[env->tenant].id;
	rc = get_addr(env, env->field, params, "snat", true, &l->snat, err);
	if (rc >= 0)
		rc = parse_vips(l, env, params, err);
	if (rc < 0) {
		lb_destroy(l);
		return rc;
	}
	*ctx = l;
	return 0;
}

/* ---- keys and records ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t *put16(uint8_t *d, uint16_t v)
{
	d[0] = (uint8_t)(v >> 8), d[1] = (uint8_t)v;
	return d + 2;
}

static uint8_t *put32(uint8_t *d, uint32_t v)
{
	return put16(put16(d, (uint16_t)(v >> 16)), (uint16_t)v);
}

static uint8_t *put64(uint8_t *d, uint64_t v)
{
	return put32(put32(d, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint16_t get16(const uint8_t *d)
{
	return (uint16_t)(d[0] << 8 | d[1]);
}

static uint32_t get32(const uint8_t *d)
{
	return (uint32_t)get16(d) << 16 | get16(d + 2);
}

static uint64_t get64(const uint8_t *d)
{
	return (uint64_t)get32(d) << 32 | get32(d + 4);
}

/* One endpoint pair: the pin's (client -> VIP) or the reverse record's
 * (backend -> snat). */
struct lb_ends {
	uint32_t a_ip, b_ip;
	uint16_t a_port, b_port;
};

static void make_key(const struct lb *l, char type, const struct lb_ends *e, uint8_t proto,
		     struct slnf_store_key *k)
{
	uint8_t d[LB_KEY_LEN], *q = d;

	*q++ = (uint8_t)type;
	q = put32(q, e->a_ip);
	q = put16(q, e->a_port);
	q = put32(q, e->b_ip);
	q = put16(q, e->b_port);
	*q = proto;
	slnf_store_key_init(k, l->tenant_id, LB_NF_ID, d, LB_KEY_LEN);
}

/* A decoded record and its expiry. Pin: e.b is the backend, snat_port the
 * flow's source port towards it. Reverse: e.a is the client, e.b the VIP. */
struct lb_rec {
	struct lb_ends e;
	uint16_t snat_port; /* pin only */
	uint64_t expires_ms;
};

static uint16_t rec_encode(const struct lb_rec *r, bool pin, uint8_t *v)
{
	if (pin) {
		put64(put16(put16(put32(v, r->e.b_ip), r->e.b_port), r->snat_port), r->expires_ms);
		return LB_PIN_LEN;
	}
	put64(put16(put32(put16(put32(v, r->e.a_ip), r->e.a_port), r->e.b_ip), r->e.b_port),
	      r->expires_ms);
	return LB_REV_LEN;
}

static int rec_decode(struct lb_rec *r, bool pin, const uint8_t *v, uint16_t len)
{
	memset(r, 0, sizeof(*r));
	if (pin) {
		if (len != LB_PIN_LEN)
			return -EINVAL;
		r->e.b_ip = get32(v), r->e.b_port = get16(v + 4), r->snat_port = get16(v + 6);
		r->expires_ms = get64(v + 8);
		return 0;
	}
	if (len != LB_REV_LEN)
		return -EINVAL;
	r->e.a_ip = get32(v), r->e.a_port = get16(v + 4);
	r->e.b_ip = get32(v + 6), r->e.b_port = get16(v + 10);
	r->expires_ms = get64(v + 12);
	return 0;
}

/* ---- classification ---- */

enum lb_kind { LB_NONE, LB_FWD, LB_REV };

static const struct lb_vip *find_vip(const struct lb *l, const struct slnf_flow_key *k)
{
	for (unsigned i = 0; i < l->n_vips; i++) {
		const struct lb_vip *v = &l->vips[i];

		if (v->ip == k->dst_ip && v->port == k->dst_port && v->proto == k->proto)
			return v;
	}
	return NULL;
}

static bool is_backend(const struct lb *l, const struct slnf_flow_key *k)
{
	for (unsigned i = 0; i < l->n_vips; i++) {
		const struct lb_vip *v = &l->vips[i];

		for (unsigned j = 0; v->proto == k->proto && j < v->n_backends; j++)
			if (v->be[j].ip == k->src_ip && v->be[j].port == k->src_port)
				return true;
	}
	return false;
}

/* What p is to the LB, and the key of its record. */
static enum lb_kind pkt_kind(const struct lb *l, const struct slnf_pkt *p,
			     const struct lb_vip **vip, struct slnf_store_key *key)
{
	const struct slnf_flow_key *k = &p->key;
	struct lb_ends e = { k->src_ip, k->dst_ip, k->src_port, k->dst_port };

	if (p->verdict != SLNF_VERDICT_FORWARD ||
	    (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP) ||
	    ((p->flags & SLNF_PKT_F_FRAG) && !(p->flags & SLNF_PKT_F_FIRST_FRAG)))
		return LB_NONE;
	*vip = find_vip(l, k);
	if (*vip) {
		make_key(l, 'F', &e, k->proto, key);
		return LB_FWD;
	}
	if (k->dst_ip != l->snat || !is_backend(l, k))
		return LB_NONE;
	make_key(l, 'R', &e, k->proto, key);
	return LB_REV;
}

static bool may_open(const struct slnf_pkt *p)
{
	const struct rte_tcp_hdr *t;

	if (p->key.proto != IPPROTO_TCP)
		return true;
	t = rte_pktmbuf_mtod_offset(p->m, const struct rte_tcp_hdr *, p->l4_off);
	return (t->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG;
}

/* The Maglev backend of a new flow, NULL when every backend drains. */
static const struct lb_backend *pick_backend(const struct lb_vip *v, uint32_t hash)
{
	if (!v->table)
		return NULL;
	return &v->be[v->active[slnf_maglev_lookup(v->table, v->table_size, hash)]];
}

/* Candidate snat port c of a flow: a mix of its hash, in 1024-65535. */
static uint16_t cand_port(uint32_t hash, unsigned c)
{
	uint32_t x = hash + c * 0x9e3779b9u;

	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return (uint16_t)(LB_PORT_LO + x % (65536u - LB_PORT_LO));
}

static void cand_key(const struct lb *l, const struct lb_backend *b, const struct slnf_pkt *p,
		     unsigned c, struct slnf_store_key *k)
{
	struct lb_ends e = { b->ip, l->snat, b->port, cand_port(p->hash, c) };

	make_key(l, 'R', &e, p->key.proto, k);
}

static void lb_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	struct lb *l = ctx;
	struct slnf_store_key keys[SLNF_BURST_MAX], ck;

	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];
		const struct lb_vip *v = NULL;
		const struct lb_backend *be;
		enum lb_kind kind = pkt_kind(l, p, &v, &keys[i]);

		if (kind == LB_NONE) {
			keys[i].len = 0;
			continue;
		}
		for (uint16_t j = 0; j < i; j++) {
			if (keys[j].len && b->pkts[j]->state_req >= 0 &&
			    !memcmp(keys[j].data, keys[i].data, LB_KEY_LEN)) {
				p->state_req = b->pkts[j]->state_req;
				break;
			}
		}
		int16_t pin = (int16_t)reads->n;
		if (p->state_req >= 0 || !slnf_state_get(reads, b, i, &keys[i]))
			continue;
		if (kind != LB_FWD || !may_open(p) || !(be = pick_backend(v, p->hash)))
			continue;
		/* the snat port candidates only matter without a cached pin */
		for (unsigned c = 0; c < LB_CANDIDATES; c++) {
			cand_key(l, be, p, c, &ck);
			slnf_state_get_unless_hit(reads, b, i, &ck, pin);
		}
	}
}

/* ---- process ---- */

/* A record as the burst has left it so far. */
struct lb_work {
	bool init, stored, live, taken;
	uint64_t version;
	struct lb_rec rec;
};

static void work_load(struct lb_work *w, const struct slnf_store_op *rd, bool pin, uint64_t now)
{
	w->init = true;
	w->stored = rd->status == 0;
	w->version = rd->version;
	w->live = w->stored && rec_decode(&w->rec, pin, rd->val, rd->val_len) == 0 &&
		  w->rec.expires_ms > now;
}

static struct lb_work *work_at(struct lb_work *work, const struct slnf_state_batch *reads,
			       unsigned idx, bool pin, uint64_t now)
{
	if (!work[idx].init)
		work_load(&work[idx], &reads->reqs[idx].op, pin, now);
	return &work[idx];
}

static uint32_t ttl_of(uint8_t proto)
{
	return proto == IPPROTO_TCP ? LB_TTL_TCP_MS : LB_TTL_UDP_MS;
}

/* Queue a write of w->rec under k (PUT_IF_ABSENT or CAS) and advance w. */
static bool write_rec(struct slnf_state_batch *writes, uint16_t i, const struct slnf_store_key *k,
		      bool pin, struct lb_work *w, uint64_t now)
{
	uint32_t ttl = ttl_of(k->data[LB_KEY_LEN - 1]);
	struct slnf_store_op *op;

	op = slnf_state_write(writes, i, w->stored ? SLNF_STORE_CAS : SLNF_STORE_PUT_IF_ABSENT, k);
	if (!op)
		return false;
	w->rec.expires_ms = now + ttl;
	op->ttl_ms = ttl;
	op->version = w->version;
	op->val_len = rec_encode(&w->rec, pin, op->val);
	w->version = w->stored ? w->version + 1 : 1;
	w->stored = w->live = true;
	return true;
}

/* Rewrite one address and port of p (source or destination) with
 * incremental checksums, keeping p->key and p->hash in step. */
static void rewrite(struct slnf_pkt *p, bool src, uint32_t ip, uint16_t port)
{
	slnf_nat_rewrite(p, src ? SLNF_NAT_SRC : SLNF_NAT_DST, ip, port);
}

/* Refresh a live record when less than half of its TTL is left. */
static bool refresh(struct lb *l, struct slnf_state_batch *writes, uint16_t i,
		    const struct slnf_store_key *k, bool pin, struct lb_work *w, uint64_t now)
{
	if (w->rec.expires_ms >= now + ttl_of(k->data[LB_KEY_LEN - 1]) / 2)
		return true;
	slnf_counter_add(&l->cnt.refreshed, 1);
	return write_rec(writes, i, k, pin, w, now);
}

/* Whether candidate reverse record w is free for the flow of p (or is
 * already this flow's: its pin expired before it). */
static bool cand_usable(const struct lb_work *w, const struct slnf_pkt *p)
{
	if (w->taken)
		return false;
	if (!w->live)
		return !w->stored;
	return w->rec.e.a_ip == p->key.src_ip && w->rec.e.a_port == p->key.src_port &&
	       w->rec.e.b_ip == p->key.dst_ip && w->rec.e.b_port == p->key.dst_port;
}

/* The read index of a free candidate port of the flow at read idx, or -1. */
static int find_cand(const struct slnf_state_batch *reads, struct lb_work *work, unsigned idx,
		     const struct slnf_pkt *p, unsigned *c, uint64_t now)
{
	for (*c = 0; *c < LB_CANDIDATES; (*c)++) {
		unsigned r = idx + 1 + *c;
		const struct slnf_store_op *op;

		if (r >= reads->n || reads->reqs[r].pkt != reads->reqs[idx].pkt)
			return -1;
		op = &reads->reqs[r].op;
		if (op->key.data[0] != 'R' || (op->status && op->status != -ENOENT))
			return -1;
		if (cand_usable(work_at(work, reads, r, false, now), p))
			return (int)r;
	}
	return -1;
}

/* A new flow: the Maglev backend, a free snat port, the pin and the
 * reverse record. */
static void new_flow(struct lb *l, struct slnf_pkt *p, uint16_t i, const struct lb_vip *v,
		     struct slnf_state_batch *reads, struct slnf_state_batch *writes,
		     struct lb_work *work, struct lb_work *pw, const struct slnf_store_key *pk,
		     uint64_t now)
{
	const struct lb_backend *be = pick_backend(v, p->hash);
	struct slnf_store_key rk;
	struct lb_work *rw;
	unsigned c;
	int r;

	if (!be) {
		slnf_counter_add(&l->cnt.no_backend, 1);
		slnf_pkt_drop(p, SLNF_DROP_LB_NO_BACKEND);
		return;
	}
	r = find_cand(reads, work, (unsigned)p->state_req, p, &c, now);
	if (r < 0) {
		slnf_counter_add(&l->cnt.ports_busy, 1);
		slnf_pkt_drop(p, SLNF_DROP_STORE_CONFLICT);
		return;
	}
	rw = &work[r];
	if (rw->live)
		slnf_counter_add(&l->cnt.adopted_port, 1);
	rw->taken = true;
	rw->rec = (struct lb_rec){ .e = { p->key.src_ip, p->key.dst_ip, p->key.src_port,
					  p->key.dst_port } };
	pw->rec = (struct lb_rec){ .e = { .b_ip = be->ip, .b_port = be->port },
				   .snat_port = cand_port(p->hash, c) };
	rk = reads->reqs[r].op.key;
	if (!write_rec(writes, i, pk, true, pw, now) || !write_rec(writes, i, &rk, false, rw, now)) {
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	slnf_counter_add(&l->cnt.new_flows, 1);
}

static void lb_forward(struct lb *l, struct slnf_pkt *p, uint16_t i, const struct lb_vip *v,
		       const struct slnf_store_key *k, struct slnf_state_batch *reads,
		       struct slnf_state_batch *writes, struct lb_work *work, uint64_t now)
{
	struct lb_work *w = work_at(work, reads, (unsigned)p->state_req, true, now);

	if (w->live) {
		slnf_counter_add(&l->cnt.pinned, 1);
		if (!refresh(l, writes, i, k, true, w, now)) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			return;
		}
	} else if (!may_open(p)) {
		slnf_counter_add(&l->cnt.no_pin, 1);
		slnf_pkt_drop(p, SLNF_DROP_LB_NO_STATE);
		return;
	} else {
		new_flow(l, p, i, v, reads, writes, work, w, k, now);
		if (p->verdict != SLNF_VERDICT_FORWARD)
			return;
	}
	rewrite(p, false, w->rec.e.b_ip, w->rec.e.b_port);
	rewrite(p, true, l->snat, w->rec.snat_port);
	p->hash = slnf_flow_hash(&p->key);
}

static void lb_return(struct lb *l, struct slnf_pkt *p, uint16_t i,
		      const struct slnf_store_key *k, struct slnf_state_batch *reads,
		      struct slnf_state_batch *writes, struct lb_work *work, uint64_t now)
{
	struct lb_work *w = work_at(work, reads, (unsigned)p->state_req, false, now);

	if (!w->live) {
		slnf_counter_add(&l->cnt.unknown_return, 1);
		slnf_pkt_drop(p, SLNF_DROP_LB_NO_STATE);
		return;
	}
	if (!refresh(l, writes, i, k, false, w, now)) {
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	slnf_counter_add(&l->cnt.returned, 1);
	rewrite(p, true, w->rec.e.b_ip, w->rec.e.b_port);
	rewrite(p, false, w->rec.e.a_ip, w->rec.e.a_port);
	p->hash = slnf_flow_hash(&p->key);
}

static void lb_packet(struct lb *l, struct slnf_pkt *p, uint16_t i,
		      struct slnf_state_batch *reads, struct slnf_state_batch *writes,
		      struct lb_work *work, uint64_t now)
{
	const struct lb_vip *v = NULL;
	struct slnf_store_key k;
	enum lb_kind kind = pkt_kind(l, p, &v, &k);
	const struct slnf_store_op *rd;

	if (kind == LB_NONE)
		return;
	rd = p->state_req >= 0 ? &reads->reqs[p->state_req].op : NULL;
	if (!rd || (rd->status && rd->status != -ENOENT)) {
		slnf_counter_add(&l->cnt.store_errors, 1);
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
		return;
	}
	if (kind == LB_FWD)
		lb_forward(l, p, i, v, &k, reads, writes, work, now);
	else
		lb_return(l, p, i, &k, reads, writes, work, now);
}

static void lb_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
		       struct slnf_state_batch *writes)
{
	struct lb *l = ctx;
	struct lb_work work[SLNF_BURST_MAX * 4];
	uint64_t now = now_ms();

	for (unsigned i = 0; i < reads->n && i < RTE_DIM(work); i++)
		work[i] = (struct lb_work){ .init = false };
	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];

		if (p->state_req >= (int)RTE_DIM(work)) {
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			continue;
		}
		lb_packet(l, p, i, reads, writes, work, now);
	}
}

static void lb_stats(void *ctx, json_t *obj)
{
	struct lb *l = ctx;

	if (!obj)
		return;
	slnf_counter_report(obj, "new_flows", &l->cnt.new_flows);
	slnf_counter_report(obj, "pinned", &l->cnt.pinned);
	slnf_counter_report(obj, "returned", &l->cnt.returned);
	slnf_counter_report(obj, "refreshed", &l->cnt.refreshed);
	slnf_counter_report(obj, "adopted_port", &l->cnt.adopted_port);
	slnf_counter_report(obj, "no_backend", &l->cnt.no_backend);
	slnf_counter_report(obj, "no_pin", &l->cnt.no_pin);
	slnf_counter_report(obj, "unknown_return", &l->cnt.unknown_return);
	slnf_counter_report(obj, "ports_busy", &l->cnt.ports_busy);
	slnf_counter_report(obj, "store_errors", &l->cnt.store_errors);
}

static const struct slnf_nf_type lb_nf = {
	.name = "lb",
	.id = LB_NF_ID,
	.summary = "L4 load balancer: Maglev over weighted backends, pins in the store, full NAT",
	.create = lb_create,
	.destroy = lb_destroy,
	.prepare = lb_prepare,
	.process = lb_process,
	.stats = lb_stats,
};

SLNF_NF_REGISTER(lb_nf)
