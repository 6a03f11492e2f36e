/* src/dp/port.c - placeholder, being written. */
static int slnf_placeholder_port __attribute__((unused));
