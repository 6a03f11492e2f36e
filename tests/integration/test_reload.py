"""
test_reload.py - live reload of slnfd's chains (`slnfd --reload`, SIGHUP;
docs/config.md, "Live reload").

A changed filter rule takes effect while a ping flood runs through the
gateway, and the flood loses no packet across two reloads (with one worker
and with two, whose grace periods the reload waits for). Bad reloads (a
syntax error, a changed port, worker count or tenant match, a bad NF
parameter) are refused with the field named, exit status 2, and the running
config keeps working. SIGHUP reloads too and logs the outcome. The stats'
reload counters follow.
"""

import copy
import json
import os
import signal
import subprocess
import time

import pytest

from topo import CommandError, Topo, assert_ping, read_line_with, rule_hits, run, slnfd_path

FLOOD = 300  # echo requests, 10 ms apart


def write_config(t, cfg):
    t.config_path.write_text(json.dumps(cfg, indent=2))


def reload(t, socket=False):
    """`slnfd --reload -c FILE` (or --socket PATH); the finished process."""
    where = ["--socket", str(t.tmp / "slnfd.sock")] if socket else ["-c", str(t.config_path)]
    return run([slnfd_path(), "--reload"] + where, check=False, timeout=60)


def with_rule(cfg, rule):
    """cfg with rule added first to the tenant's filter."""
    new = copy.deepcopy(cfg)
    new["tenants"][0]["chain"][0]["rules"].insert(0, rule)
    return new


def deny_8080(cfg):
    return with_rule(cfg, {"name": "no-8080", "action": "deny", "proto": "tcp",
                           "dst_port": "8080"})


def serve_hello(t):
    www = t.tmp / "www"
    www.mkdir()
    (www / "hello").write_text("hello\n")
    t.start_httpd(8080, www)


def fetch(t):
    """curl http://server:8080/hello from the client; curl's exit status."""
    r = t.curl(f"http://{t.server_ip}:8080/hello", t.tmp / "hello.got", max_time=5,
               connect_timeout=2)
    return r.returncode


def wait_log(t, needle, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in t.log():
            return
        time.sleep(0.05)
    raise CommandError(f"no {needle!r} in the slnfd log after {timeout}s:\n{t.log()}")


def two_workers(cfg):
    cfg["workers"]["count"] = 2


@pytest.mark.parametrize("workers", [1, 2])
def test_filter_change_under_ping_flood(slnfd, workers):
    with Topo(config=two_workers if workers == 2 else None) as t:
        base = t.config
        serve_hello(t)
        assert fetch(t) == 0, t.log()
        flood = t.spawn(t.ns_client, ["ping", "-n", "-c", str(FLOOD), "-i", "0.01", "-W", "2",
                                      t.server_ip],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        read_line_with(flood, "bytes from", timeout=10)

        write_config(t, deny_8080(base))
        r = reload(t)
        during_flood = flood.poll() is None
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{t.log()}"
        assert r.stdout.strip() == "reload: ok (generation 1)", r.stdout
        assert fetch(t) != 0, "tcp/8080 still allowed after the reload"
        s = t.stats()
        assert rule_hits(s, "no-8080") >= 1, s["tenants"]
        assert rule_hits(s, "no-8081") == 0

        write_config(t, base)
        r = reload(t)
        assert r.returncode == 0 and "generation 2" in r.stdout, f"{r.stdout}{r.stderr}"
        assert fetch(t) == 0, "tcp/8080 still denied after the rule was removed"

        out, _ = flood.communicate(timeout=FLOOD * 0.01 + 30)
        assert during_flood, f"the ping flood ended before the first reload:\n{out}"
        assert f"{FLOOD} packets transmitted, {FLOOD} received" in out, out
        s = t.stats()
        assert s["reload"] == {"generation": 2, "ok": 2, "failed": 0, "last_error": None}
        assert s["drops"]["store_error"] == 0
        log = t.log()
        assert "reload: ok (generation 1, 1 of 1 chain(s) rebuilt)" in log, log
        assert "reload: ok (generation 2," in log, log


def refused(t, needle, socket=False):
    """A reload that must be refused with needle in its message."""
    r = reload(t, socket=socket)
    assert r.returncode == 2, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    assert needle in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    return r.stderr


def test_bad_reloads_are_refused(slnfd):
    with Topo() as t:
        base = t.config
        text = json.dumps(base, indent=2)
        # a syntax error: `-c` needs the file for the socket path and refuses
        # it itself; `--socket` leaves the file to slnfd, which refuses it
        t.config_path.write_text(text[:-3])
        refused(t, "invalid JSON")
        refused(t, f"{t.config_path}: line ", socket=True)

        changes = []
        cfg = copy.deepcopy(base)
        cfg["ports"][0]["iface"] = "nosuch0"
        changes.append((cfg, "ports[0].iface"))
        cfg = copy.deepcopy(base)
        cfg["workers"]["count"] = 2
        changes.append((cfg, "workers.count"))
        cfg = copy.deepcopy(base)
        cfg["tenants"][0]["match"]["ports"] = ["lan"]
        changes.append((cfg, "tenants[0].match.ports"))
        cfg = copy.deepcopy(base)
        cfg["neighbours"]["max_pending"] = 8
        changes.append((cfg, "neighbours.max_pending"))
        # a chain change (allowed) with a refused one: nothing is applied
        cfg = deny_8080(base)
        cfg["store"]["capacity"] = 1024
        changes.append((cfg, "store.capacity"))
        for cfg, field in changes:
            write_config(t, cfg)
            msg = refused(t, f"{t.config_path}: {field}: differs from the running config")
            assert "only change tenants' chains" in msg, msg
        write_config(t, with_rule(base, {"name": "bad", "action": "maybe"}))
        refused(t, "tenants[0].chain[0].rules[0].action")

        # the running config is untouched: forwarding and the filter work
        assert_ping(t, t.ns_client, t.server_ip, count=2)
        serve_hello(t)
        assert fetch(t) == 0
        s = t.stats()
        daemon_refusals = 1 + len(changes) + 1
        assert s["reload"]["generation"] == 0 and s["reload"]["ok"] == 0, s["reload"]
        assert s["reload"]["failed"] == daemon_refusals, s["reload"]
        assert "rules[0].action" in s["reload"]["last_error"], s["reload"]
        assert t.log().count("reload: refused: ") == daemon_refusals, t.log()
        assert rule_hits(s, "no-8081") == 0

        # and a good reload still works after all that
        write_config(t, deny_8080(base))
        r = reload(t, socket=True)
        assert r.returncode == 0 and "generation 1" in r.stdout, f"{r.stdout}{r.stderr}"
        assert fetch(t) != 0
        assert t.stats()["reload"]["generation"] == 1


def test_sighup_reloads(slnfd):
    with Topo() as t:
        base = t.config
        serve_hello(t)
        assert fetch(t) == 0
        cfg = copy.deepcopy(base)
        cfg["ports"][1]["iface"] = "nosuch0"
        write_config(t, cfg)
        os.kill(t.proc.pid, signal.SIGHUP)
        wait_log(t, "reload: refused: ")
        assert "ports[1].iface" in t.log()
        assert t.proc.poll() is None
        assert fetch(t) == 0

        write_config(t, deny_8080(base))
        os.kill(t.proc.pid, signal.SIGHUP)
        wait_log(t, "reload: ok (generation 1,")
        assert fetch(t) != 0
        s = t.stats()
        assert (s["reload"]["generation"], s["reload"]["ok"], s["reload"]["failed"]) == (1, 1, 1)
        assert_ping(t, t.ns_client, t.server_ip, count=2)
