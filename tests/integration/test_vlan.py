"""
test_vlan.py - two tenants on the same ports told apart by VLAN (pcap ports,
golden frames, see pcapio.py). Tenant "v100" claims VLAN 100 on ports a and
d; tenant "plain" takes the rest of port a: untagged frames and any VLAN no
one claims. Their routers send the same destination to different next hops
on different ports, so each frame's egress file says which tenant routed it;
tagged frames leave with their 802.1Q tag as it came. On port d, where only
v100 is present, untagged and VLAN 200 frames belong to no tenant.
"""

from scapy.all import IP, UDP, Dot1Q, Ether, Raw

from pcapio import hexes, pcap_port, routed, run_pcaps
from topo import Slnfd, port_stats

MAC = {p: f"02:00:00:00:00:0{i}" for i, p in enumerate("abcd", 1)}
NH_B, NH_C = "02:00:00:00:bb:02", "02:00:00:00:cc:03"  # the two next hops
DST = "198.51.100.7"


def config(d):
    ports = [pcap_port(d.tmp, p, MAC[p], f"10.{i}.{i}.1/24", rx=p in "ad")
             for i, p in enumerate("abcd", 1)]
    static = [{"port": "b", "ip": "10.2.2.2", "mac": NH_B},
              {"port": "c", "ip": "10.3.3.2", "mac": NH_C}]

    def tenant(name, tid, match, port, via):
        return {"name": name, "id": tid, "match": match, "chain": [
            {"nf": "router", "routes": [{"prefix": "198.51.100.0/24", "port": port,
                                         "via": via}]}]}
    return d.config(ports, [tenant("v100", 100, {"ports": ["a", "d"], "vlans": [100]},
                                   "b", "10.2.2.2"),
                            tenant("plain", 1, {"ports": ["a"]}, "c", "10.3.3.2")],
                    neighbours={"static": static})


def frame(port, vlan=None, i=0):
    eth = Ether(src="02:00:00:00:aa:01", dst=MAC[port])
    if vlan is not None:
        eth = eth / Dot1Q(vlan=vlan, prio=3)
    return eth / IP(src="10.1.1.2", dst=DST, id=i) / UDP(sport=7000 + i, dport=53) / \
        Raw(b"vlan test %d" % i)


def test_vlan_tenants_route_apart_and_keep_tags(slnfd):
    tagged = [frame("a", 100, i) for i in range(3)]
    untagged = [frame("a", None, 10 + i) for i in range(2)]
    other_vlan = frame("a", 200, 20)  # claimed by no one: plain's
    on_d = frame("d", 100, 30)
    orphans = [frame("d", 200, 40), frame("d", None, 41)]
    with Slnfd() as d:
        s, out = run_pcaps(d, config(d), {"a": tagged + [untagged[0], other_vlan, untagged[1]],
                                          "d": [orphans[0], on_d, orphans[1]]})

    assert hexes(out["b"]) == hexes([routed(f, MAC["b"], NH_B) for f in tagged + [on_d]])
    assert hexes(out["c"]) == hexes([routed(f, MAC["c"], NH_C) for f in untagged + [other_vlan]])
    assert out["a"] == out["d"] == []
    assert {t["name"]: t["rx_packets"] for t in s["tenants"]} == {"v100": 4, "plain": 3}
    assert {k: v for k, v in s["drops"].items() if v} == {"no_tenant": 2}
    assert port_stats(s, "d")["drops"]["no_tenant"] == 2
    assert (port_stats(s, "b")["tx_packets"], port_stats(s, "c")["tx_packets"]) == (4, 3)
