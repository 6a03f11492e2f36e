"""
test_malformed.py - broken IPv4 packets and TTL 1, sent with scapy from the
client straight to the gateway's MAC. Each defect must be counted under its
own drop reason with exactly the number of packets sent, never under another;
TTL 1 must come back as ICMP time exceeded from the gateway; and slnfd must
go on forwarding afterwards.
"""

from topo import Topo, assert_ping, delta, nf_stats, port_stats

IP_REASONS = ("ip_truncated", "ip_bad_version", "ip_bad_ihl", "ip_bad_len", "ip_bad_csum")
KINDS = {"truncated": "ip_truncated", "ihl": "ip_bad_ihl", "len": "ip_bad_len",
         "csum": "ip_bad_csum"}
N = 5


def test_malformed_counted_ttl1_answered_still_forwarding(slnfd):
    with Topo() as t:
        assert_ping(t, t.ns_client, t.server_ip, count=1)
        gw_mac = t.mac(t.ns_gw, t.if_lan)
        forwarded0 = nf_stats(t.stats(), "router")["forwarded"]
        common = ("--iface", t.if_client, "--dst-mac", gw_mac, "--src", t.client_ip,
                  "--dst", t.server_ip)

        for kind, reason in KINDS.items():
            before = t.stats()
            res = t.scapy(t.ns_client, "malformed", *common, "--kind", kind, "--count", N)
            assert res["sent"] == N
            after = t.stats()
            moved = {r: delta(before, after, r) for r in IP_REASONS}
            expect = {r: (N if r == reason else 0) for r in IP_REASONS}
            assert moved == expect, f"{kind} ({res['frame_len']} B frames): {moved}"
            lan0, lan = port_stats(before, "lan"), port_stats(after, "lan")
            assert lan["drops"][reason] - lan0["drops"][reason] == N, lan["drops"]
        # none of them went through
        assert nf_stats(t.stats(), "router")["forwarded"] == forwarded0

        before = t.stats()
        res = t.scapy(t.ns_client, "probe", *common, "--ttl", 1)
        s = t.stats()
        assert [(m["src"], m["type"], m["code"]) for m in res["icmp"]] == \
            [(t.gw_lan_ip, 11, 0)], res
        assert res["icmp"][0]["quoted"]["dst"] == t.server_ip, res
        r0, r = nf_stats(before, "router"), nf_stats(s, "router")
        assert r["ttl_exceeded"] - r0["ttl_exceeded"] == 1, r
        moved = delta(before, s, "ttl_exceeded")
        assert moved == 1, f"drops.ttl_exceeded moved by {moved}; router: {r}"
        assert r["icmp_sent"] - r0["icmp_sent"] >= 1, r

        # TTL 2 still reaches the server: one echo reply, no error from the
        # gateway; the reply (sent with TTL 64) lost exactly one hop on the way
        res = t.scapy(t.ns_client, "probe", *common, "--ttl", 2, "--proto", "icmp",
                      "--timeout", 2)
        assert [(m["src"], m["type"], m["ttl"]) for m in res["icmp"]] == \
            [(t.server_ip, 0, 63)], res
        assert_ping(t, t.ns_client, t.server_ip, count=3)
        assert slnfd_alive(t)


def slnfd_alive(t):
    return t.proc is not None and t.proc.poll() is None
