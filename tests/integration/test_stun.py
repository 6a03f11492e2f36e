"""
test_stun.py - classify slnf's NAT with a real STUN client (RFC 3489
discovery, Debian's stun-client against stun-server's stund), through the
chain filter -> nat -> router with the shm store and with redis.

The server namespace gets a second address, because stund answers "change
IP" requests from it (and "change port" from its second port). The NAT pool
is the gateway's wan address, as in test_nat.py.

What is true of the NAT, and therefore asserted:
- endpoint-independent mapping: one inside (address, port) gets one pool
  (address, port) whatever the destination, so the mapped address the
  client learns from the primary and from the alternate server address is
  the same;
- endpoint-independent filtering: a mapping accepts packets from any
  outside address and port (the NAT checks no remote endpoint), so the
  answers stund sends from its other address and port come through;
- port preservation: the pool port is the inside port when it is free.
The client prints "Primary: Independent Mapping, Independent Filter,
preserves ports, no hairpin" for this, and its exit status encodes the
same: bits 0x0e the type (0x02 independent mapping and filter; 0x00 open,
0x04/0x06 address/port dependent filter, 0x08 dependent mapping, 0x0a
firewall, 0x0c blocked), 0x01 ports preserved, 0x10 no hairpin; here 0x03
or 0x13 (checked: without NAT, through a Linux gateway, it prints "Open" and exits
0x01). Hairpinning (the client reaching its own mapped address) depends on
the NAT version (0x10 set: "no hairpin"), so only the agreement of the text
and the status bit is asserted for it.
"""

import re
import subprocess
import time

import pytest

from redis_server import redis_store  # noqa: F401 (a fixture)
from topo import Topo, nf_stats, run

CLIENT_PORT = 40999


def nat_edit(store):
    def edit(cfg):
        addr = cfg["ports"][1]["ipv4"][0].split("/")[0]  # the gateway's wan address
        cfg["tenants"][0]["chain"].insert(1, {"nf": "nat", "inside": ["lan"], "pool": [addr]})
        if store:
            cfg["store"] = store
    return edit


def classify(t):
    alt = t.server_ip.rsplit(".", 1)[0] + ".3"
    run(["ip", "addr", "add", alt + "/24", "dev", t.if_server], ns=t.ns_server)
    srv = t.spawn(t.ns_server, ["stund", "-h", t.server_ip, "-a", alt],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # ready once its four sockets (two addresses x two ports) are bound
    want = {f"{a}:{p}" for a in (t.server_ip, alt) for p in (3478, 3479)}
    deadline = time.monotonic() + 10
    while True:
        bound = set(run(["ss", "-Hlun"], ns=t.ns_server).stdout.split())
        if want <= bound:
            break
        assert srv.poll() is None and time.monotonic() < deadline, \
            f"stund (exit {srv.poll()}) did not bind {sorted(want - bound)}"
        time.sleep(0.05)
    return run(["stun", t.server_ip, "-p", str(CLIENT_PORT)], ns=t.ns_client, check=False,
               timeout=60)


@pytest.mark.parametrize("backend", ["shm", "redis"])
def test_stun_sees_independent_mapping_and_filter(slnfd, backend, request):
    store = request.getfixturevalue("redis_store") if backend == "redis" else None
    with Topo(config=nat_edit(store)) as t:
        r = classify(t)
        out = r.stdout + r.stderr
        m = re.search(r"Primary: ([^\n]*)", out)
        assert m, f"no classification (exit {r.returncode}):\n{out}\n{t.log()}"
        primary = m.group(1)
        assert primary.startswith("Independent Mapping, Independent Filter"), out
        assert "preserves ports" in primary, out
        assert r.returncode & 0x0F == 0x02 | 0x01, f"exit {r.returncode}:\n{out}"
        assert bool(r.returncode & 0x10) == ("no hairpin" in primary), out
        assert r.returncode & ~0x1F == 0, f"exit {r.returncode}:\n{out}"
        s = t.stats()
        nat = nf_stats(s, "nat")
        assert nat["created"] >= 1 and nat["translated_in"] >= 3, nat
        assert s["drops"]["store_error"] == 0 and s["drops"]["store_conflict"] == 0, \
            s["drops"]
