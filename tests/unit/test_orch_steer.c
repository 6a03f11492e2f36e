/*
 * test_orch_steer.c - slnf-orch's side of steering, against a fake slnfd
 * control socket (a thread serving a Unix socket the way slnfd's control
 * thread does: one line in, one JSON answer, close): long lines and large
 * answers over the control socket, the steer message builder, pushes on an
 * epoch change and not otherwise, retries after a refused push, a steer
 * node that is not there, "epoch N" and "ports" to instances, the
 * failover figure, no push while an adopted instance waits for its first
 * probe, the epoch kept in the store across restarts, GET /v1/flows
 * merging identical entries, and a drain taken
 * over after a restart (with a fake launcher and the clock passed in).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "orch/api.h"
#include "orch/control.h"
#include "orch/drain.h"
#include "orch/health.h"
#include "orch/epoch.h"
#include "orch/flows.h"
#include "orch/steer.h"
#include "orch/steer_msg.h"

/* ---- the fake control socket ---- */

struct fake {
	char path[108];
	int lfd;
	pthread_t thr;
	volatile int stop;
	pthread_mutex_t mu;
	unsigned steers, epochs, ports, others;
	char *last_steer; /* the steer command's argument */
	char *last_line;
	bool refuse_steer;     /* answer {"error": ...} */
	unsigned long long rx; /* the "stats" answer's lan rx_packets */
	size_t big_answer;     /* "big" command: a JSON answer of this size */
};

static struct fake fk;

