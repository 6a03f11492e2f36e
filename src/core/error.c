/* src/core/error.c - placeholder, being written. */
static int slnf_placeholder_error __attribute__((unused));
