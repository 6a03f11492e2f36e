/*
 * template.c - pool instance templates; see template.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch/desired.h"
#include "orch/template.h"

static json_t *expand_string(const char *s, unsigned n)
{
	char num[16], *out, *w;
	size_t count = 0, len;
	const char *p;
	json_t *j;

	snprintf(num, sizeof(num), "%u", n);
	for (p = s; (p = strstr(p, "{n}")); p += 3)
		count++;
	len = strlen(s) + count * strlen(num) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	for (w = out, p = s; *p;) {
		if (!strncmp(p, "{n}", 3)) {
			w += sprintf(w, "%s", num);
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	j = json_string(out);
	free(out);
	return j;
}

json_t *orch_template_expand(json_t *v, unsigned n)
{
	const char *key;
	json_t *out, *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return expand_string(json_string_value(v), n);
	case JSON_OBJECT:
		out = json_object();
		json_object_foreach(v, key, x)
		    json_object_set_new(out, key, orch_template_expand(x, n));
		return out;
	case JSON_ARRAY:
		out = json_array();
		json_array_foreach(v, i, x) json_array_append_new(out, orch_template_expand(x, n));
		return out;
	default:
		return json_deep_copy(v);
	}
}

json_t *orch_template_instance(json_t *pool, unsigned n)
{
	json_t *tpl = json_object_get(pool, "template");
	json_t *inst = tpl ? orch_template_expand(tpl, n) : json_object();
	const char *pn = json_string_value(json_object_get(pool, "name"));
	char name[64];

	snprintf(name, sizeof(name), "%s-%u", pn ? pn : "", n);
	json_object_set_new(inst, "name", json_string(name));
	json_object_set_new(inst, "pool", json_string(pn ? pn : ""));
	return inst;
}

static const char *const tpl_keys[] = {"ports", "workers", "eal", "mbufs", "neighbours", NULL};

int orch_template_check(json_t *pool, json_t *doc, const struct orch_config *cfg,
			struct orch_verr *e)
{
	json_t *tpl = json_object_get(pool, "template"), *v, *d, *inst, *config;
	const char *key, *pn = json_string_value(json_object_get(pool, "name"));
	struct orch_verr ie;
	size_t idx;
	int rc;

	if (!tpl)
		return 0;
	if (!json_is_object(tpl))
		return orch_verr_set(e, 400, "template",
				     "expected an object of instance fields (ports, workers, eal, "
				     "mbufs, neighbours)");
	json_object_foreach(tpl, key, v)
	{
		unsigned i;
		char field[96];

		for (i = 0; tpl_keys[i] && strcmp(tpl_keys[i], key); i++)
			;
		snprintf(field, sizeof(field), "template.%s", key);
		if (!tpl_keys[i])
			return orch_verr_set(e, 400, field,
					     "unknown key (expected one of ports, workers, eal, "
					     "mbufs or neighbours)");
	}
	/* instance 1 of this pool, as it would be created */
	d = json_deep_copy(doc);
	if (orch_desired_find(d, ORCH_POOLS, pn, &idx))
		json_array_set(orch_desired_list(d, ORCH_POOLS), idx, pool);
	else
		json_array_append(orch_desired_list(d, ORCH_POOLS), pool);
	inst = orch_template_instance(pool, 1);
	rc = orch_validate_instance(inst, d, cfg, &config, &ie);
	if (rc)
		orch_verr_set(e, ie.status,
			      ie.field[0] && strcmp(ie.field, "name") ? "" : "template", "%s",
			      ie.msg);
	if (rc && ie.field[0] && strcmp(ie.field, "name"))
		snprintf(e->field, sizeof(e->field), "template.%.100s", ie.field);
	json_decref(config);
	json_decref(inst);
	json_decref(d);
	return rc;
}