static char *read_line(int fd)
{
	size_t cap = 1 << 17, len = 0;
	char *b = malloc(cap);

	while (b) {
		ssize_t n = read(fd, b + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(b, '\n', len))
			break;
		if (len == cap - 1) {
			char *nb = realloc(b, cap * 2);
			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		b[len] = '\0';
	return b;
}

static char *answer_for(const char *line)
{
	char *a = NULL;
	unsigned long long e;

	pthread_mutex_lock(&fk.mu);
	free(fk.last_line);
	fk.last_line = strdup(line);
	if (!strncmp(line, "steer ", 6)) {
		json_t *m = json_loads(line + 6, 0, NULL);
		fk.steers++;
		free(fk.last_steer);
		fk.last_steer = strdup(line + 6);
		if (fk.refuse_steer)
			a = strdup("{\"error\": \"not a steer node\"}");
		else if (asprintf(&a, "{\"steer\": \"ok\", \"epoch\": %lld, \"tenants\": %zu}",
				  (long long)json_integer_value(json_object_get(m, "epoch")),
				  json_array_size(json_object_get(m, "tenants"))) < 0)
			a = NULL;
		json_decref(m);
	} else if (sscanf(line, "epoch %llu", &e) == 1) {
		fk.epochs++;
		if (asprintf(&a, "{\"epoch\": %llu}", e) < 0)
			a = NULL;
	} else if (!strcmp(line, "ports")) {
		fk.ports++;
		a = strdup("{\"ports\": [{\"name\": \"lan\", \"mac\": \"02:00:00:00:01:01\", "
			   "\"addrs\": [\"10.0.1.11/24\"]}, {\"name\": \"wan\", \"mac\": "
			   "\"02:00:00:00:02:01\", \"addrs\": []}]}");
	} else if (!strcmp(line, "stats")) {
		fk.others++;
		if (asprintf(&a,
			     "{\"ports\": [{\"name\": \"lan\", \"rx_packets\": %llu, "
			     "\"tx_packets\": 5}, {\"name\": \"wan\", \"rx_packets\": 1, "
			     "\"tx_packets\": %llu}]}",
			     fk.rx, fk.rx) < 0)
			a = NULL;
	} else if (!strcmp(line, "flows")) {
		fk.others++;
		a = strdup("{\"flows\": [{\"tenant\": \"t1\", \"nf\": \"firewall\", \"proto\": "
			   "\"tcp\", \"src\": \"10.0.1.2\", \"sport\": 40000, \"dst\": "
			   "\"10.0.2.2\", \"dport\": 80, \"state\": \"established\"}, "
			   "{\"sport\": 40001, \"tenant\": \"t1\"}]}");
	} else if (!strcmp(line, "big")) {
		fk.others++;
		a = malloc(fk.big_answer + 1);
		memset(a, 'a', fk.big_answer);
		memcpy(a, "{\"x\": \"", 7);
		memcpy(a + fk.big_answer - 2, "\"}", 2);
		a[fk.big_answer] = '\0';
	} else {
		fk.others++;
		if (asprintf(&a, "{\"len\": %zu}", strlen(line)) < 0)
			a = NULL;
	}
	pthread_mutex_unlock(&fk.mu);
	return a;
}

static void *serve(void *arg)
{
	while (!fk.stop) {
		struct pollfd p = {.fd = fk.lfd, .events = POLLIN};
		char *line, *a, *nl;
		int c;

		if (poll(&p, 1, 20) <= 0)
			continue;
		c = accept(fk.lfd, NULL, NULL);
		if (c < 0)
			continue;
		line = read_line(c);
		if (line && (nl = strchr(line, '\n')))
			*nl = '\0';
		a = line ? answer_for(line) : NULL;
		for (size_t off = 0, len = a ? strlen(a) : 0; off < len;) {
			ssize_t n = write(c, a + off, len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		free(a);
		free(line);
		close(c);
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mu, NULL);
	snprintf(fk.path, sizeof(fk.path), "/tmp/slnf-test-orch-steer-%d.sock", (int)getpid());
	unlink(fk.path);
	strcpy(sa.sun_path, fk.path);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fk.lfd >= 0);
	assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk.lfd, 16), 0);
	assert_int_equal(pthread_create(&fk.thr, NULL, serve, NULL), 0);
}

static void fake_stop(void)
{
	fk.stop = 1;
	pthread_join(fk.thr, NULL);
	close(fk.lfd);
	unlink(fk.path);
	free(fk.last_steer);
	free(fk.last_line);
}

static unsigned count(unsigned *c)
{
	unsigned v;

	pthread_mutex_lock(&fk.mu);
	v = *c;
	pthread_mutex_unlock(&fk.mu);
	return v;
}

/* ---- an orchestrator without HTTP or launcher ---- */

/* The fake answers from a thread: a long detection time makes the probe
 * timeout (what every exchange may take) 500 ms, so a busy machine does not
 * turn a slow answer into a failure. */
static struct slnf_orch o;
static char shm_path[96];

static int setup(void **state)
{
	struct slnf_error err = {{0}};
	char cfg[512];

	fake_start();
	snprintf(cfg, sizeof(cfg),
		 "{\"auth\":{\"tokens_file\":\"/nonexistent\"},"
		 "\"store\":{\"backend\":\"shm\",\"capacity\":4096,\"shm\":{\"name\":"
		 "\"slnf-test-orch-steer-%d\"}},\"run_dir\":\"/tmp/slnf-orch-unit\","
		 "\"steering\":{\"sockets\":[\"%s\"],\"push_interval_ms\":600000},"
		 "\"health\":{\"detection_ms\":10000}}",
		 (int)getpid(), fk.path);
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/slnf-test-orch-steer-%d", (int)getpid());
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.lock, NULL);
	assert_int_equal(orch_config_parse(cfg, "orch.json", &o.cfg, &err), 0);
	assert_int_equal(o.cfg.n_steer_sockets, 1);
	assert_int_equal(slnf_store_open(&o.cfg.store, &o.store, &err), 0);
	orch_desired_init(&o.desired);
	json_decref(o.desired.doc);
	o.desired.doc = json_loads(
	    "{\"tenants\":[{\"name\":\"t1\",\"id\":1},{\"name\":\"t2\",\"id\":2}],"
	    "\"pools\":[{\"name\":\"p1\",\"tenant\":\"t1\"},{\"name\":\"p2\",\"tenant\":\"t2\"}],"
	    "\"instances\":[{\"name\":\"i3\",\"pool\":\"p1\"},{\"name\":\"i2\",\"pool\":\"p1\"},"
	    "{\"name\":\"i1\",\"pool\":\"p1\"},{\"name\":\"i4\",\"pool\":\"p1\"},"
	    "{\"name\":\"j1\",\"pool\":\"p2\"}]}",
	    0, NULL);
	assert_non_null(o.desired.doc);
	return 0;
}

