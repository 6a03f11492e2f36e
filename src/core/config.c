/* src/core/config.c - placeholder, being written. */
static int slnf_placeholder_config __attribute__((unused));
