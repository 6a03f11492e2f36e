/* src/dp/chain.c - placeholder, being written. */
static int slnf_placeholder_chain __attribute__((unused));
