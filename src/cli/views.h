/*
 * views.h - slnfctl's readable views: each API answer turned into a table
 * (table.h) or a line. Pure functions of the JSON, so the unit tests check
 * them without a server; commands.c does the requests and the printing.
 *
 * Every view accepts the list answer ({"tenants": [...]}), a bare array
 * or a single element, so `chains T` and `chains` share one view, and a
 * missing field is shown as "-" rather than refused: the server may add
 * fields, or send fewer, without breaking the client.
 */
#ifndef SLNF_CLI_VIEWS_H
#define SLNF_CLI_VIEWS_H

#include <jansson.h>

#include "cli/table.h"

/* Each view fills t (initialised here; free it with cli_table_free):
 * 0 or -ENOMEM. */
/* NAME ID PORTS INSIDE CHAIN */
int cli_view_tenants(json_t *ans, struct cli_table *t);
/* TENANT ID INSIDE CHAIN, the chain as "a -> b -> c" */
int cli_view_chains(json_t *ans, struct cli_table *t);
/* NAME TENANT MIN MAX INSTANCES (status.count: the instances not draining) */
int cli_view_pools(json_t *ans, struct cli_table *t);
/* NAME POOL STATE PID HEARTBEAT-AGE REASON */
int cli_view_instances(json_t *ans, struct cli_table *t);
/* The instances of a scale answer ({"pool": P, "instances": [{"name",
 * "state"}, ...]}) as cli_view_instances shows them, each with the pool
 * (P, else pool) */
int cli_view_scaled(json_t *ans, const char *pool, struct cli_table *t);
/* FIELD VALUE, nested objects flattened with '.' (GET /v1/stats) */
int cli_view_fields(json_t *ans, struct cli_table *t);
/* An instance's stats: PORT TYPE RX-PACKETS RX-BYTES TX-PACKETS TX-BYTES
 * RX-MISSED RX-ERRORS TX-ERRORS */
int cli_view_ports(json_t *ans, struct cli_table *t);
/* An instance's stats: PORT REASON PACKETS, nonzero drops only (per port;
 * the totals, as port "*", when no port has its own) */
int cli_view_drops(json_t *ans, struct cli_table *t);
/* TENANT EPOCH INSTANCE ENTRIES SHARE, one row per tenant and instance */
int cli_view_steering(json_t *ans, struct cli_table *t);
/* "flow TENANT PROTO SRC -> DST -> instance I (epoch E, entry N)" for an
 * explain answer; src and dst as the user gave them ("ADDR:PORT"). In a
 * malloc'd string: 0 or -ENOMEM. */
int cli_explain_line(json_t *ans, const char *proto, const char *src, const char *dst, char **out);
/* The elements of ans: ans itself if an array, ans[key] if that is one,
 * else an array holding ans. A new reference (NULL: out of memory). */
json_t *cli_view_list(json_t *ans, const char *key);

#endif
