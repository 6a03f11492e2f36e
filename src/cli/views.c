/*
 * views.c - API answers as tables and lines; see views.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "cli/views.h"

#define JOIN_MAX 1024

json_t *cli_view_list(json_t *ans, const char *key)
{
	json_t *a = key ? json_object_get(ans, key) : NULL;

	if (json_is_array(ans))
		return json_incref(ans);
	if (json_is_array(a))
		return json_incref(a);
	a = json_array();
	if (a && ans && !json_is_null(ans))
		json_array_append(a, ans);
	return a;
}

/* The member key of o as a cell. */
static void cell(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (v)
		cli_fmt_value(v, buf, len);
	else
		snprintf(buf, len, "-");
}

/* a's elements (member key of each, when key is given) joined by sep;
 * "-" when there are none. */
static void join(json_t *a, const char *key, const char *sep, char *buf, size_t len)
{
	size_t n = 0, i;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(a, i, e)
	{
		char one[CLI_CELL_MAX];
		json_t *v = key ? json_object_get(e, key) : e;
		int w;

		cli_fmt_value(v ? v : json_null(), one, sizeof(one));
		w = snprintf(buf + n, len - n, "%s%s", n ? sep : "", one);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
	if (!n)
		snprintf(buf, len, "-");
}

/* Build t from the elements of ans[key] with one row function. */
static int rows(json_t *ans, const char *key, struct cli_table *t, size_t ncols,
		const char *const *headers, const enum cli_align *align,
		int (*row)(json_t *e, struct cli_table *t))
{
	json_t *list = cli_view_list(ans, key), *e;
	size_t i;
	int rc = list ? cli_table_init(t, ncols, headers, align) : -ENOMEM;

	if (!rc)
		json_array_foreach(list, i, e) if ((rc = row(e, t))) break;
	json_decref(list);
	if (rc)
		cli_table_free(t);
	return rc;
}

static int tenant_row(json_t *e, struct cli_table *t)
{
	char name[CLI_CELL_MAX], id[32], ports[JOIN_MAX], inside[JOIN_MAX], chain[JOIN_MAX];
	const char *c[] = {name, id, ports, inside, chain};

	cell(e, "name", name, sizeof(name));
	cell(e, "id", id, sizeof(id));
	join(json_object_get(e, "ports"), "name", ",", ports, sizeof(ports));
	join(json_object_get(e, "inside"), NULL, ",", inside, sizeof(inside));
	join(json_object_get(e, "chain"), "nf", ",", chain, sizeof(chain));
	return cli_table_add(t, c);
}

int cli_view_tenants(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"NAME", "ID", "PORTS", "INSIDE", "CHAIN"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_RIGHT, CLI_LEFT, CLI_LEFT, CLI_LEFT};

	return rows(ans, "tenants", t, 5, h, a, tenant_row);
}

static int chain_row(json_t *e, struct cli_table *t)
{
	char name[CLI_CELL_MAX], id[32], inside[JOIN_MAX], chain[JOIN_MAX];
	const char *c[] = {name, id, inside, chain};

	cell(e, "name", name, sizeof(name));
	cell(e, "id", id, sizeof(id));
	join(json_object_get(e, "inside"), NULL, ",", inside, sizeof(inside));
	join(json_object_get(e, "chain"), "nf", " -> ", chain, sizeof(chain));
	return cli_table_add(t, c);
}

int cli_view_chains(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"TENANT", "ID", "INSIDE", "CHAIN"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_RIGHT, CLI_LEFT, CLI_LEFT};

	return rows(ans, "tenants", t, 4, h, a, chain_row);
}

static int pool_row(json_t *e, struct cli_table *t)
{
	char name[CLI_CELL_MAX], tenant[CLI_CELL_MAX], min[32], max[32], count[32];
	const char *c[] = {name, tenant, min, max, count};

	cell(e, "name", name, sizeof(name));
	cell(e, "tenant", tenant, sizeof(tenant));
	cell(e, "min", min, sizeof(min));
	cell(e, "max", max, sizeof(max));
	cli_fmt_int_member(json_object_get(e, "status"), "count", count, sizeof(count));
	return cli_table_add(t, c);
}

int cli_view_pools(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"NAME", "TENANT", "MIN", "MAX", "INSTANCES"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT, CLI_RIGHT};

	return rows(ans, "pools", t, 5, h, a, pool_row);
}

