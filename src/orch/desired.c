/*
 * desired.c - the desired-state document, its JSON form and its chunked,
 * generation-numbered copy in the store; see desired.h.
 *
 * Keys (tenant ORCH_STORE_TENANT, NF ORCH_STORE_NF):
 *   "orch/head"            32 bytes: magic, chunk count, generation,
 *                          length, FNV-1a 64 hash of the text
 *   "orch/d/<nonce>/<i>"   chunk i of the save whose random nonce (hex) the
 *                          head names, up to SLNF_STORE_VAL_MAX bytes of
 *                          the JSON text
 *   "orch/p/<instance>"    pid and start time of a launched instance
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "orch/desired.h"

#define HEAD_MAGIC 0x534c4f31u /* "SLO1" */
#define CHUNK	   SLNF_STORE_VAL_MAX
#define BATCH	   64

const char *const orch_kind_names[ORCH_KINDS] = {"tenants", "pools", "instances"};

struct head {
	uint32_t magic, n_chunks;
	uint64_t gen;
	uint32_t len, pad;
	uint64_t hash;
	uint64_t nonce; /* names this save's chunks: random, so two writers never
			   write the same chunk keys */
};

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

static void key_of(struct slnf_store_key *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void key_of(struct slnf_store_key *k, const char *fmt, ...)
{
	char buf[SLNF_STORE_KEY_DATA_MAX + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	slnf_store_key_init(k, ORCH_STORE_TENANT, ORCH_STORE_NF, buf, (uint16_t)n);
}

json_t *orch_desired_empty(void)
{
	return json_pack("{s:[],s:[],s:[]}", "tenants", "pools", "instances");
}

void orch_desired_init(struct orch_desired *d)
{
	memset(d, 0, sizeof(*d));
	d->doc = orch_desired_empty();
}

void orch_desired_free(struct orch_desired *d)
{
	json_decref(d->doc);
	d->doc = NULL;
}

json_t *orch_desired_list(json_t *doc, enum orch_kind k)
{
	return json_object_get(doc, orch_kind_names[k]);
}

json_t *orch_desired_find(json_t *doc, enum orch_kind k, const char *name, size_t *index)
{
	json_t *a = orch_desired_list(doc, k), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && !strcmp(n, name)) {
			if (index)
				*index = i;
			return e;
		}
	}
	return NULL;
}

char *orch_desired_encode(const json_t *doc, size_t *len)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

	*len = s ? strlen(s) : 0;
	return s;
}

int orch_desired_decode(const char *text, size_t len, json_t **doc, struct slnf_error *err)
{
	json_error_t jerr;
	json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	*doc = NULL;
	if (!d)
		return slnf_errorf(err, EINVAL, "store", "orch/head",
				   "desired state is not JSON: %s", jerr.text);
	for (int k = 0; k < ORCH_KINDS; k++) {
		json_t *a = orch_desired_list(d, (enum orch_kind)k), *e;
		size_t i;

		if (!json_is_array(a)) {
			json_decref(d);
			return slnf_errorf(err, EINVAL, "store", orch_kind_names[k],
					   "desired state lacks this array");
		}
		json_array_foreach(a, i, e)
		{
			if (!json_is_string(json_object_get(e, "name"))) {
				json_decref(d);
				return slnf_errorf(err, EINVAL, "store", orch_kind_names[k],
						   "element %zu has no name", i);
			}
		}
	}
	*doc = d;
	return 0;
}

/* Run ops in batches; 0 when every batch completed (statuses per op). */
static int exec_all(struct slnf_store *s, struct slnf_store_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i += BATCH) {
		int rc = slnf_store_exec(s, ops + i, (unsigned)(n - i < BATCH ? n - i : BATCH));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint64_t new_nonce(void)
{
	uint64_t x;

	if (getrandom(&x, sizeof(x), 0) != sizeof(x))
		x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	return x;
}

/* Delete chunks [0, n) of the save nonce. */
static void delete_chunks(struct slnf_store *s, uint64_t nonce, uint32_t n)
{
	struct slnf_store_op *ops = calloc(n, sizeof(*ops));

	if (!ops)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct slnf_store_key k;

		key_of(&k, "orch/d/%" PRIx64 "/%u", nonce, i);
		slnf_store_op_init(&ops[i], SLNF_STORE_DEL, &k);
	}
	exec_all(s, ops, n);
	free(ops);
}

