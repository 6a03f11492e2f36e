/*
 * http_client.h - the one HTTP exchange slnfctl makes per command, over
 * libcurl: a method, a path under the server URL, an optional JSON body,
 * the bearer token; back come the status and the body.
 *
 * Transport failures (nothing listening, unknown host, timeout, a bad URL)
 * are negative errnos with a message naming the URL; any HTTP status,
 * 4xx and 5xx included, is a successful exchange for this layer.
 */
#ifndef SLNF_CLI_HTTP_CLIENT_H
#define SLNF_CLI_HTTP_CLIENT_H

#include <stddef.h>

#define CLI_HTTP_BODY_MAX (64u << 20)

struct cli_http {
	const char *server; /* base URL, e.g. http://127.0.0.1:8470 */
	const char *token;  /* NULL: no Authorization header */
	long connect_timeout_ms, timeout_ms;
};

struct cli_http_resp {
	long status;
	char *body; /* NUL-terminated; NULL when empty */
	size_t len;
};

/* Once per process, before any request. 0 or -EIO. */
int cli_http_init(void);
void cli_http_cleanup(void);
/* One request. body may be NULL (no body). 0 with *rs filled (free it with
 * cli_http_resp_free), or -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT,
 * -EINVAL (bad URL), -EFBIG (answer above CLI_HTTP_BODY_MAX), -ENOMEM,
 * -EIO, with the reason in err. */
int cli_http_do(const struct cli_http *h, const char *method, const char *path, const char *body,
		size_t body_len, struct cli_http_resp *rs, char *err, size_t errlen);
void cli_http_resp_free(struct cli_http_resp *rs);

#endif
