/* src/store/local.c - placeholder, being written. */
static int slnf_placeholder_local __attribute__((unused));
