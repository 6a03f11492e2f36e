/*
 * flow_line.c - a flow as a conntrack-style line; see flow_line.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flow_line.h"
#include "cli/format.h"

static const char *const known[] = {"proto", "state", "src",	"dst",
				    "sport", "dport", "tenant", "nf"};

static bool is_known(const char *key)
{
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (!strcmp(key, known[k]))
			return true;
	return false;
}

/* The protocol: a name as given, or the name of a well-known number. */
static void proto_name(const json_t *v, char *buf, size_t len)
{
	if (!v) {
		snprintf(buf, len, "?");
	} else if (json_is_integer(v)) {
		json_int_t p = json_integer_value(v);
		snprintf(buf, len, "%s", p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : "");
		if (!buf[0])
			cli_fmt_value(v, buf, len);
	} else {
		cli_fmt_word(v, buf, len);
	}
}

static void put_pair(FILE *f, const char *prefix, const char *key, const json_t *v)
{
	char val[CLI_CELL_MAX * 4];

	if (json_is_object(v)) {
		char sub[256];
		const char *k;
		json_t *e;

		snprintf(sub, sizeof(sub), "%s%s.", prefix, key);
		json_object_foreach((json_t *)v, k, e) put_pair(f, sub, k, e);
		return;
	}
	cli_fmt_word(v, val, sizeof(val));
	fprintf(f, " %s%s=%s", prefix, key, val);
}

int cli_flow_line(const json_t *flow, char **out)
{
	char proto[32], state[64];
	const char *key;
	json_t *v;
	size_t len;
	FILE *f;

	if (!json_is_object(flow))
		return -EINVAL;
	f = open_memstream(out, &len);
	if (!f)
		return -ENOMEM;
	proto_name(json_object_get(flow, "proto"), proto, sizeof(proto));
	v = json_object_get(flow, "state");
	if (v)
		cli_fmt_word(v, state, sizeof(state));
	else
		snprintf(state, sizeof(state), "-");
	fprintf(f, "%-5s %-11s", proto, state);
	for (size_t k = 2; k < sizeof(known) / sizeof(known[0]); k++)
		if ((v = json_object_get(flow, known[k])))
			put_pair(f, "", known[k], v);
	json_object_foreach((json_t *)flow, key, v) if (!is_known(key)) put_pair(f, "", key, v);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	while (len && (*out)[len - 1] == ' ') /* a flow with nothing after its state */
		(*out)[--len] = '\0';
	return 0;
}

int cli_kv_line(const json_t *obj, char **out)
{
	const char *key;
	json_t *v;
	size_t len;
	FILE *f = open_memstream(out, &len);

	if (!f)
		return -ENOMEM;
	if (json_is_object(obj))
		json_object_foreach((json_t *)obj, key, v) put_pair(f, "", key, v);
	else if (obj)
		put_pair(f, "", "value", obj);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
