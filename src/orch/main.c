/*
 * main.c - slnf-orch, the orchestrator daemon.
 *
 *   slnf-orch -c orch.json     run
 *   slnf-orch --check -c FILE  validate the config (and token file) and exit
 *
 * Start-up: config and tokens (a bad one: exit 2 with file, field and
 * reason), the store, the desired state from the store (a restarted
 * orchestrator finds everything it had), instances a previous run started
 * and that still run are adopted, then the API listens and logs
 * "ready: listening on ADDRESS:PORT". The main loop runs one heartbeat tick
 * per interval, then the steering round (tables, epochs). SIGTERM/SIGINT stop the orchestrator, not
 * the instances: they carry traffic whether or not it runs.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "orch/health.h"
#include "orch/http.h"
#include "orch/orch.h"
#include "orch/policy.h"
#include "orch/steer.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: slnf-orch -c FILE          run the orchestrator\n"
		   "       slnf-orch --check -c FILE  validate FILE and exit\n");
}

static int fail(int code, const struct slnf_error *err)
{
	fprintf(stderr, "slnf-orch: %s\n", err->msg);
	return code;
}

static void sleep_until(uint64_t deadline_ms)
{
	uint64_t now = orch_now_ms();
	struct timespec ts;

	if (now >= deadline_ms)
		return;
	ts.tv_sec = (time_t)((deadline_ms - now) / 1000);
	ts.tv_nsec = (long)((deadline_ms - now) % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int run(struct slnf_orch *o)
{
	struct slnf_error err = {{0}};
	struct orch_http *http = NULL;
	uint16_t port = 0;
	int rc;

	rc = slnf_store_open(&o->cfg.store, &o->store, &err);
	if (rc)
		return fail(1, &err);
	rc = orch_desired_load(&o->desired, o->store, &err);
	if (rc) {
		slnf_store_close(o->store);
		return fail(1, &err);
	}
	SLNF_INFO("orch",
		  "desired state: generation %llu, %zu tenant(s), %zu pool(s), "
		  "%zu instance(s) (store %s)",
		  (unsigned long long)o->desired.gen,
		  json_array_size(orch_desired_list(o->desired.doc, ORCH_TENANTS)),
		  json_array_size(orch_desired_list(o->desired.doc, ORCH_POOLS)),
		  json_array_size(orch_desired_list(o->desired.doc, ORCH_INSTANCES)),
		  o->cfg.store.backend);
	rc = orch_steer_init(o);
	if (rc) {
		slnf_errorf(&err, -rc, "store", "orch/epoch", "the steering epoch: %s",
			    strerror(-rc));
		slnf_store_close(o->store);
		return fail(1, &err);
	}
	SLNF_INFO("orch", "steering epoch %llu, %u steer node(s)",
		  (unsigned long long)o->steer_epoch, o->cfg.n_steer_sockets);
	orch_launcher_local_setup(o->cfg.slnfd, o->cfg.run_dir);
	o->launcher = &orch_launcher_local;
	orch_health_adopt(o);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (orch_http_start(o, &http, &port, &err)) {
		slnf_store_close(o->store);
		return fail(1, &err);
	}
	SLNF_INFO("orch", "ready: listening on %s:%u, heartbeat %u ms, detection %u ms",
		  o->cfg.address, port, o->cfg.interval_ms, o->cfg.detection_ms);
	for (uint64_t next = orch_now_ms(); !stop_requested;) {
		pthread_mutex_lock(&o->lock);
		orch_health_tick(o);
		orch_steer_tick(o);
		orch_policy_tick(o);
		pthread_mutex_unlock(&o->lock);
		next += o->cfg.interval_ms;
		if (next < orch_now_ms())
			next = orch_now_ms(); /* a slow tick: do not try to catch up */
		sleep_until(next);
	}
	SLNF_INFO("orch", "stopping on signal %d (instances keep running)", (int)stop_requested);
	orch_http_stop(http);
	slnf_store_close(o->store);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct slnf_orch o;
	struct slnf_error err = {{0}};
	const char *file = NULL;
	bool check = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!file || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (orch_config_load(file, &o.cfg, &err) ||
	    orch_tokens_load(o.cfg.tokens_file, &o.tokens, &err)) {
		orch_config_free(&o.cfg);
		return fail(2, &err);
	}
	if (access(o.cfg.slnfd, X_OK)) {
		slnf_errorf(&err, errno, file, "slnfd", "'%s' is not an executable file: %s",
			    o.cfg.slnfd, strerror(errno));
		orch_config_free(&o.cfg);
		return fail(2, &err);
	}
	if (check) {
		printf("%s: ok\n", file);
		orch_config_free(&o.cfg);
		return 0;
	}
	pthread_mutex_init(&o.lock, NULL);
	orch_desired_init(&o.desired);
	o.started_ms = orch_now_ms();
	rc = run(&o);
	orch_desired_free(&o.desired);
	orch_config_free(&o.cfg);
	return rc;
}