static int teardown(void **state)
{
	for (unsigned i = 0; i < o.n_insts; i++)
		json_decref(o.insts[i].ports);
	orch_desired_free(&o.desired);
	slnf_store_close(o.store);
	unlink(shm_path);
	orch_config_free(&o.cfg);
	fake_stop();
	return 0;
}

static struct orch_inst *inst(const char *name, enum orch_inst_state s)
{
	struct orch_inst *in = orch_inst_get(&o, name, true);

	assert_non_null(in);
	orch_inst_set_state(&o, in, s, "");
	snprintf(in->proc.socket_path, sizeof(in->proc.socket_path), "%s", fk.path);
	return in;
}

/* ---- tests ---- */

static void test_config_steering(void **state)
{
	struct orch_config c;
	struct slnf_error err = {{0}};

	assert_int_equal(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"}}", "f", &c, &err), 0);
	assert_int_equal(c.n_steer_sockets, 0);
	assert_int_equal(c.push_interval_ms, 1000);
	assert_int_equal(c.drain_timeout_ms, 5000);
	/* an exited instance is restarted after 1 s, backing off to 32 s */
	assert_int_equal(c.restart_ms, 1000);
	assert_int_equal(orch_restart_delay(&c, 0), 1000);
	assert_int_equal(orch_restart_delay(&c, 3), 8000);
	assert_int_equal(orch_restart_delay(&c, 9), 32000);
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"steering\":"
				      "{\"sockets\":[\"/a\"],\"interval\":1}}",
				      "f", &c, &err) < 0);
	assert_string_equal(err.msg, "f: steering.interval: unknown key");
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"steering\":{}}", "f", &c,
				      &err) < 0);
	assert_non_null(strstr(err.msg, "f: steering.sockets: missing"));
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"steering\":"
				      "{\"sockets\":[\"/a\",\"/a\"]}}",
				      "f", &c, &err) < 0);
	assert_string_equal(err.msg, "f: steering.sockets[1]: listed twice");
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"steering\":"
				      "{\"sockets\":[\"/a\"],\"push_interval_ms\":0}}",
				      "f", &c, &err) < 0);
	assert_non_null(strstr(err.msg, "f: steering.push_interval_ms: "));
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"instances\":"
				      "{\"drain_timeout_ms\":-1}}",
				      "f", &c, &err) < 0);
	assert_non_null(strstr(err.msg, "f: instances.drain_timeout_ms: "));
	orch_config_free(&c);
	/* instances.store: the instances' own store, local allowed there */
	assert_int_equal(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"instances\":"
					   "{\"store\":{\"backend\":\"local\"}}}",
					   "f", &c, &err),
			 0);
	assert_string_equal(
		json_string_value(json_object_get(c.instance_store_json, "backend")), "local");
	orch_config_free(&c);
	assert_true(orch_config_parse("{\"auth\":{\"tokens_file\":\"x\"},\"instances\":"
				      "{\"store\":{\"backend\":\"lokal\"}}}",
				      "f", &c, &err) < 0);
	assert_non_null(strstr(err.msg, "f: instances.store.backend: "));
	orch_config_free(&c);
}

