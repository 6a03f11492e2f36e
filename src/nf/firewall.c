/*
 * firewall.c - the "firewall" NF: a stateful firewall whose connection
 * table lives in the state store.
 *
 * Each connection is one store record (conntrack.h) keyed by the
 * direction-independent 5-tuple: the two endpoints in (address, port)
 * order, so both directions find it; the record says which endpoint
 * opened. prepare() asks for the record of every tracked packet (an ICMP
 * error asks for the flow it quotes), one request per flow and burst.
 * process() walks the burst in order with a working copy of each record:
 * it tracks the packet (TCP through conntrack.c, UDP, ICMP echo and other
 * protocols as pseudo-connections), classifies it new, established,
 * related or invalid, runs the rules (a linear first-match list), and when
 * the packet is allowed and changed the record, or less than half of the
 * record's TTL is left, queues one write: PUT_IF_ABSENT to create, CAS on
 * the version in hand to update. A packet that changes nothing writes
 * nothing. Several packets of one flow in a burst chain their CAS versions.
 *
 * Invalid packets are dropped (fw_invalid) unless a rule allows them;
 * denied ones are dropped as fw_deny. A record that cannot be read (store
 * error) fails closed: the packet is dropped as store_error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_tcp.h>

#include "slnf/nf.h"
#include "nf/conntrack.h"
#include "nf/params.h"

#define FW_NF_ID 3
#define FW_MAX_RULES 1024
#define FW_KEY_LEN 13

enum fw_action { FW_ALLOW, FW_DENY };
static const char *const action_words[] = { [FW_ALLOW] = "allow", [FW_DENY] = "deny", NULL };

enum fw_class { FW_NEW, FW_ESTABLISHED, FW_RELATED, FW_INVALID, FW_NCLASS };
static const char *const class_words[] = { [FW_NEW] = "new",
					   [FW_ESTABLISHED] = "established",
					   [FW_RELATED] = "related",
					   [FW_INVALID] = "invalid",
					   NULL };

/* How a packet is tracked. */
enum fw_kind {
	FW_K_NONE,       /* no record: other ICMP messages (new), later fragments (invalid) */
	FW_K_TCP,
	FW_K_PSEUDO,     /* UDP and protocols without ports */
	FW_K_ECHO_REQ,
	FW_K_ECHO_REPLY,
	FW_K_ICMP_ERR,   /* looks up the flow it quotes */
};

/* Timeouts, in the order of the "timeouts" parameter names. */
enum fw_timeout {
	TO_SYN_SENT, TO_SYN_RECV, TO_ESTABLISHED, TO_FIN_WAIT, TO_CLOSE_WAIT, TO_LAST_ACK,
	TO_TIME_WAIT, TO_CLOSE, TO_UDP, TO_UDP_REPLIED, TO_ICMP, TO_NUM
};
static const char *const timeout_names[] = {
	"tcp_syn_sent", "tcp_syn_recv", "tcp_established", "tcp_fin_wait", "tcp_close_wait",
	"tcp_last_ack", "tcp_time_wait", "tcp_close", "udp", "udp_replied", "icmp", NULL
};
/* Linux conntrack's defaults, seconds. */
static const uint32_t timeout_defaults[TO_NUM] = { 120, 60, 432000, 120, 60, 30, 120, 10,
						   30, 120, 30 };

struct fw_rule {
	char name[SLNF_NAME_MAX];
	uint8_t action;
	uint8_t classes; /* bit per enum fw_class; 0 = any */
	bool has_proto, has_ports;
	uint8_t proto;
	struct slnf_ipv4_prefix src, dst;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
};

struct fw_counters {
	_Atomic uint64_t verdict[FW_NCLASS][2]; /* [class][allowed, denied] */
	_Atomic uint64_t default_hits;
	_Atomic uint64_t created, updated, refreshed;
	_Atomic uint64_t rst_inexact, ignored;
	_Atomic uint64_t store_errors;
};

struct firewall {
	uint32_t tenant_id;
	uint8_t default_action;
	uint32_t timeout_ms[TO_NUM];
	unsigned n_rules;
	struct fw_rule *rules;
	_Atomic uint64_t *hits;
	struct fw_counters cnt;
};

/* ---- parameters ---- */

