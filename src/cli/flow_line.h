/*
 * flow_line.h - one flow of GET /v1/flows as one line, in the spirit of
 * `conntrack -L`:
 *
 *   tcp   ESTABLISHED src=10.1.1.2 dst=10.2.2.9 sport=40000 dport=80 tenant=t1 nf=firewall
 *
 * The protocol and state come first, padded so the tuples line up, then
 * the tuple, the tenant and the NF, then every other field of the flow as
 * key=value in the order the server sent them (nested objects as
 * key.sub=value, arrays as compact JSON, values with spaces quoted).
 */
#ifndef SLNF_CLI_FLOW_LINE_H
#define SLNF_CLI_FLOW_LINE_H

#include <jansson.h>

/* The line for flow, without a newline, in a malloc'd string (*out; free
 * it). 0, -EINVAL (flow is not an object) or -ENOMEM. */
int cli_flow_line(const json_t *flow, char **out);
/* Every member of obj as " key=value" pairs (nested objects flattened as
 * key.sub=value), the same way, in a malloc'd string. */
int cli_kv_line(const json_t *obj, char **out);

#endif
