/*
 * test_parse.c - slnf_pkt_parse on crafted frames: every drop reason, VLAN,
 * fragments, the ICMP echo key, and every truncation of a header.
 *
 * Frames are parsed from a buffer that ends exactly at a page boundary,
 * followed by an inaccessible guard page (the mbuf points at it as an
 * external buffer), so a single byte read past the frame crashes the test
 * instead of going unnoticed. Frames start from testutil's well-formed
 * packets and are then edited byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include "slnf/csum.h"
#include "slnf/pkt.h"
#include "testutil.h"

#define SRC_IP 0x0a000001u /* 10.0.0.1 */
#define DST_IP 0x0a000002u /* 10.0.0.2 */
#define SPORT 40000
#define DPORT 80
#define ET_NONE 0xbeef /* sentinel: ethertype not written */

struct frame {
	uint8_t b[256];
	size_t len;
	size_t l3; /* offset of the IPv4 header */
};

static uint8_t *guard_end; /* first byte of the guard page */
static struct rte_mbuf_ext_shared_info shinfo;

static void ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
}

static int setup(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map;

	(void)state;
	slnf_test_eal();
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (map == MAP_FAILED)
		return -1;
	if (mprotect(map + pg, (size_t)pg, PROT_NONE))
		return -1;
	guard_end = map + pg;
	shinfo.free_cb = ext_free;
	return 0;
}

/* Parse the first n bytes of f, placed right before the guard page. p is
 * prefilled with garbage except the fields parse must leave alone. */
static unsigned parse_n(const struct frame *f, size_t n, struct slnf_pkt *p, uint16_t *et)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(slnf_test_eal());
	uint8_t *buf = guard_end - n;
	unsigned r;

	assert_non_null(m);
	assert_true(n <= f->len);
	memcpy(buf, f->b, n);
	rte_mbuf_ext_refcnt_set(&shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, 0, (uint16_t)n, &shinfo);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;

	memset(p, 0xa5, sizeof(*p));
	p->m = m;
	p->in_port = 3;
	p->tenant = 7;
	p->verdict = SLNF_VERDICT_FORWARD;
	p->out_port = SLNF_PORT_NONE;
	p->next_hop = 0;
	p->state_req = -1;
	if (et)
		*et = ET_NONE;
	r = slnf_pkt_parse(p, et);
	/* fields that belong to others are untouched */
	assert_int_equal(p->in_port, 3);
	assert_int_equal(p->tenant, 7);
	assert_int_equal(p->verdict, SLNF_VERDICT_FORWARD);
	assert_int_equal(p->out_port, SLNF_PORT_NONE);
	assert_int_equal(p->state_req, -1);
	rte_pktmbuf_free(m);
	p->m = NULL;
	return r;
}

static unsigned parse(const struct frame *f, struct slnf_pkt *p, uint16_t *et)
{
	return parse_n(f, f->len, p, et);
}

static void expect(const struct frame *f, unsigned want, const char *what)
{
	struct slnf_pkt p;
	unsigned r = parse(f, &p, NULL);

	if (r != want)
		fail_msg("%s: got %s, want %s", what, slnf_drop_reason_name(r),
			 slnf_drop_reason_name(want));
}

/* The first n bytes of f give reason want and report ethertype want_et
 * (ET_NONE: not written), and the same without an ethertype pointer. */
static void expect_et(const struct frame *f, size_t n, unsigned want, uint16_t want_et)
{
	struct slnf_pkt p;
	uint16_t et;

	assert_int_equal(parse_n(f, n, &p, &et), want);
	assert_int_equal(et, want_et);
	assert_int_equal(parse_n(f, n, &p, NULL), want);
}

static uint8_t *ip(struct frame *f)
{
	return f->b + f->l3;
}

