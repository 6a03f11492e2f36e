/*
 * validate.c - resource checks and instance configs; see validate.h.
 *
 * Tenants and instances are checked by writing the slnfd config they stand
 * for and running slnfd's own parser and NF checks on it, so the API can
 * never accept what slnfd would refuse. The error's field, a path in that
 * config, is then translated back to a path in the request body.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/chain.h"
#include "orch/desired.h"
#include "orch/validate.h"
#include "slnf/config.h"

int orch_verr_set(struct orch_verr *e, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

bool orch_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 31)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

int orch_check_name(json_t *body, const char *url_name, struct orch_verr *e)
{
	json_t *n = json_object_get(body, "name");

	if (!json_is_object(body))
		return orch_verr_set(e, 400, "", "the body must be a JSON object");
	if (!n && url_name) {
		json_object_set_new(body, "name", json_string(url_name));
		return 0;
	}
	if (!n)
		return orch_verr_set(e, 400, "name", "missing (required)");
	if (!json_is_string(n) || !orch_name_ok(json_string_value(n)))
		return orch_verr_set(e, 400, "name", "expected 1..31 letters, digits, '_' and '-'");
	if (url_name && strcmp(url_name, json_string_value(n)))
		return orch_verr_set(e, 400, "name", "'%s' differs from the name in the URL ('%s')",
				     json_string_value(n), url_name);
	return 0;
}

static int check_keys(json_t *o, const char *const keys[], struct orch_verr *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		unsigned i;

		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		if (!keys[i])
			return orch_verr_set(e, 400, key, "unknown key");
	}
	return 0;
}

/* Run slnfd's checks on config; map fields with map(). */
typedef void (*map_fn)(const char *field, json_t *ctx, char *out, size_t size, char *note,
		       size_t note_size);

static int check_config(json_t *config, map_fn map, json_t *ctx, struct orch_verr *e)
{
	struct slnf_config *cfg = calloc(1, sizeof(*cfg));
	struct slnf_error err = {{0}};
	char *text = json_dumps(config, JSON_COMPACT);
	int rc;

	if (!cfg || !text) {
		free(cfg);
		free(text);
		return orch_verr_set(e, 500, "", "out of memory");
	}
	rc = slnf_config_parse(text, "", cfg, &err);
	if (!rc)
		rc = slnf_chain_check(cfg, &err);
	slnf_config_free(cfg);
	free(cfg);
	free(text);
	if (!rc)
		return 0;
	/* "field: reason", or just "reason" when there is no field */
	char field[128] = "", mapped[128] = "", note[160] = "";
	const char *sep = strstr(err.msg, ": "), *reason = err.msg;
	if (sep && (size_t)(sep - err.msg) < sizeof(field) &&
	    !memchr(err.msg, ' ', (size_t)(sep - err.msg))) {
		memcpy(field, err.msg, (size_t)(sep - err.msg));
		reason = sep + 2;
	}
	map(field, ctx, mapped, sizeof(mapped), note, sizeof(note));
	return orch_verr_set(e, 400, mapped, "%s%s", note, reason);
}

/* "tenants[0].chain[1].pool" -> "chain[1].pool"; "ports[..." stays. */
static void map_tenant(const char *field, json_t *ctx, char *out, size_t size, char *note,
		       size_t note_size)
{
	note[0] = '\0';
	if (!strncmp(field, "tenants[0].", 11))
		snprintf(out, size, "%s", field + 11);
	else if (!strncmp(field, "ports", 5) || !field[0])
		snprintf(out, size, "%s", field);
	else
		snprintf(out, size, "%s", "");
}

static const char *const tenant_keys[] = {"name", "id", "match", "inside", "chain", "ports", NULL};

/* {"name": ..., "store": local, "ports": tenant.ports, "tenants": [tenant without ports]} */
static json_t *tenant_config(json_t *tenant, const char *name)
{
	json_t *t = json_deep_copy(tenant);
	json_t *ports = json_object_get(t, "ports");
	json_t *c = json_pack("{s:s, s:{s:s}}", "name", name, "store", "backend", "local");

	if (ports)
		json_object_set(c, "ports", ports);
	json_object_del(t, "ports");
	json_object_set_new(c, "tenants", json_pack("[o]", t));
	return c;
}

int orch_validate_tenant(json_t *tenant, struct orch_verr *e)
{
	json_t *c;
	int rc;

	if (check_keys(tenant, tenant_keys, e))
		return -1;
	c = tenant_config(tenant, "orch-check");
	rc = check_config(c, map_tenant, NULL, e);
	json_decref(c);
	return rc;
}

static const char *const pool_keys[] = {"name", "tenant", "min", "max", "template", "policy", NULL};

static int get_count(json_t *o, const char *key, long long def, long long *out, struct orch_verr *e)
{
	json_t *v = json_object_get(o, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 64)
		return orch_verr_set(e, 400, key, "expected an integer in 0..64");
	*out = json_integer_value(v);
	return 0;
}

int orch_validate_pool(json_t *pool, json_t *doc, struct orch_verr *e)
{
	json_t *t = json_object_get(pool, "tenant");
	long long min, max;

	if (check_keys(pool, pool_keys, e))
		return -1;
	if (!t)
		return orch_verr_set(e, 400, "tenant", "missing (required)");
	if (!json_is_string(t))
		return orch_verr_set(e, 400, "tenant", "expected a tenant name");
	if (!orch_desired_find(doc, ORCH_TENANTS, json_string_value(t), NULL))
		return orch_verr_set(e, 400, "tenant", "no tenant named '%s'",
				     json_string_value(t));
	if (get_count(pool, "min", 1, &min, e) || get_count(pool, "max", 8, &max, e))
		return -1;
	if (min > max)
		return orch_verr_set(e, 400, "min", "%lld is more than max (%lld)", min, max);
	json_object_set_new(pool, "min", json_integer(min)); /* defaults shown */
	json_object_set_new(pool, "max", json_integer(max));
	return 0;
}

