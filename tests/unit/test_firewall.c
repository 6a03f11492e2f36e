/*
 * test_firewall.c - the "firewall" NF driven through the real chain runner
 * over the local store backend: TCP handshakes, data, closes from either
 * side, the three RST cases, simultaneous open, SYN retransmits, UDP and
 * ICMP pseudo-connections, ICMP errors related to a tracked flow, expiry
 * of records, a second instance continuing a connection the first one
 * created, and parameter validation. Packets are built with testutil.h
 * and their TCP header edited in place (flags, seq, ack, window).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <rte_tcp.h>

#include "dp/chain.h"
#include "nf/conntrack.h"
#include "testutil.h"

#define TENANT_ID 7
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG
#define FIN RTE_TCP_FIN_FLAG
#define RST RTE_TCP_RST_FLAG

#define FW_RULES                                                                         \
	"\"rules\": [ { \"name\": \"est\", \"action\": \"allow\","                        \
	"               \"state\": [\"established\", \"related\"] },"                     \
	"             { \"name\": \"no-23\", \"action\": \"deny\", \"proto\": \"tcp\","    \
	"               \"dst_port\": \"23\" },"                                          \
	"             { \"name\": \"lan\", \"action\": \"allow\", \"state\": [\"new\"],"   \
	"               \"src\": \"10.0.0.0/24\" } ]"

struct fx {
	struct slnf_config cfg;
	struct slnf_store *store;
	struct slnf_chain *chain, *chain2;
	struct slnf_chain_scratch scratch;
};

static struct fx *fx_new(const char *extra)
{
	static char text[4096];
	struct slnf_error err = {{0}};
	struct slnf_store_config sc;
	struct fx *f;

	slnf_test_eal();
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(text, sizeof(text),
		 "{ \"name\": \"fwtest\", \"store\": { \"backend\": \"local\", \"capacity\": 1024 },"
		 "  \"ports\": [ { \"name\": \"p0\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": %d, \"match\": { \"ports\": [\"p0\"] },"
		 "    \"chain\": [ { \"nf\": \"firewall\", \"default\": \"deny\", %s %s } ] } ] }",
		 TENANT_ID, FW_RULES, extra ? extra : "");
	if (slnf_config_parse(text, "fw.json", &f->cfg, &err) < 0)
		fail_msg("config: %s", err.msg);
	sc = f->cfg.store;
	if (slnf_store_open(&sc, &f->store, &err) < 0)
		fail_msg("store: %s", err.msg);
	if (slnf_chain_create(&f->cfg, 0, &f->chain, &err) < 0 ||
	    slnf_chain_create(&f->cfg, 0, &f->chain2, &err) < 0)
		fail_msg("chain: %s", err.msg);
	return f;
}

static void fx_free(struct fx *f)
{
	slnf_chain_destroy(f->chain);
	slnf_chain_destroy(f->chain2);
	slnf_store_close(f->store);
	slnf_config_free(&f->cfg);
	free(f);
}

/* The endpoints: client C = 10.0.0.1:1000, server S = 10.0.1.1:80. */
#define C_IP "10.0.0.1"
#define S_IP "10.0.1.1"

static struct rte_mbuf *tcp_mbuf(bool from_client, uint16_t cport, uint16_t sport, uint8_t flags,
				 uint32_t seq, uint32_t ack, size_t len)
{
	uint32_t c = slnf_test_ip(C_IP), s = slnf_test_ip(S_IP);
	struct rte_mbuf *m = from_client ? slnf_test_ipv4(IPPROTO_TCP, c, s, cport, sport, 64, len)
					 : slnf_test_ipv4(IPPROTO_TCP, s, c, sport, cport, 64, len);
	struct rte_tcp_hdr *t = rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34);

	t->tcp_flags = flags;
	t->sent_seq = htonl(seq);
	t->recv_ack = htonl(ack);
	t->rx_win = htons(1000);
	return m;
}

/* Run one packet through chain ch; returns its verdict (and frees it). */
static int run_mbuf(struct fx *f, struct slnf_chain *ch, struct rte_mbuf *m, unsigned *reason)
{
	struct slnf_pkt p;
	struct slnf_burst b = { .n = 1 };

	slnf_test_parse(&p, m);
	b.pkts[0] = &p;
	slnf_chain_run(ch, &b, f->store, &f->scratch);
	if (reason)
		*reason = p.drop_reason;
	rte_pktmbuf_free(m);
	return p.verdict;
}

