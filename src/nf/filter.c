/* src/nf/filter.c - placeholder, being written. */
static int slnf_placeholder_filter __attribute__((unused));
