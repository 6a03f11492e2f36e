/*
 * filter.c - the "filter" NF: a stateless ACL on the IPv4 5-tuple.
 *
 * Rules match on protocol, source and destination prefixes and port
 * ranges; the first matching rule in configuration order decides, and a
 * packet no rule matches gets the default action. The rules are compiled
 * into one rte_acl context per filter element, where "first match wins"
 * is rule priority (rule i of n gets priority n - i, the highest wins) and
 * each rule's userdata is its index + 1 (0 is "no match"). process() fills
 * an ACL key for every live packet of the burst and classifies them all
 * with a single rte_acl_classify call.
 *
 * The key is laid out the way rte_acl reads it: a 1-byte first field, then
 * groups of 4 bytes, all in network byte order (rule values are host
 * order). Port constraints only mean something for TCP and UDP packets
 * that carry their L4 header, so the key has a fifth group, a "has ports"
 * word, that every rule with a port constraint requires to be 1. ICMP (whose
 * flow key puts the echo identifier in the ports), other protocols and
 * non-first fragments (ports 0 in the flow key) therefore match only rules
 * without a port constraint, as with iptables. A rule may not combine a
 * port constraint with a protocol other than tcp or udp.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "slnf/nf.h"
#include "nf/params.h"

#define FILTER_NF_ID 2
#define FILTER_MAX_RULES 4096

enum filter_action { FILTER_ALLOW, FILTER_DENY };

static const char *const action_words[] = { [FILTER_ALLOW] = "allow", [FILTER_DENY] = "deny",
					    NULL };

/* What rte_acl reads for one packet; every field in network order. */
struct filter_key {
	uint8_t proto; /* input 0: the 1-byte first field */
	uint8_t pad[3];
	uint32_t src;   /* input 1 */
	uint32_t dst;   /* input 2 */
	uint16_t sport; /* input 3, with dport */
	uint16_t dport;
	uint32_t has_ports; /* input 4: 1 for TCP/UDP with an L4 header */
};

enum { FLD_PROTO, FLD_SRC, FLD_DST, FLD_SPORT, FLD_DPORT, FLD_PORTS, FLD_NUM };

static const struct rte_acl_field_def filter_fields[FLD_NUM] = {
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = sizeof(uint8_t), .field_index = FLD_PROTO,
	  .input_index = 0, .offset = offsetof(struct filter_key, proto) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = sizeof(uint32_t), .field_index = FLD_SRC,
	  .input_index = 1, .offset = offsetof(struct filter_key, src) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = sizeof(uint32_t), .field_index = FLD_DST,
	  .input_index = 2, .offset = offsetof(struct filter_key, dst) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = sizeof(uint16_t), .field_index = FLD_SPORT,
	  .input_index = 3, .offset = offsetof(struct filter_key, sport) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = sizeof(uint16_t), .field_index = FLD_DPORT,
	  .input_index = 3, .offset = offsetof(struct filter_key, dport) },
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = sizeof(uint32_t), .field_index = FLD_PORTS,
	  .input_index = 4, .offset = offsetof(struct filter_key, has_ports) },
};

RTE_ACL_RULE_DEF(filter_acl_rule, FLD_NUM);

struct filter_rule {
	char name[SLNF_NAME_MAX]; /* empty: unnamed, reported as "rules[i]" */
	uint8_t action;
};

struct filter_counters {
	_Atomic uint64_t default_hits;
	_Atomic uint64_t allowed;
	_Atomic uint64_t denied;
} __rte_cache_aligned;

struct filter {
	struct rte_acl_ctx *acl; /* NULL when there are no rules */
	uint8_t default_action;
	unsigned n_rules;
	struct filter_rule *rules;
	_Atomic uint64_t *hits; /* per rule */
	struct filter_counters cnt;
};

