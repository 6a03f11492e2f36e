/* src/core/parse.c - placeholder, being written. */
static int slnf_placeholder_parse __attribute__((unused));
