/* src/core/icmp.c - placeholder, being written. */
static int slnf_placeholder_icmp __attribute__((unused));
