/*
 * test_neigh.c - the neighbour table: resolution with held packets,
 * retries and failure, ageing (reachable -> stale -> removed), static
 * entries, and removal keeping every other entry findable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp/neigh.h"
#include "testutil.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0xb};

static unsigned probes_seen;
static void count_probe(uint16_t port, uint32_t ip, void *arg)
{
	(void)port;
	(void)ip;
	(void)arg;
	probes_seen++;
}

static void test_resolve_holds_until_confirmed(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 64, 30, 4), 0);
	uint8_t mac[6];
	struct rte_mbuf *m1 = slnf_test_ipv4(IPPROTO_UDP, 1, 2, 1, 2, 64, 0);
	struct rte_mbuf *m2 = slnf_test_ipv4(IPPROTO_UDP, 1, 2, 1, 2, 64, 0);
	assert_int_equal(slnf_neigh_resolve(&t, 1, 0x0a000002, 0, m1, mac), SLNF_NEIGH_HELD_PROBE);
	assert_int_equal(slnf_neigh_resolve(&t, 1, 0x0a000002, 10, m2, mac), SLNF_NEIGH_HELD);
	/* a reply from a host on another port changes nothing */
	struct rte_mbuf *rel[8];
	assert_int_equal(slnf_neigh_confirm(&t, 0, 0x0a000002, MAC_A, false, 20, rel, 8), 0);
	assert_int_equal(slnf_neigh_confirm(&t, 1, 0x0a000002, MAC_A, false, 20, rel, 8), 2);
	assert_ptr_equal(rel[0], m1);
	assert_ptr_equal(rel[1], m2);
	assert_int_equal(slnf_neigh_resolve(&t, 1, 0x0a000002, 30, NULL, mac), SLNF_NEIGH_HIT);
	assert_memory_equal(mac, MAC_A, 6);
	rte_pktmbuf_free(m1);
	rte_pktmbuf_free(m2);
	slnf_neigh_fini(&t);
}

static void test_queue_limit(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 64, 30, 2), 0);
	uint8_t mac[6];
	struct rte_mbuf *m[3];
	for (int i = 0; i < 3; i++)
		m[i] = slnf_test_ipv4(IPPROTO_UDP, 1, 2, 1, 2, 64, 0);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 7, 0, m[0], mac), SLNF_NEIGH_HELD_PROBE);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 7, 0, m[1], mac), SLNF_NEIGH_HELD);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 7, 0, m[2], mac), SLNF_NEIGH_FULL);
	rte_pktmbuf_free(m[2]);
	slnf_neigh_fini(&t); /* frees the held ones */
}

static void test_unanswered_fails_after_probes(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 64, 30, 4), 0);
	uint8_t mac[6];
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_UDP, 1, 2, 1, 2, 64, 0);
	struct rte_mbuf *dropped[4];
	unsigned nd;
	probes_seen = 0;
	assert_int_equal(slnf_neigh_resolve(&t, 0, 9, 0, m, mac), SLNF_NEIGH_HELD_PROBE);
	assert_int_equal(slnf_neigh_tick(&t, 500, count_probe, NULL, dropped, 4, &nd), 0);
	assert_int_equal(probes_seen, 0); /* not due yet */
	assert_int_equal(slnf_neigh_tick(&t, 1000, count_probe, NULL, dropped, 4, &nd), 0);
	assert_int_equal(slnf_neigh_tick(&t, 2000, count_probe, NULL, dropped, 4, &nd), 0);
	assert_int_equal(probes_seen, SLNF_NEIGH_PROBES - 1);
	assert_int_equal(slnf_neigh_tick(&t, 3000, count_probe, NULL, dropped, 4, &nd), 1);
	assert_int_equal(nd, 1);
	assert_ptr_equal(dropped[0], m);
	rte_pktmbuf_free(m);
	struct slnf_neigh_entry snap[4];
	assert_int_equal(slnf_neigh_snapshot(&t, 3000, snap, 4), 0);
	slnf_neigh_fini(&t);
}

