/*
 * state.c - how an NF asks for state and queues writes.
 *
 * NFs never talk to the store: prepare() appends reads to a batch and
 * process() appends writes, each request tagged with the burst index of the
 * packet it belongs to, and the chain runner turns each batch into one
 * store round trip. Both helpers only fill preallocated scratch space, so
 * they are safe on the data path; a full batch returns NULL and the NF
 * decides what that packet's fate is.
 */
#include <stddef.h>

#include "slnf/nf.h"

static struct slnf_store_op *state_append(struct slnf_state_batch *batch, uint16_t pkt,
					  enum slnf_store_opcode opcode,
					  const struct slnf_store_key *key)
{
	if (batch->n >= batch->cap)
		return NULL;
	struct slnf_state_req *req = &batch->reqs[batch->n++];
	slnf_store_op_init(&req->op, opcode, key);
	req->pkt = pkt;
	req->unless_hit = -1;
	return &req->op;
}

struct slnf_store_op *slnf_state_get(struct slnf_state_batch *reads, struct slnf_burst *b,
				     uint16_t pkt, const struct slnf_store_key *key)
{
	if (pkt >= b->n)
		return NULL;
	uint16_t idx = reads->n;
	struct slnf_store_op *op = state_append(reads, pkt, SLNF_STORE_GET, key);
	if (op && b->pkts[pkt]->state_req < 0)
		b->pkts[pkt]->state_req = (int16_t)idx;
	return op;
}

struct slnf_store_op *slnf_state_get_unless_hit(struct slnf_state_batch *reads,
						struct slnf_burst *b, uint16_t pkt,
						const struct slnf_store_key *key, int16_t primary)
{
	uint16_t idx = reads->n;
	struct slnf_store_op *op = slnf_state_get(reads, b, pkt, key);
	if (op && primary >= 0 && primary < (int16_t)idx)
		reads->reqs[idx].unless_hit = primary;
	return op;
}

struct slnf_store_op *slnf_state_write(struct slnf_state_batch *writes, uint16_t pkt,
				       enum slnf_store_opcode opcode,
				       const struct slnf_store_key *key)
{
	return state_append(writes, pkt, opcode, key);
}