static int parse_states(const struct slnf_nf_env *env, const char *path, json_t *o,
			struct fw_rule *r, struct slnf_error *err)
{
	json_t *arr, *w;
	size_t i;
	int rc = slnf_params_array(env, path, o, "state", false, &arr, err);

	if (rc <= 0)
		return rc;
	if (json_array_size(arr) == 0)
		return slnf_params_fail_at(env, err, EINVAL, path, "state",
					   "must name at least one state");
	json_array_foreach(arr, i, w) {
		unsigned k;
		bool found = false;

		for (k = 0; json_is_string(w) && class_words[k]; k++)
			if (!strcmp(class_words[k], json_string_value(w))) {
				found = true;
				break;
			}
		if (!found)
			return slnf_params_fail_at(env, err, EINVAL, path, "state",
						   "element %zu must be new, established, related "
						   "or invalid", i);
		r->classes |= (uint8_t)(1u << k);
	}
	return 1;
}

static int parse_match(const struct slnf_nf_env *env, const char *path, json_t *o,
		       struct fw_rule *r, struct slnf_error *err)
{
	int rc, sp, dp;

	rc = slnf_params_proto(env, path, o, &r->proto, err);
	if (rc < 0)
		return rc;
	r->has_proto = rc > 0;
	rc = slnf_params_prefix(env, path, o, "src", false, &r->src, err);
	if (rc >= 0)
		rc = slnf_params_prefix(env, path, o, "dst", false, &r->dst, err);
	if (rc < 0)
		return rc;
	sp = slnf_params_port_range(env, path, o, "src_port", &r->sport_lo, &r->sport_hi, err);
	if (sp < 0)
		return sp;
	dp = slnf_params_port_range(env, path, o, "dst_port", &r->dport_lo, &r->dport_hi, err);
	if (dp < 0)
		return dp;
	r->has_ports = sp || dp;
	if (r->has_ports && r->has_proto && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return slnf_params_fail_at(env, err, EINVAL, path, sp ? "src_port" : "dst_port",
					   "ports need proto tcp or udp (proto is %u)", r->proto);
	return 0;
}

static int parse_rule(struct firewall *f, const struct slnf_nf_env *env, json_t *rules,
		      size_t i, struct slnf_error *err)
{
	static const char *const keys[] = { "name", "action",	"state",    "proto", "src",
					    "dst",  "src_port", "dst_port", NULL };
	char path[SLNF_PARAMS_PATH_MAX];
	struct fw_rule *r = &f->rules[i];
	const char *name;
	unsigned action;
	json_t *o;
	int rc;

	rc = slnf_params_element(env, env->field, "rules", rules, i, keys, path, &o, err);
	if (rc >= 0)
		rc = slnf_params_string(env, path, o, "name", false, &name, err);
	if (rc > 0 && (!*name || strlen(name) >= sizeof(r->name)))
		return slnf_params_fail_at(env, err, EINVAL, path, "name",
					   "must be 1 to %zu characters", sizeof(r->name) - 1);
	if (rc > 0)
		memcpy(r->name, name, strlen(name) + 1);
	if (rc >= 0)
		rc = slnf_params_word(env, path, o, "action", true, action_words, &action, err);
	if (rc >= 0)
		rc = parse_states(env, path, o, r, err);
	if (rc >= 0)
		rc = parse_match(env, path, o, r, err);
	if (rc < 0)
		return rc;
	r->action = (uint8_t)action;
	f->n_rules++;
	return 0;
}

static int parse_rules(struct firewall *f, const struct slnf_nf_env *env, json_t *params,
		       struct slnf_error *err)
{
	json_t *rules;
	size_t n;
	int rc = slnf_params_rules(env, params, FW_MAX_RULES, &rules, err);