static void test_ageing(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 64, 30, 4), 0);
	uint8_t mac[6];
	struct rte_mbuf *rel[1];
	unsigned nd;
	/* an ARP request addressed to us creates the entry */
	assert_int_equal(slnf_neigh_confirm(&t, 0, 5, MAC_A, true, 1000, rel, 1), 0);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 5, 30999, NULL, mac), SLNF_NEIGH_HIT);
	/* stale: still used, asks for one probe a second */
	assert_int_equal(slnf_neigh_resolve(&t, 0, 5, 31000, NULL, mac), SLNF_NEIGH_HIT_PROBE);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 5, 31500, NULL, mac), SLNF_NEIGH_HIT);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 5, 32000, NULL, mac), SLNF_NEIGH_HIT_PROBE);
	/* the neighbour answers with a new MAC: reachable again, new MAC used */
	slnf_neigh_confirm(&t, 0, 5, MAC_B, false, 32100, rel, 1);
	assert_int_equal(slnf_neigh_resolve(&t, 0, 5, 32200, NULL, mac), SLNF_NEIGH_HIT);
	assert_memory_equal(mac, MAC_B, 6);
	/* never confirmed again: removed after reachable + grace */
	slnf_neigh_tick(&t, 32100 + 30000 + SLNF_NEIGH_GC_GRACE_MS - 1, NULL, NULL, NULL, 0, &nd);
	struct slnf_neigh_entry snap[2];
	assert_int_equal(slnf_neigh_snapshot(&t, 0, snap, 2), 1);
	assert_int_equal(snap[0].state, SLNF_NEIGH_STALE);
	slnf_neigh_tick(&t, 32100 + 30000 + SLNF_NEIGH_GC_GRACE_MS, NULL, NULL, NULL, 0, &nd);
	assert_int_equal(slnf_neigh_snapshot(&t, 0, snap, 2), 0);
	/* a reply nobody asked for does not create an entry */
	slnf_neigh_confirm(&t, 0, 6, MAC_A, false, 0, rel, 1);
	assert_int_equal(slnf_neigh_snapshot(&t, 0, snap, 2), 0);
	slnf_neigh_fini(&t);
}

static void test_static_never_ages(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 64, 1, 4), 0);
	uint8_t mac[6];
	unsigned nd;
	struct rte_mbuf *rel[1];
	assert_int_equal(slnf_neigh_add_static(&t, 2, 77, MAC_A), 0);
	slnf_neigh_tick(&t, 1000000, NULL, NULL, NULL, 0, &nd);
	slnf_neigh_confirm(&t, 2, 77, MAC_B, true, 0, rel, 1); /* ARP cannot override */
	assert_int_equal(slnf_neigh_resolve(&t, 2, 77, 2000000, NULL, mac), SLNF_NEIGH_HIT);
	assert_memory_equal(mac, MAC_A, 6);
	slnf_neigh_fini(&t);
}

/* Fill, remove every other entry through ageing, check the rest resolve. */
static void test_many_entries_and_removal(void **state)
{
	struct slnf_neigh_table t;
	assert_int_equal(slnf_neigh_init(&t, 256, 10, 1), 0);
	uint8_t mac[6];
	unsigned nd;
	struct rte_mbuf *rel[1];
	for (uint32_t ip = 1; ip <= 150; ip++)
		slnf_neigh_confirm(&t, (uint16_t)(ip % 3), ip, MAC_A, true, ip % 2 ? 0 : 100000, rel, 1);
	slnf_neigh_tick(&t, 100000, NULL, NULL, NULL, 0, &nd); /* odd ones expire */
	for (uint32_t ip = 1; ip <= 150; ip++) {
		enum slnf_neigh_result r = slnf_neigh_resolve(&t, (uint16_t)(ip % 3), ip, 100001, NULL, mac);
		if (ip % 2)
			assert_int_equal(r, SLNF_NEIGH_HELD_PROBE);
		else
			assert_int_equal(r, SLNF_NEIGH_HIT);
	}
	/* the table refuses new entries past 3/4 full rather than degrading */
	unsigned full = 0;
	for (uint32_t ip = 1000; ip < 1200; ip++)
		full += slnf_neigh_resolve(&t, 0, ip, 100001, NULL, mac) == SLNF_NEIGH_FULL;
	assert_true(full > 0);
	slnf_neigh_fini(&t);
}

int main(void)
{
	slnf_test_eal();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_holds_until_confirmed),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_unanswered_fails_after_probes),
		cmocka_unit_test(test_ageing),
		cmocka_unit_test(test_static_never_ages),
		cmocka_unit_test(test_many_entries_and_removal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
