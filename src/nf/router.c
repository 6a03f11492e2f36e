/* src/nf/router.c - placeholder, being written. */
static int slnf_placeholder_router __attribute__((unused));
