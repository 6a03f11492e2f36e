/* src/store/cluster_slots.c - placeholder, being written. */
static int slnf_placeholder_cluster_slots __attribute__((unused));
