/*
 * control.h - talking to an slnfd over its control socket: connect, write
 * one command line, read the JSON answer until EOF, all within a deadline.
 * Lines up to ORCH_CONTROL_LINE_MAX and answers up to ORCH_CONTROL_ANSWER_MAX
 * are supported (the steer command carries every tenant's instances).
 */
#ifndef SLNF_ORCH_CONTROL_H
#define SLNF_ORCH_CONTROL_H

#include <stddef.h>

#include <jansson.h>

#define ORCH_CONTROL_LINE_MAX	(64u << 10)
#define ORCH_CONTROL_ANSWER_MAX (1u << 20)

/* Connect to a control socket, send cmd, and read the answer (up to size-1
 * bytes, NUL-terminated; out may be NULL to only wait for its first byte)
 * within timeout_ms. 0, or a negative errno. */
int orch_control_ask(const char *path, const char *cmd, char *out, size_t size,
		     unsigned timeout_ms);

/* Send "cmd[ arg]\n" and parse the answer as a JSON object (*answer, the
 * caller's). 0, -EMSGSIZE (line too long), -EBADMSG (not a JSON object),
 * or a negative errno of the exchange. */
int orch_control_json(const char *path, const char *cmd, const char *arg, json_t **answer,
		      unsigned timeout_ms);

#endif
