/*
 * redis_proto.c - store ops as Redis commands and back, with no I/O.
 *
 * Everything a Redis backend must agree on with the server lives here: the
 * key string, the record layout (a hash {v, d, c}), the one Lua script every
 * write runs, and the decoding of replies into store.h's statuses. The
 * layout and the script's calling convention are described in
 * redis_proto.h; this file keeps them in one place so the standalone and the
 * cluster backend cannot drift apart.
 *
 * The script reads the record once (HMGET), decides, and only then writes,
 * counter first: the only write that can fail half-way (HINCRBY overflowing
 * 64 bits) fails before anything has changed, because Redis does not roll a
 * script back. Versions come back as integers (exact to 2^53, far beyond
 * any record's life), counters as decimal strings (exact to 64 bits).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_proto.h"

const char slnf_redis_script[] =
	"local k = KEYS[1]\n"
	"local op = ARGV[1]\n"
	"local r = redis.call('HMGET', k, 'v', 'd', 'c')\n"
	"if op == 'D' then\n"
	"  if not r[1] then return {1} end\n"
	"  redis.call('DEL', k)\n"
	"  return {0, r[1]}\n"
	"end\n"
	"if r[1] then\n"
	"  if op == 'A' or (op == 'C' and r[1] ~= ARGV[3]) then\n"
	"    return {op == 'A' and 2 or 3, r[1], r[2] or '', r[3] or '0'}\n"
	"  end\n"
	"elseif op == 'C' then\n"
	"  return {1}\n"
	"end\n"
	"local c = false\n"
	"if op == 'I' then\n"
	"  redis.call('HINCRBY', k, 'c', ARGV[3])\n"
	"  c = redis.call('HGET', k, 'c')\n"
	"else\n"
	"  redis.call('HSET', k, 'd', ARGV[4])\n"
	"end\n"
	"local v = redis.call('HINCRBY', k, 'v', 1)\n"
	"if ARGV[2] ~= '0' then\n"
	"  redis.call('PEXPIRE', k, ARGV[2])\n"
	"else\n"
	"  redis.call('PERSIST', k)\n"
	"end\n"
	"return {0, v, false, c}\n";

/* The script's answer codes. */
enum { CODE_OK = 0, CODE_ABSENT = 1, CODE_EXISTS = 2, CODE_STALE = 3 };

static const char hexdig[] = "0123456789abcdef";

int slnf_redis_op_check(const struct slnf_store_op *op)
{
	if (op->opcode > SLNF_STORE_INCR || op->key.len > SLNF_STORE_KEY_DATA_MAX ||
	    op->val_len > SLNF_STORE_VAL_MAX)
		return -EINVAL;
	return 0;
}