static int write_chunks(struct slnf_store *s, uint64_t nonce, const char *text, size_t len,
			uint32_t n)
{
	struct slnf_store_op *ops = calloc(n, sizeof(*ops));
	int rc;

	if (!ops)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct slnf_store_key k;
		size_t off = (size_t)i * CHUNK, m = len - off < CHUNK ? len - off : CHUNK;

		key_of(&k, "orch/d/%" PRIx64 "/%u", nonce, i);
		slnf_store_op_init(&ops[i], SLNF_STORE_PUT, &k);
		memcpy(ops[i].val, text + off, m);
		ops[i].val_len = (uint16_t)m;
	}
	rc = exec_all(s, ops, n);
	for (uint32_t i = 0; !rc && i < n; i++)
		if (ops[i].status < 0)
			rc = ops[i].status;
	free(ops);
	return rc;
}

int orch_desired_save(struct orch_desired *d, struct slnf_store *s, json_t *doc,
		      struct slnf_error *err)
{
	size_t len;
	char *text = orch_desired_encode(doc, &len);
	struct head h = {.magic = HEAD_MAGIC, .gen = d->gen + 1, .nonce = new_nonce()};
	struct slnf_store_key k;
	struct slnf_store_op op;
	int rc;

	if (!text)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "cannot encode the desired state");
	if (len > ORCH_DOC_MAX) {
		free(text);
		return slnf_errorf(err, EFBIG, NULL, NULL, "desired state of %zu bytes exceeds %u",
				   len, ORCH_DOC_MAX);
	}
	h.len = (uint32_t)len;
	h.n_chunks = (uint32_t)((len + CHUNK - 1) / CHUNK);
	h.hash = fnv1a(text, len);
	rc = write_chunks(s, h.nonce, text, len, h.n_chunks);
	free(text);
	if (rc < 0) {
		delete_chunks(s, h.nonce, h.n_chunks);
		return slnf_errorf(err, -rc, "store", NULL, "writing the desired state: %s",
				   strerror(-rc));
	}
	key_of(&k, "orch/head");
	slnf_store_op_init(&op, d->have_head ? SLNF_STORE_CAS : SLNF_STORE_PUT_IF_ABSENT, &k);
	op.version = d->head_version;
	memcpy(op.val, &h, sizeof(h));
	op.val_len = sizeof(h);
	rc = slnf_store_exec(s, &op, 1);
	if (!rc)
		rc = op.status;
	if (rc < 0)
		delete_chunks(s, h.nonce, h.n_chunks); /* never published */
	if (rc == -EEXIST || rc == -ESTALE || rc == -ENOENT)
		return slnf_errorf(err, ESTALE, "store", "orch/head",
				   "the desired state was changed by another orchestrator");
	if (rc < 0)
		return slnf_errorf(err, -rc, "store", "orch/head", "publishing: %s", strerror(-rc));
	if (d->have_head)
		delete_chunks(s, d->nonce, d->n_chunks);
	d->gen = h.gen;
	d->nonce = h.nonce;
	d->n_chunks = h.n_chunks;
	d->head_version = op.version;
	d->have_head = true;
	if (d->doc != doc) {
		json_decref(d->doc);
		d->doc = json_incref(doc);
	}
	return 0;
}

static int read_chunks(struct slnf_store *s, const struct head *h, char *text,
		       struct slnf_error *err)
{
	struct slnf_store_op *ops = calloc(h->n_chunks, sizeof(*ops));
	size_t pos = 0;
	int rc;