static int instance_row(json_t *e, struct cli_table *t)
{
	char name[CLI_CELL_MAX], pool[CLI_CELL_MAX], state[64], pid[32], hb[32];
	char reason[CLI_CELL_MAX];
	const char *c[] = {name, pool, state, pid, hb, reason};
	json_t *st, *v;

	if (json_is_string(e)) /* a bare name */
		e = json_pack("{s:O}", "name", e);
	else
		json_incref(e);
	if (!e)
		return -ENOMEM;
	st = json_object_get(e, "status");
	cell(e, "name", name, sizeof(name));
	cell(e, "pool", pool, sizeof(pool));
	cell(st ? st : e, "state", state, sizeof(state)); /* scale: {"name", "state"} */
	cli_fmt_int_member(st, "pid", pid, sizeof(pid));
	if (!strcmp(pid, "0"))
		snprintf(pid, sizeof(pid), "-");
	v = json_object_get(st, "last_heartbeat_ms_ago");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		cli_fmt_duration_ms((uint64_t)json_integer_value(v), hb, sizeof(hb));
	else
		snprintf(hb, sizeof(hb), "-");
	cell(st, "reason", reason, sizeof(reason));
	json_decref(e);
	return cli_table_add(t, c);
}

int cli_view_instances(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"NAME", "POOL", "STATE", "PID", "HEARTBEAT-AGE", "REASON"};
	static const enum cli_align a[] = {CLI_LEFT,  CLI_LEFT,	 CLI_LEFT,
					   CLI_RIGHT, CLI_RIGHT, CLI_LEFT};

	return rows(ans, "instances", t, 6, h, a, instance_row);
}

static int add_fields(struct cli_table *t, const char *prefix, json_t *o)
{
	const char *key;
	json_t *v;
	int rc = 0;

	json_object_foreach(o, key, v)
	{
		char name[256], val[CLI_CELL_MAX * 4];
		const char *c[] = {name, val};

		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (json_is_object(v) && json_object_size(v)) {
			char sub[260];
			snprintf(sub, sizeof(sub), "%s.", name);
			rc = add_fields(t, sub, v);
		} else {
			cli_fmt_value(v, val, sizeof(val));
			rc = cli_table_add(t, c);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int cli_view_scaled(json_t *ans, const char *pool, struct cli_table *t)
{
	json_t *list = cli_view_list(ans, "instances"), *copy = json_array(), *e;
	const char *p = json_string_value(json_object_get(ans, "pool"));
	size_t i;
	int rc = list && copy ? 0 : -ENOMEM;

	json_array_foreach(list, i, e)
	{
		json_t *c = json_is_string(e) ? json_pack("{s:O}", "name", e) : json_copy(e);

		if (rc || !c ||
		    (json_is_object(c) && !json_object_get(c, "pool") &&
		     json_object_set_new(c, "pool", json_string(p ? p : pool)))) {
			json_decref(c);
			rc = -ENOMEM;
			continue;
		}
		json_array_append_new(copy, c);
	}
	if (!rc)
		rc = cli_view_instances(copy, t);
	json_decref(list);
	json_decref(copy);
	return rc;
}

int cli_view_fields(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"FIELD", "VALUE"};
	int rc = cli_table_init(t, 2, h, NULL);

	if (!rc && (rc = add_fields(t, "", ans)))
		cli_table_free(t);
	return rc;
}

static int port_row(json_t *e, struct cli_table *t)
{
	static const char *const keys[] = {"rx_packets", "rx_bytes",  "tx_packets", "tx_bytes",
					   "rx_missed",	 "rx_errors", "tx_errors"};
	char v[9][CLI_CELL_MAX];
	const char *c[9];

	cell(e, "name", v[0], sizeof(v[0]));
	cell(e, "type", v[1], sizeof(v[1]));
	for (size_t k = 0; k < 7; k++)
		cli_fmt_int_member(e, keys[k], v[k + 2], sizeof(v[k + 2]));
	for (size_t k = 0; k < 9; k++)
		c[k] = v[k];
	return cli_table_add(t, c);
}

int cli_view_ports(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"PORT",	     "TYPE",	   "RX-PACKETS",
					"RX-BYTES",  "TX-PACKETS", "TX-BYTES",
					"RX-MISSED", "RX-ERRORS",  "TX-ERRORS"};
	static const enum cli_align a[] = {CLI_LEFT,  CLI_LEFT,	 CLI_RIGHT, CLI_RIGHT, CLI_RIGHT,
					   CLI_RIGHT, CLI_RIGHT, CLI_RIGHT, CLI_RIGHT};
	json_t *ports = json_object_get(ans, "ports"), *none = NULL;
	int rc;

	if (!json_is_array(ports) && !(ports = none = json_array()))
		return -ENOMEM;
	rc = rows(ports, NULL, t, 9, h, a, port_row);
	json_decref(none);
	return rc;
}

/* One row per nonzero counter of drops, charged to port. */
static int drop_rows(struct cli_table *t, const char *port, json_t *drops)
{
	const char *reason;
	json_t *v;
	int rc = 0;

	json_object_foreach(drops, reason, v)
	{
		char n[32];
		const char *c[] = {port, reason, n};

		if (json_is_integer(v) && json_integer_value(v) == 0)
			continue;
		cli_fmt_value(v, n, sizeof(n));
		if ((rc = cli_table_add(t, c)))
			break;
	}
	return rc;
}

int cli_view_drops(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"PORT", "REASON", "PACKETS"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_LEFT, CLI_RIGHT};
	json_t *ports = json_object_get(ans, "ports"), *p;
	bool per_port = false;
	size_t i;
	int rc = cli_table_init(t, 3, h, a);

	json_array_foreach(ports, i, p)
	{
		json_t *d = json_object_get(p, "drops");
		char name[CLI_CELL_MAX];

		if (rc || !json_is_object(d))
			continue;
		per_port = true;
		cell(p, "name", name, sizeof(name));
		rc = drop_rows(t, name, d);
	}
	if (!rc && !per_port && json_is_object(json_object_get(ans, "drops")))
		rc = drop_rows(t, "*", json_object_get(ans, "drops"));
	if (rc)
		cli_table_free(t);
	return rc;
}

