"""
test_lb.py - the lb NF in front of the router, with real hosts: the server
namespace gets three more addresses (the backends), each running httpd.py
with a file that names it. The client fetches that file from the VIP (an
address slnfd does not own, routed to it by the client's default route)
100 times from fixed source ports, so the run is deterministic: every
answer must be one backend's identity, and the three backends (weights
1:1:2) must each get a share close to theirs. Replies come back through
slnfd because the backends see the snat address, which the server
namespace routes to the gateway.
"""

from topo import Topo, nf_stats, run

WEIGHTS = (1, 1, 2)
CONNECTIONS = 100


def backends(t):
    net = t.server_ip.rsplit(".", 1)[0]
    return [(f"{net}.{10 + i}", 8090 + i) for i in range(len(WEIGHTS))]


def vip(t):
    return t.server_ip.rsplit(".", 2)[0] + ".9.9"


def lb_edit(t):
    def edit(cfg):
        cfg["tenants"][0]["chain"].insert(0, {
            "nf": "lb",
            "snat": t.server_ip.rsplit(".", 2)[0] + ".8.8",
            "vips": [{"vip": vip(t), "port": 80, "proto": "tcp", "backends": [
                {"addr": a, "port": p, "weight": w}
                for (a, p), w in zip(backends(t), WEIGHTS)]}],
        })
    return edit


def start_backends(t):
    for i, (addr, port) in enumerate(backends(t)):
        run(["ip", "addr", "add", addr + "/24", "dev", t.if_server], ns=t.ns_server)
        www = t.tmp / f"www-{i}"
        www.mkdir()
        (www / "id").write_text(f"backend-{i}\n")
        t.start_httpd(port, www, bind=addr)


def test_lb_spreads_per_weights(slnfd):
    t = Topo()
    t.config_edit = lb_edit(t)
    with t:
        start_backends(t)
        hits = [0] * len(WEIGHTS)
        for i in range(CONNECTIONS):
            out = t.tmp / "got"
            r = run(["curl", "-sS", "-o", str(out), "--local-port", str(40000 + i),
                     "--connect-timeout", "5", "--max-time", "10", "-w", "%{http_code}",
                     f"http://{vip(t)}/id"], ns=t.ns_client, check=False, timeout=20)
            assert r.returncode == 0 and r.stdout == "200", \
                f"connection {i}: curl exit {r.returncode}: {r.stdout} {r.stderr}\n{t.log()}"
            body = out.read_text()
            assert body.startswith("backend-"), body
            hits[int(body.strip().split("-")[1])] += 1
        total = sum(WEIGHTS)
        for i, w in enumerate(WEIGHTS):
            want = CONNECTIONS * w / total
            assert want * 0.5 <= hits[i] <= want * 1.5, (hits, WEIGHTS)
        s = t.stats()
        lb = nf_stats(s, "lb")
        assert lb["new_flows"] == CONNECTIONS, lb
        assert lb["returned"] > 0 and lb["store_errors"] == 0, lb
        assert s["drops"]["store_error"] == 0, s["drops"]
