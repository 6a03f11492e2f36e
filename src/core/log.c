/*
 * log.c - one-line, levelled log messages to stderr.
 *
 * Each message is formatted into a local buffer first and written with a
 * single fputs, so lines from different threads (control thread, workers
 * at setup) do not interleave mid-line. The level is an atomic so it can be
 * changed at run time without a lock; the default is INFO.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define LOG_LINE_MAX 1024

static _Atomic int log_level = SLNF_LOG_INFO;

static const char *const level_names[] = {
	[SLNF_LOG_ERR] = "ERR",
	[SLNF_LOG_WARN] = "WARN",
	[SLNF_LOG_INFO] = "INFO",
	[SLNF_LOG_DEBUG] = "DEBUG",
};

void slnf_log_set_level(enum slnf_log_level l)
{
	if ((int)l < SLNF_LOG_ERR)
		l = SLNF_LOG_ERR;
	if ((int)l > SLNF_LOG_DEBUG)
		l = SLNF_LOG_DEBUG;
	atomic_store_explicit(&log_level, (int)l, memory_order_relaxed);
}

void slnf_log(enum slnf_log_level l, const char *component, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n;
	int pre;
	va_list ap;

	if ((int)l > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	if ((int)l < SLNF_LOG_ERR || (int)l > SLNF_LOG_DEBUG)
		l = SLNF_LOG_ERR;
	if (component && *component)
		pre = snprintf(line, sizeof(line), "slnf[%s] %s: ", component, level_names[l]);
	else
		pre = snprintf(line, sizeof(line), "slnf %s: ", level_names[l]);
	if (pre < 0)
		return;
	n = (size_t)pre < sizeof(line) ? (size_t)pre : sizeof(line) - 1;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);

	/* Exactly one newline, whether or not the caller ended with one. */
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}
