/*
 * health.c - launching, watching and probing instances; see health.h.
 *
 * The probe is slnfd's "ping" command on the control socket: the control
 * thread answering proves the process is alive and serving. Only the first
 * byte of the answer is awaited. Every wait is bounded by a timeout shorter
 * than the detection time (and, for an up instance, by the moment its
 * silence reaches it), so one stuck instance cannot hide another.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/log.h"
#include "orch/drain.h"
#include "orch/health.h"
#include "orch/validate.h"

static void launch(struct slnf_orch *o, json_t *inst, struct orch_inst *in)
{
	struct slnf_error err = {{0}};
	json_t *cfg = orch_instance_config(inst, o->desired.doc, &o->cfg);

	if (!cfg) {
		orch_inst_set_state(o, in, ORCH_INST_FAILED, "its pool or tenant is gone");
		return;
	}
	if (o->launcher->start(in->name, cfg, &in->proc, &err) < 0) {
		orch_inst_set_state(o, in, ORCH_INST_FAILED, err.msg);
	} else {
		orch_proc_record_put(o->store, in->name, in->proc.pid, in->proc.start_time);
		SLNF_INFO("orch", "instance %s: started pid %d", in->name, (int)in->proc.pid);
		orch_inst_set_state(o, in, ORCH_INST_STARTING, "");
	}
	json_decref(cfg);
}

static void watch_start(struct slnf_orch *o, struct orch_inst *in, uint64_t now)
{
	struct slnf_error err = {{0}};
	int r = o->launcher->ready(&in->proc, &err);

	/* a restart that does not come up is down again (retried, backing
	 * off); a first start that does not is failed (a config problem) */
	enum orch_inst_state bad = in->restart_streak ? ORCH_INST_DOWN : ORCH_INST_FAILED;

	if (r < 0) {
		orch_inst_set_state(o, in, bad, err.msg);
	} else if (r > 0 && !orch_control_ask(in->proc.socket_path, "ping\n", NULL, 0,
					      orch_probe_timeout(o))) {
		in->last_ok_ms = now;
		in->restart_streak = 0;
		orch_inst_set_state(o, in, ORCH_INST_UP, "");
	} else if (now - in->since_ms > o->cfg.start_timeout_ms) {
		o->launcher->stop(&in->proc, o->cfg.stop_timeout_ms);
		orch_inst_set_state(o, in, bad, "not ready within the start timeout");
	}
}

/* The probe timeout, but never past the moment an up instance's silence
 * reaches the detection time: a hung instance is down at detection_ms, not
 * a whole probe timeout later. */
static unsigned heartbeat_timeout(const struct slnf_orch *o, const struct orch_inst *in,
				  uint64_t now)
{
	uint64_t t = orch_probe_timeout(o), deadline = in->last_ok_ms + o->cfg.detection_ms;

	if (in->state == ORCH_INST_UP && deadline > now && deadline - now < t)
		t = deadline - now;
	return t ? (unsigned)t : 1;
}

/* The wait before restarting an exited instance: instances.restart_ms,
 * doubled for each restart in a row that did not come up, at most 32x. */
uint64_t orch_restart_delay(const struct orch_config *cfg, unsigned streak)
{
	return (uint64_t)cfg->restart_ms << (streak < 5 ? streak : 5);
}

/* A down instance whose process is gone is launched again once its
 * back-off has passed: failover already moved its flows, this restores
 * the pool's capacity. A hung one (process alive, not answering) is left
 * down for an operator: killing it could lose what it shows. */
static bool restart_due(struct slnf_orch *o, struct orch_inst *in, uint64_t now)
{
	if (in->state != ORCH_INST_DOWN || !o->cfg.restart_ms || o->launcher->alive(&in->proc))
		return false;
	return now - in->since_ms >= orch_restart_delay(&o->cfg, in->restart_streak);
}