	if (rc <= 0)
		return rc;
	n = (size_t)rc;
	f->rules = calloc(n, sizeof(*f->rules));
	f->hits = calloc(n, sizeof(*f->hits));
	if (!f->rules || !f->hits)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	for (size_t i = 0; i < n; i++) {
		rc = parse_rule(f, env, rules, i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_timeouts(struct firewall *f, const struct slnf_nf_env *env, json_t *params,
			  struct slnf_error *err)
{
	return slnf_params_timeouts(env, params, timeout_names, timeout_defaults, f->timeout_ms,
				    err);
}

static void fw_destroy(void *ctx)
{
	struct firewall *f = ctx;

	if (!f)
		return;
	free(f->rules);
	free(f->hits);
	free(f);
}

static int fw_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
		     struct slnf_error *err)
{
	static const char *const keys[] = { "nf", "default", "rules", "timeouts", NULL };
	unsigned def = FW_DENY;
	struct firewall *f;
	int rc;

	rc = slnf_params_check_keys(env, env->field, params, keys, err);
	if (rc >= 0)
		rc = slnf_params_word(env, env->field, params, "default", false, action_words,
				      &def, err);
	if (rc < 0)
		return rc;
	f = calloc(1, sizeof(*f));
	if (!f)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	f->tenant_id = env->cfg->tenants[env->tenant].id;
	f->default_action = (uint8_t)def;
	rc = parse_timeouts(f, env, params, err);
	if (rc >= 0)
		rc = parse_rules(f, env, params, err);
	if (rc < 0) {
		fw_destroy(f);
		return rc;
	}
	*ctx = f;
	return 0;
}

/* ---- keys ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A 5-tuple as endpoints a -> b. */
struct fw_tuple {
	uint32_t a_ip, b_ip;
	uint16_t a_port, b_port;
	uint8_t proto;
};

/* The direction-independent store key; *a_lo tells whether a is first. */
static void tuple_key(const struct firewall *f, const struct fw_tuple *t,
		      struct slnf_store_key *k, bool *a_lo)
{
	uint8_t d[FW_KEY_LEN];
	uint64_t a = (uint64_t)t->a_ip << 16 | t->a_port, b = (uint64_t)t->b_ip << 16 | t->b_port;
	uint32_t ip0 = t->a_ip, ip1 = t->b_ip;
	uint16_t p0 = t->a_port, p1 = t->b_port;

	*a_lo = a <= b;
	if (!*a_lo) {
		ip0 = t->b_ip, ip1 = t->a_ip;
		p0 = t->b_port, p1 = t->a_port;
	}
	for (unsigned i = 0; i < 4; i++) {
		d[i] = (uint8_t)(ip0 >> (24 - 8 * i));
		d[4 + i] = (uint8_t)(ip1 >> (24 - 8 * i));
	}
	d[8] = (uint8_t)(p0 >> 8), d[9] = (uint8_t)p0;
	d[10] = (uint8_t)(p1 >> 8), d[11] = (uint8_t)p1;
	d[12] = t->proto;
	slnf_store_key_init(k, f->tenant_id, FW_NF_ID, d, FW_KEY_LEN);
}

static bool is_icmp_error(uint8_t type)
{
	return type == 3 /* destination unreachable */ || type == 4 /* source quench */ ||
	       type == 5 /* redirect */ || type == 11 /* time exceeded */ ||
	       type == 12 /* parameter problem */;
}

static uint8_t icmp_type(const struct slnf_pkt *p)
{
	return *rte_pktmbuf_mtod_offset(p->m, const uint8_t *, p->l4_off);
}

/* The flow an ICMP error quotes (its IPv4 header and first 8 L4 bytes). */
static bool quoted_tuple(const struct slnf_pkt *p, struct fw_tuple *t)
{
	uint8_t buf[60 + 8];
	const uint8_t *ip, *l4;
	uint32_t off = p->l4_off + 8, ihl;

	ip = rte_pktmbuf_read(p->m, off, 20, buf);
	if (!ip || (ip[0] >> 4) != 4 || (ihl = (uint32_t)(ip[0] & 0xf) * 4) < 20)
		return false;
	memset(t, 0, sizeof(*t));
	t->proto = ip[9];
	/* byte by byte: the quote sits at a 2-byte aligned offset */
	t->a_ip = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
	t->b_ip = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
	if (((ip[6] << 8 | ip[7]) & 0x1fff) != 0)
		return true; /* a later fragment: no ports */
	l4 = rte_pktmbuf_read(p->m, off + ihl, 8, buf);
	if (!l4)
		return t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP &&
		       t->proto != IPPROTO_ICMP;
	if (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP) {
		t->a_port = (uint16_t)(l4[0] << 8 | l4[1]);
		t->b_port = (uint16_t)(l4[2] << 8 | l4[3]);
	} else if (t->proto == IPPROTO_ICMP && (l4[0] == 8 || l4[0] == 0)) {
		t->a_port = (uint16_t)(l4[4] << 8 | l4[5]);
		t->b_port = t->a_port;
	}
	return true;
}

/* How p is tracked and under which key (not for FW_K_NONE). */
static enum fw_kind pkt_kind(const struct firewall *f, const struct slnf_pkt *p,
			     struct slnf_store_key *k, bool *src_lo)
{
	struct fw_tuple t = { p->key.src_ip, p->key.dst_ip, p->key.src_port, p->key.dst_port,
			      p->key.proto };
	enum fw_kind kind = FW_K_PSEUDO;

	if ((p->flags & SLNF_PKT_F_FRAG) && !(p->flags & SLNF_PKT_F_FIRST_FRAG))
		return FW_K_NONE;
	if (p->key.proto == IPPROTO_TCP) {
		kind = FW_K_TCP;
	} else if (p->key.proto == IPPROTO_ICMP) {
		uint8_t type = icmp_type(p);

		if (type == RTE_IP_ICMP_ECHO_REQUEST)
			kind = FW_K_ECHO_REQ;
		else if (type == RTE_IP_ICMP_ECHO_REPLY)
			kind = FW_K_ECHO_REPLY;
		else if (is_icmp_error(type) && quoted_tuple(p, &t))
			kind = FW_K_ICMP_ERR;
		else
			return FW_K_NONE;
	}
	tuple_key(f, &t, k, src_lo);
	return kind;
}

static void fw_prepare(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads)
{
	struct firewall *f = ctx;
	struct slnf_store_key keys[SLNF_BURST_MAX];
	bool lo;

	for (uint16_t i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];

		keys[i].len = 0;
		if (p->verdict != SLNF_VERDICT_FORWARD ||
		    pkt_kind(f, p, &keys[i], &lo) == FW_K_NONE) {
			keys[i].len = 0;
			continue;
		}
		for (uint16_t j = 0; j < i; j++) {
			if (keys[j].len && b->pkts[j]->state_req >= 0 &&
			    !memcmp(keys[j].data, keys[i].data, FW_KEY_LEN)) {
				p->state_req = b->pkts[j]->state_req;
				break;
			}
		}
		if (p->state_req < 0)
			slnf_state_get(reads, b, i, &keys[i]);
	}
}

/* ---- tracking ---- */

/* A record as the burst has left it so far. */
struct fw_work {
	bool init;
	bool stored;  /* the store holds a record (maybe timed out) at version */
	bool live;    /* ct is a valid, unexpired record */
	int16_t status;
	uint64_t version;
	struct slnf_ct ct;
};

/* What one packet did: its class and the record it leaves (when changed). */
struct fw_step {
	enum fw_class cls;
	bool write;
	struct slnf_ct next;
};

static uint32_t state_timeout(const struct firewall *f, uint8_t proto, uint8_t state)
{
	static const uint8_t tcp[] = {
		[SLNF_CT_SYN_SENT] = TO_SYN_SENT,	[SLNF_CT_SYN_RECV] = TO_SYN_RECV,
		[SLNF_CT_ESTABLISHED] = TO_ESTABLISHED, [SLNF_CT_FIN_WAIT] = TO_FIN_WAIT,
		[SLNF_CT_CLOSE_WAIT] = TO_CLOSE_WAIT,	[SLNF_CT_LAST_ACK] = TO_LAST_ACK,
		[SLNF_CT_TIME_WAIT] = TO_TIME_WAIT,	[SLNF_CT_CLOSE] = TO_CLOSE,
		[SLNF_CT_SYN_SENT2] = TO_SYN_SENT,
	};

	if (proto == IPPROTO_ICMP)
		return f->timeout_ms[TO_ICMP];
	if (state == SLNF_CT_UNREPLIED)
		return f->timeout_ms[TO_UDP];
	if (state == SLNF_CT_REPLIED)
		return f->timeout_ms[TO_UDP_REPLIED];
	return f->timeout_ms[state < sizeof(tcp) ? tcp[state] : TO_CLOSE];
}

static void tcp_fields(const struct slnf_pkt *p, struct slnf_ct_tcp *t)
{
	const struct rte_tcp_hdr *h = rte_pktmbuf_mtod_offset(p->m, const struct rte_tcp_hdr *,
							      p->l4_off);
	const uint8_t *opt = (const uint8_t *)(h + 1);
	unsigned hlen = (unsigned)(h->data_off >> 4) * 4, l4len = p->l3_len - (p->l4_off - p->l3_off);

	t->seq = rte_be_to_cpu_32(h->sent_seq);
	t->ack = rte_be_to_cpu_32(h->recv_ack);
	t->win = rte_be_to_cpu_16(h->rx_win);
	t->flags = h->tcp_flags;
	t->len = l4len > hlen ? l4len - hlen : 0;
	t->wscale = -1;
	if (!(t->flags & RTE_TCP_SYN_FLAG))
		return;
	/* options: the parser checked hlen lies within the frame */
	for (unsigned i = 0, olen = hlen - 20; i < olen;) {
		uint8_t kind = opt[i], len;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= olen || (len = opt[i + 1]) < 2 || i + len > olen)
			break;
		if (kind == 3 && len == 3)
			t->wscale = (int8_t)opt[i + 2];
		i += len;
	}
}

/* dir of a packet whose source is (or is not) the key's first endpoint */
static unsigned pkt_dir(const struct slnf_ct *c, bool src_lo)
{
	return src_lo == !!(c->flags & SLNF_CT_F_ORIG_LO) ? 0 : 1;
}

static void track_tcp(struct firewall *f, const struct slnf_pkt *p, const struct fw_work *w,
		      bool src_lo, struct fw_step *s)
{
	struct slnf_ct_tcp t;
	enum slnf_ct_result res;
	unsigned dir;

	tcp_fields(p, &t);
	if (!w->live) {
		if (!slnf_ct_tcp_is_syn(&t)) {
			s->cls = FW_INVALID;
			return;
		}
		slnf_ct_tcp_open(&s->next, src_lo ? SLNF_CT_F_ORIG_LO : 0, &t);
		s->cls = FW_NEW;
		return;
	}
	dir = pkt_dir(&w->ct, src_lo);
	res = slnf_ct_tcp_step(&s->next, dir, &t);
	if (res == SLNF_CT_INVALID) {
		s->cls = FW_INVALID;
		return;
	}
	if (res == SLNF_CT_RST_INEXACT)
		slnf_counter_add(&f->cnt.rst_inexact, 1);
	else if (res == SLNF_CT_IGNORE)
		slnf_counter_add(&f->cnt.ignored, 1);
	/* the originator's packets are new until the responder answered */
	s->cls = dir == 0 && s->next.dir[1].maxwin == 0 ? FW_NEW : FW_ESTABLISHED;
}

static void track_pseudo(const struct fw_work *w, enum fw_kind kind, bool src_lo,
			 struct fw_step *s)
{
	if (!w->live) {
		if (kind == FW_K_ECHO_REPLY) {
			s->cls = FW_INVALID;
			return;
		}
		memset(&s->next, 0, sizeof(s->next));
		s->next.state = SLNF_CT_UNREPLIED;
		s->next.flags = src_lo ? SLNF_CT_F_ORIG_LO : 0;
		s->cls = FW_NEW;
		return;
	}
	if (pkt_dir(&w->ct, src_lo) == 1)
		s->next.state = SLNF_CT_REPLIED;
	s->cls = s->next.state == SLNF_CT_REPLIED ? FW_ESTABLISHED : FW_NEW;
}

/* Whether the step's record must be written: changed, or TTL half gone. */
static bool needs_write(const struct firewall *f, const struct fw_work *w, uint8_t proto,
			struct fw_step *s, uint64_t now)
{
	uint32_t ttl = state_timeout(f, proto, s->next.state);
	uint8_t a[SLNF_CT_REC_LEN], b[SLNF_CT_REC_LEN];

