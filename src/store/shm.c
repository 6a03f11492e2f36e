/* src/store/shm.c - placeholder, being written. */
static int slnf_placeholder_shm __attribute__((unused));
