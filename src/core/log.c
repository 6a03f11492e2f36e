/* src/core/log.c - placeholder, being written. */
static int slnf_placeholder_log __attribute__((unused));
