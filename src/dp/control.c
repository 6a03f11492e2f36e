/*
 * control.c - the control socket server and client; see control.h.
 * One thread serves one request at a time, and also runs the reloads
 * SIGHUP asks for, so stats and reloads never overlap.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "dp/control.h"
#include "dp/reload.h"
#include "dp/flows.h"
#include "dp/stats.h"
#include "dp/worker.h"
#include "store/cache.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "ports": each port's name, MAC and addresses (slnf-orch learns the
 * MACs a steering node sends an instance's traffic to). */
static json_t *ports_answer(struct slnf_instance *inst)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < inst->cfg.n_ports; i++) {
		const struct slnf_port_config *pc = &inst->cfg.ports[i];
		char mac[RTE_ETHER_ADDR_FMT_SIZE];
		json_t *addrs = json_array();
		rte_ether_format_addr(mac, sizeof(mac), &inst->macs[i]);
		for (unsigned a = 0; a < pc->n_addrs; a++) {
			char buf[24];
			uint32_t ip = pc->addrs[a].addr;
			snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%u", ip >> 24, (ip >> 16) & 255,
				 (ip >> 8) & 255, ip & 255, pc->addrs[a].len);
			json_array_append_new(addrs, json_string(buf));
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", pc->name, "mac", mac,
						     "addrs", addrs));
	}
	return json_pack("{s:s, s:o}", "role", inst->cfg.role, "ports", arr);
}

/* "epoch N": the steering epoch changed; every worker's instance cache
 * drops what it filled before (store/cache.h). */
static json_t *epoch_answer(struct slnf_instance *inst, const char *arg)
{
	char *end;
	unsigned long long e = arg ? strtoull(arg, &end, 10) : 0;
	if (!arg || !*arg || *end)
		return json_pack("{s:s}", "error", "usage: epoch N (a non-negative integer)");
	for (unsigned w = 0; w < inst->n_workers; w++)
		if (inst->workers[w].cache)
			slnf_cache_set_epoch(inst->workers[w].cache, e);
	__atomic_store_n(&inst->epoch, e, __ATOMIC_RELAXED);
	return json_pack("{s:I}", "epoch", (json_int_t)e);
}

static json_t *steer_only(const char *cmd)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "'%s' is a command of a steering node (role steer)", cmd);
	return json_pack("{s:s}", "error", msg);
}

static json_t *answer_for(struct slnf_control *c, const char *cmd, const char *arg)
{
	struct slnf_instance *inst = c->inst;
	if (strcmp(cmd, "stats") == 0)
		return slnf_stats_json(inst);
	if (strcmp(cmd, "reload") == 0)
		return inst->steer ? json_pack("{s:s, s:s}", "reload", "refused", "error",
					       "a steering node has no chains to reload")
				   : slnf_reload_command(inst);
	if (strcmp(cmd, "ping") == 0) /* a cheap liveness probe (slnf-orch) */
		return json_pack("{s:s}", "ping", "ok");
	if (strcmp(cmd, "ports") == 0)
		return ports_answer(inst);
	if (strcmp(cmd, "epoch") == 0)
		return epoch_answer(inst, arg);
	if (strcmp(cmd, "flows") == 0)
		return slnf_flows_json(inst);
	if (strcmp(cmd, "steer") == 0 || strcmp(cmd, "explain") == 0 ||
	    strcmp(cmd, "steering") == 0) {
		if (!inst->steer)
			return steer_only(cmd);
		if (cmd[1] == 'x')
			return slnf_steer_explain(inst->steer, arg ? arg : "");
		if (cmd[5] == 'i')
			return slnf_steer_json(inst->steer);
		return slnf_steer_push(inst->steer, arg ? arg : "", slnf_now_ms());
	}
	return json_pack("{s:s}", "error",
			 "unknown command (known: stats, reload, ping, ports, epoch, flows, "
			 "steer, steering, explain)");
}

/* Read one request line of at most SLNF_CONTROL_LINE_MAX bytes: the
 * command, then after a space its argument (a steering push is a JSON
 * document on the same line). NULL on timeout, error or overlong line. */
static char *read_line(int cfd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		struct pollfd pfd = {.fd = cfd, .events = POLLIN};
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		if (len + 1 == cap) {
			char *b = cap * 2 <= SLNF_CONTROL_LINE_MAX ? realloc(buf, cap * 2) : NULL;
			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		ssize_t n = read(cfd, buf + len, cap - 1 - len);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		if (n > 0)
			len += (size_t)n;
		buf[len] = 0;
		if (memchr(buf, '\n', len) || (n == 0 && len))
			return buf;
	}
	free(buf);
	return NULL;
}

static void serve_one(struct slnf_control *c, int cfd)
{
	char *line = read_line(cfd);
	if (!line)
		return;
	line[strcspn(line, "\r\n")] = 0;
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = 0;
	json_t *j = answer_for(c, line, arg);
	free(line);
	char *out = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (out) {
		write_all(cfd, out, strlen(out));
		write_all(cfd, "\n", 1);
		free(out);
	}
}

