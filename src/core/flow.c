/*
 * flow.c - hashes of flow keys.
 *
 * slnf_flow_hash is CRC32C (rte_hash_crc, one instruction per 8 bytes where
 * the CPU has it) over the 16 bytes of the key with a fixed seed, so every
 * worker and every instance agrees on it; the key's pad bytes are zero by
 * contract, which makes hashing the raw bytes safe.
 *
 * slnf_flow_hash_symmetric must give both directions of a flow the same
 * value, so steering sends replies to the instance that saw the request.
 * It orders the two endpoints (address, then port) before hashing, which
 * keeps all the mixing of the CRC rather than XOR-ing fields together. It
 * uses a different seed from slnf_flow_hash so the steering choice and the
 * flow-table bucket inside an instance are not correlated.
 *
 * The key is loaded with memcpy and fed to rte_hash_crc_8byte rather than
 * handed to rte_hash_crc, which reads through a uint64_t pointer: with a key
 * built on the stack that breaks strict aliasing, and GCC then hashes stale
 * bytes. The value is the same as rte_hash_crc over the 16 bytes.
 */
#include <string.h>

#include <rte_hash_crc.h>

#include "slnf/pkt.h"

#define FLOW_HASH_SEED 0x736c6e66u     /* "slnf" */
#define FLOW_HASH_SYM_SEED 0x9e3779b9u /* golden ratio, any other constant */

_Static_assert(sizeof(struct slnf_flow_key) == 16, "flow key is two 8-byte words");

static inline uint32_t key_crc(const struct slnf_flow_key *k, uint32_t seed)
{
	uint64_t w[2];

	memcpy(w, k, sizeof(w));
	return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], seed));
}

uint32_t slnf_flow_hash(const struct slnf_flow_key *k)
{
	return key_crc(k, FLOW_HASH_SEED);
}

uint32_t slnf_flow_hash_symmetric(const struct slnf_flow_key *k)
{
	struct slnf_flow_key o = {
		.src_ip = k->src_ip,
		.dst_ip = k->dst_ip,
		.src_port = k->src_port,
		.dst_port = k->dst_port,
		.proto = k->proto,
	};

	if (k->src_ip > k->dst_ip || (k->src_ip == k->dst_ip && k->src_port > k->dst_port)) {
		o.src_ip = k->dst_ip;
		o.dst_ip = k->src_ip;
		o.src_port = k->dst_port;
		o.dst_port = k->src_port;
	}
	return key_crc(&o, FLOW_HASH_SYM_SEED);
}
