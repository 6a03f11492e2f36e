/*
 * orch_fixture.h - an slnf-orch without HTTP for the API unit tests: a
 * context with a private shm store and the local launcher (setup and
 * teardown for cmocka), one request run as the HTTP thread runs it, and a
 * check that a request is refused with a status, a field and words.
 * Header-only, one copy per test program (like nftest.h).
 */
#ifndef SLNF_TEST_ORCH_FIXTURE_H
#define SLNF_TEST_ORCH_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "orch/api.h"

static struct slnf_orch o;
static char shm_path[96];

/* An orchestrator context whose store is the shm table
 * slnf-test-orch-<tag>-<pid>. */
static inline int orch_fixture_open(const char *tag)
{
	struct slnf_error err = {{0}};
	char cfg[512];

	snprintf(cfg, sizeof(cfg),
		 "{\"auth\":{\"tokens_file\":\"/nonexistent\"},"
		 "\"store\":{\"backend\":\"shm\",\"capacity\":4096,\"shm\":{\"name\":"
		 "\"slnf-test-orch-%s-%d\"}},\"run_dir\":\"/tmp/slnf-orch-unit\"}",
		 tag, (int)getpid());
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/slnf-test-orch-%s-%d", tag, (int)getpid());
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.lock, NULL);
	assert_int_equal(orch_config_parse(cfg, "orch.json", &o.cfg, &err), 0);
	assert_int_equal(slnf_store_open(&o.cfg.store, &o.store, &err), 0);
	orch_desired_init(&o.desired);
	o.launcher = &orch_launcher_local;
	return 0;
}

static inline int orch_fixture_close(void)
{
	orch_desired_free(&o.desired);
	slnf_store_close(o.store);
	unlink(shm_path);
	orch_config_free(&o.cfg);
	return 0;
}

/* Run one request; returns the status, *out the response (caller frees). */
static inline int req(const char *method, const char *path, const char *body, json_t **out)
{
	struct orch_request rq = {
	    .method = method, .path = path, .body = body, .body_len = body ? strlen(body) : 0};
	struct orch_response rs;

	pthread_mutex_lock(&o.lock); /* as the HTTP thread does */
	orch_api_handle(&o, &rq, &rs);
	pthread_mutex_unlock(&o.lock);
	if (out)
		*out = rs.body;
	else
		json_decref(rs.body);
	return rs.status;
}

/* The request fails with status, names field (unless NULL) and its error
 * holds words (unless NULL). */
static inline void expect_error(const char *method, const char *path, const char *body, int status,
				const char *field, const char *words)
{
	json_t *b;
	int st = req(method, path, body, &b);

	if (st != status || !b)
		fail_msg("%s %s %s: %d (expected %d)", method, path, body ? body : "", st, status);
	assert_non_null(json_string_value(json_object_get(b, "error")));
	if (field && strcmp(json_string_value(json_object_get(b, "field")) ?: "", field))
		fail_msg("%s %s: field '%s' (expected '%s'): %s", method, path,
			 json_string_value(json_object_get(b, "field")) ?: "", field,
			 json_string_value(json_object_get(b, "error")));
	if (words && !strstr(json_string_value(json_object_get(b, "error")), words))
		fail_msg("error '%s' lacks '%s'", json_string_value(json_object_get(b, "error")),
			 words);
	json_decref(b);
}

#endif
