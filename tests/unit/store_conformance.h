/*
 * store_conformance.h - run the store conformance suite (every rule of
 * store.h) against one backend. Each backend's test program fills a
 * struct slnf_conformance (its config, what it supports) and calls
 * slnf_conformance_run from main().
 */
#ifndef SLNF_STORE_CONFORMANCE_H
#define SLNF_STORE_CONFORMANCE_H

#include <stdbool.h>

#include "slnf/store.h"

struct slnf_conformance {
	struct slnf_store_config config; /* backend name and its settings */
	bool has_capacity;   /* refuses writes with -ENOSPC when full */
	bool counts_expired; /* reclaims expired records itself and counts them */
	bool can_scan;       /* lists records (slnf_store_scan); else -EOPNOTSUPP */
	/* Called before every open with the config about to be used (e.g. to
	 * give each store a fresh shm name or flush a Redis database). */
	void (*before_open)(struct slnf_store_config *cfg);
};

/* Runs the suite; returns the number of failed tests (cmocka's result). */
int slnf_conformance_run(const struct slnf_conformance *c);

#endif
