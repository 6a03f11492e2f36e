/*
 * conntrack.c - TCP connection tracking on one record, modelled on Linux
 * conntrack (see conntrack.h and docs/nf-firewall.md).
 *
 * A packet is classified by its flags (RST, SYN/ACK, SYN, FIN, ACK), then:
 * handshake packets move SYN_SENT -> SYN_RECV -> ESTABLISHED (or through
 * SYN_SENT2 on a simultaneous open); every later packet must pass the
 * window check before it may change anything; FINs and the ACKs of FINs
 * walk the close states; RSTs close on an exact sequence number, are kept
 * (and counted) when only in the window, and are invalid outside it.
 * Sequence comparisons are modulo 2^32.
 */
#include <errno.h>
#include <string.h>

#include <rte_tcp.h>

#include "nf/conntrack.h"

#define CT_MAXACKWIN_MIN 66000 /* conntrack's lower bound on the ack window */

static const char *const state_names[SLNF_CT__COUNT] = {
	[SLNF_CT_NONE] = "none",
	[SLNF_CT_SYN_SENT] = "syn_sent",
	[SLNF_CT_SYN_RECV] = "syn_recv",
	[SLNF_CT_ESTABLISHED] = "established",
	[SLNF_CT_FIN_WAIT] = "fin_wait",
	[SLNF_CT_CLOSE_WAIT] = "close_wait",
	[SLNF_CT_LAST_ACK] = "last_ack",
	[SLNF_CT_TIME_WAIT] = "time_wait",
	[SLNF_CT_CLOSE] = "close",
	[SLNF_CT_SYN_SENT2] = "syn_sent2",
	[SLNF_CT_UNREPLIED] = "unreplied",
	[SLNF_CT_REPLIED] = "replied",
};

const char *slnf_ct_state_name(unsigned state)
{
	return state < SLNF_CT__COUNT ? state_names[state] : "?";
}

/* ---- record encoding ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

void slnf_ct_encode(const struct slnf_ct *c, uint8_t out[SLNF_CT_REC_LEN])
{
	out[0] = c->state;
	out[1] = c->flags;
	out[2] = c->wscale;
	put32(out + 3, (uint32_t)c->expires_ms);
	put32(out + 7, (uint32_t)(c->expires_ms >> 32));
	for (unsigned d = 0; d < 2; d++) {
		put32(out + 11 + 8 * d, c->dir[d].end);
		put32(out + 15 + 8 * d, c->dir[d].maxwin);
	}
}

int slnf_ct_decode(struct slnf_ct *c, const uint8_t *in, uint16_t len)
{
	if (len != SLNF_CT_REC_LEN || in[0] == SLNF_CT_NONE || in[0] >= SLNF_CT__COUNT)
		return -EINVAL;
	c->state = in[0];
	c->flags = in[1];
	c->wscale = in[2];
	c->expires_ms = get32(in + 3) | (uint64_t)get32(in + 7) << 32;
	for (unsigned d = 0; d < 2; d++) {
		c->dir[d].end = get32(in + 11 + 8 * d);
		c->dir[d].maxwin = get32(in + 15 + 8 * d);
	}
	return 0;
}

/* ---- helpers ---- */

static inline bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_after(uint32_t a, uint32_t b)
{
	return seq_before(b, a);
}

static uint32_t pow2_ceil(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < 0x80000000u)
		p <<= 1;
	return p;
}

enum pkt_class { PC_SYN, PC_SYNACK, PC_FIN, PC_ACK, PC_RST, PC_NONE };

static enum pkt_class classify(uint8_t f)
{
	if (f & RTE_TCP_RST_FLAG)
		return PC_RST;
	if (f & RTE_TCP_SYN_FLAG)
		return f & RTE_TCP_ACK_FLAG ? PC_SYNACK : PC_SYN;
	if (f & RTE_TCP_FIN_FLAG)
		return PC_FIN;
	return f & RTE_TCP_ACK_FLAG ? PC_ACK : PC_NONE;
}

static unsigned dir_scale(const struct slnf_ct *c, unsigned d)
{
	bool both = (c->flags & (SLNF_CT_F_WSCALE0 | SLNF_CT_F_WSCALE1)) ==
		    (SLNF_CT_F_WSCALE0 | SLNF_CT_F_WSCALE1);

	return both ? (c->wscale >> (4 * d)) & 0xf : 0;
}

