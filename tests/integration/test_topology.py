"""
test_topology.py - the test topology on its own, with Linux forwarding in the
gateway namespace instead of slnfd. If this fails, the other tests' failures
say nothing about slnfd.
"""

from topo import Topo, assert_ping, http_download, netns_list


def test_kernel_gateway_forwards():
    with Topo(gateway="kernel") as t:
        names = (t.ns_client, t.ns_gw, t.ns_server)
        assert set(names) <= set(netns_list())
        assert_ping(t, t.ns_client, t.gw_lan_ip)
        assert_ping(t, t.ns_client, t.server_ip)
        gw_mac = t.mac(t.ns_gw, t.if_lan)
        assert t.neigh(t.ns_client, t.gw_lan_ip) == gw_mac
        http_download(t, 256 * 1024)

        # the scapy tool: TTL 1 -> time exceeded from the gateway
        common = ("--iface", t.if_client, "--dst-mac", gw_mac, "--src", t.client_ip,
                  "--dst", t.server_ip)
        res = t.scapy(t.ns_client, "probe", *common, "--ttl", 1)
        assert [(m["src"], m["type"], m["code"]) for m in res["icmp"]] == \
            [(t.gw_lan_ip, 11, 0)]
        assert res["icmp"][0]["quoted"]["dst"] == t.server_ip
        res = t.scapy(t.ns_client, "probe", *common, "--ttl", 2, "--proto", "icmp")
        assert [(m["src"], m["type"], m["ttl"]) for m in res["icmp"]] == \
            [(t.server_ip, 0, 63)]
        # and the malformed sender runs (Linux drops these silently)
        for kind, size in (("truncated", 26), ("ihl", 74), ("len", 74), ("csum", 74)):
            res = t.scapy(t.ns_client, "malformed", *common, "--kind", kind, "--count", 2)
            assert res == {"sent": 2, "frame_len": size}
    assert not set(names) & set(netns_list())
