/*
 * steer.c - the steering tables: building them from the orchestrator's
 * push, swapping them in, explaining a flow's choice; see steer.h.
 *
 * A push is all or nothing: every tenant it names is checked and its table
 * built before any pointer changes, so a message with one bad field leaves
 * every table as it was and answers the field and the reason.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "steer/steer.h"

void slnf_steer_init(struct slnf_steer *s, const struct slnf_config *cfg,
		     bool (*quiesce)(void *arg), void *quiesce_arg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->quiesce = quiesce;
	s->quiesce_arg = quiesce_arg;
}

void slnf_steer_fini(struct slnf_steer *s)
{
	for (unsigned t = 0; t < SLNF_MAX_TENANTS; t++) {
		free(s->tables[t]);
		s->tables[t] = NULL;
	}
}

uint32_t slnf_steer_hash(const struct slnf_tenant_config *tc, uint16_t in_port,
			 const struct slnf_flow_key *k)
{
	if (!tc->n_inside)
		return slnf_flow_hash_symmetric(k);
	struct slnf_flow_key o = {.proto = k->proto};
	if (tc->inside[in_port]) { /* from inside: the remote end is the destination */
		o.src_ip = k->dst_ip;
		o.src_port = k->dst_port;
		o.dst_port = k->src_port;
	} else {
		o.src_ip = k->src_ip;
		o.src_port = k->src_port;
		o.dst_port = k->dst_port;
	}
	return slnf_flow_hash_symmetric(&o);
}

static int tenant_index(const struct slnf_config *cfg, const char *name)
{
	for (unsigned t = 0; t < cfg->n_tenants; t++)
		if (!strcmp(cfg->tenants[t].name, name))
			return (int)t;
	return -1;
}

static json_t *error_answer(const char *field, const char *fmt, const char *arg)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg);
	return json_pack("{s:s, s:s}", "error", msg, "field", field);
}

/* Fill target x from an element of a tenant's "instances"; NULL or the
 * error answer. field is e.g. "tenants[0].instances[1]". */
static json_t *parse_target(const struct slnf_config *cfg, json_t *e, const char *field,
			    struct slnf_steer_target *x)
{
	char f[192];
	const char *name = json_string_value(json_object_get(e, "name"));
	json_t *macs = json_object_get(e, "macs");
	if (!name || !*name || strlen(name) >= sizeof(x->name)) {
		snprintf(f, sizeof(f), "%s.name", field);
		return error_answer(f, "%sa name of 1..31 characters is required", "");
	}
	snprintf(x->name, sizeof(x->name), "%s", name);
	if (!json_is_object(macs)) {
		snprintf(f, sizeof(f), "%s.macs", field);
		return error_answer(f, "%san object of port name -> MAC address is required", "");
	}
	const char *port;
	json_t *v;
	json_object_foreach(macs, port, v)
	{
		int i = slnf_config_port_index(cfg, port);
		uint8_t mac[6];
		if (i < 0) /* the instance may have ports the steering node does not */
			continue;
		snprintf(f, sizeof(f), "%s.macs.%s", field, port);
		if (!json_is_string(v) || slnf_parse_mac(json_string_value(v), mac))
			return error_answer(f, "not a MAC address (expected aa:bb:cc:dd:ee:ff)%s",
					    "");
		memcpy(x->mac[i].addr_bytes, mac, 6);
		x->has_mac[i] = true;
	}
	return NULL;
}

/* Build one tenant's table from its element of "tenants". */
static json_t *build_table(const struct slnf_config *cfg, json_t *e, unsigned idx, uint64_t epoch,
			   struct slnf_steer_table *t)
{
	char field[64];
	json_t *insts = json_object_get(e, "instances");
	snprintf(field, sizeof(field), "tenants[%u].instances", idx);
	if (!json_is_array(insts))
		return error_answer(field, "%san array is required", "");
	if (json_array_size(insts) > SLNF_STEER_MAX_INSTANCES)
		return error_answer(field, "more than %s instances", "64");
	t->epoch = epoch;
	t->n = (unsigned)json_array_size(insts);
	struct slnf_maglev_backend b[SLNF_STEER_MAX_INSTANCES];
	for (unsigned i = 0; i < t->n; i++) {
		char f[96];
		snprintf(f, sizeof(f), "%s[%u]", field, i);
		json_t *err = parse_target(cfg, json_array_get(insts, i), f, &t->targets[i]);
		if (err)
			return err;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(t->targets[j].name, t->targets[i].name))
				return error_answer(f, "instance '%s' is listed twice",
						    t->targets[i].name);
		b[i] = (struct slnf_maglev_backend){.name = t->targets[i].name, .weight = 1};
	}
	if (t->n && slnf_maglev_build(t->entries, SLNF_STEER_TABLE_SIZE, b, t->n))
		return error_answer(field, "%scannot build the Maglev table", "");
	for (uint32_t i = 0; t->n && i < SLNF_STEER_TABLE_SIZE; i++)
		t->targets[t->entries[i]].entries++;
	return NULL;
}