static void test_control_long_line_large_answer(void **state)
{
	size_t n = ORCH_CONTROL_LINE_MAX - 1;
	char *line = malloc(n + 2), *buf = malloc(ORCH_CONTROL_ANSWER_MAX + 1);
	json_t *a = NULL;

	/* a 64 KiB line (with its newline) arrives whole */
	memset(line, 'x', n - 1);
	line[n - 1] = '\n';
	line[n] = '\0';
	assert_int_equal(orch_control_ask(fk.path, line, buf, ORCH_CONTROL_ANSWER_MAX + 1, 5000),
			 0);
	a = json_loads(buf, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(a, "len")), n - 1);
	json_decref(a);
	/* one longer is refused before anything is sent */
	memset(line, 'x', n + 1);
	line[n + 1] = '\0';
	assert_int_equal(orch_control_json(fk.path, line, NULL, &a, 5000), -EMSGSIZE);
	/* a 1 MiB answer is read whole, a larger one is refused */
	fk.big_answer = ORCH_CONTROL_ANSWER_MAX;
	assert_int_equal(orch_control_json(fk.path, "big", NULL, &a, 5000), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(a, "x"))),
			 ORCH_CONTROL_ANSWER_MAX - 9);
	json_decref(a);
	fk.big_answer = ORCH_CONTROL_ANSWER_MAX + 1;
	assert_int_equal(orch_control_json(fk.path, "big", NULL, &a, 5000), -EMSGSIZE);
	assert_null(a);
	/* nobody there: at once, not after the timeout */
	assert_true(orch_control_json("/tmp/slnf-test-nobody-here.sock", "ping", NULL, &a, 5000) <
		    0);
	free(line);
	free(buf);
}

static void test_steer_message(void **state)
{
	json_t *m, *t1, *t2, *i;
	struct orch_inst *in;

	inst("i3", ORCH_INST_DOWN);
	inst("i2", ORCH_INST_UP)->ports = json_loads(
	    "[{\"name\":\"lan\",\"mac\":\"02:00:00:00:01:02\"},{\"name\":\"wan\",\"mac\":"
	    "\"02:00:00:00:02:02\"}]",
	    0, NULL);
	inst("i1", ORCH_INST_UP);
	in = inst("i4", ORCH_INST_UP);
	orch_inst_set_state(&o, in, ORCH_INST_DRAINING, "");
	o.steer_epoch = 17;
	m = orch_steer_message(&o);
	assert_int_equal(json_integer_value(json_object_get(m, "epoch")), 17);
	t1 = json_array_get(json_object_get(m, "tenants"), 0);
	t2 = json_array_get(json_object_get(m, "tenants"), 1);
	assert_string_equal(json_string_value(json_object_get(t1, "name")), "t1");
	/* up ones only (not down, not draining), in name order */
	i = json_object_get(t1, "instances");
	assert_int_equal(json_array_size(i), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(i, 0), "name")), "i1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(i, 1), "name")), "i2");
	assert_int_equal(json_object_size(json_object_get(json_array_get(i, 0), "macs")), 0);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_array_get(i, 1), "macs"), "wan")),
			    "02:00:00:00:02:02");
	/* a tenant with nothing up is listed, empty: its traffic is dropped */
	assert_string_equal(json_string_value(json_object_get(t2, "name")), "t2");
	assert_int_equal(json_array_size(json_object_get(t2, "instances")), 0);
	json_decref(m);
	/* the same member list as the view */
	struct orch_inst *mem[4];
	assert_int_equal(orch_tenant_members(&o, "t1", mem, 4), 2);
	assert_string_equal(mem[0]->name, "i1");
}