int slnf_redis_key(const struct slnf_store_key *k, char *out, size_t cap)
{
	if (k->len > SLNF_STORE_KEY_DATA_MAX)
		return -EINVAL;
	size_t need = strlen("slnf:{") + 8 + 1 + 4 + 1 + 2u * k->len + 1;
	if (cap < need + 1)
		return -ENOSPC;
	int n = snprintf(out, cap, "slnf:{%08" PRIx32 ":%04" PRIx16 ":", k->tenant, k->nf);
	char *p = out + n;
	for (unsigned i = 0; i < k->len; i++) {
		*p++ = hexdig[k->data[i] >> 4];
		*p++ = hexdig[k->data[i] & 15];
	}
	*p++ = '}';
	*p = '\0';
	return (int)(p - out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n hex digits at s as a number; -1 if one is not a digit. */
static int64_t hexnum(const char *s, unsigned n)
{
	int64_t v = 0;
	for (unsigned i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int slnf_redis_key_parse(const char *s, size_t len, struct slnf_store_key *k)
{
	static const char head[] = "slnf:{";
	const size_t h = sizeof(head) - 1, fixed = h + 8 + 1 + 4 + 1 + 1;
	if (len < fixed || (len - fixed) % 2 || (len - fixed) / 2 > SLNF_STORE_KEY_DATA_MAX ||
	    memcmp(s, head, h) || s[h + 8] != ':' || s[h + 13] != ':' || s[len - 1] != '}')
		return -EINVAL;
	int64_t tenant = hexnum(s + h, 8), nf = hexnum(s + h + 9, 4);
	if (tenant < 0 || nf < 0)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->tenant = (uint32_t)tenant;
	k->nf = (uint16_t)nf;
	k->len = (uint16_t)((len - fixed) / 2);
	for (unsigned i = 0; i < k->len; i++) {
		int64_t b = hexnum(s + h + 14 + 2 * i, 2);
		if (b < 0)
			return -EINVAL;
		k->data[i] = (uint8_t)b;
	}
	return 0;
}

void slnf_redis_key_pattern(uint32_t tenant, uint16_t nf, char *out, size_t cap)
{
	snprintf(out, cap, "slnf:{%08" PRIx32 ":%04" PRIx16 ":*", tenant, nf);
}

static void arg(struct slnf_redis_cmd *cmd, const char *s, size_t len)
{
	cmd->argv[cmd->argc] = s;
	cmd->argvlen[cmd->argc] = len;
	cmd->argc++;
}

static void arg_str(struct slnf_redis_cmd *cmd, const char *s)
{
	arg(cmd, s, strlen(s));
}

int slnf_redis_encode(const struct slnf_store_op *op, const char *key, size_t key_len,
		      const char *sha, struct slnf_redis_cmd *cmd)
{
	if (slnf_redis_op_check(op) < 0)
		return -EINVAL;
	cmd->argc = 0;
	if (op->opcode == SLNF_STORE_GET) {
		arg_str(cmd, "HMGET");
		arg(cmd, key, key_len);
		arg_str(cmd, "v");
		arg_str(cmd, "d");
		arg_str(cmd, "c");
		return 0;
	}
	static const char *const opname[] = {
		[SLNF_STORE_PUT] = "P", [SLNF_STORE_PUT_IF_ABSENT] = "A",
		[SLNF_STORE_CAS] = "C", [SLNF_STORE_DEL] = "D", [SLNF_STORE_INCR] = "I",
	};
	if (sha) {
		arg_str(cmd, "EVALSHA");
		arg_str(cmd, sha);
	} else {
		arg_str(cmd, "EVAL");
		arg(cmd, slnf_redis_script, sizeof(slnf_redis_script) - 1);
	}
	arg_str(cmd, "1");
	arg(cmd, key, key_len);
	arg_str(cmd, opname[op->opcode]);
	uint32_t ttl = op->opcode == SLNF_STORE_DEL ? 0 : op->ttl_ms;
	arg(cmd, cmd->num[0], (size_t)snprintf(cmd->num[0], sizeof(cmd->num[0]), "%" PRIu32, ttl));
	switch (op->opcode) {
	case SLNF_STORE_CAS:
		arg(cmd, cmd->num[1], (size_t)snprintf(cmd->num[1], sizeof(cmd->num[1]),
						       "%" PRIu64, op->version));
		break;
	case SLNF_STORE_INCR:
		arg(cmd, cmd->num[1], (size_t)snprintf(cmd->num[1], sizeof(cmd->num[1]),
						       "%" PRId64, op->delta));
		break;
	default:
		arg_str(cmd, "");
		break;
	}
	if (op->opcode != SLNF_STORE_DEL && op->opcode != SLNF_STORE_INCR)
		arg(cmd, (const char *)op->val, op->val_len);
	return 0;
}

/* A signed 64-bit decimal from a string or integer reply element; nil is 0
 * (an absent counter). */
static int reply_i64(const redisReply *r, int64_t *out)
{
	if (r->type == REDIS_REPLY_NIL) {
		*out = 0;
		return 0;
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		*out = r->integer;
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
		return -EIO;
	char buf[24], *end;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -EIO;
	*out = v;
	return 0;
}

/* A version: present and not negative. */
static int reply_u64(const redisReply *r, uint64_t *out)
{
	int64_t v;
	if (r->type == REDIS_REPLY_NIL || reply_i64(r, &v) < 0 || v < 0)
		return -EIO;
	*out = (uint64_t)v;
	return 0;
}

/* Fill op's record fields from the reply elements v, d, c (d and c may be
 * NULL or nil). */
static int record_out(struct slnf_store_op *op, const redisReply *v, const redisReply *d,
		      const redisReply *c)
{
	uint64_t ver;
	int64_t ctr = 0;
	if (reply_u64(v, &ver) < 0 || (c && reply_i64(c, &ctr) < 0))
		return -EIO;
	uint16_t len = 0;
	if (d && d->type != REDIS_REPLY_NIL) {
		if (d->type != REDIS_REPLY_STRING || d->len > SLNF_STORE_VAL_MAX)
			return -EIO;
		len = (uint16_t)d->len;
		memcpy(op->val, d->str, len);
	}
	op->val_len = len;
	op->version = ver;
	op->counter = ctr;
	return 0;
}

static int decode_get(struct slnf_store_op *op, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
		return -EIO;
	if (r->element[0]->type == REDIS_REPLY_NIL)
		return -ENOENT;
	return record_out(op, r->element[0], r->element[1], r->element[2]);
}

static int decode_script(struct slnf_store_op *op, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return -EIO;
	long long code = r->element[0]->integer;
	redisReply *const *e = r->element;
	switch (code) {
	case CODE_ABSENT:
		return -ENOENT;
	case CODE_EXISTS:
	case CODE_STALE:
		if (r->elements != 4 || record_out(op, e[1], e[2], e[3]) < 0)
			return -EIO;
		return code == CODE_EXISTS ? -EEXIST : -ESTALE;
	case CODE_OK:
		break;
	default:
		return -EIO;
	}
	uint64_t ver;
	if (r->elements < 2 || reply_u64(e[1], &ver) < 0)
		return -EIO;
	op->version = ver;
	if (op->opcode == SLNF_STORE_INCR) {
		if (r->elements != 4 || e[3]->type == REDIS_REPLY_NIL ||
		    reply_i64(e[3], &op->counter) < 0)
			return -EIO;
	}
	return 0;
}

int slnf_redis_decode(struct slnf_store_op *op, const redisReply *r)
{
	int rc;
	if (!r)
		rc = -EIO;
	else if (r->type == REDIS_REPLY_ERROR)
		rc = slnf_redis_reply_error(r, NULL, NULL) == SLNF_REDIS_ERR_OOM ? -ENOSPC : -EIO;
	else if (op->opcode == SLNF_STORE_GET)
		rc = decode_get(op, r);
	else
		rc = decode_script(op, r);
	op->status = (int16_t)rc;
	return rc;
}

enum slnf_redis_err slnf_redis_reply_error(const redisReply *r, const char **msg, size_t *len)
{
	if (!r || r->type != REDIS_REPLY_ERROR) {
		if (msg)
			*msg = NULL;
		if (len)
			*len = 0;
		return SLNF_REDIS_ERR_NONE;
	}
	if (msg)
		*msg = r->str;
	if (len)
		*len = r->len;
	static const struct {
		const char *prefix;
		enum slnf_redis_err kind;
	} kinds[] = {
		{"MOVED ", SLNF_REDIS_ERR_MOVED},
		{"ASK ", SLNF_REDIS_ERR_ASK},
		{"NOSCRIPT", SLNF_REDIS_ERR_NOSCRIPT},
		{"TRYAGAIN", SLNF_REDIS_ERR_TRYAGAIN},
		{"CLUSTERDOWN", SLNF_REDIS_ERR_CLUSTERDOWN},
		{"READONLY", SLNF_REDIS_ERR_READONLY},
		{"LOADING", SLNF_REDIS_ERR_LOADING},
		{"OOM", SLNF_REDIS_ERR_OOM},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (r->len >= n && memcmp(r->str, kinds[i].prefix, n) == 0)
			return kinds[i].kind;
	}
	return SLNF_REDIS_ERR_OTHER;
}

bool slnf_redis_op_may_need_wait(const struct slnf_store_op *op)
{
	return op->opcode == SLNF_STORE_PUT || op->opcode == SLNF_STORE_PUT_IF_ABSENT ||
	       op->opcode == SLNF_STORE_CAS || op->opcode == SLNF_STORE_INCR;
}

bool slnf_redis_op_needs_wait(const struct slnf_store_op *op)
{
	if (op->status != 0 || !slnf_redis_op_may_need_wait(op))
		return false;
	return op->opcode != SLNF_STORE_INCR || op->version == 1;
}

void slnf_redis_encode_wait(uint32_t replicas, uint32_t timeout_ms, struct slnf_redis_cmd *cmd)
{
	cmd->argc = 0;
	arg_str(cmd, "WAIT");
	arg(cmd, cmd->num[0], (size_t)snprintf(cmd->num[0], sizeof(cmd->num[0]), "%" PRIu32,
					       replicas));
	arg(cmd, cmd->num[1], (size_t)snprintf(cmd->num[1], sizeof(cmd->num[1]), "%" PRIu32,
					       timeout_ms));
}

int slnf_redis_decode_wait(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > INT32_MAX)
		return -EIO;
	return (int)r->integer;
}