/* Carry each instance's packet count over from the table it replaces. */
static void carry_counts(struct slnf_steer_table *to, const struct slnf_steer_table *from)
{
	for (unsigned i = 0; from && i < to->n; i++)
		for (unsigned j = 0; j < from->n; j++)
			if (!strcmp(to->targets[i].name, from->targets[j].name))
				to->targets[i].base =
				    from->targets[j].base +
				    __atomic_load_n(&from->targets[j].packets, __ATOMIC_RELAXED);
}

json_t *slnf_steer_push(struct slnf_steer *s, const char *text, uint64_t now_ms)
{
	json_error_t jerr;
	json_t *msg = json_loads(text, 0, &jerr), *answer = NULL;
	struct slnf_steer_table *built[SLNF_MAX_TENANTS] = {0};
	int which[SLNF_MAX_TENANTS];
	json_int_t epoch = json_integer_value(json_object_get(msg, "epoch"));
	json_t *tenants = json_object_get(msg, "tenants");
	unsigned n = 0;

	if (!msg)
		answer = error_answer("", "not JSON: %s", jerr.text);
	else if (!json_is_integer(json_object_get(msg, "epoch")) || epoch < 0)
		answer = error_answer("epoch", "%sa non-negative integer is required", "");
	else if (!json_is_array(tenants) || json_array_size(tenants) > SLNF_MAX_TENANTS)
		answer = error_answer("tenants", "%san array (at most 64) is required", "");
	for (size_t i = 0; !answer && i < json_array_size(tenants); i++) {
		json_t *e = json_array_get(tenants, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		char field[48];
		snprintf(field, sizeof(field), "tenants[%zu].name", i);
		which[n] = name ? tenant_index(s->cfg, name) : -1;
		if (which[n] < 0) {
			answer =
			    error_answer(field, "unknown tenant '%s' (not in this node's config)",
					 name ? name : "");
			break;
		}
		for (unsigned j = 0; j < n && !answer; j++)
			if (which[j] == which[n])
				answer = error_answer(field, "tenant '%s' is listed twice", name);
		built[n] = calloc(1, sizeof(*built[n]));
		if (!answer && !built[n])
			answer = error_answer(field, "%sout of memory", "");
		if (!answer)
			answer = build_table(s->cfg, e, (unsigned)i, (uint64_t)epoch, built[n]);
		n++;
	}
	if (answer) {
		for (unsigned i = 0; i < n; i++)
			free(built[i]);
		s->push_errors++;
		json_decref(msg);
		SLNF_WARN("steer", "steering push refused: %s",
			  json_string_value(json_object_get(answer, "error")));
		return answer;
	}

	struct slnf_steer_table *old[SLNF_MAX_TENANTS];
	for (unsigned i = 0; i < n; i++) {
		old[i] = s->tables[which[i]];
		carry_counts(built[i], old[i]);
		__atomic_store_n(&s->tables[which[i]], built[i], __ATOMIC_RELEASE);
	}
	/* counts taken after the swap but before quiescence are lost: a few
	 * packets of the last burst, in statistics only */
	bool quiet = !s->quiesce || s->quiesce(s->quiesce_arg);
	for (unsigned i = 0; i < n; i++)
		if (quiet)
			free(old[i]);
	if (!quiet)
		SLNF_WARN("steer", "workers did not pass a quiescent point: old tables kept");
	if (s->epoch != (uint64_t)epoch)
		SLNF_INFO("steer", "epoch %llu -> %lld: %u tenant table(s) replaced",
			  (unsigned long long)s->epoch, (long long)epoch, n);
	s->epoch = (uint64_t)epoch;
	s->pushes++;
	s->last_push_ms = now_ms;
	json_decref(msg);
	return json_pack("{s:s, s:I, s:i}", "steer", "ok", "epoch", (json_int_t)s->epoch, "tenants",
			 (int)n);
}

static int parse_proto(json_t *v)
{
	const char *p = json_string_value(v);
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255)
		return (int)json_integer_value(v);
	if (!p)
		return -1;
	if (!strcmp(p, "tcp"))
		return 6;
	if (!strcmp(p, "udp"))
		return 17;
	if (!strcmp(p, "icmp"))
		return 1;
	return -1;
}