#define FWD SLNF_VERDICT_FORWARD
#define DROP SLNF_VERDICT_DROP

static int tcp(struct fx *f, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
	       size_t len)
{
	return run_mbuf(f, f->chain, tcp_mbuf(from_client, 1000, 80, flags, seq, ack, len), NULL);
}

static json_t *stats(struct fx *f)
{
	json_t *arr = json_array();

	slnf_chain_stats(f->chain, arr);
	return arr;
}

static json_int_t stat2(struct fx *f, const char *cls, const char *which)
{
	json_t *arr = stats(f);
	json_int_t v = json_integer_value(
		json_object_get(json_object_get(json_array_get(arr, 0), cls), which));

	json_decref(arr);
	return v;
}

static json_int_t stat1(struct fx *f, const char *name)
{
	json_t *arr = stats(f);
	json_int_t v = json_integer_value(json_object_get(json_array_get(arr, 0), name));

	json_decref(arr);
	return v;
}

/* The state of the C:1000 <-> S:80 record (C is the key's first endpoint). */
static int conn_state(struct fx *f)
{
	uint8_t d[13] = { 10, 0, 0, 1, 10, 0, 1, 1, 1000 >> 8, 1000 & 0xff, 0, 80, IPPROTO_TCP };
	struct slnf_store_key k;
	struct slnf_store_op op;

	slnf_store_key_init(&k, TENANT_ID, 3, d, sizeof(d));
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	assert_int_equal(slnf_store_exec(f->store, &op, 1), 0);
	if (op.status)
		return -1;
	assert_int_equal(op.val_len, SLNF_CT_REC_LEN);
	return op.val[0];
}

/* Client ISN 100, server ISN 5000: after this C's next seq is 101, S's 5001. */
static void handshake(struct fx *f)
{
	assert_int_equal(tcp(f, true, SYN, 100, 0, 0), FWD);
	assert_int_equal(tcp(f, false, SYN | ACK, 5000, 101, 0), FWD);
	assert_int_equal(tcp(f, true, ACK, 101, 5001, 0), FWD);
}

static void test_handshake_data_and_close_by_client(void **state)
{
	struct fx *f = fx_new(NULL);

	handshake(f);
	assert_int_equal(stat2(f, "new", "allowed"), 1);
	assert_int_equal(stat2(f, "established", "allowed"), 2);
	/* data both ways */
	assert_int_equal(tcp(f, true, ACK, 101, 5001, 100), FWD);
	assert_int_equal(tcp(f, false, ACK, 5001, 201, 300), FWD);
	assert_int_equal(tcp(f, true, ACK, 201, 5301, 0), FWD);
	/* a pure duplicate ACK changes nothing and writes nothing */
	json_int_t updated = stat1(f, "updated");
	assert_int_equal(tcp(f, true, ACK, 201, 5301, 0), FWD);
	assert_int_equal(stat1(f, "updated"), updated);
	/* client closes: FIN_WAIT, server acks: CLOSE_WAIT, server FIN: LAST_ACK,
	 * client acks: TIME_WAIT */
	assert_int_equal(tcp(f, true, FIN | ACK, 201, 5301, 0), FWD);
	assert_int_equal(tcp(f, false, ACK, 5301, 202, 0), FWD);
	assert_int_equal(tcp(f, false, FIN | ACK, 5301, 202, 0), FWD);
	assert_int_equal(tcp(f, true, ACK, 202, 5302, 0), FWD);
	/* data after the close is out of the window */
	assert_int_equal(tcp(f, true, ACK, 90000, 5302, 10), DROP);
	assert_int_equal(stat2(f, "invalid", "denied"), 1);
	/* a new SYN on the same ports reopens */
	assert_int_equal(tcp(f, true, SYN, 7000, 0, 0), FWD);
	fx_free(f);
}

static void test_close_by_server(void **state)
{
	struct fx *f = fx_new(NULL);

	handshake(f);
	assert_int_equal(tcp(f, false, FIN | ACK, 5001, 101, 0), FWD);
	/* the server's retransmitted FIN stays in FIN_WAIT */
	assert_int_equal(tcp(f, false, FIN | ACK, 5001, 101, 0), FWD);
	assert_int_equal(tcp(f, true, FIN | ACK, 101, 5002, 0), FWD);
	assert_int_equal(tcp(f, false, ACK, 5002, 102, 0), FWD);
	fx_free(f);
}

