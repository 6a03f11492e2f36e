/* src/nf/state.c - placeholder, being written. */
static int slnf_placeholder_state __attribute__((unused));
