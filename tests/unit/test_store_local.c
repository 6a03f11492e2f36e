/*
 * test_store_local.c - the store conformance suite against the local
 * (per-process memory) backend.
 */
#include "store_conformance.h"

int main(void)
{
	struct slnf_conformance c = {
		.config = {.backend = "local"},
		.has_capacity = true,
		.counts_expired = true,
		.can_scan = true,
	};
	return slnf_conformance_run(&c);
}
