/*
 * args.c - slnfctl's options and commands; see args.h.
 *
 * Each command has a fixed range of positional arguments, checked here so
 * a wrong count is a usage error before anything is sent. What the
 * arguments mean (numbers, kinds, addresses) is checked when the request
 * is built (endpoint.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/format.h"
#include "cli/args.h"

struct cmd_spec {
	const char *name;
	enum cli_cmd cmd;
	size_t min, max;
	const char *usage;
};

static const struct cmd_spec cmds[] = {
    {"tenants", CLI_CMD_TENANTS, 0, 0, "tenants"},
    {"chains", CLI_CMD_CHAINS, 0, 1, "chains [TENANT]"},
    {"pools", CLI_CMD_POOLS, 0, 0, "pools"},
    {"instances", CLI_CMD_INSTANCES, 0, 0, "instances"},
    {"stats", CLI_CMD_STATS, 0, 1, "stats [INSTANCE]"},
    {"steering", CLI_CMD_STEERING, 0, 1, "steering [TENANT]"},
    {"flows", CLI_CMD_FLOWS, 0, 0, "flows"},
    {"scale", CLI_CMD_SCALE, 2, 2, "scale POOL N"},
    {"drain", CLI_CMD_DRAIN, 1, 1, "drain INSTANCE"},
    {"explain", CLI_CMD_EXPLAIN, 4, 4, "explain TENANT PROTO SRC:SPORT DST:DPORT [--port PORT]"},
    {"create", CLI_CMD_CREATE, 2, 2, "create tenant|pool|instance FILE.json"},
    {"delete", CLI_CMD_DELETE, 2, 2, "delete tenant|pool|instance NAME"},
};

const char *cli_usage(void)
{
	return "usage: slnfctl [OPTIONS] COMMAND [ARGS]\n"
	       "\n"
	       "The command-line client of slnf-orch's REST API.\n"
	       "\n"
	       "Options:\n"
	       "  -s, --server URL      orchestrator URL (default $SLNF_URL, else " CLI_DEFAULT_URL
	       ")\n"
	       "  -t, --token TOKEN     API token (default $SLNF_TOKEN)\n"
	       "      --token-file FILE the first token of a tokens file\n"
	       "  -o, --output FORMAT   json (the answer, pretty-printed) or table (default)\n"
	       "  -h, --help            this text\n"
	       "\n"
	       "Commands:\n"
	       "  tenants                          tenants, their ports and chains\n"
	       "  chains [TENANT]                  each tenant's chain of NFs and inside ports\n"
	       "  pools                            instance pools\n"
	       "  instances                        instances and their health\n"
	       "  stats [INSTANCE]                 orchestrator stats, or an instance's ports and "
	       "drops\n"
	       "  steering [TENANT]                steering tables: each instance's share\n"
	       "  flows                            flows, one line each (as conntrack -L)\n"
	       "  scale POOL N                     run N instances in POOL\n"
	       "  drain INSTANCE                   take no new flows on INSTANCE\n"
	       "  explain TENANT PROTO SRC:SPORT DST:DPORT [--port PORT]\n"
	       "                                   which instance a flow is steered to\n"
	       "  create tenant|pool|instance FILE.json   create from a JSON file (- for stdin)\n"
	       "  delete tenant|pool|instance NAME        delete\n"
	       "\n"
	       "Exit status: 0 success, 1 the request failed, 2 usage error.\n";
}


/* Is argv[*i] the option long/short? Its value into *val (from "=v",
 * glued to the short form, or the next argument). 1 matched, 0 not, -1
 * value missing. */
