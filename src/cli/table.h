/*
 * table.h - slnfctl's table printer: aligned columns under a header, as
 * `kubectl get` and `conntrack -L` print them.
 *
 * A table holds copies of its cells; rendering is a pure function of the
 * table, so the unit tests check the exact text. Columns are separated by
 * three spaces, the last column is never padded and no line ends in
 * spaces. Widths count UTF-8 characters, not bytes, and control
 * characters in cells are replaced so a cell can never break a line or
 * send escape sequences to the terminal.
 */
#ifndef SLNF_CLI_TABLE_H
#define SLNF_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define CLI_TABLE_MAX_COLS 16
#define CLI_TABLE_GAP	   3

enum cli_align {
	CLI_LEFT,
	CLI_RIGHT,
};

struct cli_table {
	size_t ncols;
	char *header[CLI_TABLE_MAX_COLS];
	enum cli_align align[CLI_TABLE_MAX_COLS];
	size_t nrows, cap;
	char **cells; /* nrows * ncols */
};

/* A table with ncols columns named by headers; align may be NULL (all
 * left). 0, -EINVAL (ncols 0 or above CLI_TABLE_MAX_COLS), -ENOMEM. */
int cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers,
		   const enum cli_align *align);
/* Append a row of ncols cells (a NULL cell is shown as "-"). */
int cli_table_add(struct cli_table *t, const char *const *cells);
/* The cell at row r, column c (NULL out of range). */
const char *cli_table_cell(const struct cli_table *t, size_t r, size_t c);
/* The number of characters of a UTF-8 string. */
size_t cli_text_width(const char *s);
/* Each column's width: the widest of its header and cells. */
void cli_table_widths(const struct cli_table *t, size_t widths[CLI_TABLE_MAX_COLS]);
/* The whole table, header first, every line ending in '\n', in a malloc'd
 * string (*out; free it). 0 or -ENOMEM. */
int cli_table_render(const struct cli_table *t, char **out);
/* Render into f. 0, -ENOMEM or -EIO. */
int cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
