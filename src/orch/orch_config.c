/*
 * orch_config.c - parsing slnf-orch's config file; see orch_config.h.
 *
 * Same habits as slnfd's config: every object's keys are checked (a typo is
 * an error, not a silently ignored setting), and the first error names the
 * file, the JSON path and the reason. The store section is handed to
 * slnf_config_parse_store, so it means exactly what it means for slnfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch/orch_config.h"
#include "slnf/config.h"

struct pctx {
	const char *file;
	struct slnf_error *err;
	int rc;
};

static void failf(struct pctx *c, const char *field, const char *reason)
{
	if (!c->rc)
		c->rc = slnf_errorf(c->err, EINVAL, c->file, field, "%s", reason);
}

static void check_keys(struct pctx *c, json_t *o, const char *path, const char *const keys[])
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		unsigned i;
		char field[128];

		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		if (keys[i])
			continue;
		snprintf(field, sizeof(field), "%s%s%s", path, *path ? "." : "", key);
		failf(c, field, "unknown key");
		return;
	}
}

/* o[key] as an object (absent: NULL); its keys checked. */
static json_t *get_obj(struct pctx *c, json_t *o, const char *key, const char *const keys[])
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	if (!v)
		return NULL;
	if (!json_is_object(v)) {
		failf(c, key, "expected an object");
		return NULL;
	}
	check_keys(c, v, key, keys);
	return v;
}

static void get_uint(struct pctx *c, json_t *o, const char *field, const char *key, unsigned min,
		     unsigned max, unsigned def, unsigned *out)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	char reason[96];

	*out = def;
	if (!v)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(reason, sizeof(reason), "expected an integer in %u..%u", min, max);
		failf(c, field, reason);
		return;
	}
	*out = (unsigned)json_integer_value(v);
}

static void get_str(struct pctx *c, json_t *o, const char *field, const char *key, const char *def,
		    char *out, size_t size)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	snprintf(out, size, "%s", def);
	if (!v)
		return;
	if (!json_is_string(v) || !json_string_length(v)) {
		failf(c, field, "expected a non-empty string");
		return;
	}
	if (json_string_length(v) >= size) {
		failf(c, field, "too long");
		return;
	}
	snprintf(out, size, "%s", json_string_value(v));
}

static const char *const top_keys[] = {"listen", "auth",      "store",	  "slnfd",    "run_dir",
				       "health", "instances", "max_body", "steering", NULL};
static const char *const listen_keys[] = {"address", "port", NULL};
static const char *const auth_keys[] = {"tokens_file", "read_open", NULL};
static const char *const health_keys[] = {"interval_ms", "detection_ms", NULL};
static const char *const inst_keys[] = {"start_timeout_ms", "stop_timeout_ms", "drain_timeout_ms",
					"restart_ms", "store", NULL};
static const char *const steer_keys[] = {"sockets", "push_interval_ms", NULL};

/* instances.store: the store the instances get when it is not the
 * orchestrator's own (the `local` baseline of the failover tests, or a
 * deployment keeping NF state apart from the desired state). Checked as
 * slnfd checks a store section; `local` is allowed here. */
static void parse_instance_store(struct pctx *c, json_t *inst, struct orch_config *cfg)
{
	struct slnf_store_config sc;
	if (c->rc || !inst || !json_object_get(inst, "store"))
		return;
	c->rc = slnf_config_parse_store(inst, c->file, &sc, c->err);
	char *at = c->rc ? strstr(c->err->msg, ": store") : NULL;
	if (at) { /* its messages say "store.<field>": this one is under instances */
		char rest[sizeof(c->err->msg)];
		snprintf(rest, sizeof(rest), "%s", at + 2);
		snprintf(at, sizeof(c->err->msg) - (size_t)(at - c->err->msg), ": instances.%s", rest);
	}
	if (!c->rc)
		cfg->instance_store_json = json_deep_copy(json_object_get(inst, "store"));
}

/* steering.sockets: 1..ORCH_STEER_SOCKETS_MAX distinct socket paths. */
static void parse_steering(struct pctx *c, json_t *top, struct orch_config *cfg)
{
	json_t *st = get_obj(c, top, "steering", steer_keys);
	json_t *socks = st ? json_object_get(st, "sockets") : NULL, *v;
	char field[64];
	size_t i;

	get_uint(c, st, "steering.push_interval_ms", "push_interval_ms", 10, 600000, 1000,
		 &cfg->push_interval_ms);
	if (!st)
		return;
	if (!json_is_array(socks) || !json_array_size(socks) ||
	    json_array_size(socks) > ORCH_STEER_SOCKETS_MAX) {
		failf(c, "steering.sockets",
		      socks ? "expected an array of 1..16 socket paths"
			    : "missing (required: the steer nodes' control sockets)");
		return;
	}
	json_array_foreach(socks, i, v)
	{
		snprintf(field, sizeof(field), "steering.sockets[%zu]", i);
		if (!json_is_string(v) || !json_string_length(v)) {
			failf(c, field, "expected a socket path");
			return;
		}
		if (json_string_length(v) >= ORCH_SOCKET_PATH_MAX) {
			failf(c, field, "longer than 107 characters (a Unix socket path)");
			return;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->steer_sockets[j], json_string_value(v))) {
				failf(c, field, "listed twice");
				return;
			}
		snprintf(cfg->steer_sockets[i], ORCH_SOCKET_PATH_MAX, "%s", json_string_value(v));
		cfg->n_steer_sockets = (unsigned)i + 1;
	}
}

