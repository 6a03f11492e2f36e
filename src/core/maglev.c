/*
 * maglev.c - building Maglev lookup tables (see maglev.h).
 *
 * Backend i's preference list is slot (offset_i + j * skip_i) mod M for
 * j = 0, 1, ...: with M prime and 1 <= skip_i < M this visits every slot
 * once. offset and skip come from two independent 64-bit hashes of the
 * name (FNV-1a with two bases, each finished with a splitmix64 mixer), so
 * they depend on the name alone, never on the order of the list. The
 * fill loop gives each backend `weight` claims per round until all M
 * slots are taken; a claim skips slots already taken. The work is
 * O(M log M) on average, as in the paper.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/maglev.h"

bool slnf_maglev_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t name_hash(const char *s, uint64_t basis)
{
	uint64_t h = basis;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return mix64(h);
}

static int check_args(uint32_t size, const struct slnf_maglev_backend *b, unsigned n)
{
	if (size < 3 || size > SLNF_MAGLEV_MAX_SIZE || !slnf_maglev_is_prime(size))
		return -EINVAL;
	if (n == 0 || n > SLNF_MAGLEV_MAX_BACKENDS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!b[i].name || b[i].weight < 1 || b[i].weight > SLNF_MAGLEV_MAX_WEIGHT)
			return -EINVAL;
	return 0;
}

struct perm {
	uint32_t offset, skip, next;
};

/* Backend i's next free preferred slot (there is one while the table is
 * not full). */
static uint32_t next_free(struct perm *p, uint32_t size, const uint16_t *table)
{
	uint32_t slot;

	do {
		slot = (uint32_t)(((uint64_t)p->offset + (uint64_t)p->next * p->skip) % size);
		p->next++;
	} while (table[slot] != UINT16_MAX);
	return slot;
}

int slnf_maglev_build(uint16_t *table, uint32_t size, const struct slnf_maglev_backend *b,
		      unsigned n)
{
	struct perm *p;
	uint32_t filled = 0;
	int rc = check_args(size, b, n);

	if (rc < 0)
		return rc;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		p[i].offset = (uint32_t)(name_hash(b[i].name, 0xcbf29ce484222325ull) % size);
		p[i].skip = (uint32_t)(name_hash(b[i].name, 0x84222325cbf29ce4ull) % (size - 1)) + 1;
	}
	memset(table, 0xff, (size_t)size * sizeof(*table));
	while (filled < size) {
		for (unsigned i = 0; i < n && filled < size; i++) {
			for (uint32_t w = 0; w < b[i].weight && filled < size; w++) {
				table[next_free(&p[i], size, table)] = (uint16_t)i;
				filled++;
			}
		}
	}
	free(p);
	return 0;
}