	if (!w->live)
		return true;
	slnf_ct_encode(&w->ct, a);
	slnf_ct_encode(&s->next, b);
	if (memcmp(a, b, sizeof(a)))
		return true;
	return w->ct.expires_ms < now + ttl / 2;
}

static void work_load(struct fw_work *w, const struct slnf_store_op *rd, uint64_t now)
{
	w->init = true;
	w->status = rd->status;
	w->stored = rd->status == 0;
	w->version = rd->version;
	w->live = w->stored && slnf_ct_decode(&w->ct, rd->val, rd->val_len) == 0 &&
		  w->ct.expires_ms > now;
}

/* ---- rules ---- */

static bool rule_matches(const struct fw_rule *r, const struct slnf_pkt *p, enum fw_class cls)
{
	const struct slnf_flow_key *k = &p->key;

	if (r->classes && !(r->classes & (1u << cls)))
		return false;
	if (r->has_proto && r->proto != k->proto)
		return false;
	if ((k->src_ip & slnf_prefix_mask(r->src.len)) != r->src.addr ||
	    (k->dst_ip & slnf_prefix_mask(r->dst.len)) != r->dst.addr)
		return false;
	if (!r->has_ports)
		return true;
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return false;
	if ((p->flags & SLNF_PKT_F_FRAG) && !(p->flags & SLNF_PKT_F_FIRST_FRAG))
		return false;
	return k->src_port >= r->sport_lo && k->src_port <= r->sport_hi &&
	       k->dst_port >= r->dport_lo && k->dst_port <= r->dport_hi;
}

/* The action for p: the first matching rule's, else the default (invalid
 * packets: deny). */
static uint8_t decide(struct firewall *f, const struct slnf_pkt *p, enum fw_class cls)
{
	for (unsigned i = 0; i < f->n_rules; i++) {
		if (rule_matches(&f->rules[i], p, cls)) {
			slnf_counter_add(&f->hits[i], 1);
			return f->rules[i].action;
		}
	}
	slnf_counter_add(&f->cnt.default_hits, 1);
	return cls == FW_INVALID ? FW_DENY : f->default_action;
}

/* ---- process ---- */

/* Queue the write of s->next for packet i and advance the working copy. */
static bool commit(struct firewall *f, struct slnf_state_batch *writes, uint16_t i,
		   const struct slnf_store_key *k, struct fw_work *w, struct fw_step *s,
		   uint64_t now)
{
	uint32_t ttl = state_timeout(f, k->data[12], s->next.state);
	struct slnf_store_op *op;

	s->next.expires_ms = now + ttl;
	op = slnf_state_write(writes, i, w->stored ? SLNF_STORE_CAS : SLNF_STORE_PUT_IF_ABSENT, k);
	if (!op)
		return false;
	op->ttl_ms = ttl;
	op->version = w->version;
	op->val_len = SLNF_CT_REC_LEN;
	slnf_ct_encode(&s->next, op->val);
	if (!w->live)
		slnf_counter_add(&f->cnt.created, 1);
	else if (memcmp(&w->ct, &s->next, sizeof(s->next)))
		slnf_counter_add(&f->cnt.updated, 1);
	w->version = w->stored ? w->version + 1 : 1;
	w->stored = w->live = true;
	w->ct = s->next;
	return true;
}

/* Track, classify and decide one packet; queue its write. */
static void fw_packet(struct firewall *f, struct slnf_pkt *p, uint16_t i,
		      struct slnf_state_batch *reads, struct slnf_state_batch *writes,
		      struct fw_work *work, uint64_t now)
{
	struct slnf_store_key k;
	struct fw_step s = { .cls = FW_NEW };
	struct fw_work none = { .init = true }, *w = &none;
	enum fw_kind kind;
	bool src_lo, tracked = false;
	uint8_t action;

