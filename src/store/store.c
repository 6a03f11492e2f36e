/* src/store/store.c - placeholder, being written. */
static int slnf_placeholder_store __attribute__((unused));
