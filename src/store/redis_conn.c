/* src/store/redis_conn.c - placeholder, being written. */
static int slnf_placeholder_redis_conn __attribute__((unused));
