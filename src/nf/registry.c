/*
 * registry.c - the table of network function types.
 *
 * Each NF file registers its slnf_nf_type from a constructor
 * (SLNF_NF_REGISTER), so adding an NF never touches a central list. The
 * table is a small static array kept sorted by name, which makes listings
 * (error messages, `--list-nfs`) the same whatever the link order. A
 * duplicate name or state-key id is a build mistake that would mix two NFs'
 * state, so it stops the process before main() runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slnf/nf.h"

#define SLNF_NF_TYPES_MAX 32

static const struct slnf_nf_type *types[SLNF_NF_TYPES_MAX];
static unsigned n_types;

void slnf_nf_register(const struct slnf_nf_type *t)
{
	if (!t || !t->name || !t->name[0] || !t->process) {
		fprintf(stderr, "slnf: network function '%s' is incomplete (name and process are required)\n",
			t && t->name ? t->name : "?");
		abort();
	}
	for (unsigned i = 0; i < n_types; i++) {
		if (strcmp(types[i]->name, t->name) == 0) {
			fprintf(stderr, "slnf: network function '%s' registered twice\n", t->name);
			abort();
		}
		if (types[i]->id == t->id) {
			fprintf(stderr, "slnf: network functions '%s' and '%s' share state id %u\n",
				types[i]->name, t->name, (unsigned)t->id);
			abort();
		}
	}
	if (n_types == SLNF_NF_TYPES_MAX) {
		fprintf(stderr, "slnf: too many network functions (max %d) registering '%s'\n",
			SLNF_NF_TYPES_MAX, t->name);
		abort();
	}
	unsigned i = n_types++;
	while (i > 0 && strcmp(types[i - 1]->name, t->name) > 0) {
		types[i] = types[i - 1];
		i--;
	}
	types[i] = t;
}

const struct slnf_nf_type *slnf_nf_find(const char *name)
{
	if (!name)
		return NULL;
	for (unsigned i = 0; i < n_types; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

const struct slnf_nf_type *slnf_nf_at(unsigned i)
{
	return i < n_types ? types[i] : NULL;
}