/* What a SYN or SYN/ACK tells about its sender. */
static void dir_from_syn(struct slnf_ct *c, unsigned d, const struct slnf_ct_tcp *t)
{
	uint8_t ws_flag = d ? SLNF_CT_F_WSCALE1 : SLNF_CT_F_WSCALE0;

	c->dir[d].end = t->seq + 1 + t->len;
	c->dir[d].maxwin = pow2_ceil(t->win ? t->win : 1);
	c->flags &= (uint8_t)~ws_flag;
	c->wscale &= (uint8_t)(d ? 0x0f : 0xf0);
	if (t->wscale >= 0) {
		c->flags |= ws_flag;
		c->wscale |= (uint8_t)((t->wscale > 14 ? 14 : t->wscale) << (4 * d));
	}
}

bool slnf_ct_tcp_is_syn(const struct slnf_ct_tcp *t)
{
	return classify(t->flags) == PC_SYN;
}

void slnf_ct_tcp_open(struct slnf_ct *c, uint8_t flags, const struct slnf_ct_tcp *t)
{
	memset(c, 0, sizeof(*c));
	c->state = SLNF_CT_SYN_SENT;
	c->flags = flags & SLNF_CT_F_ORIG_LO;
	dir_from_syn(c, 0, t);
}

/* ---- the window check ---- */

/* Simplified tcp_in_window for packet t from s to r (see the docs). */
static bool in_window(const struct slnf_ct_dir *s, const struct slnf_ct_dir *r,
		      const struct slnf_ct_tcp *t, uint32_t end)
{
	uint32_t ackwin = s->maxwin > CT_MAXACKWIN_MIN ? s->maxwin : CT_MAXACKWIN_MIN;

	if (seq_after(t->seq, s->end + r->maxwin))
		return false;
	if (seq_before(end, s->end - r->maxwin))
		return false;
	if (!(t->flags & RTE_TCP_ACK_FLAG))
		return true;
	return !seq_after(t->ack, r->end) && !seq_before(t->ack, r->end - ackwin);
}

static void window_update(struct slnf_ct_dir *s, unsigned scale, const struct slnf_ct_tcp *t,
			  uint32_t end)
{
	uint64_t win = (uint64_t)t->win << scale;

	if (seq_after(end, s->end))
		s->end = end;
	if (win > UINT32_MAX / 2)
		win = UINT32_MAX / 2;
	if (win > s->maxwin)
		s->maxwin = pow2_ceil((uint32_t)win);
}

/* ---- per class ---- */

static enum slnf_ct_result on_rst(struct slnf_ct *c, unsigned d, const struct slnf_ct_tcp *t)
{
	const struct slnf_ct_dir *s = &c->dir[d], *r = &c->dir[!d];

	if (c->state == SLNF_CT_SYN_SENT) {
		/* only the responder refusing the SYN, acking it exactly */
		if (d != 1 || !(t->flags & RTE_TCP_ACK_FLAG) || t->ack != c->dir[0].end)
			return SLNF_CT_INVALID;
		c->state = SLNF_CT_CLOSE;
		return SLNF_CT_ACCEPT;
	}
	if (s->maxwin == 0)
		return SLNF_CT_INVALID; /* that side never opened */
	if (t->seq == s->end) {
		c->state = SLNF_CT_CLOSE;
		return SLNF_CT_ACCEPT;
	}
	if (seq_before(t->seq, s->end - r->maxwin) || seq_after(t->seq, s->end + r->maxwin))
		return SLNF_CT_INVALID;
	switch (c->state) {
	case SLNF_CT_ESTABLISHED:
	case SLNF_CT_FIN_WAIT:
	case SLNF_CT_CLOSE_WAIT:
	case SLNF_CT_LAST_ACK:
		return SLNF_CT_RST_INEXACT;
	default:
		c->state = SLNF_CT_CLOSE;
		return SLNF_CT_ACCEPT;
	}
}

static enum slnf_ct_result on_syn(struct slnf_ct *c, unsigned d, const struct slnf_ct_tcp *t)
{
	switch (c->state) {
	case SLNF_CT_SYN_SENT:
		if (d == 1) { /* simultaneous open */
			dir_from_syn(c, 1, t);
			c->state = SLNF_CT_SYN_SENT2;
			return SLNF_CT_ACCEPT;
		}
		/* a retransmitted or new SYN restarts the attempt */
		__attribute__((fallthrough));
	case SLNF_CT_TIME_WAIT:
	case SLNF_CT_CLOSE:
		if (d != 0)
			return SLNF_CT_INVALID;
		slnf_ct_tcp_open(c, c->flags, t);
		return SLNF_CT_ACCEPT;
	case SLNF_CT_SYN_SENT2:
		return SLNF_CT_IGNORE; /* a retransmission of either SYN */
	default:
		return SLNF_CT_IGNORE;
	}
}

