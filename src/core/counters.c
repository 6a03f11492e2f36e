/*
 * counters.c - names and explanations of the drop reasons.
 *
 * Both tables are expanded from the SLNF_DROP_REASONS X-macro in counters.h,
 * the same list that makes the enum, so the stats output can never fall out
 * of step with the data path. Out-of-range values read as "unknown" rather
 * than indexing past the tables: a corrupted reason must not crash a dump.
 */
#include "slnf/counters.h"

static const char *const drop_names[SLNF_DROP__COUNT] = {
#define SLNF_X_NAME(id, name, help) [SLNF_DROP_##id] = name,
	SLNF_DROP_REASONS(SLNF_X_NAME)
#undef SLNF_X_NAME
};

static const char *const drop_help[SLNF_DROP__COUNT] = {
#define SLNF_X_HELP(id, name, help) [SLNF_DROP_##id] = help,
	SLNF_DROP_REASONS(SLNF_X_HELP)
#undef SLNF_X_HELP
};

const char *slnf_drop_reason_name(unsigned reason)
{
	return reason < SLNF_DROP__COUNT ? drop_names[reason] : "unknown";
}

const char *slnf_drop_reason_help(unsigned reason)
{
	return reason < SLNF_DROP__COUNT ? drop_help[reason] : "unknown";
}