static void test_rst_rules(void **state)
{
	struct fx *f = fx_new(NULL);
	unsigned reason;

	handshake(f);
	/* out of window: invalid, dropped */
	assert_int_equal(run_mbuf(f, f->chain, tcp_mbuf(false, 1000, 80, RST, 900000, 0, 0),
				  &reason),
			 DROP);
	assert_int_equal(reason, SLNF_DROP_FW_INVALID);
	/* in window but not exact: forwarded, connection kept */
	assert_int_equal(tcp(f, false, RST, 5011, 0, 0), FWD);
	assert_int_equal(stat1(f, "rst_inexact"), 1);
	assert_int_equal(tcp(f, true, ACK, 101, 5001, 10), FWD);
	assert_int_equal(conn_state(f), SLNF_CT_ESTABLISHED);
	/* exact: closes (CLOSE, 10 s); a new SYN may reopen */
	assert_int_equal(tcp(f, false, RST, 5001, 0, 0), FWD);
	assert_int_equal(conn_state(f), SLNF_CT_CLOSE);
	assert_int_equal(tcp(f, true, SYN, 9000, 0, 0), FWD);
	assert_int_equal(conn_state(f), SLNF_CT_SYN_SENT);
	fx_free(f);
}

static void test_refused_and_retransmit(void **state)
{
	struct fx *f = fx_new(NULL);

	assert_int_equal(tcp(f, true, SYN, 100, 0, 0), FWD);
	assert_int_equal(tcp(f, true, SYN, 100, 0, 0), FWD); /* retransmit */
	assert_int_equal(stat2(f, "new", "allowed"), 2);
	/* a RST that does not ack the SYN is invalid, the refusal closes */
	assert_int_equal(tcp(f, false, RST | ACK, 0, 999, 0), DROP);
	assert_int_equal(tcp(f, false, RST | ACK, 0, 101, 0), FWD);
	fx_free(f);
}

static void test_simultaneous_open(void **state)
{
	struct fx *f = fx_new(NULL);

	assert_int_equal(tcp(f, true, SYN, 100, 0, 0), FWD);
	assert_int_equal(tcp(f, false, SYN, 5000, 0, 0), FWD);	      /* SYN_SENT2 */
	assert_int_equal(tcp(f, true, SYN | ACK, 100, 5001, 0), FWD);  /* SYN_RECV */
	assert_int_equal(tcp(f, false, SYN | ACK, 5000, 101, 0), FWD);
	assert_int_equal(tcp(f, true, ACK, 101, 5001, 20), FWD);
	assert_int_equal(tcp(f, false, ACK, 5001, 121, 20), FWD);
	fx_free(f);
}

static void test_new_denied_and_non_syn_invalid(void **state)
{
	struct fx *f = fx_new(NULL);
	unsigned reason;

	/* denied port */
	assert_int_equal(run_mbuf(f, f->chain, tcp_mbuf(true, 1000, 23, SYN, 1, 0, 0), &reason),
			 DROP);
	assert_int_equal(reason, SLNF_DROP_FW_DENY);
	/* inbound new connection: default deny */
	assert_int_equal(run_mbuf(f, f->chain, tcp_mbuf(false, 1000, 80, SYN, 1, 0, 0), &reason),
			 DROP);
	assert_int_equal(reason, SLNF_DROP_FW_DENY);
	/* a first packet that is not a SYN */
	assert_int_equal(run_mbuf(f, f->chain, tcp_mbuf(true, 1001, 80, ACK, 1, 1, 0), &reason),
			 DROP);
	assert_int_equal(reason, SLNF_DROP_FW_INVALID);
	fx_free(f);
}

static int udp(struct fx *f, const char *src, const char *dst, uint16_t sp, uint16_t dp)
{
	return run_mbuf(f, f->chain,
			slnf_test_ipv4(IPPROTO_UDP, slnf_test_ip(src), slnf_test_ip(dst), sp, dp,
				       64, 10),
			NULL);
}

