/* src/store/redis_cluster.c - placeholder, being written. */
static int slnf_placeholder_redis_cluster __attribute__((unused));
