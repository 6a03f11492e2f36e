/*
 * http_client.c - slnfctl's HTTP requests with libcurl; see
 * http_client.h.
 *
 * Only http and https are allowed, redirects are not followed (an API
 * answer is never a redirect), and "Expect: 100-continue" is turned off
 * so a body goes out with its headers.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/endpoint.h"
#include "cli/http_client.h"

struct sink {
	char *buf;
	size_t len, cap;
	bool too_big;
};

int cli_http_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void cli_http_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->len + len > CLI_HTTP_BODY_MAX) {
		s->too_big = true;
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		size_t cap = (s->len + len + 1) * 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

/* A transport failure as a negative errno and a message naming the
 * server (cannot connect) or the URL (everything else). */
static int transport_error(CURL *c, CURLcode rc, const char *server, const char *url,
			   const char *detail, const struct sink *s, char *err, size_t errlen)
{
	long os_errno = 0;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errlen, "cannot connect to %s: %s (is slnf-orch running there?)",
			 server, os_errno ? strerror((int)os_errno) : detail);
		return os_errno == ECONNREFUSED || !os_errno ? -ECONNREFUSED : -(int)os_errno;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errlen, "cannot connect to %s: unknown host", server);
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "%s: no answer in time (%s)", url, detail);
		return -ETIMEDOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(err, errlen, "%s: not a usable URL (%s)", url, detail);
		return -EINVAL;
	case CURLE_WRITE_ERROR:
		if (s->too_big) {
			snprintf(err, errlen, "%s: answer larger than %u bytes", url,
				 CLI_HTTP_BODY_MAX);
			return -EFBIG;
		}
		snprintf(err, errlen, "%s: out of memory reading the answer", url);
		return -ENOMEM;
	default:
		snprintf(err, errlen, "%s: %s", url, detail);
		return -EIO;
	}
}

static struct curl_slist *headers(const struct cli_http *h, bool has_body)
{
	struct curl_slist *l = NULL, *n;
	char auth[64 + 256];

	l = curl_slist_append(l, "Accept: application/json");
	if (l && has_body && (n = curl_slist_append(l, "Content-Type: application/json")))
		l = n;
	if (l && (n = curl_slist_append(l, "Expect:")))
		l = n;
	if (l && h->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", h->token);
		n = curl_slist_append(l, auth);
		if (!n) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = n;
	}
	return l;
}

int cli_http_do(const struct cli_http *h, const char *method, const char *path, const char *body,
		size_t body_len, struct cli_http_resp *rs, char *err, size_t errlen)
{
	char url[CLI_URL_MAX], detail[CURL_ERROR_SIZE] = "";
	struct sink s = {0};
	struct curl_slist *hdr;
	CURLcode rc;
	CURL *c;
	int ret = 0;

	memset(rs, 0, sizeof(*rs));
	if (cli_join_url(h->server, path, url, sizeof(url))) {
		snprintf(err, errlen, "URL too long: %.60s...", h->server);
		return -ENAMETOOLONG;
	}
	c = curl_easy_init();
	hdr = c ? headers(h, body != NULL) : NULL;
	if (!c || !hdr) {
		curl_easy_cleanup(c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "slnfctl/0.1");
	if (!strcmp(method, "POST") || body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ret = transport_error(c, rc, h->server, url,
				      detail[0] ? detail : curl_easy_strerror(rc), &s, err, errlen);
		free(s.buf);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
		rs->body = s.buf;
		rs->len = s.len;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return ret;
}

void cli_http_resp_free(struct cli_http_resp *rs)
{
	free(rs->body);
	memset(rs, 0, sizeof(*rs));
}
