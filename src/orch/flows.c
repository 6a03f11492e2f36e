/*
 * flows.c - GET /v1/flows; see flows.h. The instances are asked one after
 * the other without the orchestrator's lock (the main loop's heartbeats go
 * on), each for at most ORCH_FLOWS_TIMEOUT_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch/control.h"
#include "orch/flows.h"

#define ORCH_FLOWS_TIMEOUT_MS 1000

void orch_flows_merge(json_t *merged, json_t *seen, json_t *flows)
{
	json_t *f;
	size_t i;

	json_array_foreach(flows, i, f)
	{
		char *key = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		if (key && !json_object_get(seen, key)) {
			json_object_set_new(seen, key, json_true());
			json_array_append(merged, f);
		}
		free(key);
	}
}

struct target {
	char name[32];
	char sock[ORCH_SOCKET_PATH_MAX];
};

void orch_api_flows(struct slnf_orch *o, const struct orch_request *rq, struct orch_response *rs)
{
	struct target *t = calloc(ORCH_MAX_INSTANCES, sizeof(*t));
	json_t *merged = json_array(), *seen = json_object(), *status = json_object();
	unsigned n = 0;

	if (!t) {
		orch_api_error(rs, 500, "", "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < o->n_insts; i++) {
		const struct orch_inst *in = &o->insts[i];

		if (in->state != ORCH_INST_UP && in->state != ORCH_INST_DRAINING)
			continue;
		snprintf(t[n].name, sizeof(t[n].name), "%s", in->name);
		snprintf(t[n].sock, sizeof(t[n].sock), "%s", in->proc.socket_path);
		n++;
	}
	pthread_mutex_unlock(&o->lock);
	for (unsigned k = 0; k < n; k++) {
		json_t *a = NULL, *flows;
		int rc = orch_control_json(t[k].sock, "flows", NULL, &a, ORCH_FLOWS_TIMEOUT_MS);
		char why[300];

		flows = json_object_get(a, "flows");
		if (rc < 0)
			snprintf(why, sizeof(why), "error: %s",
				 rc == -ETIMEDOUT ? "no answer" : strerror(-rc));
		else if (json_is_string(json_object_get(a, "error")))
			snprintf(why, sizeof(why), "error: %s",
				 json_string_value(json_object_get(a, "error")));
		else if (!json_is_array(flows))
			snprintf(why, sizeof(why), "error: no flows in its answer");
		else
			snprintf(why, sizeof(why), "ok");
		if (json_is_array(flows))
			orch_flows_merge(merged, seen, flows);
		json_object_set_new(status, t[k].name, json_string(why));
		json_decref(a);
	}
	pthread_mutex_lock(&o->lock);
	rs->status = 200;
	rs->body = json_pack("{s:O, s:O}", "flows", merged, "instances", status);
out:
	free(t);
	json_decref(merged);
	json_decref(seen);
	json_decref(status);
}