static int steering_rows(json_t *tab, struct cli_table *t)
{
	char tenant[CLI_CELL_MAX], epoch[32];
	json_t *insts = json_object_get(tab, "instances"), *in;
	size_t i;
	int rc = 0;

	cell(tab, "tenant", tenant, sizeof(tenant));
	cell(tab, "epoch", epoch, sizeof(epoch));
	if (!json_array_size(insts)) {
		const char *c[] = {tenant, epoch, "-", "0", "-"};
		return cli_table_add(t, c);
	}
	json_array_foreach(insts, i, in)
	{
		char name[CLI_CELL_MAX], entries[32], share[32];
		const char *c[] = {tenant, epoch, name, entries, share};
		json_t *s = json_object_get(in, "share");

		cell(in, "name", name, sizeof(name));
		cell(in, "entries", entries, sizeof(entries));
		if (json_is_number(s))
			snprintf(share, sizeof(share), "%.2f%%", 100.0 * json_number_value(s));
		else
			snprintf(share, sizeof(share), "-");
		if ((rc = cli_table_add(t, c)))
			break;
	}
	return rc;
}

int cli_view_steering(json_t *ans, struct cli_table *t)
{
	static const char *const h[] = {"TENANT", "EPOCH", "INSTANCE", "ENTRIES", "SHARE"};
	static const enum cli_align a[] = {CLI_LEFT, CLI_RIGHT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT};

	return rows(ans, "tenants", t, 5, h, a, steering_rows);
}

int cli_explain_line(json_t *ans, const char *proto, const char *src, const char *dst, char **out)
{
	char tenant[CLI_CELL_MAX], inst[CLI_CELL_MAX], epoch[32], entry[32];
	json_t *i = json_object_get(ans, "instance");
	int n;

	cell(ans, "tenant", tenant, sizeof(tenant));
	cell(ans, "epoch", epoch, sizeof(epoch));
	cell(ans, "entry", entry, sizeof(entry));
	if (json_is_string(i))
		snprintf(inst, sizeof(inst), "instance %s", json_string_value(i));
	else
		snprintf(inst, sizeof(inst), "no instance");
	n = asprintf(out, "flow %s %s %s -> %s -> %s (epoch %s, entry %s)", tenant, proto, src, dst,
		     inst, epoch, entry);
	return n < 0 ? -ENOMEM : 0;
}