	kind = pkt_kind(f, p, &k, &src_lo);
	if (kind != FW_K_NONE) {
		if (p->state_req < 0 || (reads->reqs[p->state_req].op.status &&
					 reads->reqs[p->state_req].op.status != -ENOENT)) {
			slnf_counter_add(&f->cnt.store_errors, 1);
			slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
			return;
		}
		w = &work[p->state_req];
		if (!w->init)
			work_load(w, &reads->reqs[p->state_req].op, now);
		s.next = w->ct;
	}
	switch (kind) {
	case FW_K_NONE:
		s.cls = p->key.proto == IPPROTO_ICMP ? FW_NEW : FW_INVALID;
		break;
	case FW_K_ICMP_ERR:
		s.cls = w->live ? FW_RELATED : FW_INVALID;
		break;
	case FW_K_TCP:
		track_tcp(f, p, w, src_lo, &s);
		tracked = true;
		break;
	default:
		track_pseudo(w, kind, src_lo, &s);
		tracked = true;
		break;
	}
	if (s.cls == FW_INVALID)
		tracked = false;
	action = decide(f, p, s.cls);
	slnf_counter_add(&f->cnt.verdict[s.cls][action == FW_DENY], 1);
	if (action == FW_DENY) {
		slnf_pkt_drop(p, s.cls == FW_INVALID ? SLNF_DROP_FW_INVALID : SLNF_DROP_FW_DENY);
		return;
	}
	if (!tracked || !needs_write(f, w, p->key.proto, &s, now))
		return;
	if (w->live && !memcmp(&w->ct, &s.next, sizeof(s.next)))
		slnf_counter_add(&f->cnt.refreshed, 1);
	if (!commit(f, writes, i, &k, w, &s, now))
		slnf_pkt_drop(p, SLNF_DROP_STORE_ERROR);
}

static void fw_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
		       struct slnf_state_batch *writes)
{
	struct firewall *f = ctx;
	struct fw_work work[SLNF_BURST_MAX * 4];
	uint64_t now = now_ms();

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
		fw_packet(f, p, i, reads, writes, work, now);
	}
}

