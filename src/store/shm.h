/*
 * shm.h - extras of the "shm" store backend that the generic interface has
 * no place for: removing a table by name, and an offline consistency check.
 *
 * Closing a shm store never removes its table, because other processes on
 * the host may still use it; tests and tools remove it explicitly with
 * slnf_store_shm_unlink. slnf_store_shm_check walks a table and verifies
 * every structural invariant (see the top of shm.c); tests run it after
 * killing writers, and a tool can run it against a live table.
 */
#ifndef SLNF_STORE_SHM_H
#define SLNF_STORE_SHM_H

#include <stdint.h>

#include "slnf/error.h"
#include "slnf/store.h"

/* Remove the shared table called name (as in store.shm_name). Processes
 * that have it open keep using it until they close it. 0 or -errno. */
int slnf_store_shm_unlink(const char *name);

struct slnf_store_shm_check {
	uint64_t records;    /* records found by a full scan */
	uint64_t expired;    /* of those, expired but not reclaimed yet */
	uint64_t used;       /* the header's record count (stats.entries) */
	uint64_t ext_slots;  /* extension slots in use by long records */
	uint64_t ovf_excess; /* overflow counts left too high by killed
				writers (harmless: longer probes only) */
	uint32_t stolen;     /* locks taken over from dead owners */
	uint32_t max_probe;  /* longest distance of a record from its home */
	uint32_t errors;     /* broken invariants; the first is in err */
};

/* Check every invariant of the table behind s (a "shm" store). Takes each
 * bucket's lock in turn, so concurrent writers are safe but make the
 * cross-bucket checks (counts, overflow) meaningful only on a quiet table.
 * Returns 0 when the table is sound, -EIO (and err) when it is not, or
 * -EINVAL/-ENOMEM/-ETIMEDOUT when the check itself could not run. */
int slnf_store_shm_check(struct slnf_store *s, struct slnf_store_shm_check *out,
			 struct slnf_error *err);

#endif
