/*
 * nat_forward.c - parsing and looking up the nat NF's port forwards; see
 * nat_forward.h. Lookups are linear: a NAT has a handful of forwards, and
 * an empty list costs one comparison.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf/nat_forward.h"
#include "nf/params.h"

static int parse_to(const struct slnf_nf_env *env, const char *path, json_t *e,
		    struct slnf_nat_forward *f, struct slnf_error *err)
{
	json_t *v = json_object_get(e, "to");
	char addr[32];
	const char *s, *colon;
	char *end;
	unsigned long port;

	if (!json_is_string(v))
		return slnf_params_fail_at(env, err, EINVAL, path, "to",
					   v ? "must be a string \"a.b.c.d:port\""
					     : "missing (required)");
	s = json_string_value(v);
	colon = strchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(addr))
		goto bad;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (slnf_parse_ipv4(addr, &f->in_ip) || *end || end == colon + 1 || port == 0 ||
	    port > 65535)
		goto bad;
	f->in_port = (uint16_t)port;
	return 0;
bad:
	return slnf_params_fail_at(env, err, EINVAL, path, "to",
				   "bad endpoint \"%s\" (expected a.b.c.d:port, port 1-65535)", s);
}

static int parse_one(const struct slnf_nf_env *env, const char *path, json_t *e,
		     const uint32_t *pool, unsigned n_pool, struct slnf_nat_forward *f,
		     struct slnf_error *err)
{
	json_t *v;
	const char *a = NULL;
	unsigned i;
	int rc;

	if (slnf_params_proto(env, path, e, &f->proto, err) < 0)
		return -EINVAL;
	if (!json_object_get(e, "proto") || (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP))
		return slnf_params_fail_at(env, err, EINVAL, path, "proto",
					   "must be \"tcp\" or \"udp\"");
	v = json_object_get(e, "port");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return slnf_params_fail_at(env, err, EINVAL, path, "port",
					   "must be an integer 1-65535");
	f->out_port = (uint16_t)json_integer_value(v);
	rc = parse_to(env, path, e, f, err);
	if (rc < 0)
		return rc;
	rc = slnf_params_string(env, path, e, "addr", false, &a, err);
	if (rc < 0)
		return rc;
	if (!a) {
		f->out_ip = pool[0];
		return 0;
	}
	if (slnf_parse_ipv4(a, &f->out_ip))
		return slnf_params_fail_at(env, err, EINVAL, path, "addr", "bad address \"%s\"", a);
	for (i = 0; i < n_pool && pool[i] != f->out_ip; i++)
		;
	if (i == n_pool)
		return slnf_params_fail_at(env, err, EINVAL, path, "addr",
					   "%s is not a pool address", a);
	return 0;
}

int slnf_nat_forwards_parse(const struct slnf_nf_env *env, json_t *params, const uint32_t *pool,
			    unsigned n_pool, struct slnf_nat_forwards *out, struct slnf_error *err)
{
	static const char *const keys[] = {"proto", "port", "to", "addr", NULL};
	char path[SLNF_PARAMS_PATH_MAX];
	json_t *arr, *e;
	int rc = slnf_params_array(env, env->field, params, "forwards", false, &arr, err);

	out->n = 0;
	if (rc < 0 || !arr)
		return rc < 0 ? rc : 0;
	if (json_array_size(arr) > SLNF_NAT_FORWARDS_MAX)
		return slnf_params_fail_at(env, err, E2BIG, env->field, "forwards",
					   "more than %u forwards", SLNF_NAT_FORWARDS_MAX);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		struct slnf_nat_forward *f = &out->f[i];

		rc = slnf_params_element(env, env->field, "forwards", arr, i, keys, path, &e, err);
		if (rc < 0)
			return rc;
		rc = parse_one(env, path, e, pool, n_pool, f, err);
		if (rc < 0)
			return rc;
		if (slnf_nat_forward_out(out, f->proto, f->out_ip, f->out_port))
			return slnf_params_fail_at(env, err, EINVAL, path, "port",
						   "another forward already uses this outside "
						   "address, port and protocol");
		if (slnf_nat_forward_in(out, f->proto, f->in_ip, f->in_port))
			return slnf_params_fail_at(env, err, EINVAL, path, "to",
						   "another forward already goes to this inside "
						   "endpoint and protocol");
		out->n++;
	}
	return 0;
}

const struct slnf_nat_forward *slnf_nat_forward_out(const struct slnf_nat_forwards *fw,
						    uint8_t proto, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; i < fw->n; i++)
		if (fw->f[i].out_port == port && fw->f[i].out_ip == ip && fw->f[i].proto == proto)
			return &fw->f[i];
	return NULL;
}

const struct slnf_nat_forward *slnf_nat_forward_in(const struct slnf_nat_forwards *fw,
						   uint8_t proto, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; i < fw->n; i++)
		if (fw->f[i].in_port == port && fw->f[i].in_ip == ip && fw->f[i].proto == proto)
			return &fw->f[i];
	return NULL;
}
