/*
 * params.h - what the stateless NFs share to read their JSON parameters
 * and keep their counters.
 *
 * An NF's parameters arrive as the whole chain element object. Every getter
 * here takes the JSON path of the object it reads ("tenants[0].chain[1]" or
 * "tenants[0].chain[1].rules[3]") and fails with "file: path.key: reason",
 * so each NF's create() reads as a list of fields with no message plumbing.
 * Getters return 1 when the member was present and valid, 0 when it is
 * absent and optional, or a negative errno with err filled.
 *
 * Counters live in the NF context, shared by all workers: each worker adds
 * its per-burst totals with one relaxed atomic add per counter.
 */
#ifndef SLNF_NF_PARAMS_H
#define SLNF_NF_PARAMS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "slnf/config.h"
#include "slnf/error.h"
#include "slnf/nf.h"

/* Longest JSON path an NF builds for its messages. */
#define SLNF_PARAMS_PATH_MAX 192

/* Fail with "file: path: reason" (reason printf-style). Returns -code. */
int slnf_params_fail(const struct slnf_nf_env *env, struct slnf_error *err, int code,
		     const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same for the member key of the object at path ("path.key"). */
int slnf_params_fail_at(const struct slnf_nf_env *env, struct slnf_error *err, int code,
			const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Every member of obj must be named in keys (NULL-terminated). */
int slnf_params_check_keys(const struct slnf_nf_env *env, const char *path, json_t *obj,
			   const char *const keys[], struct slnf_error *err);

/* obj.key as a string. */
int slnf_params_string(const struct slnf_nf_env *env, const char *path, json_t *obj,
		       const char *key, bool required, const char **out, struct slnf_error *err);

/* obj.key as an array. */
int slnf_params_array(const struct slnf_nf_env *env, const char *path, json_t *obj,
		      const char *key, bool required, json_t **out, struct slnf_error *err);

/* The optional "rules" array of params with at most max elements: returns
 * how many (0 when absent) with the array in *out, or a negative errno. */
int slnf_params_rules(const struct slnf_nf_env *env, json_t *params, size_t max, json_t **out,
		      struct slnf_error *err);

/* The optional "timeouts" object of params: each of names (NULL-terminated)
 * may be given in whole seconds (1..4000000); out_ms[i] gets it, or
 * defaults_s[i] when absent. */
int slnf_params_timeouts(const struct slnf_nf_env *env, json_t *params, const char *const names[],
			 const uint32_t defaults_s[], uint32_t out_ms[], struct slnf_error *err);

/* obj.key as one of words (NULL-terminated); *out is its index. */
int slnf_params_word(const struct slnf_nf_env *env, const char *path, json_t *obj,
		     const char *key, bool required, const char *const words[], unsigned *out,
		     struct slnf_error *err);

/* obj.key as "a.b.c.d/len" or "a.b.c.d" (/32) with no bits set past len. */
int slnf_params_prefix(const struct slnf_nf_env *env, const char *path, json_t *obj,
		       const char *key, bool required, struct slnf_ipv4_prefix *out,
		       struct slnf_error *err);

/* Element i of the array at path.key as an object whose keys are checked
 * against keys; writes its path ("path.key[i]") to elem_path. */
int slnf_params_element(const struct slnf_nf_env *env, const char *path, const char *key,
			json_t *array, size_t i, const char *const keys[],
			char elem_path[SLNF_PARAMS_PATH_MAX], json_t **out, struct slnf_error *err);

/* obj.proto as "tcp", "udp", "icmp" or a number 0-255. */
int slnf_params_proto(const struct slnf_nf_env *env, const char *path, json_t *obj,
		      uint8_t *out, struct slnf_error *err);

/* obj.key as a port "N", a range "N-M" (N <= M) or a JSON integer N;
 * 0-65535 in *lo, *hi when absent. */
int slnf_params_port_range(const struct slnf_nf_env *env, const char *path, json_t *obj,
			   const char *key, uint16_t *lo, uint16_t *hi, struct slnf_error *err);

/* "a.b.c.d/len" of a host-order prefix. */
void slnf_params_format_prefix(char out[20], uint32_t addr, uint8_t len);

/* Network mask of a prefix length, host order (len 0 -> 0). */
static inline uint32_t slnf_prefix_mask(uint8_t len)
{
	return len ? ~(uint32_t)0 << (32 - len) : 0;
}

/* A name no other DPDK object of this process has, for the tables
 * (rte_lpm, rte_acl) of one NF instance: "slnf_<kind>_<tenant>_<pos>_<seq>".
 * DPDK looks these up by name, and a config reload builds the new chain
 * while the old one still runs. */
void slnf_params_object_name(char *out, size_t size, const char *kind,
			     const struct slnf_nf_env *env);

static inline void slnf_counter_add(_Atomic uint64_t *c, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t slnf_counter_read(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* obj.name = the counter's value (obj may be NULL). */
void slnf_counter_report(json_t *obj, const char *name, const _Atomic uint64_t *c);

/* Append rule i's {"name", "action", "hits"} to the JSON array rules; an
 * empty name is shown as "rules[i]". */
void slnf_rule_report(json_t *rules, unsigned i, const char *name, const char *action,
		      const _Atomic uint64_t *hits);

#endif
