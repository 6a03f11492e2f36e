/* src/nf/registry.c - placeholder, being written. */
static int slnf_placeholder_registry __attribute__((unused));
