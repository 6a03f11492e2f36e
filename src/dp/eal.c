/* src/dp/eal.c - placeholder, being written. */
static int slnf_placeholder_eal __attribute__((unused));
