/* src/dp/worker.c - placeholder, being written. */
static int slnf_placeholder_worker __attribute__((unused));
