/*
 * maglev.h - Maglev consistent-hashing lookup tables (Eisenbud et al.,
 * NSDI 2016), with weights.
 *
 * A table of prime size M maps a flow hash to a backend index: entry
 * hash % M. Each backend walks its own permutation of the slots, derived
 * from two hashes of its name (offset and skip), and the backends take
 * turns claiming their next free preferred slot; a backend of weight w
 * claims w slots per turn, so its share of the table is w / sum(weights)
 * up to rounding. Building is pure and deterministic: the same names,
 * weights and size give the same table on every instance, and adding or
 * removing one of N backends moves only about 1/N of the entries. Used
 * by the lb NF for new flows and meant for the steering tier.
 */
#ifndef SLNF_MAGLEV_H
#define SLNF_MAGLEV_H

#include <stdbool.h>
#include <stdint.h>

#define SLNF_MAGLEV_DEFAULT_SIZE 65537u
#define SLNF_MAGLEV_MAX_SIZE 1000003u /* a prime; tables are uint16_t entries */
#define SLNF_MAGLEV_MAX_BACKENDS 4096u
#define SLNF_MAGLEV_MAX_WEIGHT 1000u

struct slnf_maglev_backend {
	const char *name;  /* what the permutation is derived from; unique */
	uint32_t weight;   /* 1..SLNF_MAGLEV_MAX_WEIGHT */
};

bool slnf_maglev_is_prime(uint32_t n);

/* Fill table[0..size-1] with backend indices. size must be a prime in
 * 3..SLNF_MAGLEV_MAX_SIZE, 1 <= n <= SLNF_MAGLEV_MAX_BACKENDS, weights in
 * range: otherwise -EINVAL. -ENOMEM when scratch space is not there. */
int slnf_maglev_build(uint16_t *table, uint32_t size, const struct slnf_maglev_backend *b,
		      unsigned n);

/* The backend index for a flow hash. */
static inline uint16_t slnf_maglev_lookup(const uint16_t *table, uint32_t size, uint32_t hash)
{
	return table[hash % size];
}

#endif