static void test_push_and_failover(void **state)
{
	struct orch_inst *i1 = orch_inst_get(&o, "i1", false);
	unsigned s0 = count(&fk.steers);
	json_t *m, *st;

	/* i1 has no ports yet: asked for them, then the push, then the epochs */
	json_decref(i1->ports);
	i1->ports = NULL;
	orch_steer_tick(&o);
	assert_non_null(i1->ports);
	assert_int_equal(count(&fk.steers), s0 + 1);
	assert_int_equal(o.steer.last_push_epoch, o.steer_epoch);
	assert_true(o.steer.nodes[0].ok);
	m = json_loads(fk.last_steer, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(m, "epoch")), o.steer_epoch);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(
		    json_array_get(json_object_get(json_array_get(json_object_get(m, "tenants"), 0),
						   "instances"),
				   0),
		    "macs"),
		"lan")),
	    "02:00:00:00:01:01");
	json_decref(m);
	/* every running instance (up or draining) acknowledged the epoch */
	assert_int_equal(i1->epoch_sent, o.steer_epoch);
	assert_int_equal(orch_inst_get(&o, "i4", false)->epoch_sent, o.steer_epoch);
	assert_int_equal(orch_inst_get(&o, "i3", false)->epoch_sent, 0); /* down */
	/* the epoch is in the store before any push of it */
	uint64_t e;
	assert_int_equal(orch_epoch_load(o.store, &e), 0);
	assert_int_equal(e, o.steer_epoch);
	/* nothing changed: no push until the interval */
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 1);
	o.steer.nodes[0].next_ms = 0; /* the interval passed */
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 2);
	/* i1 goes down: a new epoch, pushed at the next tick, without it */
	uint64_t before = o.steer_epoch;
	i1->last_ok_ms = orch_now_ms();
	orch_inst_set_state(&o, i1, ORCH_INST_DOWN, "test");
	assert_true(o.steer_epoch > before);
	assert_false(o.steer.have_failover);
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 3);
	assert_true(o.steer.have_failover);
	assert_null(strstr(fk.last_steer, "\"i1\""));
	assert_non_null(strstr(fk.last_steer, "\"i2\""));
	st = orch_steer_status(&o);
	assert_int_equal(json_integer_value(json_object_get(st, "pushes")), o.steer.pushes);
	assert_int_equal(json_integer_value(json_object_get(st, "failures")), 0);
	assert_true(json_is_integer(json_object_get(st, "last_failover_ms")));
	json_decref(st);
}

static void test_refused_push_is_retried(void **state)
{
	struct orch_inst *i1 = orch_inst_get(&o, "i1", false);
	unsigned s0 = count(&fk.steers);
	uint64_t f0 = o.steer.failures;

	fk.refuse_steer = true;
	orch_inst_set_state(&o, i1, ORCH_INST_UP, "");
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 1);
	assert_int_equal(o.steer.failures, f0 + 1);
	assert_false(o.steer.nodes[0].ok);
	assert_non_null(strstr(o.steer.nodes[0].error, "not a steer node"));
	orch_steer_tick(&o); /* the next tick tries again */
	assert_int_equal(count(&fk.steers), s0 + 2);
	fk.refuse_steer = false;
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 3);
	assert_true(o.steer.nodes[0].ok);
	assert_int_equal(o.steer.nodes[0].error[0], '\0');
	orch_steer_tick(&o); /* and then leaves it alone */
	assert_int_equal(count(&fk.steers), s0 + 3);
}

static void test_missing_steer_node(void **state)
{
	uint64_t f0 = o.steer.failures;
	unsigned s0 = count(&fk.steers);

	/* a second steer node that does not exist: counted, the first still served */
	snprintf(o.cfg.steer_sockets[1], sizeof(o.cfg.steer_sockets[1]),
		 "/tmp/slnf-test-orch-nobody-%d.sock", (int)getpid());
	o.cfg.n_steer_sockets = 2;
	o.steer_epoch++;
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 1);
	assert_true(o.steer.nodes[0].ok);
	assert_false(o.steer.nodes[1].ok);
	assert_int_equal(o.steer.failures, f0 + 1);
	o.cfg.n_steer_sockets = 1;
}

static void test_no_push_before_adopted_probed(void **state)
{
	struct orch_inst *j1 = orch_inst_get(&o, "j1", true);
	unsigned s0 = count(&fk.steers);

	orch_inst_set_state(&o, j1, ORCH_INST_STARTING, "");
	j1->adopted = true;
	j1->adopted_ms = orch_now_ms();
	o.steer_epoch++;
	assert_false(orch_steer_gate_open(&o, orch_now_ms()));
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0); /* waits */
	assert_true(o.steer.gate_waiting);
	/* its first probe answered: up, and the push includes it */
	snprintf(j1->proc.socket_path, sizeof(j1->proc.socket_path), "%s", fk.path);
	orch_inst_set_state(&o, j1, ORCH_INST_UP, "");
	assert_false(j1->adopted);
	orch_steer_tick(&o);
	assert_int_equal(count(&fk.steers), s0 + 1);
	assert_non_null(strstr(fk.last_steer, "\"j1\""));
	/* an adopted instance that never answers holds the push for the
	 * detection time only */
	j1->state = ORCH_INST_STARTING;
	j1->adopted = true;
	j1->adopted_ms = orch_now_ms() - o.cfg.detection_ms;
	assert_true(orch_steer_gate_open(&o, orch_now_ms()));
	j1->adopted = false;
}

