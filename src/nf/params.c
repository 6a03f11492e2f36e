/*
 * params.c - reading NF parameters with messages that name the field.
 *
 * See params.h. Each getter checks one member's JSON type and syntax and,
 * on failure, writes "file: path.key: reason" through slnf_errorf, where
 * file is the config file of the NF's environment. The wording follows the
 * config parser's ("unknown key (expected one of ...)", "must be a string"),
 * so a mistake in an NF element reads like one anywhere else in the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>

#include "nf/params.h"

static const char *env_file(const struct slnf_nf_env *env)
{
	return env && env->cfg ? env->cfg->file : NULL;
}

int slnf_params_fail(const struct slnf_nf_env *env, struct slnf_error *err, int code,
		     const char *path, const char *fmt, ...)
{
	char reason[SLNF_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return slnf_errorf(err, code, env_file(env), path, "%s", reason);
}

static void member_path(char out[SLNF_PARAMS_PATH_MAX], const char *path, const char *key);

int slnf_params_fail_at(const struct slnf_nf_env *env, struct slnf_error *err, int code,
			const char *path, const char *key, const char *fmt, ...)
{
	char reason[SLNF_ERROR_MAX], field[SLNF_PARAMS_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	member_path(field, path, key);
	return slnf_errorf(err, code, env_file(env), field, "%s", reason);
}

static void member_path(char out[SLNF_PARAMS_PATH_MAX], const char *path, const char *key)
{
	snprintf(out, SLNF_PARAMS_PATH_MAX, "%s%s%s", path ? path : "", path && *path ? "." : "",
		 key);
}

static bool in_list(const char *const words[], const char *word, unsigned *index)
{
	for (unsigned i = 0; words[i]; i++) {
		if (!strcmp(words[i], word)) {
			if (index)
				*index = i;
			return true;
		}
	}
	return false;
}

/* "a, b or c" */
static const char *word_list(char *buf, size_t size, const char *const words[])
{
	size_t pos = 0;

	buf[0] = '\0';
	for (unsigned i = 0; words[i] && pos < size; i++) {
		const char *sep = i == 0 ? "" : words[i + 1] ? ", " : " or ";
		int n = snprintf(buf + pos, size - pos, "%s%s", sep, words[i]);

		if (n < 0)
			break;
		pos += (size_t)n;
	}
	return buf;
}

int slnf_params_check_keys(const struct slnf_nf_env *env, const char *path, json_t *obj,
			   const char *const keys[], struct slnf_error *err)
{
	char field[SLNF_PARAMS_PATH_MAX], list[256];
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (in_list(keys, key, NULL))
			continue;
		member_path(field, path, key);
		return slnf_params_fail(env, err, EINVAL, field, "unknown key (expected one of %s)",
					word_list(list, sizeof(list), keys));
	}
	return 0;
}

/* obj.key checked against type: 1 present, 0 absent and optional, <0 error. */
static int member(const struct slnf_nf_env *env, const char *path, json_t *obj, const char *key,
		  bool required, json_type type, const char *what, json_t **out,
		  struct slnf_error *err)
{
	char field[SLNF_PARAMS_PATH_MAX];
	json_t *v = json_object_get(obj, key);

	*out = v;
	if (!v && !required)
		return 0;
	member_path(field, path, key);
	if (!v)
		return slnf_params_fail(env, err, EINVAL, field, "missing (required)");
	if (json_typeof(v) != type)
		return slnf_params_fail(env, err, EINVAL, field, "must be %s", what);
	return 1;
}

int slnf_params_string(const struct slnf_nf_env *env, const char *path, json_t *obj,
		       const char *key, bool required, const char **out, struct slnf_error *err)
{
	json_t *v;
	int rc = member(env, path, obj, key, required, JSON_STRING, "a string", &v, err);

	*out = rc > 0 ? json_string_value(v) : NULL;
	return rc;
}

int slnf_params_array(const struct slnf_nf_env *env, const char *path, json_t *obj,
		      const char *key, bool required, json_t **out, struct slnf_error *err)
{
	return member(env, path, obj, key, required, JSON_ARRAY, "an array", out, err);
}

int slnf_params_word(const struct slnf_nf_env *env, const char *path, json_t *obj,
		     const char *key, bool required, const char *const words[], unsigned *out,
		     struct slnf_error *err)
{
	char field[SLNF_PARAMS_PATH_MAX], list[256];
	const char *s;
	int rc = slnf_params_string(env, path, obj, key, required, &s, err);

	if (rc <= 0 || in_list(words, s, out))
		return rc;
	member_path(field, path, key);
	return slnf_params_fail(env, err, EINVAL, field, "\"%s\" is not one of %s", s,
				word_list(list, sizeof(list), words));
}

static const struct {
	const char *name;
	uint8_t number;
} proto_names[] = { { "icmp", IPPROTO_ICMP }, { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP } };

int slnf_params_proto(const struct slnf_nf_env *env, const char *path, json_t *obj,
		      uint8_t *out, struct slnf_error *err)
{
	json_t *v = json_object_get(obj, "proto");
	json_int_t n = -1;

	if (!v)
		return 0;
	if (json_is_string(v)) {
		for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
			if (!strcmp(json_string_value(v), proto_names[i].name))
				n = proto_names[i].number;
		if (n < 0)
			return slnf_params_fail_at(env, err, EINVAL, path, "proto",
						   "unknown protocol \"%s\" (expected tcp, udp, "
						   "icmp or a number 0-255)",
						   json_string_value(v));
	} else if (json_is_integer(v)) {
		n = json_integer_value(v);
	}
	if (n < 0 || n > 255)
		return slnf_params_fail_at(env, err, EINVAL, path, "proto",
					   "must be tcp, udp, icmp or a number 0-255");
	*out = (uint8_t)n;
	return 1;
}