static size_t ihl_bytes(struct frame *f)
{
	return (size_t)(ip(f)[0] & 0x0f) * 4;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static void fix_csum(struct frame *f)
{
	size_t h = ihl_bytes(f) < 20 ? 20 : ihl_bytes(f);

	put16(ip(f) + 10, 0);
	put16(ip(f) + 10, slnf_csum(ip(f), h));
}

static void set_tot(struct frame *f, uint16_t tot)
{
	put16(ip(f) + 2, tot);
	fix_csum(f);
}

/* A valid untagged frame from testutil. */
static void make(struct frame *f, uint8_t proto, size_t payload)
{
	struct rte_mbuf *m =
		slnf_test_ipv4(proto, SRC_IP, DST_IP, SPORT, DPORT, 64, payload);

	f->len = rte_pktmbuf_data_len(m);
	assert_true(f->len <= sizeof(f->b));
	memcpy(f->b, rte_pktmbuf_mtod(m, void *), f->len);
	f->l3 = 14;
	rte_pktmbuf_free(m);
}

/* Insert bytes at off (a VLAN tag, IP options). */
static void insert(struct frame *f, size_t off, const void *bytes, size_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memmove(f->b + off + n, f->b + off, f->len - off);
	memcpy(f->b + off, bytes, n);
	f->len += n;
}

static void add_vlan(struct frame *f, uint16_t tci)
{
	uint8_t tag[4] = {0x81, 0x00, (uint8_t)(tci >> 8), (uint8_t)tci};

	insert(f, 12, tag, sizeof(tag));
	f->l3 += 4;
}

/* Add words 32-bit words of IP options (NOPs) and fix the header. */
static void add_options(struct frame *f, unsigned words)
{
	uint8_t nops[40];

	memset(nops, 1, sizeof(nops));
	insert(f, f->l3 + 20, nops, words * 4);
	ip(f)[0] = (uint8_t)(0x45 + words);
	set_tot(f, (uint16_t)(f->len - f->l3));
}

static void set_frag(struct frame *f, uint16_t v)
{
	put16(ip(f) + 6, v);
	fix_csum(f);
}

/* The well-formed cases: offsets, key, flags, hash, pad. */
static void check_ok(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct slnf_pkt p;
	uint16_t et;
	static const uint8_t zero[3];

	assert_int_equal(parse(f, &p, &et), SLNF_DROP_NONE);
	assert_int_equal(et, 0x0800);
	assert_int_equal(p.l3_off, f->l3);
	assert_int_equal(p.l4_off, f->l3 + ihl_bytes(f));
	assert_int_equal(p.l3_len, (ip(f)[2] << 8) | ip(f)[3]);
	assert_int_equal(p.flags, flags);
	assert_int_equal(p.key.src_ip, SRC_IP);
	assert_int_equal(p.key.dst_ip, DST_IP);
	assert_int_equal(p.key.src_port, sport);
	assert_int_equal(p.key.dst_port, dport);
	assert_int_equal(p.key.proto, ip(f)[9]);
	assert_memory_equal(p.key.pad, zero, sizeof(zero));
	assert_int_equal(p.hash, slnf_flow_hash(&p.key));
}

static void test_well_formed(void **state)
{
	struct frame f;
	struct slnf_pkt p;

	(void)state;
	make(&f, IPPROTO_TCP, 10);
	check_ok(&f, SPORT, DPORT, 0);
	make(&f, IPPROTO_UDP, 0);
	check_ok(&f, SPORT, DPORT, 0);
	make(&f, 47, 4); /* GRE: no ports, no L4 check */
	check_ok(&f, 0, 0, 0);
	make(&f, IPPROTO_UDP, 3);
	add_options(&f, 3);
	check_ok(&f, SPORT, DPORT, 0);

	/* through testutil's pool mbufs as the other tests use it */
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_TCP, SRC_IP, DST_IP, 1, 2, 64, 0);

	slnf_test_parse(&p, m);
	assert_int_equal(p.key.src_port, 1);
	assert_int_equal(p.vlan, 0);
	rte_pktmbuf_free(m);
}

/* Ethernet pads short frames: bytes beyond the IPv4 total length are fine
 * and do not count as L4 data. */
static void test_padding(void **state)
{
	struct frame f;
	static const uint8_t pad[30];
	struct slnf_pkt p;

	(void)state;
	make(&f, IPPROTO_UDP, 0);
	insert(&f, f.len, pad, sizeof(pad));
	check_ok(&f, SPORT, DPORT, 0);
	/* a TCP header that only fits thanks to the padding is truncated */
	make(&f, IPPROTO_TCP, 0);
	set_tot(&f, 20 + 12);
	assert_int_equal(parse(&f, &p, NULL), SLNF_DROP_L4_TRUNCATED);
}

static void test_runt(void **state)
{
	struct frame f;

	(void)state;
	make(&f, IPPROTO_TCP, 0);
	for (size_t n = 0; n < 14; n++)
		expect_et(&f, n, SLNF_DROP_RUNT, ET_NONE);
	/* a VLAN tag cut short: the outer ethertype is known */
	add_vlan(&f, 5);
	for (size_t n = 14; n < 18; n++)
		expect_et(&f, n, SLNF_DROP_RUNT, 0x8100);
}

