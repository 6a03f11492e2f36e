"""
test_workers.py - slnfd with two workers (`workers.count: 2`, default lcores
"0-1") on af_packet ports. Each port then has two queue pairs: two packet
sockets in one fanout group that the kernel spreads flows over by hash, one
polled by worker 0 on the main lcore and one by worker 1 on its own thread.
Ping, a 10 MB download and a few more connections (new flows, so both
queues carry traffic; a worker that did not poll would stall the flows
hashed to it) must all get through, and the stats must say 2 workers.
"""

from pathlib import Path

from topo import Topo, assert_ping, http_download, port_stats

MB = 1024 * 1024


def two_workers(cfg):
    cfg["workers"]["count"] = 2


def thread_names(pid):
    return sorted(Path(t, "comm").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir())


def test_two_workers_forward(slnfd):
    with Topo(config=two_workers) as t:
        names = thread_names(t.proc.pid)
        assert any(n.endswith("worker-1") for n in names), names
        assert t.log().count("2 queue(s)") == 2, t.log()
        assert_ping(t, t.ns_client, t.server_ip, count=5)
        size = http_download(t, 10 * MB)
        for port in (8082, 8083, 8084, 8085):
            size += http_download(t, MB, port=port)
        s = t.stats()
        assert s["workers"] == 2
        assert port_stats(s, "lan")["tx_bytes"] >= size
        assert {k: v for k, v in s["drops"].items() if v} == {}, s["drops"]
        assert t.proc.poll() is None
