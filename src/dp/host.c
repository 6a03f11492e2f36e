/* src/dp/host.c - placeholder, being written. */
static int slnf_placeholder_host __attribute__((unused));