static void test_l2(void **state)
{
	struct frame f;
	struct slnf_pkt p;
	uint16_t et;

	(void)state;
	/* IPv6 */
	make(&f, IPPROTO_UDP, 0);
	put16(f.b + 12, 0x86dd);
	expect_et(&f, f.len, SLNF_DROP_L2_UNSUPPORTED, 0x86dd);
	/* ARP; a bare Ethernet header is enough to report it */
	put16(f.b + 12, 0x0806);
	expect_et(&f, f.len, SLNF_DROP_L2_UNSUPPORTED, 0x0806);
	expect_et(&f, 14, SLNF_DROP_L2_UNSUPPORTED, 0x0806);
	/* ARP on a VLAN: the caller needs the VLAN for the reply */
	add_vlan(&f, 0x0064);
	assert_int_equal(parse(&f, &p, &et), SLNF_DROP_L2_UNSUPPORTED);
	assert_int_equal(et, 0x0806);
	assert_int_equal(p.vlan, 100);
	assert_true(p.flags & SLNF_PKT_F_VLAN);
	/* only one tag: QinQ and double 802.1Q are not parsed */
	make(&f, IPPROTO_UDP, 0);
	add_vlan(&f, 10);
	add_vlan(&f, 20);
	expect_et(&f, f.len, SLNF_DROP_L2_UNSUPPORTED, 0x8100);
	make(&f, IPPROTO_UDP, 0);
	add_vlan(&f, 10);
	put16(f.b + 12, 0x88a8);
	expect_et(&f, f.len, SLNF_DROP_L2_UNSUPPORTED, 0x88a8);
}

static void test_vlan(void **state)
{
	struct frame f;
	struct slnf_pkt p;

	(void)state;
	make(&f, IPPROTO_TCP, 0);
	add_vlan(&f, 0xe123); /* PCP 7, DEI 0, VID 0x123 */
	check_ok(&f, SPORT, DPORT, SLNF_PKT_F_VLAN);
	assert_int_equal(parse(&f, &p, NULL), SLNF_DROP_NONE);
	assert_int_equal(p.vlan, 0x123);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 38);
	/* priority tag: VID 0 but tagged */
	make(&f, IPPROTO_UDP, 0);
	add_vlan(&f, 0x2000);
	check_ok(&f, SPORT, DPORT, SLNF_PKT_F_VLAN);
	/* parsing an untagged frame into the same slnf_pkt clears the tag */
	make(&f, IPPROTO_UDP, 0);
	check_ok(&f, SPORT, DPORT, 0);
	assert_int_equal(parse(&f, &p, NULL), SLNF_DROP_NONE);
	assert_int_equal(p.vlan, 0);
}

/* IPv4 header faults, one per case, applied to a valid UDP frame with
 * 40 bytes of IP (F_VIHL_TOT: version/IHL byte << 16 | total length). */
enum fault_field { F_VIHL, F_TOT, F_VIHL_TOT, F_SRC, F_CSUM, F_LEN };

static const struct fault {
	const char *what;
	enum fault_field field;
	uint32_t val;
	unsigned want;
} faults[] = {
	{"version 6", F_VIHL, 0x65, SLNF_DROP_IP_BAD_VERSION},
	{"version 0", F_VIHL, 0x05, SLNF_DROP_IP_BAD_VERSION},
	{"IHL 0", F_VIHL, 0x40, SLNF_DROP_IP_BAD_IHL},
	{"IHL 4", F_VIHL, 0x44, SLNF_DROP_IP_BAD_IHL},
	{"IHL 15 beyond frame", F_VIHL, 0x4f, SLNF_DROP_IP_BAD_IHL},
	{"IHL 11 in 40 bytes", F_VIHL, 0x4b, SLNF_DROP_IP_BAD_IHL},
	{"IHL 7 above total length 24", F_VIHL_TOT, 0x47 << 16 | 24, SLNF_DROP_IP_BAD_LEN},
	{"IHL 6 with total length 24", F_VIHL_TOT, 0x46 << 16 | 24, SLNF_DROP_L4_TRUNCATED},
	{"total length 0", F_TOT, 0, SLNF_DROP_IP_BAD_LEN},
	{"total length 19", F_TOT, 19, SLNF_DROP_IP_BAD_LEN},
	{"total length 20", F_TOT, 20, SLNF_DROP_L4_TRUNCATED},
	{"total length beyond frame", F_TOT, 41, SLNF_DROP_IP_BAD_LEN},
	{"total length 65535", F_TOT, 65535, SLNF_DROP_IP_BAD_LEN},
	{"checksum off by one", F_CSUM, 1, SLNF_DROP_IP_BAD_CSUM},
	{"checksum zero", F_CSUM, 0, SLNF_DROP_IP_BAD_CSUM},
	{"source 0.0.0.0", F_SRC, 0, SLNF_DROP_IP_BAD_SRC},
	{"source 255.255.255.255", F_SRC, 0xffffffff, SLNF_DROP_IP_BAD_SRC},
	{"source 224.0.0.1", F_SRC, 0xe0000001, SLNF_DROP_IP_BAD_SRC},
	{"source 239.255.255.255", F_SRC, 0xefffffff, SLNF_DROP_IP_BAD_SRC},
	{"source 223.255.255.255", F_SRC, 0xdfffffff, SLNF_DROP_NONE},
	{"source 240.0.0.1", F_SRC, 0xf0000001, SLNF_DROP_NONE},
	{"frame 19 bytes of IP", F_LEN, 14 + 19, SLNF_DROP_IP_TRUNCATED},
	{"frame 20 bytes of IP", F_LEN, 14 + 20, SLNF_DROP_IP_BAD_LEN},
};

