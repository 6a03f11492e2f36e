/*
 * args.h - slnfctl's command line: global options, the command and its
 * arguments, and the API token from a tokens file.
 *
 * Parsing is a pure function of argv and the two environment values, so
 * the unit tests check every rule. Global options may come before or after
 * the command; `--` ends the options.
 */
#ifndef SLNF_CLI_ARGS_H
#define SLNF_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_DEFAULT_URL "http://127.0.0.1:8470"
#define CLI_MAX_ARGS	8
#define CLI_TOKEN_MAX	128
#define CLI_ERR_MAX	512

enum cli_output {
	CLI_OUT_TABLE,
	CLI_OUT_JSON,
};

enum cli_cmd {
	CLI_CMD_NONE,
	CLI_CMD_TENANTS,
	CLI_CMD_CHAINS,
	CLI_CMD_POOLS,
	CLI_CMD_INSTANCES,
	CLI_CMD_STATS,
	CLI_CMD_STEERING,
	CLI_CMD_FLOWS,
	CLI_CMD_SCALE,
	CLI_CMD_DRAIN,
	CLI_CMD_EXPLAIN,
	CLI_CMD_CREATE,
	CLI_CMD_DELETE,
};

struct cli_opts {
	const char *server;	/* -s, else $SLNF_URL, else CLI_DEFAULT_URL */
	const char *token;	/* -t, else $SLNF_TOKEN (NULL: none) */
	const char *token_file; /* --token-file */
	enum cli_output output;
	bool help;
	enum cli_cmd cmd;
	const char *cmd_name;
	const char *args[CLI_MAX_ARGS];
	size_t nargs;
	const char *port; /* explain --port */
};

/* Parse argv (argv[0] is the program). 0, or -EINVAL with the reason in
 * err (a usage error: exit status 2). With -h, o->help is set and the
 * command may be missing. env_url and env_token may be NULL or empty. */
int cli_parse_args(int argc, char *const argv[], const char *env_url, const char *env_token,
		   struct cli_opts *o, char *err, size_t errlen);
/* The first token of a tokens file's text (lines trimmed; blank lines and
 * '#' comments skipped) into tok. 0, -ENOENT (no token), -EINVAL (spaces
 * or control characters inside), -ENAMETOOLONG (above CLI_TOKEN_MAX). */
int cli_token_from_text(const char *text, char *tok, size_t len);
/* The same from a file; err says why it failed, naming the file. */
int cli_token_from_file(const char *path, char *tok, size_t len, char *err, size_t errlen);
/* The usage text printed by -h. */
const char *cli_usage(void);

#endif
