/*
 * error.c - building the "file: field: reason" messages of struct slnf_error.
 *
 * Validation and setup code fails with a negative errno and, for a person
 * to read, one line naming where the problem is. The file and field parts
 * are optional; whichever is missing or empty is left out together with its
 * separator, so callers never print "(null)" or a stray ": ". Messages too
 * long for the buffer are cut, never overrun.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "slnf/error.h"

int slnf_errorf(struct slnf_error *err, int code, const char *file, const char *field,
		const char *fmt, ...)
{
	char reason[SLNF_ERROR_MAX] = "";
	const char *parts[3];
	size_t pos = 0;
	va_list ap;
	int i, n;

	/* Callers pass a positive errno; tolerate an already negative one
	 * and never turn an error into success. */
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EINVAL;
	if (!err)
		return -code;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	parts[0] = file;
	parts[1] = field;
	parts[2] = reason;
	err->msg[0] = '\0';
	for (i = 0; i < 3 && pos < sizeof(err->msg); i++) {
		if (!parts[i] || !*parts[i])
			continue;
		n = snprintf(err->msg + pos, sizeof(err->msg) - pos, "%s%s", pos ? ": " : "",
			     parts[i]);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
	return -code;
}
