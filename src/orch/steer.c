/*
 * steer.c - pushing steering tables and epochs; see steer.h.
 *
 * A steer node is known to hold the current tables when it acknowledged a
 * message with the same text (compared by hash): {"steer": "ok", "epoch": E}.
 * The failover figure is the time from the last answered heartbeat of an
 * instance that went down to the first acknowledged push of an epoch
 * without it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "orch/control.h"
#include "orch/epoch.h"
#include "orch/steer.h"
#include "orch/steer_msg.h"

static uint64_t fnv1a(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h | 1; /* never 0: 0 means "nothing acknowledged" */
}

int orch_steer_init(struct slnf_orch *o)
{
	uint64_t e = 0;
	int rc = orch_epoch_load(o->store, &e);

	if (rc < 0)
		return rc;
	o->steer_epoch = e + 1;
	rc = orch_epoch_save(o->store, o->steer_epoch);
	if (!rc)
		o->steer.saved_epoch = o->steer_epoch;
	return rc;
}

bool orch_steer_gate_open(struct slnf_orch *o, uint64_t now)
{
	for (unsigned i = 0; i < o->n_insts; i++) {
		struct orch_inst *in = &o->insts[i];

		if (in->adopted && in->state == ORCH_INST_STARTING &&
		    now - in->adopted_ms < o->cfg.detection_ms)
			return false;
	}
	return true;
}

static bool running(const struct orch_inst *in)
{
	return in->state == ORCH_INST_UP || in->state == ORCH_INST_DRAINING;
}

/* Ask instances that came up their ports, within one probe timeout. */
static void learn_ports(struct slnf_orch *o, uint64_t deadline)
{
	for (unsigned i = 0; i < o->n_insts; i++) {
		struct orch_inst *in = &o->insts[i];
		uint64_t now = orch_now_ms();
		json_t *a = NULL, *ports;
		int rc;

		if (in->ports || !running(in) || now >= deadline)
			continue;
		rc = orch_control_json(in->proc.socket_path, "ports", NULL, &a,
				       (unsigned)(deadline - now));
		ports = json_object_get(a, "ports");
		if (json_is_array(ports)) {
			in->ports = json_incref(ports);
			o->steer.ports_gen++;
		} else if (!rc) {
			/* it answered, without ports (an slnfd that predates the command) */
			SLNF_WARN("orch", "instance %s: no ports in its answer to 'ports'",
				  in->name);
			in->ports = json_array();
			o->steer.ports_gen++;
		}
		json_decref(a);
	}
}

static void push_failed(struct orch_steer_node *n, const char *path, const char *why)
{
	n->failures++;
	if (n->ok || !n->error[0] || strcmp(n->error, why))
		SLNF_WARN("orch", "steer node %s: push failed: %s", path, why);
	n->ok = false;
	n->pushed_hash = 0; /* retried at the next tick */
	snprintf(n->error, sizeof(n->error), "%s", why);
}

/* 1 when this node acknowledged text of epoch E. */
static int push_one(struct slnf_orch *o, unsigned k, const char *text, unsigned timeout)
{
	struct orch_steer_node *n = &o->steer.nodes[k];
	const char *path = o->cfg.steer_sockets[k];
	json_t *a = NULL;
	char why[200];
	int rc;

	n->pushes++;
	rc = orch_control_json(path, "steer", text, &a, timeout);
	if (rc < 0)
		snprintf(why, sizeof(why), "%s", rc == -ETIMEDOUT ? "no answer" : strerror(-rc));
	else if (json_is_string(json_object_get(a, "error")))
		snprintf(why, sizeof(why), "refused: %s",
			 json_string_value(json_object_get(a, "error")));
	else if (strcmp(json_string_value(json_object_get(a, "steer")) ?: "", "ok") ||
		 (uint64_t)json_integer_value(json_object_get(a, "epoch")) != o->steer_epoch)
		snprintf(why, sizeof(why), "unexpected answer");
	else
		why[0] = '\0';
	json_decref(a);
	o->steer.pushes++;
	if (why[0]) {
		o->steer.failures++;
		push_failed(n, path, why);
		return 0;
	}
	if (!n->ok)
		SLNF_INFO("orch", "steer node %s: tables pushed (epoch %" PRIu64 ")", path,
			  o->steer_epoch);
	n->ok = true;
	n->error[0] = '\0';
	n->last_ok_ms = orch_now_ms();
	return 1;
}

/* After the first acknowledged push of this epoch: the failover figures. */
static void measure_failover(struct slnf_orch *o, uint64_t at)
{
	for (unsigned i = 0; i < o->n_insts; i++) {
		struct orch_inst *in = &o->insts[i];

		if (!in->failover_last_ok_ms || o->steer_epoch < in->failover_epoch)
			continue;
		o->steer.last_failover_ms = at - in->failover_last_ok_ms;
		o->steer.have_failover = true;
		SLNF_INFO("orch",
			  "instance %s down: steering pushed %" PRIu64
			  " ms after its last heartbeat (epoch %" PRIu64 ")",
			  in->name, o->steer.last_failover_ms, o->steer_epoch);
		in->failover_last_ok_ms = 0;
	}
}

/* What the message is made of: the epoch (every membership change moves
 * it), the desired state's generation (tenants) and the ports learnt. */
static uint64_t content_key(const struct slnf_orch *o)
{
	return (o->steer_epoch * 0x9e3779b97f4a7c15ull) ^ (o->desired.gen * 1000003ull) ^
	       (o->steer.ports_gen << 40) ^ 1;
}