static void heartbeat(struct slnf_orch *o, struct orch_inst *in, uint64_t now)
{
	char why[160];

	if (!o->launcher->alive(&in->proc)) {
		int st = in->proc.exit_status;
		if (st >= 0 && WIFSIGNALED(st))
			snprintf(why, sizeof(why), "process exited (signal %d)", WTERMSIG(st));
		else if (st >= 0 && WIFEXITED(st))
			snprintf(why, sizeof(why), "process exited (status %d)", WEXITSTATUS(st));
		else
			snprintf(why, sizeof(why), "process is gone");
		if (in->state != ORCH_INST_DOWN || strcmp(in->reason, why))
			orch_inst_set_state(o, in, ORCH_INST_DOWN, why);
		return;
	}
	in->probes++;
	if (!orch_control_ask(in->proc.socket_path, "ping\n", NULL, 0,
			      heartbeat_timeout(o, in, now))) {
		in->last_ok_ms = now;
		if (in->state != ORCH_INST_UP)
			orch_inst_set_state(o, in, ORCH_INST_UP, "");
		return;
	}
	in->probe_failures++;
	now = orch_now_ms(); /* after the wait: the silence it measured counts */
	if (in->state == ORCH_INST_UP && now - in->last_ok_ms >= o->cfg.detection_ms) {
		snprintf(why, sizeof(why), "no heartbeat answer for %llu ms",
			 (unsigned long long)(now - in->last_ok_ms));
		orch_inst_set_state(o, in, ORCH_INST_DOWN, why);
	}
}

void orch_health_tick(struct slnf_orch *o)
{
	json_t *insts = orch_desired_list(o->desired.doc, ORCH_INSTANCES), *e;
	char drained[ORCH_MAX_INSTANCES][32];
	unsigned n_drained = 0;
	size_t i;

	json_array_foreach(insts, i, e)
	{
		struct orch_inst *in =
		    orch_inst_get(o, json_string_value(json_object_get(e, "name")), true);
		uint64_t now = orch_now_ms();

		if (!in)
			continue;
		if (orch_drain_marked(e)) {
			if (orch_drain_step(o, in, now) && n_drained < ORCH_MAX_INSTANCES)
				snprintf(drained[n_drained++], 32, "%s", in->name);
			continue;
		}
		switch (in->state) {
		case ORCH_INST_NEW:
			launch(o, e, in);
			break;
		case ORCH_INST_STARTING:
			watch_start(o, in, now);
			break;
		case ORCH_INST_UP:
		case ORCH_INST_DOWN:
			if (restart_due(o, in, now)) {
				in->restarts++;
				in->restart_streak++;
				SLNF_INFO("orch", "instance %s: restarting (restart %llu, %s)", in->name,
					  (unsigned long long)in->restarts, in->reason);
				launch(o, e, in);
				break;
			}
			heartbeat(o, in, now);
			break;
		case ORCH_INST_FAILED:
		case ORCH_INST_DRAINING: /* not marked any more: a replaced instance */
		case ORCH_INST_STATES:
			break;
		}
	}
	if (n_drained)
		orch_drain_finish(o, drained, n_drained);
}

void orch_health_adopt(struct slnf_orch *o)
{
	json_t *insts = orch_desired_list(o->desired.doc, ORCH_INSTANCES), *e;
	size_t i;

	json_array_foreach(insts, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		struct orch_inst *in = orch_inst_get(o, name, true);
		json_t *cfg = orch_instance_config(e, o->desired.doc, &o->cfg);
		const char *sock =
		    json_string_value(json_object_get(json_object_get(cfg, "control"), "socket"));
		uint64_t start;
		pid_t pid;

		if (in && sock && !orch_proc_record_get(o->store, name, &pid, &start) &&
		    o->launcher->adopt(name, pid, start, &in->proc)) {
			snprintf(in->proc.socket_path, sizeof(in->proc.socket_path), "%s", sock);
			SLNF_INFO("orch", "instance %s: adopted running pid %d", name, (int)pid);
			orch_inst_set_state(o, in, ORCH_INST_STARTING, "");
			in->adopted = true; /* no table is pushed before its first probe */
			in->adopted_ms = orch_now_ms();
		}
		json_decref(cfg);
	}
}

void orch_health_stop(struct slnf_orch *o, const char *name)
{
	struct orch_inst *in = orch_inst_get(o, name, false);
	struct orch_proc p;
	bool running = in && in->proc.pid > 0;

	if (running)
		p = in->proc;
	orch_proc_record_del(o->store, name);
	orch_inst_forget(o, name); /* out of the tables now */
	if (!running)
		return;
	SLNF_INFO("orch", "instance %s: stopping pid %d", name, (int)p.pid);
	/* the stop may take stop_timeout_ms: the heartbeats go on meanwhile
	 * (the instance is out of the desired state and the run-time records) */
	pthread_mutex_unlock(&o->lock);
	o->launcher->stop(&p, o->cfg.stop_timeout_ms);
	pthread_mutex_lock(&o->lock);
}