static void test_udp(void **state)
{
	struct fx *f = fx_new(NULL);

	assert_int_equal(udp(f, S_IP, C_IP, 53, 4000), DROP); /* unsolicited */
	assert_int_equal(udp(f, C_IP, S_IP, 4000, 53), FWD);
	assert_int_equal(udp(f, S_IP, C_IP, 53, 4000), FWD); /* the reply */
	assert_int_equal(stat2(f, "established", "allowed"), 1);
	assert_int_equal(udp(f, S_IP, C_IP, 53, 4001), DROP); /* another port */
	fx_free(f);
}

static bool collect(const struct slnf_store_record *r, void *arg)
{
	json_t *j = slnf_nf_find("firewall")->describe(r);
	if (j)
		json_array_append_new(arg, j);
	return true;
}

/* `slnfctl flows`: a tracked connection is listed from the originator's
 * side, whichever endpoint the key puts first, with its state. */
static void test_describe_lists_connections(void **state)
{
	struct fx *f = fx_new(NULL);
	json_t *flows = json_array();

	handshake(f);
	assert_int_equal(udp(f, S_IP, C_IP, 53, 4000), DROP); /* not tracked */
	assert_int_equal(udp(f, C_IP, S_IP, 4000, 53), FWD);
	assert_int_equal(slnf_store_scan(f->store, TENANT_ID, 3, collect, flows), 0);
	assert_int_equal(json_array_size(flows), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *j = json_array_get(flows, i);
		const char *proto = json_string_value(json_object_get(j, "proto"));
		assert_string_equal(json_string_value(json_object_get(j, "src")), C_IP);
		assert_string_equal(json_string_value(json_object_get(j, "dst")), S_IP);
		if (!strcmp(proto, "tcp")) {
			assert_int_equal(json_integer_value(json_object_get(j, "sport")), 1000);
			assert_int_equal(json_integer_value(json_object_get(j, "dport")), 80);
			assert_string_equal(json_string_value(json_object_get(j, "state")),
					    "established");
		} else {
			assert_string_equal(proto, "udp");
			assert_int_equal(json_integer_value(json_object_get(j, "dport")), 53);
			assert_string_equal(json_string_value(json_object_get(j, "state")),
					    "unreplied");
		}
		assert_true(json_integer_value(json_object_get(j, "ttl_s")) > 0);
	}
	json_decref(flows);
	fx_free(f);
}

static struct rte_mbuf *icmp_mbuf(const char *src, const char *dst, uint8_t type, uint16_t id)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_ICMP, slnf_test_ip(src), slnf_test_ip(dst),
					    id, id, 64, 0);

	*rte_pktmbuf_mtod_offset(m, uint8_t *, 34) = type;
	return m;
}

/* An ICMP port unreachable from S quoting a UDP packet C:4000 -> S:53. */
static struct rte_mbuf *icmp_error_mbuf(uint16_t cport)
{
	struct rte_mbuf *m = slnf_test_ipv4(IPPROTO_ICMP, slnf_test_ip(S_IP), slnf_test_ip(C_IP),
					    0, 0, 64, 28);
	uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 34), *in = icmp + 8;
	uint32_t c = htonl(slnf_test_ip(C_IP)), s = htonl(slnf_test_ip(S_IP));

	icmp[0] = 3, icmp[1] = 3;
	in[0] = 0x45, in[3] = 28, in[8] = 64, in[9] = IPPROTO_UDP;
	memcpy(in + 12, &c, 4);
	memcpy(in + 16, &s, 4);
	in[20] = (uint8_t)(cport >> 8), in[21] = (uint8_t)cport;
	in[22] = 0, in[23] = 53;
	return m;
}

static void test_icmp(void **state)
{
	struct fx *f = fx_new(NULL);
	unsigned reason;

	assert_int_equal(run_mbuf(f, f->chain, icmp_mbuf(S_IP, C_IP, 0, 9), &reason), DROP);
	assert_int_equal(reason, SLNF_DROP_FW_INVALID); /* a reply nobody asked for */
	assert_int_equal(run_mbuf(f, f->chain, icmp_mbuf(C_IP, S_IP, 8, 9), NULL), FWD);
	assert_int_equal(run_mbuf(f, f->chain, icmp_mbuf(S_IP, C_IP, 0, 9), NULL), FWD);
	assert_int_equal(run_mbuf(f, f->chain, icmp_mbuf(S_IP, C_IP, 8, 10), NULL), DROP);
	/* errors: related when they quote a tracked flow */
	assert_int_equal(run_mbuf(f, f->chain, icmp_error_mbuf(4000), &reason), DROP);
	assert_int_equal(reason, SLNF_DROP_FW_INVALID);
	assert_int_equal(udp(f, C_IP, S_IP, 4000, 53), FWD);
	assert_int_equal(run_mbuf(f, f->chain, icmp_error_mbuf(4000), NULL), FWD);
	assert_int_equal(stat2(f, "related", "allowed"), 1);
	fx_free(f);
}