static void push_tables(struct slnf_orch *o, uint64_t now)
{
	unsigned n = o->cfg.n_steer_sockets, budget, due = 0;
	uint64_t h, key = content_key(o);
	json_t *msg;
	char *text;
	bool acked = false;

	for (unsigned k = 0; k < n; k++) {
		const struct orch_steer_node *nd = &o->steer.nodes[k];
		due += !nd->pushed_hash || nd->pushed_key != key || now >= nd->next_ms;
	}
	if (!due)
		return; /* every node holds this content: not even built */
	msg = orch_steer_message(o);
	text = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(msg);
	if (!text)
		return;
	h = fnv1a(text);
	budget = orch_probe_timeout(o) / n;
	if (budget < 2)
		budget = 2;
	for (unsigned k = 0; k < n; k++) {
		struct orch_steer_node *nd = &o->steer.nodes[k];

		if (nd->pushed_hash == h && now < nd->next_ms)
			continue;
		if (strlen(text) + 7 > ORCH_CONTROL_LINE_MAX) {
			o->steer.failures++;
			push_failed(nd, o->cfg.steer_sockets[k],
				    "the steer message exceeds 64 KiB");
			continue;
		}
		if (push_one(o, k, text, budget)) {
			nd->pushed_hash = h;
			nd->pushed_key = key;
			nd->next_ms = now + o->cfg.push_interval_ms;
			acked = true;
		}
	}
	free(text);
	if (acked) {
		o->steer.last_push_ms = orch_now_ms();
		o->steer.last_push_epoch = o->steer_epoch;
		measure_failover(o, o->steer.last_push_ms);
	}
}

/* "epoch N" to every running instance that has not acknowledged it. */
static void send_epochs(struct slnf_orch *o, uint64_t deadline)
{
	char arg[24];

	snprintf(arg, sizeof(arg), "%" PRIu64, o->steer_epoch);
	for (unsigned i = 0; i < o->n_insts; i++) {
		struct orch_inst *in = &o->insts[i];
		uint64_t now = orch_now_ms();
		json_t *a = NULL;
		int rc;

		if (!running(in) || in->epoch_sent == o->steer_epoch || now >= deadline)
			continue;
		o->steer.epoch_sends++;
		rc = orch_control_json(in->proc.socket_path, "epoch", arg, &a,
				       (unsigned)(deadline - now));
		if (!rc &&
		    (uint64_t)json_integer_value(json_object_get(a, "epoch")) == o->steer_epoch) {
			in->epoch_sent = o->steer_epoch;
		} else {
			o->steer.epoch_failures++;
			if (!rc) { /* it answered, and will not take it: do not insist */
				if (!in->epoch_refused)
					SLNF_WARN("orch", "instance %s: epoch %s refused: %s",
						  in->name, arg,
						  json_string_value(json_object_get(a, "error"))
						      ?: "unexpected answer");
				in->epoch_refused = true; /* said once */
				in->epoch_sent = o->steer_epoch;
			}
		}
		json_decref(a);
	}
}

void orch_steer_tick(struct slnf_orch *o)
{
	uint64_t now = orch_now_ms();

	learn_ports(o, now + orch_probe_timeout(o));
	if (!orch_steer_gate_open(o, now)) {
		if (!o->steer.gate_waiting)
			SLNF_INFO("orch", "steering: waiting for the first probe of every "
					  "adopted instance before pushing");
		o->steer.gate_waiting = true;
		return;
	}
	o->steer.gate_waiting = false;
	if (o->steer.saved_epoch != o->steer_epoch) {
		/* before any push of it: a restart must start above it */
		if (orch_epoch_save(o->store, o->steer_epoch) == 0) {
			o->steer.saved_epoch = o->steer_epoch;
		} else {
			o->steer.save_failures++;
			SLNF_WARN("orch", "steering: epoch %" PRIu64 " not saved in the store",
				  o->steer_epoch);
		}
	}
	push_tables(o, now);
	now = orch_now_ms();
	send_epochs(o, now + orch_probe_timeout(o));
}

json_t *orch_steer_status(struct slnf_orch *o)
{
	const struct orch_steer *s = &o->steer;
	uint64_t now = orch_now_ms();
	json_t *nodes = json_array(), *st;

	for (unsigned k = 0; k < o->cfg.n_steer_sockets; k++) {
		const struct orch_steer_node *n = &s->nodes[k];
		json_t *j = json_pack("{s:s, s:b, s:I, s:I}", "socket", o->cfg.steer_sockets[k],
				      "ok", n->ok, "pushes", (json_int_t)n->pushes, "failures",
				      (json_int_t)n->failures);

		if (n->last_ok_ms)
			json_object_set_new(j, "last_ok_ms_ago",
					    json_integer((json_int_t)(now - n->last_ok_ms)));
		if (n->error[0])
			json_object_set_new(j, "error", json_string(n->error));
		json_array_append_new(nodes, j);
	}
	st = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "pushes", (json_int_t)s->pushes,
		       "failures", (json_int_t)s->failures, "last_push_epoch",
		       (json_int_t)s->last_push_epoch, "epoch_sends", (json_int_t)s->epoch_sends,
		       "epoch_failures", (json_int_t)s->epoch_failures, "epoch_save_failures",
		       (json_int_t)s->save_failures, "waiting_for_adopted", s->gate_waiting,
		       "nodes", nodes);
	json_object_set_new(st, "last_push_ms_ago",
			    s->last_push_ms ? json_integer((json_int_t)(now - s->last_push_ms))
					    : json_null());
	json_object_set_new(st, "last_failover_ms",
			    s->have_failover ? json_integer((json_int_t)s->last_failover_ms)
					     : json_null());
	return st;
}
