/*
 * main.c - slnfctl, the command-line client of slnf-orch's REST API
 * (docs/slnfctl.md): parse the command line, find the token, run the
 * command, and turn the outcome into the exit status: 0 success, 1 the
 * request failed or was refused, 2 a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/http_client.h"

static int usage_error(const char *msg)
{
	fprintf(stderr, "slnfctl: %s\nTry 'slnfctl -h' for help.\n", msg);
	return 2;
}

/* The token to send: --token-file, else -t or $SLNF_TOKEN. */
static int find_token(const struct cli_opts *o, char *buf, size_t len, const char **token)
{
	char err[CLI_ERR_MAX];

	*token = o->token;
	if (o->token_file) {
		if (cli_token_from_file(o->token_file, buf, len, err, sizeof(err)))
			return usage_error(err);
		*token = buf;
	}
	for (const char *p = *token; p && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return usage_error("the token holds spaces or control characters");
	return 0;
}

int main(int argc, char **argv)
{
	char err[CLI_ERR_MAX], tokbuf[CLI_TOKEN_MAX + 1];
	const char *token;
	struct cli_opts o;
	int rc;

	if (cli_parse_args(argc, argv, getenv("SLNF_URL"), getenv("SLNF_TOKEN"), &o, err,
			   sizeof(err)))
		return usage_error(err);
	if (o.help) {
		fputs(cli_usage(), stdout);
		return 0;
	}
	if ((rc = find_token(&o, tokbuf, sizeof(tokbuf), &token)))
		return rc;
	if (cli_http_init()) {
		fprintf(stderr, "slnfctl: cannot initialise libcurl\n");
		return 1;
	}
	rc = cli_run(&o, token, stdout, stderr);
	cli_http_cleanup();
	if (fflush(stdout) && !rc) {
		fprintf(stderr, "slnfctl: cannot write the output\n");
		return 1;
	}
	return rc == -EINVAL ? 2 : rc ? 1 : 0;
}
