/*
 * main.c - slnfd, the data-plane daemon.
 *
 *   slnfd -c FILE            run until SIGINT/SIGTERM
 *   slnfd --check -c FILE    validate the config and exit
 *   slnfd --stats -c FILE    print a running instance's counters (JSON)
 *   slnfd --stats --socket PATH
 *   slnfd --reload -c FILE   make the running instance re-read FILE and
 *   slnfd --reload --socket PATH    apply its chains (also: SIGHUP)
 *
 * Start-up order: config (before DPDK, so a bad file is refused fast with
 * the file, field and reason), EAL, store, ports, chains, control socket,
 * workers. Shutdown runs the same steps backwards so ports are closed
 * cleanly (an af_xdp port left open keeps its XDP program attached).
 * Exit status: 0 clean stop, 1 runtime failure, 2 bad usage or config
 * (for --reload: 0 applied, 1 slnfd not reachable, 2 reload refused).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "core/log.h"
#include "dp/chain.h"
#include "dp/control.h"
#include "dp/eal.h"
#include "dp/instance.h"
#include "dp/port.h"
#include "dp/reload.h"
#include "dp/worker.h"

static struct slnf_instance *g_inst;

static void on_signal(int sig)
{
	(void)sig;
	if (g_inst)
		g_inst->stop = true;
}

/* The control thread runs the reload (dp/control.c). */
static void on_hangup(int sig)
{
	(void)sig;
	if (g_inst)
		g_inst->reload_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: slnfd -c FILE              run the data plane\n"
		   "       slnfd --check -c FILE      validate FILE and exit\n"
		   "       slnfd --stats -c FILE      print the counters of the running instance\n"
		   "       slnfd --stats --socket PATH\n"
		   "       slnfd --reload -c FILE     re-read FILE and apply its chains live\n"
		   "       slnfd --reload --socket PATH\n"
		   "Configuration reference: docs/config.md\n");
}

static int fail(int status, const struct slnf_error *err)
{
	fprintf(stderr, "slnfd: %s\n", err->msg);
	return status;
}

/* `slnfd --reload`: 0 applied, 2 refused, 1 slnfd not reachable. */
static int reload_client(const char *socket_path)
{
	struct slnf_error err = {{0}};
	int rc = slnf_control_reload(socket_path, &err);
	if (!rc)
		return 0;
	return fail(rc == -ECANCELED ? 2 : 1, &err);
}

static int setup(struct slnf_instance *inst, struct slnf_error *err)
{
	struct slnf_config *cfg = &inst->cfg;
	int rc;
	if (rte_lcore_count() < cfg->workers.count)
		return slnf_errorf(err, EINVAL, cfg->file, "eal.lcores",
				   "'%s' gives %u lcores, workers.count needs %u", cfg->eal.lcores,
				   rte_lcore_count(), cfg->workers.count);
	rc = slnf_store_open(&cfg->store, &inst->store, err);
	if (rc)
		return rc;
	rc = slnf_neigh_init(&inst->neigh, 1024, cfg->neigh.reachable_s, cfg->neigh.max_pending);
	if (rc)
		return slnf_errorf(err, -rc, NULL, NULL, "neighbour table: out of memory");
	for (unsigned i = 0; i < cfg->neigh.n_statics; i++) {
		const struct slnf_static_neigh *s = &cfg->neigh.statics[i];
		slnf_neigh_add_static(&inst->neigh, s->port, s->ip, s->mac);
	}
	rc = slnf_ports_start(inst, err);
	if (rc)
		return rc;
	slnf_host_init(&inst->host, cfg, inst->macs);
	inst->classifier = slnf_classifier_create(cfg);
	if (!inst->classifier)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory for the classifier");
	for (unsigned t = 0; t < cfg->n_tenants && !rc && !slnf_config_is_steer(cfg); t++)
		rc = slnf_chain_create(cfg, t, &inst->chains[t], err);
	if (rc)
		return rc;
	if (slnf_config_is_steer(cfg)) {
		static struct slnf_steer steer;
		slnf_steer_init(&steer, cfg, slnf_workers_quiesce, inst);
		inst->steer = &steer;
	}
	inst->n_workers = cfg->workers.count;
	inst->workers = aligned_alloc(RTE_CACHE_LINE_SIZE,
				      sizeof(struct slnf_worker) * inst->n_workers);
	if (!inst->workers)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory for workers");
	memset(inst->workers, 0, sizeof(struct slnf_worker) * inst->n_workers);
	struct slnf_cache_config cc = {.capacity = cfg->store.cache_entries};
	for (unsigned w = 0; w < inst->n_workers && cc.capacity; w++) {
		rc = slnf_cache_create(&cc, &inst->workers[w].cache);
		if (rc)
			return slnf_errorf(err, -rc, NULL, NULL, "out of memory for the caches");
	}
	return 0;
}

