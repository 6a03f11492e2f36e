/* src/store/cache.c - placeholder, being written. */
static int slnf_placeholder_cache __attribute__((unused));
