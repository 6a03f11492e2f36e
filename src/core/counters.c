/* src/core/counters.c - placeholder, being written. */
static int slnf_placeholder_counters __attribute__((unused));
