/*
 * launcher_local.c - the local-process launcher: each instance is an slnfd
 * forked and exec'd on this host, in a session of its own (so it outlives
 * an orchestrator that is killed), with its config, log and control socket
 * in the run directory. Ready means its log holds slnfd's "ready:" line.
 * A process is identified by pid and start time, so a reused pid is never
 * mistaken for an instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orch/launcher.h"

static char slnfd_path[PATH_MAX] = "slnfd";
static char run_dir[72] = "/run/slnf/orch";

void orch_launcher_local_setup(const char *slnfd, const char *dir)
{
	snprintf(slnfd_path, sizeof(slnfd_path), "%s", slnfd);
	snprintf(run_dir, sizeof(run_dir), "%s", dir);
	mkdir(run_dir, 0755); /* may exist; start() reports what fails */
}

/* Field 22 of /proc/<pid>/stat; 0 if the process is gone or a zombie
 * (whose parent, maybe not us, has not reaped it yet). */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command may hold spaces and ')' */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') /* a zombie is gone */
		return 0;
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
		   "%*d %*d %*d %llu",
		   &v) != 1)
		return 0;
	return v;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}

static void exec_child(const struct orch_proc *p)
{
	int log = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setsid();
	if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(126);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	signal(SIGPIPE, SIG_DFL);
	execl(slnfd_path, "slnfd", "-c", p->config_path, (char *)NULL);
	/* only async-signal-safe calls between fork and exec (or _exit) */
	static const char msg[] = "slnf-orch: cannot exec slnfd (see the orchestrator's slnfd)\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

static int local_start(const char *name, const json_t *cfg, struct orch_proc *p,
		       struct slnf_error *err)
{
	const char *sock =
	    json_string_value(json_object_get(json_object_get(cfg, "control"), "socket"));
	char *text;
	pid_t pid;
	int rc;

	memset(p, 0, sizeof(*p));
	p->exit_status = -1;
	snprintf(p->config_path, sizeof(p->config_path), "%s/%s.json", run_dir, name);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", run_dir, name);
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", sock ? sock : "");
	text = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	rc = text ? write_file(p->config_path, text) : -ENOMEM;
	free(text);
	if (rc < 0)
		return slnf_errorf(err, -rc, p->config_path, NULL, "cannot write: %s",
				   strerror(-rc));
	pid = fork();
	if (pid < 0)
		return slnf_errorf(err, errno, NULL, NULL, "fork: %s", strerror(errno));
	if (pid == 0)
		exec_child(p);
	p->pid = pid;
	p->child = true;
	p->start_time = proc_start_time(pid);
	return 0;
}

static bool local_alive(struct orch_proc *p)
{
	int st;

	if (p->pid <= 0)
		return false;
	if (p->child) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == 0)
			return true;
		if (r == p->pid) {
			p->exit_status = st;
			p->child = false;
			p->pid = -p->pid; /* keep it for messages, never signal it */
			return false;
		}
	}
	return kill(p->pid, 0) == 0 && proc_start_time(p->pid) == p->start_time;
}

/* The last line of the log, for messages. */
static void log_tail(const char *path, char *out, size_t size)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	size_t n = 0;
	long len;

	out[0] = '\0';
	if (!f)
		return;
	if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0) {
		fseek(f, len > (long)sizeof(buf) - 1 ? len - (long)sizeof(buf) + 1 : 0, SEEK_SET);
		n = fread(buf, 1, sizeof(buf) - 1, f);
	}
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	char *nl = strrchr(buf, '\n');
	snprintf(out, size, "%s", nl ? nl + 1 : buf);
}

static int local_ready(struct orch_proc *p, struct slnf_error *err)
{
	char buf[8192], tail[200];
	FILE *f;
	size_t n = 0;

	if (!local_alive(p)) {
		log_tail(p->log_path, tail, sizeof(tail));
		return slnf_errorf(err, ECHILD, NULL, NULL, "exited (status %d) before ready: %s",
				   p->exit_status >= 0 && WIFEXITED(p->exit_status)
				       ? WEXITSTATUS(p->exit_status)
				       : -1,
				   tail);
	}
	f = fopen(p->log_path, "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, "ready:") ? 1 : 0;
}

static int local_stop(struct orch_proc *p, unsigned timeout_ms)
{
	unsigned waited = 0;

	if (!local_alive(p))
		return 0;
	kill(p->pid, SIGTERM);
	while (local_alive(p) && waited < timeout_ms) {
		sleep_ms(5);
		waited += 5;
	}
	if (!local_alive(p))
		return 0;
	kill(p->pid, SIGKILL);
	for (waited = 0; local_alive(p) && waited < 2000; waited += 5)
		sleep_ms(5);
	return local_alive(p) ? -ETIMEDOUT : 0;
}

static int local_terminate(struct orch_proc *p, bool force)
{
	if (!local_alive(p))
		return 0;
	return kill(p->pid, force ? SIGKILL : SIGTERM) ? -errno : 0;
}

static bool local_adopt(const char *name, pid_t pid, uint64_t start_time, struct orch_proc *p)
{
	char path[64], cmd[PATH_MAX + 64], want[PATH_MAX];
	FILE *f;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->exit_status = -1;
	snprintf(p->config_path, sizeof(p->config_path), "%s/%s.json", run_dir, name);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", run_dir, name);
	if (pid <= 0 || proc_start_time(pid) != start_time)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	/* argv is NUL-separated: slnfd, -c, the config */
	snprintf(want, sizeof(want), "%s", p->config_path);
	for (size_t i = 0; i + 1 < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	cmd[n] = '\0';
	if (!strstr(cmd, want))
		return false;
	p->pid = pid;
	p->start_time = start_time;
	p->child = false;
	return true;
}

const struct orch_launcher orch_launcher_local = {
    .name = "local",
    .start = local_start,
    .ready = local_ready,
    .alive = local_alive,
    .stop = local_stop,
    .terminate = local_terminate,
    .adopt = local_adopt,
};