static void fw_stats(void *ctx, json_t *obj)
{
	struct firewall *f = ctx;
	json_t *rules, *v;

	if (!obj)
		return;
	rules = json_array();
	for (unsigned i = 0; i < f->n_rules; i++)
		slnf_rule_report(rules, i, f->rules[i].name, action_words[f->rules[i].action],
				 &f->hits[i]);
	json_object_set_new(obj, "rules", rules);
	json_object_set_new(obj, "default", json_string(action_words[f->default_action]));
	for (unsigned c = 0; c < FW_NCLASS; c++) {
		v = json_pack("{s:I, s:I}", "allowed",
			      (json_int_t)slnf_counter_read(&f->cnt.verdict[c][0]), "denied",
			      (json_int_t)slnf_counter_read(&f->cnt.verdict[c][1]));
		json_object_set_new(obj, class_words[c], v);
	}
	slnf_counter_report(obj, "default_hits", &f->cnt.default_hits);
	slnf_counter_report(obj, "created", &f->cnt.created);
	slnf_counter_report(obj, "updated", &f->cnt.updated);
	slnf_counter_report(obj, "refreshed", &f->cnt.refreshed);
	slnf_counter_report(obj, "rst_inexact", &f->cnt.rst_inexact);
	slnf_counter_report(obj, "ignored", &f->cnt.ignored);
	slnf_counter_report(obj, "store_errors", &f->cnt.store_errors);
}

