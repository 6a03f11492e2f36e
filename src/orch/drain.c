/*
 * drain.c - draining instances; see drain.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "orch/counters.h"
#include "orch/drain.h"

bool orch_drain_marked(json_t *inst)
{
	return json_is_true(json_object_get(inst, "draining"));
}

/* now - since, 0 when since is later (a clock read after now) */
static uint64_t elapsed(uint64_t now, uint64_t since)
{
	return now > since ? now - since : 0;
}

void orch_drain_begin(struct slnf_orch *o, struct orch_inst *in, uint64_t now)
{
	if (in->state == ORCH_INST_DRAINING)
		return;
	/* launched by us and never up: it was never in a table, nothing to wait for */
	in->drain_idle = in->state == ORCH_INST_STARTING && !in->ever_up && !in->adopted;
	orch_inst_set_state(o, in, ORCH_INST_DRAINING, "drain requested");
	in->drain_start_ms = in->drain_moved_ms = now;
	in->drain_have_pkts = in->term_sent = in->kill_sent = false;
}

static bool gone(struct slnf_orch *o, struct orch_inst *in)
{
	return in->proc.pid <= 0 || !o->launcher->alive(&in->proc);
}

bool orch_drain_step(struct slnf_orch *o, struct orch_inst *in, uint64_t now)
{
	uint64_t rx, tx;

	if (in->state != ORCH_INST_DRAINING) {
		if (in->state == ORCH_INST_NEW || in->state == ORCH_INST_FAILED || gone(o, in))
			return true; /* nothing runs: nothing to drain */
		orch_drain_begin(o, in, now);
	}
	if (gone(o, in))
		return true;
	if (in->term_sent) {
		if (!in->kill_sent && elapsed(now, in->term_sent_ms) >= o->cfg.stop_timeout_ms) {
			SLNF_WARN("orch", "instance %s: still running %u ms after SIGTERM: SIGKILL",
				  in->name, o->cfg.stop_timeout_ms);
			o->launcher->terminate(&in->proc, true);
			in->kill_sent = true;
		}
		return false;
	}
	if (!in->drain_idle && orch_inst_counters(in, &rx, &tx, orch_probe_timeout(o)) == 0 &&
	    (!in->drain_have_pkts || rx + tx != in->drain_pkts)) {
		in->drain_pkts = rx + tx;
		in->drain_have_pkts = true;
		in->drain_moved_ms = now;
	}
	if (in->drain_idle)
		SLNF_INFO("orch", "instance %s: drained before it was ever up", in->name);
	else if (in->drain_have_pkts && elapsed(now, in->drain_moved_ms) >= ORCH_DRAIN_QUIET_MS)
		SLNF_INFO("orch", "instance %s: drained (no packet for %u ms after %" PRIu64 " ms)",
			  in->name, ORCH_DRAIN_QUIET_MS, elapsed(now, in->drain_start_ms));
	else if (elapsed(now, in->drain_start_ms) >= o->cfg.drain_timeout_ms)
		SLNF_WARN("orch", "instance %s: drain timeout (%u ms), stopping it", in->name,
			  o->cfg.drain_timeout_ms);
	else
		return false;
	o->launcher->terminate(&in->proc, false);
	in->term_sent = true;
	in->term_sent_ms = now;
	return false;
}

void orch_drain_finish(struct slnf_orch *o, char (*names)[32], unsigned n)
{
	struct slnf_error err = {{0}};
	json_t *doc = json_deep_copy(o->desired.doc);
	json_t *list = orch_desired_list(doc, ORCH_INSTANCES);

	for (unsigned k = 0; k < n; k++) {
		size_t idx;

		if (orch_desired_find(doc, ORCH_INSTANCES, names[k], &idx))
			json_array_remove(list, idx);
	}
	if (orch_desired_save(&o->desired, o->store, doc, &err)) {
		SLNF_WARN("orch", "drained instances not removed yet: %s", err.msg);
	} else {
		for (unsigned k = 0; k < n; k++) {
			SLNF_INFO("orch", "instance %s: drained, stopped and removed", names[k]);
			orch_proc_record_del(o->store, names[k]);
			orch_inst_forget(o, names[k]);
		}
	}
	json_decref(doc);
}

void orch_api_drain(struct slnf_orch *o, const char *name, const struct orch_request *rq,
		    struct orch_response *rs)
{
	struct slnf_error err = {{0}};
	json_t *doc, *e;
	size_t idx;

	if (strcmp(rq->method, "POST")) {
		rs->allow = "POST";
		orch_api_error(rs, 405, "", "%s is not allowed here (POST only)", rq->method);
		return;
	}
	if (!orch_desired_find(o->desired.doc, ORCH_INSTANCES, name, &idx)) {
		orch_api_error(rs, 404, "", "no instance named '%s'", name);
		return;
	}
	if (rq->body_len) {
		json_error_t jerr;
		json_t *b = json_loadb(rq->body, rq->body_len, 0, &jerr);
		const char *key = json_object_iter_key(json_object_iter(b));
		bool bad = !json_is_object(b);

		if (bad || key)
			orch_api_error(rs, 400, bad ? "" : key, "%s",
				       bad ? "the body, if any, must be {}"
					   : "unknown key (the body, if any, must be {})");
		json_decref(b);
		if (bad || key)
			return;
	}
	doc = json_deep_copy(o->desired.doc);
	e = json_array_get(orch_desired_list(doc, ORCH_INSTANCES), idx);
	json_object_set_new(e, "draining", json_true());
	if (orch_desired_save(&o->desired, o->store, doc, &err)) {
		orch_api_error(rs, 503, "", "the desired state could not be saved: %s", err.msg);
		json_decref(doc);
		return;
	}
	json_decref(doc);
	e = orch_desired_find(o->desired.doc, ORCH_INSTANCES, name, NULL);
	struct orch_inst *in = orch_inst_get(o, name, true);
	if (in && (in->state == ORCH_INST_UP || in->state == ORCH_INST_DOWN ||
		   in->state == ORCH_INST_STARTING))
		orch_drain_begin(o, in, orch_now_ms()); /* out of the tables now */
	rs->status = 202;
	rs->body = orch_view_instance(o, e);
}