static void parse_top(struct pctx *c, json_t *top, struct orch_config *cfg)
{
	json_t *l, *a, *h, *i, *ro;
	unsigned port;
	struct in_addr ia;

	check_keys(c, top, "", top_keys);
	l = get_obj(c, top, "listen", listen_keys);
	get_str(c, l, "listen.address", "address", "127.0.0.1", cfg->address, sizeof(cfg->address));
	if (!c->rc && inet_pton(AF_INET, cfg->address, &ia) != 1)
		failf(c, "listen.address", "not an IPv4 address");
	get_uint(c, l, "listen.port", "port", 0, 65535, 8470, &port);
	cfg->port = (uint16_t)port;

	a = get_obj(c, top, "auth", auth_keys);
	if (!c->rc && (!a || !json_object_get(a, "tokens_file")))
		failf(c, "auth.tokens_file", "missing (required: API tokens, one per line)");
	get_str(c, a, "auth.tokens_file", "tokens_file", "", cfg->tokens_file,
		sizeof(cfg->tokens_file));
	ro = a ? json_object_get(a, "read_open") : NULL;
	if (ro && !json_is_boolean(ro))
		failf(c, "auth.read_open", "expected true or false");
	cfg->read_open = ro && json_is_true(ro);

	if (!c->rc)
		c->rc = slnf_config_parse_store(top, c->file, &cfg->store, c->err);
	cfg->store_json = json_deep_copy(json_object_get(top, "store"));
	if (!c->rc && !strcmp(cfg->store.backend, "local"))
		failf(c, "store.backend",
		      "'local' is private to one process: the desired state "
		      "must outlive the orchestrator (use shm, redis or "
		      "redis-cluster)");

	get_str(c, top, "slnfd", "slnfd", "/usr/local/bin/slnfd", cfg->slnfd, sizeof(cfg->slnfd));
	get_str(c, top, "run_dir", "run_dir", "/run/slnf/orch", cfg->run_dir, sizeof(cfg->run_dir));
	h = get_obj(c, top, "health", health_keys);
	get_uint(c, h, "health.interval_ms", "interval_ms", 1, 10000, 20, &cfg->interval_ms);
	get_uint(c, h, "health.detection_ms", "detection_ms", 2, 60000, 100, &cfg->detection_ms);
	if (!c->rc && cfg->detection_ms < cfg->interval_ms)
		failf(c, "health.detection_ms", "shorter than health.interval_ms");
	i = get_obj(c, top, "instances", inst_keys);
	get_uint(c, i, "instances.start_timeout_ms", "start_timeout_ms", 100, 600000, 15000,
		 &cfg->start_timeout_ms);
	get_uint(c, i, "instances.stop_timeout_ms", "stop_timeout_ms", 10, 60000, 3000,
		 &cfg->stop_timeout_ms);
	get_uint(c, i, "instances.drain_timeout_ms", "drain_timeout_ms", 0, 600000, 5000,
		 &cfg->drain_timeout_ms);
	get_uint(c, i, "instances.restart_ms", "restart_ms", 0, 600000, 1000, &cfg->restart_ms);
	parse_instance_store(c, i, cfg);
	parse_steering(c, top, cfg);
	get_uint(c, top, "max_body", "max_body", 1024, 16 << 20, 1 << 20, &cfg->max_body);
}

int orch_config_parse(const char *text, const char *file, struct orch_config *cfg,
		      struct slnf_error *err)
{
	struct pctx c = {.file = file, .err = err};
	json_error_t jerr;
	json_t *top;
	char where[64];

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", file);
	top = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!top) {
		snprintf(where, sizeof(where), "line %d, column %d", jerr.line, jerr.column);
		return slnf_errorf(err, EINVAL, file, where, "invalid JSON: %s", jerr.text);
	}
	if (!json_is_object(top))
		failf(&c, NULL, "the top level must be a JSON object");
	else
		parse_top(&c, top, cfg);
	json_decref(top);
	return c.rc;
}

int orch_config_load(const char *path, struct orch_config *cfg, struct slnf_error *err)
{
	FILE *f = fopen(path, "r");
	char *text;
	long len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!f)
		return slnf_errorf(err, errno, path, NULL, "cannot read: %s", strerror(errno));
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || len > (1 << 20) ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return slnf_errorf(err, EFBIG, path, NULL, "cannot read (or larger than 1 MiB)");
	}
	text = calloc(1, (size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		fclose(f);
		return slnf_errorf(err, EIO, path, NULL, "cannot read");
	}
	fclose(f);
	rc = orch_config_parse(text, path, cfg, err);
	free(text);
	return rc;
}

void orch_config_free(struct orch_config *cfg)
{
	json_decref(cfg->store_json);
	cfg->store_json = NULL;
	json_decref(cfg->instance_store_json);
	cfg->instance_store_json = NULL;
}
