/*
 * commands.c - slnfctl's commands: one request each, then its view; see
 * commands.h.
 *
 * An API error is printed from the answer's "error" and "field"; an answer
 * that is not JSON is shown by status and first line. With -o json every
 * successful answer is printed as the server sent it, pretty-printed, so
 * scripts see the API's own document.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/endpoint.h"
#include "cli/flow_line.h"
#include "cli/format.h"
#include "cli/http_client.h"
#include "cli/views.h"

#define BODY_FILE_MAX (16u << 20)

struct run {
	const struct cli_opts *o;
	const struct cli_request *rq;
	FILE *out, *err;
	bool token;
};

static int print_table(struct run *r, int (*view)(json_t *, struct cli_table *), json_t *ans)
{
	struct cli_table t;
	int rc = view(ans, &t);

	if (!rc) {
		rc = cli_table_print(&t, r->out);
		cli_table_free(&t);
	}
	if (rc)
		fprintf(r->err, "slnfctl: cannot print the table: %s\n", strerror(-rc));
	return rc;
}

/* The body of create: the file (or stdin), checked to be JSON. */
static int read_body(struct run *r, char **body, size_t *len)
{
	const char *path = r->rq->body_file;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	json_error_t jerr;
	json_t *j;
	char *buf;
	size_t n;

	if (!f) {
		int rc = -errno;
		fprintf(r->err, "slnfctl: %s: cannot read: %s\n", path, strerror(-rc));
		return rc;
	}
	buf = malloc(BODY_FILE_MAX + 1);
	n = buf ? fread(buf, 1, BODY_FILE_MAX + 1, f) : 0;
	if (f != stdin)
		fclose(f);
	if (!buf || n > BODY_FILE_MAX) {
		fprintf(r->err, "slnfctl: %s: %s\n", path,
			buf ? "larger than 16 MiB" : "out of memory");
		free(buf);
		return buf ? -EFBIG : -ENOMEM;
	}
	buf[n] = '\0';
	j = json_loadb(buf, n, 0, &jerr);
	if (!j) {
		fprintf(r->err, "slnfctl: %s: invalid JSON at line %d, column %d: %s\n", path,
			jerr.line, jerr.column, jerr.text);
		free(buf);
		return -EINVAL;
	}
	json_decref(j);
	*body = buf;
	*len = n;
	return 0;
}

/* A 4xx/5xx answer: "slnfctl: <status>: <field>: <error>". */
static int api_error(struct run *r, long status, json_t *ans, const char *raw)
{
	const char *msg = json_string_value(json_object_get(ans, "error"));
	const char *field = json_string_value(json_object_get(ans, "field"));

	if (msg && field && *field)
		fprintf(r->err, "slnfctl: %ld: %s: %s\n", status, field, msg);
	else if (msg)
		fprintf(r->err, "slnfctl: %ld: %s\n", status, msg);
	else
		fprintf(r->err, "slnfctl: %ld: %.*s\n", status, raw ? (int)strcspn(raw, "\r\n") : 0,
			raw ? raw : "");
	if (status == 404 && msg && !strncmp(msg, "no such resource", 16))
		if (r->o->cmd == CLI_CMD_FLOWS || r->o->cmd == CLI_CMD_EXPLAIN ||
		    r->o->cmd == CLI_CMD_SCALE || r->o->cmd == CLI_CMD_DRAIN)
			fprintf(r->err, "slnfctl: this slnf-orch does not serve '%s' yet\n",
				r->o->cmd_name);
	if (status == 401 && !r->token)
		fprintf(r->err, "slnfctl: no API token given: use -t TOKEN, --token-file FILE "
				"or SLNF_TOKEN\n");
	return -EREMOTEIO;
}

static int print_flows(struct run *r, json_t *ans)
{
	json_t *flows = json_object_get(ans, "flows"), *f;
	json_t *insts = json_object_get(ans, "instances"), *v;
	const char *name;
	size_t i;
	char *line;

	json_array_foreach(flows, i, f)
	{
		if (cli_flow_line(f, &line))
			continue;
		fprintf(r->out, "%s\n", line);
		free(line);
	}
	/* as conntrack -L, the summary goes to stderr: stdout is only flows */
	fprintf(r->err, "slnfctl: %zu flow%s shown\n", json_array_size(flows),
		json_array_size(flows) == 1 ? "" : "s");
	json_object_foreach(insts, name, v)
	{
		if (json_is_string(v)) { /* "ok", "error: ..." */
			char text[CLI_CELL_MAX * 2];
			cli_fmt_value(v, text, sizeof(text));
			for (char *p = text; *p; p++)
				if ((unsigned char)*p < ' ' || *p == 0x7f)
					*p = ' ';
			fprintf(r->err, "slnfctl: instance %s: %s\n", name, text);
		} else if (!cli_kv_line(v, &line)) {
			fprintf(r->err, "slnfctl: instance %s:%s\n", name, line);
			free(line);
		}
	}
	return 0;
}

static int print_instance_stats(struct run *r, json_t *ans)
{
	char up[32] = "-", head[CLI_CELL_MAX * 2];
	json_t *u = json_object_get(ans, "uptime_s");
	struct cli_table t;
	int rc;

	if (json_is_number(u) && json_number_value(u) >= 0)
		cli_fmt_duration_ms((uint64_t)(json_number_value(u) * 1000), up, sizeof(up));
	snprintf(head, sizeof(head), "instance %s", r->rq->name);
	fprintf(r->out,
		"%s: pid %" JSON_INTEGER_FORMAT ", up %s, %" JSON_INTEGER_FORMAT " worker%s\n\n",
		head, json_integer_value(json_object_get(ans, "pid")), up,
		json_integer_value(json_object_get(ans, "workers")),
		json_integer_value(json_object_get(ans, "workers")) == 1 ? "" : "s");
	rc = print_table(r, cli_view_ports, ans);
	if (rc || (rc = cli_view_drops(ans, &t)))
		return rc;
	if (t.nrows) {
		fputc('\n', r->out);
		rc = cli_table_print(&t, r->out);
	} else {
		fprintf(r->out, "\nno drops\n");
	}
	cli_table_free(&t);
	return rc;
}

