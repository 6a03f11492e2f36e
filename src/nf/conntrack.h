/*
 * conntrack.h - the firewall's connection tracking, as pure functions.
 *
 * A connection is one record (struct slnf_ct) that the firewall keeps in
 * the state store; this module only turns (record, packet, direction) into
 * (new record, result), modelled on Linux conntrack's TCP tracking: the
 * same states, the same RST rules and a simplified form of tcp_in_window.
 * Direction 0 is the originator's (the side that sent the first packet),
 * direction 1 the responder's. docs/nf-firewall.md states each rule and
 * where it departs from the kernel.
 *
 * The record has a fixed little-endian layout of SLNF_CT_REC_LEN bytes, so
 * instances on any host read each other's records.
 */
#ifndef SLNF_NF_CONNTRACK_H
#define SLNF_NF_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

/* Connection states; the TCP ones are conntrack's. */
enum slnf_ct_state {
	SLNF_CT_NONE = 0,
	SLNF_CT_SYN_SENT,
	SLNF_CT_SYN_RECV,
	SLNF_CT_ESTABLISHED,
	SLNF_CT_FIN_WAIT,
	SLNF_CT_CLOSE_WAIT,
	SLNF_CT_LAST_ACK,
	SLNF_CT_TIME_WAIT,
	SLNF_CT_CLOSE,
	SLNF_CT_SYN_SENT2,
	SLNF_CT_UNREPLIED, /* UDP, ICMP echo, other protocols: one side seen */
	SLNF_CT_REPLIED,   /* ... and both */
	SLNF_CT__COUNT
};

/* flags */
#define SLNF_CT_F_ORIG_LO 0x01   /* the originator is the key's first endpoint */
#define SLNF_CT_F_FIN0 0x02      /* the originator sent a FIN */
#define SLNF_CT_F_FIN1 0x04      /* the responder sent a FIN */
#define SLNF_CT_F_WSCALE0 0x08   /* the originator's SYN offered window scaling */
#define SLNF_CT_F_WSCALE1 0x10   /* the responder's SYN offered window scaling */

/* What one direction has sent, TCP only (host order). */
struct slnf_ct_dir {
	uint32_t end;    /* sequence number after the highest byte sent (incl. SYN, FIN) */
	uint32_t maxwin; /* largest window it advertised, scaled, rounded up to a
			    power of two; 0 while it sent nothing */
};

struct slnf_ct {
	uint8_t state;       /* enum slnf_ct_state */
	uint8_t flags;       /* SLNF_CT_F_* */
	uint8_t wscale;      /* window scale shift: originator low nibble, responder high */
	uint64_t expires_ms; /* wall clock (CLOCK_REALTIME) ms when the record times out */
	struct slnf_ct_dir dir[2];
};

#define SLNF_CT_REC_LEN 27

void slnf_ct_encode(const struct slnf_ct *c, uint8_t out[SLNF_CT_REC_LEN]);
/* 0, or -EINVAL when the bytes are not a record. */
int slnf_ct_decode(struct slnf_ct *c, const uint8_t *in, uint16_t len);

/* The TCP header fields tracking needs (host order). */
struct slnf_ct_tcp {
	uint32_t seq, ack;
	uint32_t len;   /* payload bytes */
	uint16_t win;   /* unscaled window field */
	uint8_t flags;  /* RTE_TCP_*_FLAG */
	int8_t wscale;  /* window scale option (SYN only), -1 when absent */
};

enum slnf_ct_result {
	SLNF_CT_ACCEPT = 0,  /* part of the connection; record updated */
	SLNF_CT_IGNORE,      /* allowed, state unchanged (e.g. a SYN on an open connection) */
	SLNF_CT_RST_INEXACT, /* in-window RST off the expected sequence: kept open */
	SLNF_CT_INVALID,     /* not part of the connection: the record is unchanged */
};

/* Is t the first packet of a connection (SYN without ACK, RST, FIN)? */
bool slnf_ct_tcp_is_syn(const struct slnf_ct_tcp *t);
/* A fresh record for connection opening SYN t. flags keeps ORIG_LO. */
void slnf_ct_tcp_open(struct slnf_ct *c, uint8_t flags, const struct slnf_ct_tcp *t);
/* Track packet t of direction dir (0 originator, 1 responder). On INVALID
 * the record is left as it was. */
enum slnf_ct_result slnf_ct_tcp_step(struct slnf_ct *c, unsigned dir, const struct slnf_ct_tcp *t);

const char *slnf_ct_state_name(unsigned state);

#endif