static enum slnf_ct_result on_synack(struct slnf_ct *c, unsigned d, const struct slnf_ct_tcp *t)
{
	bool handshake = c->state == SLNF_CT_SYN_SENT || c->state == SLNF_CT_SYN_SENT2 ||
			 c->state == SLNF_CT_SYN_RECV;

	if (!handshake)
		return c->state == SLNF_CT_NONE ? SLNF_CT_INVALID : SLNF_CT_IGNORE;
	if (c->state == SLNF_CT_SYN_SENT && d != 1)
		return SLNF_CT_INVALID;
	if (t->ack != c->dir[!d].end)
		return SLNF_CT_INVALID; /* does not ack the peer's SYN */
	if (c->dir[d].maxwin == 0 || c->state == SLNF_CT_SYN_SENT)
		dir_from_syn(c, d, t);
	c->state = SLNF_CT_SYN_RECV;
	return SLNF_CT_ACCEPT;
}

/* FIN or ACK on a synchronized connection, after the window check. */
static void on_fin_ack(struct slnf_ct *c, unsigned d, const struct slnf_ct_tcp *t)
{
	uint8_t my_fin = d ? SLNF_CT_F_FIN1 : SLNF_CT_F_FIN0;
	uint8_t peer_fin = d ? SLNF_CT_F_FIN0 : SLNF_CT_F_FIN1;
	bool acks_peer = (t->flags & RTE_TCP_ACK_FLAG) && t->ack == c->dir[!d].end;

	if (c->state == SLNF_CT_TIME_WAIT || c->state == SLNF_CT_CLOSE)
		return;
	if (t->flags & RTE_TCP_FIN_FLAG) {
		c->flags |= my_fin;
		c->state = (c->flags & peer_fin) ? SLNF_CT_LAST_ACK : SLNF_CT_FIN_WAIT;
		return;
	}
	switch (c->state) {
	case SLNF_CT_SYN_RECV:
		if (acks_peer)
			c->state = SLNF_CT_ESTABLISHED;
		break;
	case SLNF_CT_FIN_WAIT:
		if ((c->flags & peer_fin) && acks_peer)
			c->state = SLNF_CT_CLOSE_WAIT;
		break;
	case SLNF_CT_LAST_ACK:
		if ((c->flags & peer_fin) && acks_peer)
			c->state = SLNF_CT_TIME_WAIT;
		break;
	default:
		break;
	}
}

static bool synchronized(uint8_t state)
{
	return state != SLNF_CT_NONE && state != SLNF_CT_SYN_SENT && state != SLNF_CT_SYN_SENT2 &&
	       state < SLNF_CT_UNREPLIED;
}

enum slnf_ct_result slnf_ct_tcp_step(struct slnf_ct *c, unsigned dir, const struct slnf_ct_tcp *t)
{
	struct slnf_ct next = *c;
	enum slnf_ct_result res;
	uint32_t end;
	unsigned d = dir ? 1 : 0;

	switch (classify(t->flags)) {
	case PC_RST:
		res = on_rst(&next, d, t);
		break;
	case PC_SYN:
		res = on_syn(&next, d, t);
		break;
	case PC_SYNACK:
		res = on_synack(&next, d, t);
		break;
	case PC_FIN:
	case PC_ACK:
		if (!synchronized(next.state) || next.dir[d].maxwin == 0) {
			res = SLNF_CT_INVALID;
			break;
		}
		end = t->seq + t->len + ((t->flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
		if (!in_window(&next.dir[d], &next.dir[!d], t, end)) {
			res = SLNF_CT_INVALID;
			break;
		}
		window_update(&next.dir[d], dir_scale(&next, d), t, end);
		on_fin_ack(&next, d, t);
		res = SLNF_CT_ACCEPT;
		break;
	default:
		res = SLNF_CT_INVALID;
		break;
	}
	if (res == SLNF_CT_ACCEPT)
		*c = next;
	return res;
}