/* "proto" into the ACL's 1-byte field; 1 if present. */
static int parse_proto(const struct slnf_nf_env *env, const char *path, json_t *o,
		       struct rte_acl_field *f, struct slnf_error *err)
{
	uint8_t n;
	int rc = slnf_params_proto(env, path, o, &n, err);

	if (rc > 0) {
		f->value.u8 = n;
		f->mask_range.u8 = 0xff;
	}
	return rc;
}

/* A port range into an ACL range field (0-65535 when absent). */
static int parse_port_range(const struct slnf_nf_env *env, const char *path, json_t *o,
			    const char *key, struct rte_acl_field *f, struct slnf_error *err)
{
	uint16_t lo, hi;
	int rc = slnf_params_port_range(env, path, o, key, &lo, &hi, err);

	f->value.u16 = lo;
	f->mask_range.u16 = hi;
	return rc;
}

static int parse_name(struct filter *f, const struct slnf_nf_env *env, const char *path,
		      json_t *o, struct filter_rule *rule, struct slnf_error *err)
{
	const char *name;
	int rc = slnf_params_string(env, path, o, "name", false, &name, err);

	if (rc <= 0)
		return rc;
	if (!*name || strlen(name) >= sizeof(rule->name))
		return slnf_params_fail_at(env, err, EINVAL, path, "name",
					   "must be 1 to %zu characters", sizeof(rule->name) - 1);
	for (unsigned i = 0; i < f->n_rules; i++)
		if (!strcmp(f->rules[i].name, name))
			return slnf_params_fail_at(env, err, EEXIST, path, "name",
						   "duplicate rule name \"%s\" (also rules[%u])",
						   name, i);
	memcpy(rule->name, name, strlen(name) + 1);
	return 1;
}

/* The address fields of a rule: absent means any (mask length 0). */
static int parse_addr(const struct slnf_nf_env *env, const char *path, json_t *o,
		      const char *key, struct rte_acl_field *f, struct slnf_error *err)
{
	struct slnf_ipv4_prefix pfx = { 0, 0 };
	int rc = slnf_params_prefix(env, path, o, key, false, &pfx, err);

	f->value.u32 = pfx.addr;
	f->mask_range.u32 = pfx.len;
	return rc;
}

