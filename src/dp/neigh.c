/* src/dp/neigh.c - placeholder, being written. */
static int slnf_placeholder_neigh __attribute__((unused));
