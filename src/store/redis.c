/* src/store/redis.c - placeholder, being written. */
static int slnf_placeholder_redis __attribute__((unused));
