/*
 * auth.h - API tokens: loaded from a file (one per line, '#' comments and
 * blank lines ignored) and checked against "Authorization: Bearer <token>"
 * in constant time, so response timing says nothing about a token.
 */
#ifndef SLNF_ORCH_AUTH_H
#define SLNF_ORCH_AUTH_H

#include <stdbool.h>

#include "slnf/error.h"

#define ORCH_TOKENS_MAX	   64
#define ORCH_TOKEN_LEN_MAX 128

struct orch_tokens {
	char tok[ORCH_TOKENS_MAX][ORCH_TOKEN_LEN_MAX + 1];
	unsigned n;
};

/* Load path; fails (file and line in err) on unreadable files, tokens that
 * are too long or hold spaces or control characters, or no token at all. */
int orch_tokens_load(const char *path, struct orch_tokens *t, struct slnf_error *err);
/* The same from a text (file names it in messages). */
int orch_tokens_parse(const char *text, const char *file, struct orch_tokens *t,
		      struct slnf_error *err);

enum orch_auth_result {
	ORCH_AUTH_OK,
	ORCH_AUTH_MISSING, /* no Authorization header, or not "Bearer ...": 401 */
	ORCH_AUTH_WRONG,   /* a bearer token that is not one of ours: 403 */
};

/* header: the Authorization header's value, or NULL. */
enum orch_auth_result orch_auth_check(const struct orch_tokens *t, const char *header);

/* Constant-time equality of two NUL-terminated strings up to
 * ORCH_TOKEN_LEN_MAX bytes: the time depends on neither content. */
bool orch_token_equal(const char *a, const char *b);

#endif
