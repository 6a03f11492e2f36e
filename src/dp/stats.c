/* src/dp/stats.c - placeholder, being written. */
static int slnf_placeholder_stats __attribute__((unused));