static void test_expiry(void **state)
{
	struct fx *f = fx_new(", \"timeouts\": { \"tcp_established\": 1, \"udp\": 1 }");

	handshake(f);
	assert_int_equal(tcp(f, true, ACK, 101, 5001, 10), FWD);
	usleep(1300 * 1000);
	assert_int_equal(tcp(f, false, ACK, 5001, 111, 10), DROP);
	assert_int_equal(udp(f, C_IP, S_IP, 4000, 53), FWD);
	usleep(1300 * 1000);
	assert_int_equal(udp(f, S_IP, C_IP, 53, 4000), DROP);
	fx_free(f);
}

static void test_second_instance_continues(void **state)
{
	struct fx *f = fx_new(NULL);

	assert_int_equal(tcp(f, true, SYN, 100, 0, 0), FWD);
	/* the rest of the connection goes through another instance */
	assert_int_equal(run_mbuf(f, f->chain2, tcp_mbuf(false, 1000, 80, SYN | ACK, 5000, 101, 0),
				  NULL),
			 FWD);
	assert_int_equal(run_mbuf(f, f->chain2, tcp_mbuf(true, 1000, 80, ACK, 101, 5001, 50), NULL),
			 FWD);
	assert_int_equal(tcp(f, false, ACK, 5001, 151, 0), FWD);
	fx_free(f);
}

static void expect_error(const char *fw, const char *field)
{
	static char text[4096];
	struct slnf_error err = {{0}};
	struct slnf_config cfg;
	struct slnf_chain *c;

	slnf_test_eal();
	snprintf(text, sizeof(text),
		 "{ \"name\": \"fwtest\", \"store\": { \"backend\": \"local\" },"
		 "  \"ports\": [ { \"name\": \"p0\", \"type\": \"null\" } ],"
		 "  \"tenants\": [ { \"name\": \"t\", \"id\": 1, \"match\": { \"ports\": [\"p0\"] },"
		 "    \"chain\": [ %s ] } ] }",
		 fw);
	if (slnf_config_parse(text, "fw.json", &cfg, &err) == 0) {
		assert_true(slnf_chain_create(&cfg, 0, &c, &err) < 0);
		slnf_config_free(&cfg);
	}
	if (!strstr(err.msg, field))
		fail_msg("expected %s in: %s", field, err.msg);
	assert_non_null(strstr(err.msg, "fw.json"));
}

static void test_validation(void **state)
{
	expect_error("{\"nf\":\"firewall\",\"default\":\"maybe\"}", "chain[0].default");
	expect_error("{\"nf\":\"firewall\",\"rules\":[{\"action\":\"allow\",\"state\":[\"new\","
		     "\"bogus\"]}]}",
		     "chain[0].rules[0].state");
	expect_error("{\"nf\":\"firewall\",\"rules\":[{\"action\":\"allow\",\"proto\":\"icmp\","
		     "\"dst_port\":\"80\"}]}",
		     "chain[0].rules[0].dst_port");
	expect_error("{\"nf\":\"firewall\",\"timeouts\":{\"udp\":0}}", "chain[0].timeouts.udp");
	expect_error("{\"nf\":\"firewall\",\"timeouts\":{\"tcp\":5}}", "chain[0].timeouts.tcp");
	expect_error("{\"nf\":\"firewall\",\"rules\":[{\"state\":[\"new\"]}]}",
		     "chain[0].rules[0].action");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_data_and_close_by_client),
		cmocka_unit_test(test_close_by_server),
		cmocka_unit_test(test_rst_rules),
		cmocka_unit_test(test_refused_and_retransmit),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_new_denied_and_non_syn_invalid),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_describe_lists_connections),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_second_instance_continues),
		cmocka_unit_test(test_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
