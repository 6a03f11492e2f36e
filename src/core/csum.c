/* src/core/csum.c - placeholder, being written. */
static int slnf_placeholder_csum __attribute__((unused));
