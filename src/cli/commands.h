/*
 * commands.h - running one slnfctl command: build its request, send it,
 * and print the answer (a table, a line, or the JSON itself) or the
 * error, in the `slnfctl: <status>: <field>: <error>` form.
 */
#ifndef SLNF_CLI_COMMANDS_H
#define SLNF_CLI_COMMANDS_H

#include <stdio.h>

#include "cli/args.h"

/* Run o's command with token (NULL: none), printing to out and err.
 * 0; -EINVAL for a usage error (a bad argument or URL: exit status 2);
 * another negative errno when the request failed or the API refused it
 * (exit status 1). The reason is already printed on err. */
int cli_run(const struct cli_opts *o, const char *token, FILE *out, FILE *err);

#endif
