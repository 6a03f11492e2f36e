/*
 * control.c - one command over an slnfd control socket; see control.h.
 *
 * The socket is non-blocking and every step (connect, each write of a long
 * line, each read) waits with poll() against one deadline, so a peer that
 * stops reading or answering costs at most the timeout given.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "orch/control.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* poll fd for events until deadline; 0 ready, -ETIMEDOUT, -errno */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int orch_control_ask(const char *path, const char *cmd, char *out, size_t size, unsigned timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = mono_ms() + timeout_ms;
	size_t got = 0;
	int fd, rc = 0;

	if (!path || strlen(path) >= sizeof(sa.sun_path) || !path[0])
		return -ENAMETOOLONG;
	if (out && size < 2)
		return -EINVAL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno == EAGAIN || errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline)
							     : -errno;
		if (rc < 0)
			goto out;
	}
	rc = send_all(fd, cmd, strlen(cmd), deadline);
	if (rc < 0)
		goto out;
	for (;;) {
		char tmp[4096];
		ssize_t n;

		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			goto out;
		/* a full buffer reads on into tmp: EOF there means it fitted */
		bool full = out && got == size - 1;
		n = read(fd, out && !full ? out + got : tmp,
			 out && !full ? size - 1 - got : sizeof(tmp));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			rc = got ? 0 : -ECONNRESET;
			goto out;
		}
		if (full) {
			rc = -EMSGSIZE; /* the answer does not fit */
			goto out;
		}
		got += (size_t)n;
		if (!out)
			goto out; /* the first byte is enough */
	}
out:
	if (out && size)
		out[got < size ? got : size - 1] = '\0';
	close(fd);
	return rc;
}

int orch_control_json(const char *path, const char *cmd, const char *arg, json_t **answer,
		      unsigned timeout_ms)
{
	size_t len = strlen(cmd) + (arg ? strlen(arg) + 1 : 0) + 1;
	char *line, *buf;
	json_error_t jerr;
	int rc;

	*answer = NULL;
	if (len > ORCH_CONTROL_LINE_MAX || (arg && strchr(arg, '\n')))
		return -EMSGSIZE;
	line = malloc(len + 1);
	buf = malloc(ORCH_CONTROL_ANSWER_MAX + 1);
	if (!line || !buf) {
		free(line);
		free(buf);
		return -ENOMEM;
	}
	snprintf(line, len + 1, "%s%s%s\n", cmd, arg ? " " : "", arg ? arg : "");
	rc = orch_control_ask(path, line, buf, ORCH_CONTROL_ANSWER_MAX + 1, timeout_ms);
	if (!rc) {
		*answer = json_loads(buf, 0, &jerr);
		if (!json_is_object(*answer)) {
			json_decref(*answer);
			*answer = NULL;
			rc = -EBADMSG;
		}
	}
	free(line);
	free(buf);
	return rc;
}
