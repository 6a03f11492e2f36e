/*
 * table.c - aligned columns for slnfctl's readable output; see table.h.
 *
 * Rendering runs twice over the cells: once for the widths, once to write
 * the lines into a buffer sized from them, so it allocates exactly once.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"

/* A copy of s with control characters made harmless. */
static char *clean_copy(const char *s)
{
	char *c = strdup(s ? s : "-");

	if (!c)
		return NULL;
	for (char *p = c; *p; p++) {
		unsigned char u = (unsigned char)*p;
		if (u == '\t' || u == '\n' || u == '\r')
			*p = ' ';
		else if (u < 0x20 || u == 0x7f)
			*p = '?';
	}
	return c;
}

int cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers,
		   const enum cli_align *align)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > CLI_TABLE_MAX_COLS)
		return -EINVAL;
	t->ncols = ncols;
	for (size_t c = 0; c < ncols; c++) {
		t->header[c] = clean_copy(headers[c]);
		t->align[c] = align ? align[c] : CLI_LEFT;
		if (!t->header[c]) {
			cli_table_free(t);
			return -ENOMEM;
		}
	}
	return 0;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	char **row;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * t->ncols * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = cap;
	}
	row = t->cells + t->nrows * t->ncols;
	for (size_t c = 0; c < t->ncols; c++) {
		row[c] = clean_copy(cells[c]);
		if (!row[c]) {
			while (c--)
				free(row[c]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

const char *cli_table_cell(const struct cli_table *t, size_t r, size_t c)
{
	if (r >= t->nrows || c >= t->ncols)
		return NULL;
	return t->cells[r * t->ncols + c];
}

size_t cli_text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void cli_table_widths(const struct cli_table *t, size_t widths[CLI_TABLE_MAX_COLS])
{
	for (size_t c = 0; c < t->ncols; c++) {
		widths[c] = cli_text_width(t->header[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = cli_text_width(cli_table_cell(t, r, c));
			if (w > widths[c])
				widths[c] = w;
		}
	}
}

static char *put_spaces(char *p, size_t n)
{
	memset(p, ' ', n);
	return p + n;
}

/* One line of cells at p; returns the end of what it wrote. */
static char *put_line(const struct cli_table *t, char *const *cells, const size_t *widths, char *p)
{
	char *start = p;

	for (size_t c = 0; c < t->ncols; c++) {
		size_t len = strlen(cells[c]), pad = widths[c] - cli_text_width(cells[c]);
		bool last = c + 1 == t->ncols;

		if (c)
			p = put_spaces(p, CLI_TABLE_GAP);
		if (t->align[c] == CLI_RIGHT)
			p = put_spaces(p, pad);
		memcpy(p, cells[c], len);
		p += len;
		if (t->align[c] == CLI_LEFT && !last)
			p = put_spaces(p, pad);
	}
	while (p > start && p[-1] == ' ')
		p--;
	*p++ = '\n';
	return p;
}

int cli_table_render(const struct cli_table *t, char **out)
{
	size_t widths[CLI_TABLE_MAX_COLS], line = 1, bytes = 0;
	char *buf, *p;

	cli_table_widths(t, widths);
	for (size_t c = 0; c < t->ncols; c++)
		line += widths[c] + CLI_TABLE_GAP;
	/* widths count characters; a multi-byte cell needs its extra bytes */
	for (size_t c = 0; c < t->ncols; c++) {
		bytes += strlen(t->header[c]);
		for (size_t r = 0; r < t->nrows; r++)
			bytes += strlen(cli_table_cell(t, r, c));
	}
	buf = malloc(line * (t->nrows + 1) + bytes + 1);
	if (!buf)
		return -ENOMEM;
	p = put_line(t, t->header, widths, buf);
	for (size_t r = 0; r < t->nrows; r++)
		p = put_line(t, t->cells + r * t->ncols, widths, p);
	*p = '\0';
	*out = buf;
	return 0;
}

int cli_table_print(const struct cli_table *t, FILE *f)
{
	char *text;
	int rc = cli_table_render(t, &text);

	if (rc)
		return rc;
	rc = fputs(text, f) < 0 ? -EIO : 0;
	free(text);
	return rc;
}

void cli_table_free(struct cli_table *t)
{
	for (size_t c = 0; c < t->ncols; c++)
		free(t->header[c]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