/* A tracked connection as `slnfctl flows` lists it: the originator's
 * direction, the state, the seconds left. */
static json_t *fw_describe(const struct slnf_store_record *r)
{
	const uint8_t *d = r->key->data;
	struct slnf_ct c;
	if (r->key->len != FW_KEY_LEN || slnf_ct_decode(&c, r->val, r->val_len))
		return NULL;
	char ip[2][16];
	uint16_t port[2];
	for (unsigned e = 0; e < 2; e++) {
		snprintf(ip[e], sizeof(ip[e]), "%u.%u.%u.%u", d[4 * e], d[4 * e + 1], d[4 * e + 2],
			 d[4 * e + 3]);
		port[e] = (uint16_t)(d[8 + 2 * e] << 8 | d[9 + 2 * e]);
	}
	unsigned o = c.flags & SLNF_CT_F_ORIG_LO ? 0 : 1;
	static const char *const protos[256] = {[1] = "icmp", [6] = "tcp", [17] = "udp"};
	json_t *j = json_pack("{s:s, s:i, s:s, s:i, s:s, s:I}", "src", ip[o], "sport",
			      (int)port[o], "dst", ip[1 - o], "dport", (int)port[1 - o], "state",
			      slnf_ct_state_name(c.state), "version", (json_int_t)r->version);
	if (protos[d[12]])
		json_object_set_new(j, "proto", json_string(protos[d[12]]));
	else
		json_object_set_new(j, "proto", json_integer(d[12]));
	uint64_t now = now_ms();
	json_object_set_new(j, "ttl_s",
			    json_integer(c.expires_ms > now ? (json_int_t)((c.expires_ms - now) / 1000)
							    : 0));
	return j;
}

static const struct slnf_nf_type firewall_nf = {
	.name = "firewall",
	.id = FW_NF_ID,
	.summary = "stateful firewall: conntrack-style TCP, UDP and ICMP tracking in the store",
	.create = fw_create,
	.destroy = fw_destroy,
	.prepare = fw_prepare,
	.process = fw_process,
	.retry_conflicts = true, /* it only decides: a lost race is re-run */
	.stats = fw_stats,
	.describe = fw_describe,
};

SLNF_NF_REGISTER(firewall_nf)