static void test_ip_faults(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		const struct fault *t = &faults[i];
		struct frame f;

		make(&f, IPPROTO_UDP, 12);
		switch (t->field) {
		case F_VIHL:
			ip(&f)[0] = (uint8_t)t->val;
			fix_csum(&f);
			break;
		case F_VIHL_TOT:
			ip(&f)[0] = (uint8_t)(t->val >> 16);
			/* fall through */
		case F_TOT:
			set_tot(&f, (uint16_t)t->val);
			break;
		case F_SRC:
			put32(ip(&f) + 12, t->val);
			fix_csum(&f);
			break;
		case F_CSUM:
			/* a wrong value; 0 is wrong because the header is not all ones */
			put16(ip(&f) + 10, t->val ? (uint16_t)(((ip(&f)[10] << 8) | ip(&f)[11]) + 1)
						   : 0);
			break;
		case F_LEN:
			f.len = t->val;
			break;
		}
		expect(&f, t->want, t->what);
	}
}

static void test_l4_truncated(void **state)
{
	struct frame f;

	(void)state;
	make(&f, IPPROTO_TCP, 8);
	set_tot(&f, 20 + 19);
	expect(&f, SLNF_DROP_L4_TRUNCATED, "TCP 19 bytes");
	set_tot(&f, 20 + 20);
	expect(&f, SLNF_DROP_NONE, "TCP 20 bytes");
	f.b[f.l3 + 20 + 12] = 0x40;
	expect(&f, SLNF_DROP_L4_TRUNCATED, "TCP data offset 4");
	f.b[f.l3 + 20 + 12] = 0x60;
	expect(&f, SLNF_DROP_L4_TRUNCATED, "TCP data offset 6 in 20 bytes");
	set_tot(&f, 20 + 24);
	expect(&f, SLNF_DROP_NONE, "TCP data offset 6 in 24 bytes");
	f.b[f.l3 + 20 + 12] = 0xf0;
	expect(&f, SLNF_DROP_L4_TRUNCATED, "TCP data offset 15");

	make(&f, IPPROTO_UDP, 4);
	set_tot(&f, 20 + 7);
	expect(&f, SLNF_DROP_L4_TRUNCATED, "UDP 7 bytes");
	make(&f, IPPROTO_ICMP, 4);
	set_tot(&f, 20 + 7);
	expect(&f, SLNF_DROP_L4_TRUNCATED, "ICMP 7 bytes");
	set_tot(&f, 20 + 8);
	expect(&f, SLNF_DROP_NONE, "ICMP 8 bytes");

	/* a first fragment must hold the L4 header, a later one need not */
	make(&f, IPPROTO_TCP, 0);
	set_tot(&f, 20 + 8);
	set_frag(&f, 0x2000);
	expect(&f, SLNF_DROP_L4_TRUNCATED, "first fragment, TCP 8 bytes");
	set_frag(&f, 0x2001);
	expect(&f, SLNF_DROP_NONE, "second fragment, 8 bytes");
	set_tot(&f, 20);
	expect(&f, SLNF_DROP_NONE, "second fragment, empty");
}