/* SIGHUP only raises a flag; the reload runs here, like a "reload"
 * command, so reloads and stats never overlap. */
static void reload_if_requested(struct slnf_control *c)
{
	if (!c->inst->reload_requested)
		return;
	c->inst->reload_requested = 0;
	SLNF_INFO("slnfd", "SIGHUP: reloading %s", c->inst->cfg.file);
	json_decref(slnf_reload_command(c->inst)); /* it logs the outcome */
}

static void *control_thread(void *arg)
{
	struct slnf_control *c = arg;
	while (__atomic_load_n(&c->running, __ATOMIC_RELAXED)) {
		reload_if_requested(c);
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		int cfd = accept(c->fd, NULL, NULL);
		if (cfd < 0)
			continue;
		serve_one(c, cfd);
		close(cfd);
	}
	return NULL;
}

static int make_addr(const char *path, struct sockaddr_un *sa, struct slnf_error *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return slnf_errorf(err, ENAMETOOLONG, NULL, "control.socket",
				   "path '%s' longer than %zu bytes", path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

int slnf_control_start(struct slnf_control *c, struct slnf_instance *inst, struct slnf_error *err)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->inst = inst;
	const char *path = inst->cfg.control_socket;
	struct sockaddr_un sa;
	int rc = make_addr(path, &sa, err);
	if (rc)
		return rc;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	char dir[sizeof(c->path)];
	memcpy(dir, sa.sun_path, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755); /* may exist */
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return slnf_errorf(err, errno, inst->cfg.file, "control.socket", "socket: %s",
				   strerror(errno));
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->fd, 8) < 0) {
		rc = slnf_errorf(err, errno, inst->cfg.file, "control.socket", "cannot listen on %s: %s",
				 path, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return rc;
	}
	chmod(path, 0660);
	c->running = 1;
	rc = pthread_create(&c->thread, NULL, control_thread, c);
	if (rc) {
		c->running = 0;
		close(c->fd);
		c->fd = -1;
		return slnf_errorf(err, rc, NULL, NULL, "control thread: %s", strerror(rc));
	}
	return 0;
}

void slnf_control_stop(struct slnf_control *c)
{
	if (c->fd < 0)
		return;
	if (c->running) {
		__atomic_store_n(&c->running, 0, __ATOMIC_RELAXED);
		pthread_join(c->thread, NULL);
	}
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}

int slnf_control_call(const char *path, const char *cmd, int timeout_ms, char **answer,
		      struct slnf_error *err)
{
	struct sockaddr_un sa;
	*answer = NULL;
	int rc = make_addr(path, &sa, err);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return slnf_errorf(err, errno, NULL, NULL, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = slnf_errorf(err, errno, NULL, NULL,
				 "cannot connect to %s: %s (is slnfd running with this config?)", path,
				 strerror(errno));
		close(fd);
		return rc;
	}
	char line[80];
	snprintf(line, sizeof(line), "%s\n", cmd);
	rc = write_all(fd, line, strlen(line));
	if (rc)
		rc = slnf_errorf(err, -rc, NULL, NULL, "cannot send to %s: %s", path, strerror(-rc));
	size_t len = 0, cap = 0;
	char *buf = NULL;
	while (!rc) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			rc = slnf_errorf(err, ETIMEDOUT, NULL, NULL, "no answer from %s within %d ms",
					 path, timeout_ms);
			break;
		}
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap + 65536);
			if (!bigger) {
				rc = slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory");
				break;
			}
			buf = bigger;
			cap += 65536;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc || !buf) {
		free(buf);
		return rc ? rc : slnf_errorf(err, EPROTO, NULL, NULL, "empty answer from %s", path);
	}
	buf[len] = '\0';
	*answer = buf;
	return 0;
}

int slnf_control_request(const char *path, const char *cmd, struct slnf_error *err)
{
	char *answer;
	int rc = slnf_control_call(path, cmd, 5000, &answer, err);
	if (rc)
		return rc;
	fputs(answer, stdout);
	free(answer);
	return 0;
}

int slnf_control_reload(const char *path, struct slnf_error *err)
{
	char *answer;
	int rc = slnf_control_call(path, "reload", SLNF_CONTROL_RELOAD_WAIT_MS, &answer, err);
	if (rc)
		return rc;
	json_error_t jerr;
	json_t *j = json_loads(answer, 0, &jerr);
	const char *outcome = json_string_value(json_object_get(j, "reload"));
	json_int_t gen = json_integer_value(json_object_get(j, "generation"));
	if (outcome && !strcmp(outcome, "ok")) {
		printf("reload: ok (generation %lld)\n", (long long)gen);
	} else if (outcome) {
		const char *why = json_string_value(json_object_get(j, "error"));
		rc = slnf_errorf(err, ECANCELED, NULL, NULL, "reload refused: %s",
				 why ? why : "no reason given");
	} else {
		rc = slnf_errorf(err, EPROTO, NULL, NULL, "unexpected answer from %s: %.200s", path,
				 answer);
	}
	json_decref(j);
	free(answer);
	return rc;
}
