"""
test_lifecycle.py - starting and stopping slnfd: a clean exit on SIGTERM and
SIGINT, and two instances side by side (own namespaces, names, DPDK file
prefixes and control sockets) forwarding at the same time.
"""

import os
import signal

import pytest

from topo import Topo, assert_ping, http_download, nf_stats, port_stats, run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_clean_shutdown(slnfd, sig):
    with Topo() as t:
        assert_ping(t, t.ns_client, t.server_ip, count=2)
        pid = t.proc.pid
        assert os.readlink(f"/proc/{pid}/exe").endswith("slnfd")
        code = t.stop(sig=sig, timeout=5)
        assert not t.killed, f"slnfd ignored {sig.name} for 5 s; log:\n{t.log()}"
        assert code == 0, f"exit {code} after {sig.name}; log:\n{t.log()}"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert run(["ip", "netns", "pids", t.ns_gw]).stdout.strip() == ""
        # the gateway's interfaces are still there for the next instance
        for ifc in (t.if_lan, t.if_wan):
            run(["ip", "link", "show", "dev", ifc], ns=t.ns_gw)
        # and nobody answers for the gateway any more
        assert t.ping(t.ns_client, t.server_ip, count=1, wait=1, check=False).returncode != 0


def test_two_instances_side_by_side(slnfd):
    with Topo() as a, Topo() as b:
        assert a.net != b.net and a.name != b.name and a.proc.pid != b.proc.pid
        for t in (a, b):
            assert_ping(t, t.ns_client, t.server_ip, count=3)
        for t in (a, b):
            http_download(t, 1024 * 1024)
        assert a.proc.poll() is None and b.proc.poll() is None
        sa, sb = a.stats(), b.stats()
        assert (sa["name"], sa["pid"]) == (a.name, a.proc.pid)
        assert (sb["name"], sb["pid"]) == (b.name, b.proc.pid)
        for t, s in ((a, sa), (b, sb)):
            assert port_stats(s, "lan")["tx_bytes"] >= 1024 * 1024
            assert nf_stats(s, "router")["forwarded"] >= 700
            mine = {(e["port"], e["ip"]) for e in s["neighbours"]}
            assert ("wan", t.server_ip) in mine
            other = b if t is a else a
            assert ("wan", other.server_ip) not in mine
        # stopping one leaves the other forwarding
        assert a.stop() == 0
        assert_ping(b, b.ns_client, b.server_ip, count=2)
