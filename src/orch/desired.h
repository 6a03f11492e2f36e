/*
 * desired.h - the orchestrator's desired state and how it is kept in the
 * store.
 *
 * The desired state is one JSON document:
 *   {"tenants": [...], "pools": [...], "instances": [...]}
 * each element the resource as the API accepted it. Store values hold at
 * most SLNF_STORE_VAL_MAX bytes, so the document is written in chunks under
 * keys named by a random nonce of that save, and published by a
 * compare-and-set of one head record naming the generation, nonce, length,
 * chunk count and a hash. A reader (a restarted orchestrator) sees either the
 * old or the new document, never a mix; a second writer's save fails its
 * compare-and-set and cannot touch the published chunks. A crash mid-save
 * leaves the old head and at worst that save's orphan chunks (at most one
 * document's worth per crash). docs/orchestrator.md describes the layout.
 */
#ifndef SLNF_ORCH_DESIRED_H
#define SLNF_ORCH_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "slnf/error.h"
#include "slnf/store.h"

/* The store namespace of the orchestrator's records: tenant 0 is never a
 * real tenant (tenant ids start at 1), and this NF id is no NF's. */
#define ORCH_STORE_TENANT 0u
#define ORCH_STORE_NF	  0xff00u
#define ORCH_DOC_MAX	  (4u << 20) /* the largest desired-state document */

enum orch_kind { ORCH_TENANTS, ORCH_POOLS, ORCH_INSTANCES, ORCH_KINDS };

extern const char *const orch_kind_names[ORCH_KINDS]; /* "tenants", "pools", ... */

struct orch_desired {
	json_t *doc;	       /* the current document */
	uint64_t gen;	       /* generation of doc in the store (0: never saved) */
	uint64_t nonce;	       /* names the chunks of that generation */
	uint64_t head_version; /* store version of the head record */
	uint32_t n_chunks;
	bool have_head;
};

/* An empty document. */
json_t *orch_desired_empty(void);
void orch_desired_init(struct orch_desired *d);
void orch_desired_free(struct orch_desired *d);

/* The array of one kind, and the element named name in it (index out). */
json_t *orch_desired_list(json_t *doc, enum orch_kind k);
json_t *orch_desired_find(json_t *doc, enum orch_kind k, const char *name, size_t *index);

/* The document as compact JSON (malloc'd), and back; decode checks the
 * shape (an object with the three arrays of objects with names). */
char *orch_desired_encode(const json_t *doc, size_t *len);
int orch_desired_decode(const char *text, size_t len, json_t **doc, struct slnf_error *err);

/* Write doc as the next generation and publish it; on success d->doc
 * becomes doc (the reference is taken). -ESTALE when another writer moved
 * the head since we read it. */
int orch_desired_save(struct orch_desired *d, struct slnf_store *s, json_t *doc,
		      struct slnf_error *err);
/* Read the published document (empty when there is none). */
int orch_desired_load(struct orch_desired *d, struct slnf_store *s, struct slnf_error *err);

/* Per-instance process records, so a restarted orchestrator adopts the
 * instances it had started: pid and process start time (clock ticks). */
int orch_proc_record_put(struct slnf_store *s, const char *name, pid_t pid, uint64_t start);
int orch_proc_record_get(struct slnf_store *s, const char *name, pid_t *pid, uint64_t *start);
void orch_proc_record_del(struct slnf_store *s, const char *name);

#endif
