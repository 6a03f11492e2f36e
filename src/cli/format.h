/*
 * format.h - small pure formatters slnfctl's views share: durations in
 * milliseconds as people read them, JSON values as table cells and
 * key=value pairs, and the error message of a refused argument.
 */
#ifndef SLNF_CLI_FORMAT_H
#define SLNF_CLI_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_CELL_MAX 256

/* printf err (len bytes) and return -EINVAL: how the parsers refuse. */
int cli_fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "850ms", "2.7s", "59s", "3m12s", "2h05m", "3d04h" into buf. */
void cli_fmt_duration_ms(uint64_t ms, char *buf, size_t len);
/* A JSON value as a cell: strings as they are, integers, reals (up to 6
 * significant digits), true/false, null as "-"; objects and arrays as
 * compact JSON. Truncated to len. */
void cli_fmt_value(const json_t *v, char *buf, size_t len);
/* As cli_fmt_value, but a string that is empty or holds spaces, quotes,
 * '=' or control characters is written as a JSON string, so "key=value"
 * pairs stay one word each. */
void cli_fmt_word(const json_t *v, char *buf, size_t len);
/* The integer member key of o as a cell, or "-" if it is not one. */
void cli_fmt_int_member(const json_t *o, const char *key, char *buf, size_t len);

#endif