static int print_explain(struct run *r, json_t *ans)
{
	char *line;
	int rc = cli_explain_line(ans, r->o->args[1], r->o->args[2], r->o->args[3], &line);

	if (rc)
		return rc;
	fprintf(r->out, "%s\n", line);
	free(line);
	return 0;
}

/* scale and drain answer 202 with instances; show them when they are
 * there. */
static int print_accepted(struct run *r, json_t *ans)
{
	json_t *list = json_object_get(ans, "instances");
	bool table = json_is_array(ans) || json_is_array(list);
	struct cli_table t;
	int rc;

	if (r->o->cmd == CLI_CMD_SCALE) {
		unsigned long n = strtoul(r->o->args[1], NULL, 10); /* checked by endpoint.c */
		fprintf(r->out, "pool %s: scaling to %lu instance%s\n", r->o->args[0], n,
			n == 1 ? "" : "s");
	} else {
		fprintf(r->out, "instance %s: draining\n", r->o->args[0]);
		table = table || json_is_object(json_object_get(ans, "status"));
	}
	if (!table)
		return 0;
	fputc('\n', r->out);
	if (r->o->cmd == CLI_CMD_DRAIN)
		return print_table(r, cli_view_instances, ans);
	rc = cli_view_scaled(ans, r->o->args[0], &t);
	if (!rc) {
		rc = cli_table_print(&t, r->out);
		cli_table_free(&t);
	}
	return rc;
}

static int print_view(struct run *r, json_t *ans)
{
	switch (r->o->cmd) {
	case CLI_CMD_TENANTS:
		return print_table(r, cli_view_tenants, ans);
	case CLI_CMD_CHAINS:
		return print_table(r, cli_view_chains, ans);
	case CLI_CMD_POOLS:
		return print_table(r, cli_view_pools, ans);
	case CLI_CMD_INSTANCES:
		return print_table(r, cli_view_instances, ans);
	case CLI_CMD_STATS:
		return r->o->nargs ? print_instance_stats(r, ans)
				   : print_table(r, cli_view_fields, ans);
	case CLI_CMD_STEERING:
		return print_table(r, cli_view_steering, ans);
	case CLI_CMD_FLOWS:
		return print_flows(r, ans);
	case CLI_CMD_EXPLAIN:
		return print_explain(r, ans);
	case CLI_CMD_SCALE:
	case CLI_CMD_DRAIN:
		return print_accepted(r, ans);
	case CLI_CMD_CREATE: {
		const char *name = json_string_value(json_object_get(ans, "name"));
		fprintf(r->out, "%s %s created\n", r->rq->kind, name ? name : "");
		return 0;
	}
	case CLI_CMD_DELETE:
		fprintf(r->out, "%s %s deleted\n", r->rq->kind, r->rq->name);
		return 0;
	default:
		return -EINVAL;
	}
}

static int answer(struct run *r, const struct cli_http_resp *rs)
{
	json_error_t jerr;
	json_t *ans = rs->len ? json_loadb(rs->body, rs->len, 0, &jerr) : NULL;
	int rc = 0;

	if (rs->status >= 400 || rs->status < 200)
		rc = api_error(r, rs->status, ans, rs->body);
	else if (r->o->output == CLI_OUT_JSON && ans)
		rc = json_dumpf(ans, r->out,
				JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) ||
			     fputc('\n', r->out) == EOF
			 ? -EIO
			 : 0;
	else if (r->o->output == CLI_OUT_JSON)
		fprintf(r->out, "%s", rs->body ? rs->body : "");
	else if (!ans && rs->len) {
		fprintf(r->err, "slnfctl: %ld: the answer is not JSON: %.*s\n", rs->status,
			(int)strcspn(rs->body, "\r\n"), rs->body);
		rc = -EBADMSG;
	} else {
		rc = print_view(r, ans ? ans : json_null());
	}
	json_decref(ans);
	return rc;
}

int cli_run(const struct cli_opts *o, const char *token, FILE *out, FILE *err)
{
	struct cli_http h = {
	    .server = o->server, .token = token, .connect_timeout_ms = 5000, .timeout_ms = 30000};
	struct run r = {.o = o, .out = out, .err = err, .token = token != NULL};
	struct cli_request rq;
	struct cli_http_resp rs;
	char msg[CLI_ERR_MAX], *file_body = NULL;
	const char *body = NULL;
	size_t len = 0;
	int rc;

	r.rq = &rq;
	if ((rc = cli_build_request(o, &rq, msg, sizeof(msg)))) {
		fprintf(err, "slnfctl: %s\n", msg);
		return rc;
	}
	if (rq.body_file) {
		if ((rc = read_body(&r, &file_body, &len)))
			return rc == -EINVAL ? -EBADMSG : rc;
		body = file_body;
	} else if (rq.body[0]) {
		body = rq.body;
		len = strlen(rq.body);
	}
	rc = cli_http_do(&h, rq.method, rq.path, body, len, &rs, msg, sizeof(msg));
	free(file_body);
	if (rc) {
		fprintf(err, "slnfctl: %s\n", msg);
		return rc;
	}
	rc = answer(&r, &rs);
	cli_http_resp_free(&rs);
	return rc;
}