/* The port fields of a rule, and the "has ports" word they then require. */
static int parse_ports(const struct slnf_nf_env *env, const char *path, json_t *o,
		       bool proto_set, struct filter_acl_rule *ar, struct slnf_error *err)
{
	uint8_t proto = ar->field[FLD_PROTO].value.u8;
	int src, dst;

	src = parse_port_range(env, path, o, "src_port", &ar->field[FLD_SPORT], err);
	if (src < 0)
		return src;
	dst = parse_port_range(env, path, o, "dst_port", &ar->field[FLD_DPORT], err);
	if (dst < 0)
		return dst;
	if (!src && !dst)
		return 0;
	if (proto_set && proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return slnf_params_fail_at(env, err, EINVAL, path, src ? "src_port" : "dst_port",
					   "ports need proto tcp or udp (proto is %u)", proto);
	ar->field[FLD_PORTS].value.u32 = 1;
	ar->field[FLD_PORTS].mask_range.u32 = UINT32_MAX;
	return 1;
}

static int parse_rule(struct filter *f, const struct slnf_nf_env *env, json_t *rules, size_t i,
		      struct filter_acl_rule *ar, struct slnf_error *err)
{
	static const char *const keys[] = { "name", "action",	"proto",    "src",
					    "dst",  "src_port", "dst_port", NULL };
	char path[SLNF_PARAMS_PATH_MAX];
	struct filter_rule *rule = &f->rules[i];
	unsigned action;
	int rc, proto;
	json_t *o;

	rc = slnf_params_element(env, env->field, "rules", rules, i, keys, path, &o, err);
	if (rc >= 0)
		rc = parse_name(f, env, path, o, rule, err);
	if (rc >= 0)
		rc = slnf_params_word(env, path, o, "action", true, action_words, &action, err);
	if (rc < 0)
		return rc;
	rule->action = (uint8_t)action;
	proto = parse_proto(env, path, o, &ar->field[FLD_PROTO], err);
	if (proto < 0)
		return proto;
	rc = parse_addr(env, path, o, "src", &ar->field[FLD_SRC], err);
	if (rc >= 0)
		rc = parse_addr(env, path, o, "dst", &ar->field[FLD_DST], err);
	if (rc >= 0)
		rc = parse_ports(env, path, o, proto > 0, ar, err);
	if (rc < 0)
		return rc;

	ar->data.category_mask = 1;
	ar->data.priority = (int32_t)(json_array_size(rules) - i);
	ar->data.userdata = (uint32_t)i + 1;
	f->n_rules++;
	return 0;
}

static int build_acl(struct filter *f, const struct slnf_nf_env *env,
		     const struct filter_acl_rule *ars, struct slnf_error *err)
{
	char name[RTE_ACL_NAMESIZE];
	struct rte_acl_param ap = {
		.name = name,
		.socket_id = SOCKET_ID_ANY,
		.rule_size = RTE_ACL_RULE_SZ(FLD_NUM),
		.max_rule_num = f->n_rules,
	};
	struct rte_acl_config bc = {
		.num_categories = 1,
		.num_fields = FLD_NUM,
	};
	int rc;

	memcpy(bc.defs, filter_fields, sizeof(filter_fields));
	slnf_params_object_name(name, sizeof(name), "acl", env);
	f->acl = rte_acl_create(&ap);
	if (!f->acl)
		return slnf_params_fail(env, err, ENOMEM, env->field, "cannot create ACL %s: %s",
					name, rte_strerror(rte_errno));
	rc = rte_acl_add_rules(f->acl, (const struct rte_acl_rule *)ars, f->n_rules);
	if (rc == 0)
		rc = rte_acl_build(f->acl, &bc);
	if (rc < 0)
		return slnf_params_fail(env, err, -rc, env->field,
					"cannot build ACL %s from %u rules: %s", name, f->n_rules,
					rte_strerror(-rc));
	return 0;
}

static int parse_rules(struct filter *f, const struct slnf_nf_env *env, json_t *params,
		       struct slnf_error *err)
{
	struct filter_acl_rule *ars;
	json_t *rules;
	size_t n;
	int rc = slnf_params_rules(env, params, FILTER_MAX_RULES, &rules, err);

	if (rc <= 0)
		return rc;
	n = (size_t)rc;
	f->rules = calloc(n, sizeof(*f->rules));
	f->hits = calloc(n, sizeof(*f->hits));
	ars = calloc(n, sizeof(*ars));
	if (!f->rules || !f->hits || !ars) {
		free(ars);
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		rc = parse_rule(f, env, rules, i, &ars[i], err);
		if (rc < 0)
			break;
	}
	if (rc >= 0 && !env->check_only)
		rc = build_acl(f, env, ars, err);
	free(ars);
	return rc;
}

static void filter_destroy(void *ctx)
{
	struct filter *f = ctx;

	if (!f)
		return;
	rte_acl_free(f->acl);
	free(f->rules);
	free(f->hits);
	free(f);
}

static int filter_create(const struct slnf_nf_env *env, json_t *params, void **ctx,
			 struct slnf_error *err)
{
	static const char *const keys[] = { "nf", "default", "rules", NULL };
	struct filter *f;
	unsigned def = FILTER_ALLOW;
	int rc;

	rc = slnf_params_check_keys(env, env->field, params, keys, err);
	if (rc < 0)
		return rc;
	rc = slnf_params_word(env, env->field, params, "default", false, action_words, &def, err);
	if (rc < 0)
		return rc;
	f = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sizeof(*f), RTE_CACHE_LINE_SIZE));
	if (!f)
		return slnf_params_fail(env, err, ENOMEM, env->field, "out of memory");
	memset(f, 0, sizeof(*f));
	f->default_action = (uint8_t)def;
	rc = parse_rules(f, env, params, err);
	if (rc < 0) {
		filter_destroy(f);
		return rc;
	}
	*ctx = f;
	return 0;
}

