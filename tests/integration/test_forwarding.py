"""
test_forwarding.py - ordinary Linux hosts talking through slnfd (af_packet
ports, the demo chain filter -> router): ARP and ping answered by slnfd, ping
and a 10 MB HTTP download through the router, a filter rule, no route, and
the neighbour table. Every test checks the wire and the counters.
"""

from topo import (Topo, assert_ping, delta, drops, http_download, nf_stats, port_stats,
                  rule_hits)

MB = 1024 * 1024
TEST_NET_1 = "192.0.2.55"  # outside every route of the test config


def test_ping_gateway_and_server(slnfd):
    with Topo() as t:
        before = t.stats()
        # the gateway's own address: ARP and echo are answered by slnfd (the
        # gateway namespace's Linux stack owns no address)
        assert_ping(t, t.ns_client, t.gw_lan_ip, count=3)
        assert t.neigh(t.ns_client, t.gw_lan_ip) == t.mac(t.ns_gw, t.if_lan)
        # through the router; slnfd resolves the server by ARP on the way
        assert_ping(t, t.ns_client, t.server_ip, count=5)
        assert t.neigh(t.ns_server, t.gw_wan_ip) == t.mac(t.ns_gw, t.if_wan)
        s = t.stats()

        h0, h = before["host"], s["host"]
        assert h["arp_requests_rx"] >= 1 and h["arp_replies_tx"] >= 1, h
        assert h["arp_requests_tx"] >= 1 and h["arp_replies_rx"] >= 1, h
        assert h["icmp_echo_replies"] - h0["icmp_echo_replies"] == 3, h
        r0, r = nf_stats(before, "router"), nf_stats(s, "router")
        assert r["forwarded"] - r0["forwarded"] >= 10, r  # 5 requests + 5 replies
        assert r["no_route"] == r["ttl_exceeded"] == 0, r
        lan, wan = port_stats(s, "lan"), port_stats(s, "wan")
        assert lan["rx_packets"] >= 8 and lan["tx_packets"] >= 8, lan
        assert wan["rx_packets"] >= 5 and wan["tx_packets"] >= 5, wan
        assert s["name"] == t.name and s["pid"] == t.proc.pid
        assert {p["name"]: p["type"] for p in s["ports"]} == {"lan": "af_packet",
                                                             "wan": "af_packet"}


def test_http_10mb_through_filter_and_router(slnfd):
    with Topo() as t:
        size = http_download(t, 10 * MB)
        s = t.stats()
        # the payload crossed the gateway from wan to lan
        assert port_stats(s, "wan")["rx_bytes"] >= size
        assert port_stats(s, "lan")["tx_bytes"] >= size
        f, r = nf_stats(s, "filter"), nf_stats(s, "router")
        assert f["allowed"] >= size // 1500 and f["denied"] == 0, f
        assert f["default_hits"] >= size // 1500, f
        assert r["forwarded"] >= size // 1500 and r["no_route"] == 0, r
        for reason in ("ip_bad_csum", "ip_bad_len", "filter_deny", "no_route"):
            assert drops(s, reason) == 0, (reason, s["drops"])


def test_filter_blocks_tcp_8081(slnfd):
    with Topo() as t:
        _, conns = t.start_httpd(8081, t.tmp)
        before = t.stats()
        r = t.curl(f"http://{t.server_ip}:8081/", t.tmp / "no.out", max_time=4,
                   connect_timeout=3)
        assert r.returncode != 0, f"curl to the filtered port succeeded: {r.stdout}"
        assert r.returncode in (7, 28), f"curl: {r.returncode} {r.stderr}"
        s = t.stats()
        assert conns.read_text() == "", "the server on 8081 saw a connection"
        hits = rule_hits(s, "no-8081") - rule_hits(before, "no-8081")
        assert hits >= 1, nf_stats(s, "filter")
        assert rule_hits(s, "no-telnet") == 0
        assert delta(before, s, "filter_deny") == hits, s["drops"]
        f0, f = nf_stats(before, "filter"), nf_stats(s, "filter")
        assert f["denied"] - f0["denied"] == hits, f
        assert port_stats(s, "lan")["drops"]["filter_deny"] == hits
        # another port of the same server goes through
        http_download(t, 64 * 1024, port=8080)
        assert rule_hits(t.stats(), "no-8081") == rule_hits(s, "no-8081")


def test_no_route_gets_net_unreachable(slnfd):
    with Topo() as t:
        assert_ping(t, t.ns_client, t.gw_lan_ip, count=1)
        gw_mac = t.mac(t.ns_gw, t.if_lan)
        before = t.stats()
        n = 3
        res = t.scapy(t.ns_client, "probe", "--iface", t.if_client, "--dst-mac", gw_mac,
                      "--src", t.client_ip, "--dst", TEST_NET_1, "--proto", "icmp",
                      "--count", n)
        s = t.stats()
        got = [(m["src"], m["type"], m["code"]) for m in res["icmp"]]
        assert got == [(t.gw_lan_ip, 3, 0)] * n, res  # net unreachable
        assert all(m["quoted"]["dst"] == TEST_NET_1 for m in res["icmp"]), res
        r0, r = nf_stats(before, "router"), nf_stats(s, "router")
        counted = (delta(before, s, "no_route"), r["no_route"] - r0["no_route"])
        assert n in counted and max(counted) == n, (counted, s["drops"], r)
        # ping(8) shows it too
        p = t.ping(t.ns_client, TEST_NET_1, count=1, check=False)
        assert p.returncode != 0 and "Destination Net Unreachable" in p.stdout, p.stdout


def test_neighbour_table_lists_hosts(slnfd):
    with Topo() as t:
        assert_ping(t, t.ns_client, t.server_ip, count=2)
        neigh = t.stats()["neighbours"]
        by_ip = {(e["port"], e["ip"]): e for e in neigh}
        server = by_ip.get(("wan", t.server_ip))
        assert server, f"server {t.server_ip} not under wan: {neigh}"
        assert server["mac"].lower() == t.mac(t.ns_server, t.if_server)
        assert server["age_s"] >= 0 and server["state"], server
        client = by_ip.get(("lan", t.client_ip))
        assert client and client["mac"].lower() == t.mac(t.ns_client, t.if_client), neigh
        assert not any(e["ip"] == t.server_ip and e["port"] == "lan" for e in neigh)
