/*
 * csum.h - Internet checksums (RFC 1071) and incremental updates (RFC 1624).
 *
 * Full sums are for building headers and validating input; the incremental
 * forms are what the fast path uses when it changes a TTL, an address or a
 * port, so it never re-reads a payload.
 */
#ifndef SLNF_CSUM_H
#define SLNF_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's complement sum of len bytes folded to 16 bits, not complemented,
 * added to the initial 32-bit partial sum. Byte order: the sum of network
 * order 16-bit words, returned as the value to store in network order via
 * memcpy of the htons result. */
uint32_t slnf_csum_partial(const void *data, size_t len, uint32_t sum);
/* Fold a partial sum and complement it: the checksum field value, in host
 * order (store with htons). */
uint16_t slnf_csum_fold(uint32_t sum);
/* Checksum of a buffer: slnf_csum_fold(slnf_csum_partial(data, len, 0)). */
uint16_t slnf_csum(const void *data, size_t len);

/* RFC 1624 eqn. 3: new checksum HC' = ~(~HC + ~m + m') for a 16-bit field
 * changing from old_word to new_word. All values host order. */
uint16_t slnf_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word);
/* The same for a 32-bit field (an IPv4 address), host order. */
uint16_t slnf_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);
/* UDP rule: a checksum of 0 means "none" and stays 0; a computed 0 becomes
 * 0xffff. Apply to the result of an update on a UDP checksum. */
uint16_t slnf_csum_update16_udp(uint16_t csum, uint16_t old_word, uint16_t new_word);
uint16_t slnf_csum_update32_udp(uint16_t csum, uint32_t old_val, uint32_t new_val);

#endif