	if (!ops)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory");
	for (uint32_t i = 0; i < h->n_chunks; i++) {
		struct slnf_store_key k;

		key_of(&k, "orch/d/%" PRIx64 "/%u", h->nonce, i);
		slnf_store_op_init(&ops[i], SLNF_STORE_GET, &k);
	}
	rc = exec_all(s, ops, h->n_chunks);
	if (rc < 0)
		slnf_errorf(err, -rc, "store", "orch/d", "reading: %s", strerror(-rc));
	for (uint32_t i = 0; !rc && i < h->n_chunks; i++) {
		if (ops[i].status < 0 || pos + ops[i].val_len > h->len)
			rc = slnf_errorf(
			    err, EIO, "store", "orch/d",
			    "chunk %u of generation %" PRIu64 " is missing or too long", i, h->gen);
		else {
			memcpy(text + pos, ops[i].val, ops[i].val_len);
			pos += ops[i].val_len;
		}
	}
	if (rc == 0 && (pos != h->len || fnv1a(text, pos) != h->hash))
		rc = slnf_errorf(err, EIO, "store", "orch/d",
				 "generation %" PRIu64 " does not match its head", h->gen);
	free(ops);
	return rc;
}

int orch_desired_load(struct orch_desired *d, struct slnf_store *s, struct slnf_error *err)
{
	struct slnf_store_key k;
	struct slnf_store_op op;
	struct head h;
	json_t *doc;
	char *text;
	int rc;

	key_of(&k, "orch/head");
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	rc = slnf_store_exec(s, &op, 1);
	if (!rc)
		rc = op.status;
	if (rc == -ENOENT) {
		orch_desired_free(d);
		orch_desired_init(d);
		return 0;
	}
	if (rc < 0)
		return slnf_errorf(err, -rc, "store", "orch/head", "%s", strerror(-rc));
	memcpy(&h, op.val, sizeof(h));
	if (op.val_len != sizeof(h) || h.magic != HEAD_MAGIC || h.len > ORCH_DOC_MAX ||
	    h.n_chunks != (h.len + CHUNK - 1) / CHUNK)
		return slnf_errorf(err, EIO, "store", "orch/head",
				   "not an orchestrator head record");
	text = malloc(h.len + 1);
	if (!text)
		return slnf_errorf(err, ENOMEM, NULL, NULL, "out of memory");
	rc = read_chunks(s, &h, text, err);
	if (!rc)
		rc = orch_desired_decode(text, h.len, &doc, err);
	free(text);
	if (rc < 0)
		return rc;
	json_decref(d->doc);
	d->doc = doc;
	d->gen = h.gen;
	d->nonce = h.nonce;
	d->n_chunks = h.n_chunks;
	d->head_version = op.version;
	d->have_head = true;
	return 0;
}

int orch_proc_record_put(struct slnf_store *s, const char *name, pid_t pid, uint64_t start)
{
	struct slnf_store_key k;
	struct slnf_store_op op;
	uint64_t v[2] = {(uint64_t)pid, start};
	int rc;

	key_of(&k, "orch/p/%s", name);
	slnf_store_op_init(&op, SLNF_STORE_PUT, &k);
	memcpy(op.val, v, sizeof(v));
	op.val_len = sizeof(v);
	rc = slnf_store_exec(s, &op, 1);
	return rc ? rc : op.status;
}

int orch_proc_record_get(struct slnf_store *s, const char *name, pid_t *pid, uint64_t *start)
{
	struct slnf_store_key k;
	struct slnf_store_op op;
	uint64_t v[2];
	int rc;

	key_of(&k, "orch/p/%s", name);
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	rc = slnf_store_exec(s, &op, 1);
	if (!rc)
		rc = op.status;
	if (rc < 0)
		return rc;
	if (op.val_len != sizeof(v))
		return -EIO;
	memcpy(v, op.val, sizeof(v));
	*pid = (pid_t)v[0];
	*start = v[1];
	return 0;
}

void orch_proc_record_del(struct slnf_store *s, const char *name)
{
	struct slnf_store_key k;
	struct slnf_store_op op;

	key_of(&k, "orch/p/%s", name);
	slnf_store_op_init(&op, SLNF_STORE_DEL, &k);
	slnf_store_exec(s, &op, 1);
}
