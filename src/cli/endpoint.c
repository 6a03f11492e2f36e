/*
 * endpoint.c - each slnfctl command's method, path, query and body; see
 * endpoint.h. The paths are docs/api.md's, plus scale, drain and explain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "cli/endpoint.h"


int cli_url_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (n + (plain ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= len)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

int cli_join_url(const char *server, const char *path, char *out, size_t len)
{
	size_t n = strlen(server);
	int w;

	while (n && server[n - 1] == '/')
		n--;
	w = snprintf(out, len, "%s%.*s%s", strstr(server, "://") ? "" : "http://", (int)n, server,
		     path);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/* A decimal number in [0, max] into *v. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v <= max;
}

int cli_split_endpoint(const char *s, char *addr, size_t alen, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	unsigned long p;

	if (!colon || (size_t)(colon - s) >= alen || !parse_uint(colon + 1, 65535, &p))
		return -EINVAL;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	*port = (unsigned)p;
	return 0;
}

static const char *kind_plural(const char *kind, const char **singular)
{
	static const char *const kinds[][2] = {
	    {"tenant", "tenants"}, {"pool", "pools"}, {"instance", "instances"}};

	for (size_t k = 0; k < 3; k++)
		if (!strcmp(kind, kinds[k][0]) || !strcmp(kind, kinds[k][1])) {
			*singular = kinds[k][0];
			return kinds[k][1];
		}
	return NULL;
}

/* rq->path = prefix/NAME suffix, NAME percent-encoded. */
static int path_with(struct cli_request *rq, char *err, size_t errlen, const char *prefix,
		     const char *name, const char *suffix)
{
	char esc[CLI_PATH_MAX / 2];
	int w;

	if (!*name)
		return cli_fail(err, errlen, "empty name");
	if (cli_url_escape(name, esc, sizeof(esc)))
		return cli_fail(err, errlen, "name too long: '%.40s...'", name);
	w = snprintf(rq->path, sizeof(rq->path), "%s/%s%s", prefix, esc, suffix);
	if (w < 0 || (size_t)w >= sizeof(rq->path))
		return cli_fail(err, errlen, "name too long: '%.40s...'", name);
	rq->name = name;
	return 0;
}

/* Append "&key=value" (or "?key=value" first) to rq->path. */
static int add_query(struct cli_request *rq, const char *key, const char *value)
{
	char esc[CLI_PATH_MAX / 2];
	size_t n = strlen(rq->path);
	int w;

	if (cli_url_escape(value, esc, sizeof(esc)))
		return -ENAMETOOLONG;
	w = snprintf(rq->path + n, sizeof(rq->path) - n, "%c%s=%s",
		     strchr(rq->path, '?') ? '&' : '?', key, esc);
	return w < 0 || (size_t)w >= sizeof(rq->path) - n ? -ENAMETOOLONG : 0;
}

static int explain(const struct cli_opts *o, struct cli_request *rq, char *err, size_t errlen)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], sport[8], dport[8];
	unsigned sp, dp;
	int rc = 0;

	if (cli_split_endpoint(o->args[2], src, sizeof(src), &sp))
		return cli_fail(err, errlen, "explain: '%s' is not SRC:SPORT (IPv4 address:port)",
			    o->args[2]);
	if (cli_split_endpoint(o->args[3], dst, sizeof(dst), &dp))
		return cli_fail(err, errlen, "explain: '%s' is not DST:DPORT (IPv4 address:port)",
			    o->args[3]);
	if (!*o->args[1])
		return cli_fail(err, errlen, "explain: empty PROTO (tcp, udp, icmp or a number)");
	if (o->port && !*o->port)
		return cli_fail(err, errlen, "explain: --port: empty port name");
	snprintf(sport, sizeof(sport), "%u", sp);
	snprintf(dport, sizeof(dport), "%u", dp);
	snprintf(rq->path, sizeof(rq->path), "/v1/explain");
	rc |= add_query(rq, "tenant", o->args[0]);
	rc |= add_query(rq, "proto", o->args[1]);
	rc |= add_query(rq, "src", src);
	rc |= add_query(rq, "sport", sport);
	rc |= add_query(rq, "dst", dst);
	rc |= add_query(rq, "dport", dport);
	if (o->port)
		rc |= add_query(rq, "port", o->port);
	return rc ? cli_fail(err, errlen, "explain: arguments too long") : 0;
}

static int resource(const struct cli_opts *o, struct cli_request *rq, char *err, size_t errlen)
{
	const char *plural = kind_plural(o->args[0], &rq->kind);
	char prefix[32];

	if (!plural)
		return cli_fail(err, errlen, "%s: unknown kind '%s' (tenant, pool or instance)",
			    o->cmd_name, o->args[0]);
	snprintf(prefix, sizeof(prefix), "/v1/%s", plural);
	if (o->cmd == CLI_CMD_CREATE) {
		rq->method = "POST";
		snprintf(rq->path, sizeof(rq->path), "%s", prefix);
		rq->body_file = o->args[1];
		return 0;
	}
	rq->method = "DELETE";
	return path_with(rq, err, errlen, prefix, o->args[1], "");
}

/* A GET of prefix, or of prefix/NAME when the command was given one. */
static int get_opt_name(const struct cli_opts *o, struct cli_request *rq, char *err, size_t errlen,
			const char *prefix, const char *suffix)
{
	if (!o->nargs) {
		snprintf(rq->path, sizeof(rq->path), "%s", prefix);
		return 0;
	}
	return path_with(rq, err, errlen, prefix, o->args[0], suffix);
}

int cli_build_request(const struct cli_opts *o, struct cli_request *rq, char *err, size_t errlen)
{
	unsigned long n;

	memset(rq, 0, sizeof(*rq));
	rq->method = "GET";
	switch (o->cmd) {
	case CLI_CMD_TENANTS:
		snprintf(rq->path, sizeof(rq->path), "/v1/tenants");
		return 0;
	case CLI_CMD_CHAINS:
		return get_opt_name(o, rq, err, errlen, "/v1/tenants", "");
	case CLI_CMD_POOLS:
		snprintf(rq->path, sizeof(rq->path), "/v1/pools");
		return 0;
	case CLI_CMD_INSTANCES:
		snprintf(rq->path, sizeof(rq->path), "/v1/instances");
		return 0;
	case CLI_CMD_STATS:
		if (!o->nargs) {
			snprintf(rq->path, sizeof(rq->path), "/v1/stats");
			return 0;
		}
		return path_with(rq, err, errlen, "/v1/instances", o->args[0], "/stats");
	case CLI_CMD_STEERING:
		return get_opt_name(o, rq, err, errlen, "/v1/steering", "");
	case CLI_CMD_FLOWS:
		snprintf(rq->path, sizeof(rq->path), "/v1/flows");
		return 0;
	case CLI_CMD_SCALE:
		if (!parse_uint(o->args[1], 1000000, &n))
			return cli_fail(err, errlen, "scale: N must be a number of instances, not '%s'",
				    o->args[1]);
		rq->method = "POST";
		snprintf(rq->body, sizeof(rq->body), "{\"instances\": %lu}", n);
		return path_with(rq, err, errlen, "/v1/pools", o->args[0], "/scale");
	case CLI_CMD_DRAIN:
		rq->method = "POST";
		return path_with(rq, err, errlen, "/v1/instances", o->args[0], "/drain");
	case CLI_CMD_EXPLAIN:
		return explain(o, rq, err, errlen);
	case CLI_CMD_CREATE:
	case CLI_CMD_DELETE:
		return resource(o, rq, err, errlen);
	default:
		return cli_fail(err, errlen, "no command given");
	}
}