static inline void fill_key(struct filter_key *k, const struct slnf_pkt *p)
{
	bool ports = (p->key.proto == IPPROTO_TCP || p->key.proto == IPPROTO_UDP) &&
		     (!(p->flags & SLNF_PKT_F_FRAG) || (p->flags & SLNF_PKT_F_FIRST_FRAG));

	memset(k, 0, sizeof(*k));
	k->proto = p->key.proto;
	k->src = rte_cpu_to_be_32(p->key.src_ip);
	k->dst = rte_cpu_to_be_32(p->key.dst_ip);
	if (ports) {
		k->sport = rte_cpu_to_be_16(p->key.src_port);
		k->dport = rte_cpu_to_be_16(p->key.dst_port);
		k->has_ports = rte_cpu_to_be_32(1);
	}
}

static void filter_process(void *ctx, struct slnf_burst *b, struct slnf_state_batch *reads,
			   struct slnf_state_batch *writes)
{
	struct filter *f = ctx;
	struct filter_key keys[SLNF_BURST_MAX];
	const uint8_t *data[SLNF_BURST_MAX];
	uint32_t match[SLNF_BURST_MAX];
	struct slnf_pkt *live[SLNF_BURST_MAX];
	uint32_t allowed = 0, denied = 0, defaults = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < b->n; i++) {
		struct slnf_pkt *p = b->pkts[i];

		if (p->verdict != SLNF_VERDICT_FORWARD)
			continue;
		fill_key(&keys[n], p);
		data[n] = (const uint8_t *)&keys[n];
		live[n++] = p;
	}
	if (n == 0)
		return;
	if (!f->acl || rte_acl_classify(f->acl, data, match, n, 1) != 0)
		memset(match, 0, sizeof(match[0]) * n);

	for (unsigned i = 0; i < n; i++) {
		uint8_t action = f->default_action;

		if (match[i]) {
			action = f->rules[match[i] - 1].action;
			atomic_fetch_add_explicit(&f->hits[match[i] - 1], 1, memory_order_relaxed);
		} else {
			defaults++;
		}
		if (action == FILTER_DENY) {
			slnf_pkt_drop(live[i], SLNF_DROP_FILTER_DENY);
			denied++;
		} else {
			allowed++;
		}
	}
	slnf_counter_add(&f->cnt.default_hits, defaults);
	slnf_counter_add(&f->cnt.allowed, allowed);
	slnf_counter_add(&f->cnt.denied, denied);
}

static void filter_stats(void *ctx, json_t *obj)
{
	struct filter *f = ctx;
	json_t *rules;

	if (!obj)
		return;
	rules = json_array();
	for (unsigned i = 0; i < f->n_rules; i++)
		slnf_rule_report(rules, i, f->rules[i].name, action_words[f->rules[i].action],
				 &f->hits[i]);
	json_object_set_new(obj, "rules", rules);
	json_object_set_new(obj, "default", json_string(action_words[f->default_action]));
	slnf_counter_report(obj, "default_hits", &f->cnt.default_hits);
	slnf_counter_report(obj, "allowed", &f->cnt.allowed);
	slnf_counter_report(obj, "denied", &f->cnt.denied);
}

static const struct slnf_nf_type filter_nf = {
	.name = "filter",
	.id = FILTER_NF_ID,
	.summary = "stateless ACL: allow or deny by 5-tuple, first match wins",
	.create = filter_create,
	.destroy = filter_destroy,
	.process = filter_process,
	.stats = filter_stats,
};

SLNF_NF_REGISTER(filter_nf)
