/* src/store/redis_proto.c - placeholder, being written. */
static int slnf_placeholder_redis_proto __attribute__((unused));
