/*
 * error.h - error context carried out of validation and setup code.
 *
 * Functions return 0 or a negative errno; when they can fail for a reason a
 * person must read (a bad config field, a port that will not open), they also
 * fill a struct slnf_error with "file: field: reason". Callers print err.msg.
 */
#ifndef SLNF_ERROR_H
#define SLNF_ERROR_H

#include <stddef.h>

#define SLNF_ERROR_MAX 512

struct slnf_error {
	char msg[SLNF_ERROR_MAX];
};

/* Fill err (if not NULL) with "file: field: reason" and return -code (code > 0).
 * file and field may be NULL or empty; they are then left out. */
int slnf_errorf(struct slnf_error *err, int code, const char *file, const char *field,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
