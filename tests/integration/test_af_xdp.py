"""
test_af_xdp.py - the ping and HTTP tests with af_xdp ports. net_af_xdp takes
every frame, ARP included, so the gateway's kernel never sees ARP: the
hosts can only reach the gateway because slnfd answers ARP itself. A clean
exit must detach the XDP programs (a leftover one silently drops everything).
"""

import json

from topo import Topo, assert_ping, http_download, nf_stats, port_stats, run

MB = 1024 * 1024


def xdp_attached(t, ifc):
    link = json.loads(run(["ip", "-j", "link", "show", "dev", ifc], ns=t.ns_gw).stdout)[0]
    return "xdp" in link


def test_af_xdp_ping_and_http(slnfd):
    with Topo(port_type="af_xdp") as t:
        assert xdp_attached(t, t.if_lan) and xdp_attached(t, t.if_wan)
        assert_ping(t, t.ns_client, t.gw_lan_ip, count=3)
        assert t.neigh(t.ns_client, t.gw_lan_ip) == t.mac(t.ns_gw, t.if_lan)
        assert_ping(t, t.ns_client, t.server_ip, count=5)
        size = http_download(t, 10 * MB)
        s = t.stats()
        assert {p["name"]: p["type"] for p in s["ports"]} == {"lan": "af_xdp",
                                                             "wan": "af_xdp"}
        h = s["host"]  # the client asks for the gateway; slnfd asks for the server
        assert h["arp_replies_tx"] >= 1, h
        assert h["arp_requests_tx"] >= 1 and h["arp_replies_rx"] >= 1, h
        assert port_stats(s, "wan")["rx_bytes"] >= size
        assert port_stats(s, "lan")["tx_bytes"] >= size
        assert nf_stats(s, "router")["forwarded"] >= size // 1500
        code = t.stop()
        assert code == 0 and not t.killed, t.log()
        assert not xdp_attached(t, t.if_lan) and not xdp_attached(t, t.if_wan)
