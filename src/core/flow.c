/* src/core/flow.c - placeholder, being written. */
static int slnf_placeholder_flow __attribute__((unused));