json_t *orch_instance_tenant(json_t *inst, json_t *doc)
{
	const char *pool = json_string_value(json_object_get(inst, "pool"));
	json_t *p = pool ? orch_desired_find(doc, ORCH_POOLS, pool, NULL) : NULL;
	const char *t = p ? json_string_value(json_object_get(p, "tenant")) : NULL;

	return t ? orch_desired_find(doc, ORCH_TENANTS, t, NULL) : NULL;
}

/* "draining" is the orchestrator's mark (drain.h), refused in requests */
static const char *const inst_keys[] = {"name",	 "pool",       "ports",	   "workers", "eal",
					"mbufs", "neighbours", "draining", NULL};
static const char *const passthrough[] = {"workers", "eal", "mbufs", "neighbours", NULL};

json_t *orch_instance_config(json_t *inst, json_t *doc, const struct orch_config *cfg)
{
	const char *name = json_string_value(json_object_get(inst, "name"));
	json_t *tenant = orch_instance_tenant(inst, doc), *c, *ports, *over, *p;
	char sock[PATH_MAX + 64];
	size_t i;

	if (!tenant || !name)
		return NULL;
	c = tenant_config(tenant, name);
	snprintf(sock, sizeof(sock), "%s/%s.sock", cfg->run_dir, name);
	json_object_set_new(c, "control", json_pack("{s:s}", "socket", sock));
	if (cfg->instance_store_json)
		json_object_set(c, "store", cfg->instance_store_json);
	else if (cfg->store_json)
		json_object_set(c, "store", cfg->store_json);
	else
		json_object_del(c, "store"); /* slnfd's default store */
	over = json_object_get(inst, "ports");
	ports = json_object_get(c, "ports");
	json_array_foreach(ports, i, p)
	{
		json_t *o = json_object_get(over, json_string_value(json_object_get(p, "name")));
		if (json_is_object(o))
			json_object_update(p, o);
	}
	for (i = 0; passthrough[i]; i++)
		if (json_object_get(inst, passthrough[i]))
			json_object_set(c, passthrough[i], json_object_get(inst, passthrough[i]));
	return c;
}

/* "ports[1].iface" -> "ports.<name of port 1>.iface"; "tenants[0]..." ->
 * "pool" with a note: the tenant itself was valid on its own ports. */
static void map_instance(const char *field, json_t *config, char *out, size_t size, char *note,
			 size_t note_size)
{
	unsigned idx;
	int used = 0;

	note[0] = '\0';
	if (sscanf(field, "ports[%u]%n", &idx, &used) == 1 && used) {
		json_t *p = json_array_get(json_object_get(config, "ports"), idx);
		const char *pn = json_string_value(json_object_get(p, "name"));
		snprintf(out, size, "ports.%s%s", pn ? pn : "?", field + used);
	} else if (!strncmp(field, "tenants[0]", 10)) {
		snprintf(out, size, "pool");
		snprintf(note, note_size, "the pool's tenant does not fit this instance: %s: ",
			 field + (field[10] == '.' ? 11 : 10));
	} else if (!strcmp(field, "control.socket")) {
		snprintf(out, size, "name");
		snprintf(note, note_size, "control socket path: ");
	} else {
		snprintf(out, size, "%s", field);
	}
}

int orch_validate_instance(json_t *inst, json_t *doc, const struct orch_config *cfg,
			   json_t **config, struct orch_verr *e)
{
	json_t *pool = json_object_get(inst, "pool"), *over = json_object_get(inst, "ports");
	json_t *tports, *c, *v;
	const char *key;
	int rc;

	*config = NULL;
	if (check_keys(inst, inst_keys, e))
		return -1;
	if (!json_is_string(pool))
		return orch_verr_set(e, 400, "pool",
				     pool ? "expected a pool name" : "missing (required)");
	if (!orch_desired_find(doc, ORCH_POOLS, json_string_value(pool), NULL))
		return orch_verr_set(e, 400, "pool", "no pool named '%s'", json_string_value(pool));
	if (!orch_instance_tenant(inst, doc))
		return orch_verr_set(e, 409, "pool", "the pool's tenant is gone");
	if (over && !json_is_object(over))
		return orch_verr_set(e, 400, "ports",
				     "expected an object: port name -> fields to override");
	tports = json_object_get(orch_instance_tenant(inst, doc), "ports");
	json_object_foreach(over, key, v)
	{
		char field[128];
		size_t i;
		json_t *p;
		bool found = false;

		snprintf(field, sizeof(field), "ports.%s", key);
		json_array_foreach(tports, i, p) found |=
		    !strcmp(key, json_string_value(json_object_get(p, "name")) ?: "");
		if (!found)
			return orch_verr_set(e, 400, field, "the tenant has no port named '%s'",
					     key);
		if (!json_is_object(v))
			return orch_verr_set(e, 400, field, "expected an object of port fields");
		if (json_object_get(v, "name"))
			return orch_verr_set(e, 400, field, "a port's name cannot be overridden");
	}
	c = orch_instance_config(inst, doc, cfg);
	rc = check_config(c, map_instance, c, e);
	if (rc)
		json_decref(c);
	else
		*config = c;
	return rc;
}