/* A decimal port 0-65535 at s; returns the end or NULL. */
static const char *parse_port_number(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && p - s < 6; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == s || v > 65535)
		return NULL;
	*out = (uint16_t)v;
	return p;
}

int slnf_params_port_range(const struct slnf_nf_env *env, const char *path, json_t *obj,
			   const char *key, uint16_t *lo, uint16_t *hi, struct slnf_error *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s, *end;
	char text[24];

	*lo = 0;
	*hi = UINT16_MAX;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = text;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		return slnf_params_fail_at(env, err, EINVAL, path, key,
					   "must be a port \"N\" or a range \"N-M\"");
	}
	end = parse_port_number(s, lo);
	*hi = *lo;
	if (end && *end == '-')
		end = parse_port_number(end + 1, hi);
	if (!end || *end) {
		*lo = 0;
		*hi = UINT16_MAX;
		return slnf_params_fail_at(env, err, EINVAL, path, key,
					   "bad port range \"%s\" (expected N or N-M, 0-65535)", s);
	}
	if (*lo > *hi)
		return slnf_params_fail_at(env, err, EINVAL, path, key,
					   "bad port range \"%s\": %u is above %u", s, *lo, *hi);
	return 1;
}

void slnf_params_format_prefix(char out[20], uint32_t addr, uint8_t len)
{
	snprintf(out, 20, "%u.%u.%u.%u/%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff, len);
}

int slnf_params_prefix(const struct slnf_nf_env *env, const char *path, json_t *obj,
		       const char *key, bool required, struct slnf_ipv4_prefix *out,
		       struct slnf_error *err)
{
	char field[SLNF_PARAMS_PATH_MAX], net[20];
	const char *s;
	int rc = slnf_params_string(env, path, obj, key, required, &s, err);
	uint32_t mask;

	if (rc <= 0)
		return rc;
	member_path(field, path, key);
	if (slnf_parse_prefix(s, out))
		return slnf_params_fail(env, err, EINVAL, field,
					"bad prefix \"%s\" (expected a.b.c.d/len, len 0-32)", s);
	mask = slnf_prefix_mask(out->len);
	if (out->addr & ~mask) {
		slnf_params_format_prefix(net, out->addr & mask, out->len);
		return slnf_params_fail(env, err, EINVAL, field,
					"bad prefix \"%s\": bits set past /%u (did you mean %s?)", s,
					out->len, net);
	}
	return 1;
}

int slnf_params_element(const struct slnf_nf_env *env, const char *path, const char *key,
			json_t *array, size_t i, const char *const keys[],
			char elem_path[SLNF_PARAMS_PATH_MAX], json_t **out, struct slnf_error *err)
{
	json_t *v = json_array_get(array, i);
	char index[24];

	snprintf(index, sizeof(index), "%s[%zu]", key, i);
	member_path(elem_path, path, index);
	*out = v;
	if (!json_is_object(v))
		return slnf_params_fail(env, err, EINVAL, elem_path, "must be an object");
	return slnf_params_check_keys(env, elem_path, v, keys, err);
}

void slnf_params_object_name(char *out, size_t size, const char *kind,
			     const struct slnf_nf_env *env)
{
	static atomic_uint seq;

	snprintf(out, size, "slnf_%s_%u_%u_%u", kind, env->tenant, env->position,
		 atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed));
}

void slnf_counter_report(json_t *obj, const char *name, const _Atomic uint64_t *c)
{
	if (obj)
		json_object_set_new(obj, name, json_integer((json_int_t)slnf_counter_read(c)));
}

int slnf_params_rules(const struct slnf_nf_env *env, json_t *params, size_t max, json_t **out,
		      struct slnf_error *err)
{
	int rc = slnf_params_array(env, env->field, params, "rules", false, out, err);
	if (rc <= 0)
		return rc;
	size_t n = json_array_size(*out);
	if (n > max)
		return slnf_params_fail_at(env, err, E2BIG, env->field, "rules",
					   "%zu rules, at most %zu", n, max);
	return (int)n;
}

void slnf_rule_report(json_t *rules, unsigned i, const char *name, const char *action,
		      const _Atomic uint64_t *hits)
{
	char unnamed[24];

	snprintf(unnamed, sizeof(unnamed), "rules[%u]", i);
	json_array_append_new(rules, json_pack("{s:s, s:s, s:I}", "name", name[0] ? name : unnamed,
					       "action", action,
					       "hits", (json_int_t)slnf_counter_read(hits)));
}

int slnf_params_timeouts(const struct slnf_nf_env *env, json_t *params, const char *const names[],
			 const uint32_t defaults_s[], uint32_t out_ms[], struct slnf_error *err)
{
	char path[SLNF_PARAMS_PATH_MAX];
	json_t *o = json_object_get(params, "timeouts");
	int rc;

	for (unsigned i = 0; names[i]; i++)
		out_ms[i] = defaults_s[i] * 1000;
	if (!o)
		return 0;
	snprintf(path, sizeof(path), "%s.timeouts", env->field);
	if (!json_is_object(o))
		return slnf_params_fail(env, err, EINVAL, path, "must be an object");
	rc = slnf_params_check_keys(env, path, o, names, err);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; names[i]; i++) {
		json_t *v = json_object_get(o, names[i]);

		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 4000000)
			return slnf_params_fail_at(env, err, EINVAL, path, names[i],
						   "must be whole seconds, 1 to 4000000");
		out_ms[i] = (uint32_t)json_integer_value(v) * 1000;
	}
	return 0;
}