static void test_epoch_persistence(void **state)
{
	struct slnf_orch *r = calloc(1, sizeof(*r));
	uint64_t e;

	/* a restarted orchestrator starts above the stored epoch */
	assert_int_equal(orch_epoch_save(o.store, 41), 0);
	r->store = o.store;
	assert_int_equal(orch_steer_init(r), 0);
	assert_int_equal(r->steer_epoch, 42);
	assert_int_equal(orch_epoch_load(o.store, &e), 0);
	assert_int_equal(e, 42);
	assert_int_equal(orch_steer_init(r), 0);
	assert_int_equal(r->steer_epoch, 43);
	free(r);
}

static void test_flows_merged(void **state)
{
	struct orch_request rq = {.method = "GET", .path = "/v1/flows"};
	struct orch_response rs;
	struct orch_inst *i3 = orch_inst_get(&o, "i3", false), *i2 = orch_inst_get(&o, "i2", false);
	json_t *st;

	/* i1 and i2 answer the same flows (the fake); i3 does not answer */
	orch_inst_set_state(&o, orch_inst_get(&o, "i1", false), ORCH_INST_UP, "");
	orch_inst_set_state(&o, i2, ORCH_INST_UP, "");
	orch_inst_set_state(&o, i3, ORCH_INST_UP, "");
	snprintf(i3->proc.socket_path, sizeof(i3->proc.socket_path), "/tmp/slnf-test-nobody");
	pthread_mutex_lock(&o.lock);
	orch_api_handle(&o, &rq, &rs);
	pthread_mutex_unlock(&o.lock);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_array_size(json_object_get(rs.body, "flows")), 2);
	st = json_object_get(rs.body, "instances");
	assert_string_equal(json_string_value(json_object_get(st, "i1")), "ok");
	assert_string_equal(json_string_value(json_object_get(st, "i2")), "ok");
	assert_non_null(strstr(json_string_value(json_object_get(st, "i3")), "error: "));
	/* a draining instance still holds flows */
	assert_string_equal(json_string_value(json_object_get(st, "i4")), "ok");
	json_decref(rs.body);
	/* the merge itself: key order does not make two entries differ */
	json_t *m = json_array(), *seen = json_object();
	json_t *f = json_loads("[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1},{\"a\":2}]", 0, NULL);
	orch_flows_merge(m, seen, f);
	orch_flows_merge(m, seen, f);
	assert_int_equal(json_array_size(m), 2);
	json_decref(f);
	json_decref(m);
	json_decref(seen);
	orch_inst_set_state(&o, i3, ORCH_INST_DOWN, "");
}

/* A launcher whose process lives until terminate(force) or kill_it. */
static bool fake_alive = true, got_term, got_kill;

static bool fl_alive(struct orch_proc *p)
{
	return fake_alive;
}

static int fl_terminate(struct orch_proc *p, bool force)
{
	*(force ? &got_kill : &got_term) = true;
	return 0;
}

static const struct orch_launcher fake_launcher = {
    .name = "fake", .alive = fl_alive, .terminate = fl_terminate};