/* An optional port number field: 0 when absent. */
static bool get_l4port(json_t *q, const char *key, uint16_t *out)
{
	json_t *v = json_object_get(q, key);
	*out = 0;
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
		return false;
	*out = (uint16_t)json_integer_value(v);
	return true;
}

json_t *slnf_steer_explain(struct slnf_steer *s, const char *text)
{
	json_t *q = json_loads(text, 0, NULL), *answer = NULL;
	const char *tenant = json_string_value(json_object_get(q, "tenant"));
	const char *port = json_string_value(json_object_get(q, "port"));
	int t = tenant ? tenant_index(s->cfg, tenant) : -1,
	    proto = parse_proto(json_object_get(q, "proto"));
	struct slnf_flow_key k = {0};
	int in_port = -1;

	if (!q)
		return error_answer("", "%snot a JSON object", "");
	if (t < 0) {
		answer = error_answer("tenant", "unknown tenant '%s'", tenant ? tenant : "");
		goto out;
	}
	const struct slnf_tenant_config *tc = &s->cfg->tenants[t];
	if (!port) /* default: the tenant's first inside port, else its first port */
		for (unsigned i = 0; i < tc->n_ports && in_port < 0; i++)
			if (!tc->n_inside || tc->inside[tc->ports[i]])
				in_port = tc->ports[i];
	if (port)
		in_port = slnf_config_port_index(s->cfg, port);
	if (in_port < 0) {
		answer = error_answer("port", "unknown port '%s'", port ? port : "");
		goto out;
	}
	if (proto < 0) {
		answer = error_answer("proto", "%sexpected tcp, udp, icmp or 0..255", "");
		goto out;
	}
	k.proto = (uint8_t)proto;
	const char *src = json_string_value(json_object_get(q, "src"));
	const char *dst = json_string_value(json_object_get(q, "dst"));
	if (!src || slnf_parse_ipv4(src, &k.src_ip)) {
		answer = error_answer("src", "'%s' is not an IPv4 address", src ? src : "");
		goto out;
	}
	if (!dst || slnf_parse_ipv4(dst, &k.dst_ip)) {
		answer = error_answer("dst", "'%s' is not an IPv4 address", dst ? dst : "");
		goto out;
	}
	if (!get_l4port(q, "sport", &k.src_port) || !get_l4port(q, "dport", &k.dst_port)) {
		answer = error_answer("sport", "%sports are integers 0..65535", "");
		goto out;
	}
	uint32_t h = slnf_steer_hash(tc, (uint16_t)in_port, &k);
	const struct slnf_steer_table *tab = __atomic_load_n(&s->tables[t], __ATOMIC_ACQUIRE);
	uint32_t entry = h % SLNF_STEER_TABLE_SIZE;
	answer = json_pack("{s:s, s:s, s:I, s:I, s:I}", "tenant", tc->name, "port",
			   s->cfg->ports[in_port].name, "epoch", (json_int_t)s->epoch, "hash",
			   (json_int_t)h, "entry", (json_int_t)entry);
	if (tab && tab->n)
		json_object_set_new(answer, "instance",
				    json_string(tab->targets[tab->entries[entry]].name));
	else
		json_object_set_new(answer, "instance", json_null());
out:
	json_decref(q);
	return answer;
}

json_t *slnf_steer_json(struct slnf_steer *s)
{
	json_t *tenants = json_array();
	for (unsigned t = 0; t < s->cfg->n_tenants; t++) {
		const struct slnf_steer_table *tab =
		    __atomic_load_n(&s->tables[t], __ATOMIC_ACQUIRE);
		json_t *insts = json_array();
		for (unsigned i = 0; tab && i < tab->n; i++) {
			const struct slnf_steer_target *x = &tab->targets[i];
			json_array_append_new(
			    insts,
			    json_pack("{s:s, s:i, s:f, s:I}", "name", x->name, "entries",
				      (int)x->entries, "share",
				      (double)x->entries / SLNF_STEER_TABLE_SIZE, "packets",
				      (json_int_t)(x->base + __atomic_load_n(&x->packets,
									     __ATOMIC_RELAXED))));
		}
		json_array_append_new(
		    tenants, json_pack("{s:s, s:b, s:I, s:o}", "name", s->cfg->tenants[t].name,
				       "pushed", tab != NULL, "epoch",
				       (json_int_t)(tab ? tab->epoch : 0), "instances", insts));
	}
	return json_pack("{s:I, s:I, s:I, s:i, s:o}", "epoch", (json_int_t)s->epoch, "pushes",
			 (json_int_t)s->pushes, "push_errors", (json_int_t)s->push_errors, "size",
			 (int)SLNF_STEER_TABLE_SIZE, "tenants", tenants);
}