static void test_fragments(void **state)
{
	struct frame f;

	(void)state;
	make(&f, IPPROTO_UDP, 16);
	set_frag(&f, 0x2000); /* MF, offset 0 */
	check_ok(&f, SPORT, DPORT, SLNF_PKT_F_FRAG | SLNF_PKT_F_FIRST_FRAG);
	set_frag(&f, 0x2000 | 185); /* MF, offset 1480 */
	check_ok(&f, 0, 0, SLNF_PKT_F_FRAG);
	set_frag(&f, 3); /* last fragment: no MF, offset 24 */
	check_ok(&f, 0, 0, SLNF_PKT_F_FRAG);
	set_frag(&f, 0x4000); /* DF only: not a fragment */
	check_ok(&f, SPORT, DPORT, 0);
	set_frag(&f, 0x6000); /* DF and MF, offset 0 */
	check_ok(&f, SPORT, DPORT, SLNF_PKT_F_FRAG | SLNF_PKT_F_FIRST_FRAG);
	make(&f, IPPROTO_ICMP, 0);
	set_frag(&f, 0x0010);
	check_ok(&f, 0, 0, SLNF_PKT_F_FRAG);
}

static void test_icmp_key(void **state)
{
	struct frame f;
	uint8_t *icmp;

	(void)state;
	make(&f, IPPROTO_ICMP, 8);
	icmp = ip(&f) + 20;
	put16(icmp + 4, 0x1234); /* identifier */
	put16(icmp + 6, 0x0007); /* sequence: not part of the key */
	check_ok(&f, 0x1234, 0x1234, 0);
	icmp[0] = 0; /* echo reply */
	check_ok(&f, 0x1234, 0x1234, 0);
	icmp[0] = 3; /* destination unreachable */
	check_ok(&f, 0, 0, 0);
	icmp[0] = 11; /* time exceeded */
	check_ok(&f, 0, 0, 0);
	/* both directions of a ping hash alike under the symmetric hash */
	struct slnf_flow_key a = {.src_ip = SRC_IP, .dst_ip = DST_IP, .src_port = 9,
				  .dst_port = 9, .proto = IPPROTO_ICMP};
	struct slnf_flow_key b = {.src_ip = DST_IP, .dst_ip = SRC_IP, .src_port = 9,
				  .dst_port = 9, .proto = IPPROTO_ICMP};

	assert_int_equal(slnf_flow_hash_symmetric(&a), slnf_flow_hash_symmetric(&b));
}

/* What a frame cut to n bytes must give, knowing only its layout. With
 * consistent, the IPv4 total length was cut too (and the checksum fixed),
 * so the IP header stays valid and the L4 check is what fails. */
static unsigned cut_reason(struct frame *f, size_t n, size_t l4_hlen, bool consistent)
{
	size_t l3 = f->l3, hl = ihl_bytes(f);

	if (n < 14 || (l3 == 18 && n < 18))
		return SLNF_DROP_RUNT;
	if (n < l3 + 20)
		return SLNF_DROP_IP_TRUNCATED;
	if (n < l3 + hl)
		return SLNF_DROP_IP_BAD_IHL;
	if (n < l3 + hl + l4_hlen)
		return consistent ? SLNF_DROP_L4_TRUNCATED : SLNF_DROP_IP_BAD_LEN;
	return SLNF_DROP_NONE;
}

/* Cut f at every length up to its full headers, both ways. */
static void sweep(struct frame *f, size_t l4_hlen, const char *what)
{
	struct frame c;
	struct slnf_pkt p;

	assert_int_equal(f->len, f->l3 + ihl_bytes(f) + l4_hlen);
	for (size_t n = 0; n <= f->len; n++) {
		for (int consistent = 0; consistent < 2; consistent++) {
			unsigned want = cut_reason(f, n, l4_hlen, consistent), r;

			c = *f;
			if (consistent && n >= c.l3 + ihl_bytes(&c))
				set_tot(&c, (uint16_t)(n - c.l3));
			r = parse_n(&c, n, &p, NULL);
			if (r != want)
				fail_msg("%s cut to %zu bytes%s: got %s, want %s", what, n,
					 consistent ? " (total length cut too)" : "",
					 slnf_drop_reason_name(r), slnf_drop_reason_name(want));
		}
	}
}

static void test_truncation_sweep(void **state)
{
	struct frame f;

	(void)state;
	make(&f, IPPROTO_TCP, 0);
	sweep(&f, 20, "TCP");
	make(&f, IPPROTO_UDP, 0);
	sweep(&f, 8, "UDP");
	make(&f, IPPROTO_ICMP, 0);
	sweep(&f, 8, "ICMP");
	make(&f, IPPROTO_TCP, 0);
	add_vlan(&f, 42);
	sweep(&f, 20, "VLAN TCP");
	make(&f, IPPROTO_UDP, 0);
	add_options(&f, 10);
	sweep(&f, 8, "UDP with 40 bytes of IP options");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_runt),
		cmocka_unit_test(test_l2),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_ip_faults),
		cmocka_unit_test(test_l4_truncated),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp_key),
		cmocka_unit_test(test_truncation_sweep),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
