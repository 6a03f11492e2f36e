/*
 * endpoint.h - from a parsed command line to the HTTP request slnfctl
 * sends: method, path with its query, JSON body (or the file holding it).
 *
 * Pure functions, so the unit tests check every command's endpoint.
 * Names and query values are percent-encoded; numbers and addresses the
 * user typed are checked here (a mistake is a usage error).
 */
#ifndef SLNF_CLI_ENDPOINT_H
#define SLNF_CLI_ENDPOINT_H

#include <stddef.h>

#include "cli/args.h"

#define CLI_PATH_MAX 1024
#define CLI_URL_MAX  2048

struct cli_request {
	const char *method;	 /* GET, POST, DELETE */
	char path[CLI_PATH_MAX]; /* "/v1/...", with "?query" */
	char body[64];		 /* a small JSON body built here ("" for none) */
	const char *body_file;	 /* create: the file to send ("-": stdin) */
	const char *kind;	 /* create, delete: "tenant", "pool", "instance" */
	const char *name;	 /* the resource named on the command line, or NULL */
};

/* The request of o's command. 0, or -EINVAL with the reason in err (a
 * usage error). */
int cli_build_request(const struct cli_opts *o, struct cli_request *rq, char *err, size_t errlen);
/* Percent-encode s (everything but letters, digits and -._~) into out.
 * 0 or -ENAMETOOLONG. */
int cli_url_escape(const char *s, char *out, size_t len);
/* server (a URL; "http://" is added when it has no scheme; trailing '/'
 * dropped) joined with path. 0 or -ENAMETOOLONG. */
int cli_join_url(const char *server, const char *path, char *out, size_t len);
/* "ADDR:PORT" (IPv4) into addr and port: 0 or -EINVAL. */
int cli_split_endpoint(const char *s, char *addr, size_t alen, unsigned *port);

#endif