static void teardown(struct slnf_instance *inst)
{
	slnf_ports_stop(inst);
	for (unsigned t = 0; t < inst->cfg.n_tenants; t++)
		if (inst->chains[t])
			slnf_chain_destroy(inst->chains[t]);
	slnf_reload_fini(inst);
	if (inst->store)
		slnf_store_close(inst->store);
	slnf_neigh_fini(&inst->neigh);
	for (unsigned w = 0; inst->workers && w < inst->n_workers; w++)
		slnf_cache_destroy(inst->workers[w].cache);
	free(inst->workers);
	slnf_classifier_destroy(inst->classifier);
	if (inst->steer)
		slnf_steer_fini(inst->steer);
}

static int run_workers(struct slnf_instance *inst)
{
	unsigned idx = 1, lcore;
	inst->workers[0].inst = inst;
	inst->workers[0].lcore = rte_lcore_id();
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (idx >= inst->n_workers)
			break;
		struct slnf_worker *w = &inst->workers[idx];
		w->index = idx;
		w->queue = (uint16_t)idx;
		w->lcore = lcore;
		w->inst = inst;
		rte_eal_remote_launch(slnf_worker_main, w, lcore);
		idx++;
	}
	slnf_worker_main(&inst->workers[0]);
	rte_eal_mp_wait_lcore();
	return 0;
}

static int run(struct slnf_instance *inst)
{
	struct slnf_config *cfg = &inst->cfg;
	struct slnf_error err = {{0}};
	struct slnf_eal_args args;
	if (slnf_eal_args_build(cfg, &args) != 0) {
		fprintf(stderr, "slnfd: %s: EAL arguments too long\n", cfg->file);
		return 2;
	}
	inst->start_ms = slnf_now_ms();
	signal(SIGHUP, on_hangup); /* before the slow EAL start: never die of it */
	if (rte_eal_init(args.argc, args.argv) < 0) {
		fprintf(stderr, "slnfd: %s: eal: DPDK EAL initialisation failed (see messages above)\n",
			cfg->file);
		return 1;
	}
	inst->eal_init_ms = (double)(slnf_now_ms() - inst->start_ms);
	SLNF_INFO("slnfd", "EAL up in %.0f ms (%s)", inst->eal_init_ms,
		  cfg->eal.hugepages ? "hugepages" : "no hugepages");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	struct slnf_control ctl = {.fd = -1};
	int status = 0;
	if (setup(inst, &err) != 0 || slnf_control_start(&ctl, inst, &err) != 0) {
		status = fail(1, &err);
	} else {
		SLNF_INFO("slnfd", "ready: role %s, %u port(s), %u tenant(s), %u worker(s), control %s",
			  cfg->role, cfg->n_ports, cfg->n_tenants, inst->n_workers, cfg->control_socket);
		run_workers(inst);
		SLNF_INFO("slnfd", "stopping");
	}
	slnf_control_stop(&ctl);
	teardown(inst);
	rte_eal_cleanup();
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'k'},
		{"stats", no_argument, NULL, 's'},        {"socket", required_argument, NULL, 'S'},
		{"reload", no_argument, NULL, 'r'},       {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL, *socket_path = NULL;
	bool check = false, stats = false, reload = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 's':
			stats = true;
			break;
		case 'r':
			reload = true;
			break;
		case 'S':
			socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	struct slnf_error err = {{0}};
	if (check + stats + reload > 1) {
		usage(stderr);
		return 2;
	}
	if (stats && socket_path)
		return slnf_control_request(socket_path, "stats", &err) ? fail(1, &err) : 0;
	if (reload && socket_path)
		return reload_client(socket_path);
	if (!file || optind != argc) {
		usage(stderr);
		return 2;
	}
	static struct slnf_instance inst;
	int rc = slnf_config_load(file, &inst.cfg, &err);
	if (!rc && reload) {
		/* only the socket path is needed: slnfd validates the file itself */
		rc = reload_client(inst.cfg.control_socket);
		slnf_config_free(&inst.cfg);
		return rc;
	}
	if (!rc && !stats)
		rc = slnf_chain_check(&inst.cfg, &err);
	if (rc) {
		slnf_config_free(&inst.cfg);
		return fail(2, &err);
	}
	if (check) {
		printf("%s: ok\n", file);
	} else if (stats) {
		rc = slnf_control_request(inst.cfg.control_socket, "stats", &err) ? fail(1, &err) : 0;
	} else {
		g_inst = &inst;
		rc = run(&inst);
	}
	slnf_config_free(&inst.cfg);
	return rc;
}