static int match_opt(int argc, char *const argv[], int *i, const char *lng, char shrt,
		     const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (!strncmp(a, lng, n) && (a[n] == '=' || a[n] == '\0')) {
		if (a[n] == '=') {
			*val = a + n + 1;
			return 1;
		}
	} else if (shrt && a[0] == '-' && a[1] == shrt) {
		if (a[2]) {
			*val = a + 2;
			return 1;
		}
	} else {
		return 0;
	}
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static const struct {
	const char *lng;
	char shrt;
} value_opts[] = {
    {"--server", 's'}, {"--token", 't'}, {"--token-file", 0}, {"--output", 'o'}, {"--port", 0},
};

static int set_value(struct cli_opts *o, size_t which, const char *val, char *err, size_t len)
{
	switch (which) {
	case 0:
		if (!*val)
			return cli_fail(err, len, "--server: empty URL");
		o->server = val;
		return 0;
	case 1:
		o->token = val;
		return 0;
	case 2:
		o->token_file = val;
		return 0;
	case 3:
		if (!strcmp(val, "json"))
			o->output = CLI_OUT_JSON;
		else if (!strcmp(val, "table"))
			o->output = CLI_OUT_TABLE;
		else
			return cli_fail(err, len, "-o: unknown output format '%s' (json or table)",
				    val);
		return 0;
	default:
		o->port = val;
		return 0;
	}
}

/* An option at argv[*i]: 0 handled, -EINVAL with err. */
static int option(int argc, char *const argv[], int *i, struct cli_opts *o, bool *token_given,
		  char *err, size_t len)
{
	const char *a = argv[*i], *val = NULL;

	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		o->help = true;
		return 0;
	}
	for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++) {
		int m = match_opt(argc, argv, i, value_opts[k].lng, value_opts[k].shrt, &val);
		if (m < 0)
			return cli_fail(err, len, "%s needs a value", a);
		if (m == 0)
			continue;
		if (k == 1)
			*token_given = true;
		return set_value(o, k, val, err, len);
	}
	return cli_fail(err, len, "unknown option '%s'", a);
}

static const struct cmd_spec *find_cmd(const char *name)
{
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (!strcmp(cmds[k].name, name))
			return &cmds[k];
	return NULL;
}

int cli_parse_args(int argc, char *const argv[], const char *env_url, const char *env_token,
		   struct cli_opts *o, char *err, size_t errlen)
{
	const struct cmd_spec *spec = NULL;
	bool token_given = false, only_args = false;
	size_t npos = 0;
	const char *pos[CLI_MAX_ARGS + 1];

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!only_args && !strcmp(a, "--")) {
			only_args = true;
		} else if (!only_args && a[0] == '-' && a[1]) {
			int rc = option(argc, argv, &i, o, &token_given, err, errlen);
			if (rc)
				return rc;
		} else if (npos > CLI_MAX_ARGS) {
			return cli_fail(err, errlen, "too many arguments");
		} else {
			pos[npos++] = a;
		}
	}
	if (token_given && o->token_file)
		return cli_fail(err, errlen, "give a token with -t or --token-file, not both");
	if (!o->server)
		o->server = env_url && *env_url ? env_url : CLI_DEFAULT_URL;
	if (!token_given && !o->token_file && env_token && *env_token)
		o->token = env_token;
	if (npos == 0) {
		if (o->help)
			return 0;
		return cli_fail(err, errlen, "no command given");
	}
	spec = find_cmd(pos[0]);
	if (!spec)
		return cli_fail(err, errlen, "unknown command '%s'", pos[0]);
	o->cmd = spec->cmd;
	o->cmd_name = spec->name;
	o->nargs = npos - 1;
	for (size_t k = 1; k < npos; k++)
		o->args[k - 1] = pos[k];
	if (o->nargs < spec->min || o->nargs > spec->max)
		return cli_fail(err, errlen, "%s: expected %s", spec->name, spec->usage);
	if (o->port && o->cmd != CLI_CMD_EXPLAIN)
		return cli_fail(err, errlen, "--port is an option of explain only");
	return 0;
}

int cli_token_from_text(const char *text, char *tok, size_t len)
{
	while (text && *text) {
		const char *end = strchr(text, '\n');
		size_t n = end ? (size_t)(end - text) : strlen(text);

		while (n && (text[n - 1] == '\r' || text[n - 1] == ' ' || text[n - 1] == '\t'))
			n--;
		while (n && (*text == ' ' || *text == '\t')) {
			text++;
			n--;
		}
		if (n && *text != '#') {
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)text[i] <= ' ' || text[i] == 0x7f)
					return -EINVAL;
			if (n > CLI_TOKEN_MAX || n >= len)
				return -ENAMETOOLONG;
			memcpy(tok, text, n);
			tok[n] = '\0';
			return 0;
		}
		if (!end)
			break;
		text = end + 1;
	}
	return -ENOENT;
}

int cli_token_from_file(const char *path, char *tok, size_t len, char *err, size_t errlen)
{
	char buf[64 * 1024];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read the token file: %s", path, strerror(-rc));
		return rc;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rc = cli_token_from_text(buf, tok, len);
	if (rc == -ENOENT)
		snprintf(err, errlen, "%s: no token in the file (one per line, # comments)", path);
	else if (rc == -EINVAL)
		snprintf(err, errlen, "%s: the first token holds spaces or control characters",
			 path);
	else if (rc)
		snprintf(err, errlen, "%s: the first token is longer than %d characters", path,
			 CLI_TOKEN_MAX);
	return rc;
}