static void test_drain_after_restart(void **state)
{
	struct slnf_error err = {{0}};
	json_t *doc = json_deep_copy(o.desired.doc), *e;
	struct orch_inst *in;
	uint64_t t0 = orch_now_ms(), e0;

	o.launcher = &fake_launcher;
	/* the desired state says j1 is draining; a restarted orchestrator
	 * adopted its process (state starting) */
	e = orch_desired_find(doc, ORCH_INSTANCES, "j1", NULL);
	json_object_set_new(e, "draining", json_true());
	assert_int_equal(orch_desired_save(&o.desired, o.store, doc, &err), 0);
	json_decref(doc);
	in = orch_inst_get(&o, "j1", true);
	orch_inst_set_state(&o, in, ORCH_INST_UP, "");
	orch_inst_set_state(&o, in, ORCH_INST_STARTING, "");
	in->adopted = true;
	in->adopted_ms = t0;
	in->proc.pid = 4242;
	snprintf(in->proc.socket_path, sizeof(in->proc.socket_path), "%s", fk.path);
	e0 = o.steer_epoch;
	/* the first step takes the drain over: draining, no gate held */
	fk.rx = 100;
	assert_false(orch_drain_step(&o, in, t0));
	assert_int_equal(in->state, ORCH_INST_DRAINING);
	assert_true(orch_steer_gate_open(&o, t0));
	assert_int_equal(o.steer_epoch, e0); /* it was not up: the tables do not change */
	assert_int_equal(in->drain_pkts, 100 + 5 + 1 + 100);
	/* packets still move: it keeps running */
	fk.rx = 150;
	assert_false(orch_drain_step(&o, in, t0 + 150));
	assert_false(orch_drain_step(&o, in, t0 + 300));
	assert_false(got_term);
	/* quiet for 200 ms: SIGTERM, then SIGKILL after the stop timeout */
	assert_false(orch_drain_step(&o, in, t0 + 150 + ORCH_DRAIN_QUIET_MS));
	assert_true(got_term);
	assert_false(got_kill);
	assert_false(orch_drain_step(&o, in, t0 + 400));
	assert_false(got_kill);
	assert_false(orch_drain_step(&o, in, t0 + 350 + o.cfg.stop_timeout_ms));
	assert_true(got_kill);
	/* gone: removed from the desired state, saved */
	fake_alive = false;
	assert_true(orch_drain_step(&o, in, t0 + 400 + o.cfg.stop_timeout_ms));
	char names[1][32] = {"j1"};
	orch_drain_finish(&o, names, 1);
	assert_null(orch_inst_get(&o, "j1", false));
	assert_null(orch_desired_find(o.desired.doc, ORCH_INSTANCES, "j1", NULL));
	struct orch_desired d;
	orch_desired_init(&d);
	assert_int_equal(orch_desired_load(&d, o.store, &err), 0);
	assert_null(orch_desired_find(d.doc, ORCH_INSTANCES, "j1", NULL));
	orch_desired_free(&d);
	/* a drain whose counters cannot be read ends at the drain timeout */
	in = orch_inst_get(&o, "i2", false);
	fake_alive = true;
	got_term = false;
	in->proc.pid = 4243;
	snprintf(in->proc.socket_path, sizeof(in->proc.socket_path), "/tmp/slnf-test-nobody");
	uint64_t s0 = orch_now_ms();
	orch_drain_begin(&o, in, s0);
	assert_false(orch_drain_step(&o, in, s0 + o.cfg.drain_timeout_ms - 1));
	assert_false(got_term);
	assert_false(orch_drain_step(&o, in, s0 + o.cfg.drain_timeout_ms));
	assert_true(got_term);
	/* one launched and drained before it was ever up: stopped at once */
	in = orch_inst_get(&o, "i3", false);
	in->state = ORCH_INST_STARTING;
	in->ever_up = in->adopted = false;
	got_term = false;
	in->proc.pid = 4244;
	s0 = orch_now_ms();
	orch_drain_begin(&o, in, s0);
	assert_false(orch_drain_step(&o, in, s0));
	assert_true(got_term);
	o.launcher = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_steering),
	    cmocka_unit_test(test_control_long_line_large_answer),
	    cmocka_unit_test(test_steer_message),
	    cmocka_unit_test(test_push_and_failover),
	    cmocka_unit_test(test_refused_push_is_retried),
	    cmocka_unit_test(test_missing_steer_node),
	    cmocka_unit_test(test_no_push_before_adopted_probed),
	    cmocka_unit_test(test_epoch_persistence),
	    cmocka_unit_test(test_flows_merged),
	    cmocka_unit_test(test_drain_after_restart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
