/*
 * csum.c - the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624).
 *
 * The full sum loads 32 bits at a time into a 64-bit accumulator and folds
 * once at the end. It sums words in the CPU's byte order: a one's complement
 * sum commutes with byte swapping (RFC 1071 section 2(B)), so a single swap
 * of the folded result gives the sum of network-order words. A trailing odd
 * byte is the high byte of a zero-padded word.
 *
 * The updates use RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), which unlike the
 * older RFC 1141 form never turns a valid checksum into 0xffff when the new
 * sum is 0 (and keeps 0x0000 when nothing changes, erratum 4782). UDP adds
 * its own rule: 0 means "no checksum" and is left alone, and a computed 0 is
 * sent as 0xffff (RFC 768).
 */
#include <string.h>

#include <rte_byteorder.h>

#include "slnf/csum.h"

/* Fold a wide one's complement accumulator to 16 bits (end-around carry).
 * After the two 32-bit steps acc <= 0xffffffff, after the next <= 0x1fffe,
 * so the last step cannot carry again. */
static inline uint32_t csum_fold64(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	return (uint32_t)acc;
}

uint32_t slnf_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint32_t w32;
	uint16_t w16;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	/* Native-order sum -> sum of network-order words. */
	acc = rte_be_to_cpu_16((uint16_t)csum_fold64(acc));
	if (len)
		acc += (uint32_t)p[0] << 8;
	return csum_fold64(acc + sum);
}

uint16_t slnf_csum_fold(uint32_t sum)
{
	return (uint16_t)~csum_fold64(sum);
}

uint16_t slnf_csum(const void *data, size_t len)
{
	return slnf_csum_fold(slnf_csum_partial(data, len, 0));
}

uint16_t slnf_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
	uint32_t s = (uint16_t)~csum;

	s += (uint16_t)~old_word;
	s += new_word;
	return slnf_csum_fold(s);
}

uint16_t slnf_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
	uint32_t s = (uint16_t)~csum;

	s += (uint16_t)~(old_val >> 16);
	s += (uint16_t)~old_val;
	s += new_val >> 16;
	s += new_val & 0xffffu;
	return slnf_csum_fold(s);
}

/* Apply the UDP rules around an update's result. */
static inline uint16_t csum_udp(uint16_t old_csum, uint16_t updated)
{
	if (old_csum == 0)
		return 0;
	return updated ? updated : 0xffff;
}

uint16_t slnf_csum_update16_udp(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
	return csum_udp(csum, slnf_csum_update16(csum, old_word, new_word));
}

uint16_t slnf_csum_update32_udp(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
	return csum_udp(csum, slnf_csum_update32(csum, old_val, new_val));
}
