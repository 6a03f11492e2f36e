/* src/dp/control.c - placeholder, being written. */
static int slnf_placeholder_control __attribute__((unused));
