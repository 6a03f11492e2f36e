/*
 * auth.c - API token file and bearer-token check; see auth.h.
 *
 * Every configured token is compared in full, whatever matched first, and
 * each comparison walks ORCH_TOKEN_LEN_MAX + 1 bytes with no early exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "orch/auth.h"

bool orch_token_equal(const char *a, const char *b)
{
	unsigned char diff = 0, a_end = 0, b_end = 0;

	for (size_t i = 0; i <= ORCH_TOKEN_LEN_MAX; i++) {
		unsigned char x = a_end ? 0 : (unsigned char)a[i];
		unsigned char y = b_end ? 0 : (unsigned char)b[i];

		diff |= x ^ y;
		a_end |= (unsigned char)(x == 0);
		b_end |= (unsigned char)(y == 0);
	}
	/* one of them longer than the maximum: never equal */
	return diff == 0 && a_end && b_end;
}

enum orch_auth_result orch_auth_check(const struct orch_tokens *t, const char *header)
{
	char given[ORCH_TOKEN_LEN_MAX + 2];
	bool ok = false;

	if (!header || strncasecmp(header, "Bearer ", 7))
		return ORCH_AUTH_MISSING;
	header += 7;
	while (*header == ' ')
		header++;
	if (!*header)
		return ORCH_AUTH_MISSING;
	/* a token longer than any accepted one is kept one byte too long */
	snprintf(given, sizeof(given), "%s", header);
	for (unsigned i = 0; i < t->n; i++)
		ok |= orch_token_equal(t->tok[i], given);
	return ok ? ORCH_AUTH_OK : ORCH_AUTH_WRONG;
}

int orch_tokens_parse(const char *text, const char *file, struct orch_tokens *t,
		      struct slnf_error *err)
{
	unsigned line = 0;
	char where[32];

	memset(t, 0, sizeof(*t));
	while (text && *text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);

		line++;
		snprintf(where, sizeof(where), "line %u", line);
		while (len &&
		       (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
			len--;
		while (len && (*text == ' ' || *text == '\t')) {
			text++;
			len--;
		}
		if (len && *text != '#') {
			for (size_t i = 0; i < len; i++)
				if ((unsigned char)text[i] <= ' ' || text[i] == 0x7f)
					return slnf_errorf(
					    err, EINVAL, file, where,
					    "a token may not hold spaces or control characters");
			if (len > ORCH_TOKEN_LEN_MAX)
				return slnf_errorf(err, EINVAL, file, where,
						   "token longer than %d characters",
						   ORCH_TOKEN_LEN_MAX);
			if (t->n == ORCH_TOKENS_MAX)
				return slnf_errorf(err, E2BIG, file, where, "more than %d tokens",
						   ORCH_TOKENS_MAX);
			memcpy(t->tok[t->n++], text, len);
		}
		text = end ? end + 1 : text + len;
		if (!end)
			break;
	}
	if (!t->n)
		return slnf_errorf(err, EINVAL, file, NULL,
				   "no API token (one per line): refusing to run an open API");
	return 0;
}

int orch_tokens_load(const char *path, struct orch_tokens *t, struct slnf_error *err)
{
	char buf[ORCH_TOKENS_MAX * (ORCH_TOKEN_LEN_MAX + 2) + 4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return slnf_errorf(err, errno, path, NULL, "cannot read the token file: %s",
				   strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n == sizeof(buf) - 1)
		return slnf_errorf(err, EFBIG, path, NULL, "token file too large");
	buf[n] = '\0';
	return orch_tokens_parse(buf, path, t, err);
}
