"""
test_config.py - slnfd refuses bad configs before touching DPDK: both
`slnfd --check -c FILE` and `slnfd -c FILE` exit 2 with
`slnfd: FILE: FIELD: reason` naming the offending field, and agree.

No namespace is needed: the interfaces named here do not exist anywhere, and
a config that is refused never gets as far as opening them.
"""

import json
import os
import re

import pytest

from topo import run, slnfd_path


def valid_config(tmp_path):
    return {
        "name": f"cfgtest{os.getpid()}",
        "role": "nf",
        "eal": {"hugepages": False, "memory_mb": 256},
        "workers": {"count": 1, "busy_poll": False, "idle_sleep_max_us": 500},
        "control": {"socket": str(tmp_path / "cfg.sock")},
        "store": {"backend": "local", "capacity": 65536},
        "neighbours": {"reachable_s": 30, "max_pending": 16},
        "ports": [
            {"name": "lan", "type": "af_packet", "iface": "slnft-nope0",
             "ipv4": ["10.99.1.1/24"]},
            {"name": "wan", "type": "af_packet", "iface": "slnft-nope1",
             "ipv4": ["10.99.2.1/24"]},
        ],
        "tenants": [{
            "name": "t1", "id": 1, "match": {"ports": ["lan", "wan"]},
            "chain": [
                {"nf": "filter", "default": "allow", "rules": [
                    {"name": "no-8081", "action": "deny", "proto": "tcp",
                     "dst_port": "8081"}]},
                {"nf": "router", "routes": [
                    {"prefix": "10.99.2.0/24", "port": "wan"},
                    {"prefix": "10.99.1.0/24", "port": "lan"}]},
            ],
        }],
    }


def _parent(cfg, key):
    for k in key[:-1]:
        cfg = cfg[k]
    return cfg


def set_field(key, value):
    return lambda cfg: _parent(cfg, key).__setitem__(key[-1], value)


def del_field(key):
    return lambda cfg: _parent(cfg, key).__delitem__(key[-1])


# (id, edit, field regex as printed by slnfd)
BAD = [
    ("port-type", set_field(["ports", 0, "type"], "bogus"), r"ports\[0\]\.type"),
    ("no-iface", del_field(["ports", 1, "iface"]), r"ports\[1\]\.iface"),
    ("bad-address", set_field(["ports", 0, "ipv4"], ["10.0.0.300/24"]),
     r"ports\[0\]\.ipv4(\[0\])?"),
    ("dup-port", set_field(["ports", 1, "name"], "lan"), r"ports\[1\]\.name"),
    ("no-name", del_field(["name"]), r"name"),
    ("workers-0", set_field(["workers", "count"], 0), r"workers\.count"),
    ("memory-type", set_field(["eal", "memory_mb"], "lots"), r"eal\.memory_mb"),
    ("unknown-key", set_field(["colour"], "blue"), r"colour"),
    ("match-port", set_field(["tenants", 0, "match", "ports"], ["lan", "dmz"]),
     r"tenants\[0\]\.match\.ports(\[1\])?"),
    ("unknown-nf", set_field(["tenants", 0, "chain", 0, "nf"], "teleport"),
     r"tenants\[0\]\.chain\[0\](\.nf)?"),
    ("rule-action", set_field(["tenants", 0, "chain", 0, "rules", 0, "action"], "maybe"),
     r"tenants\[0\]\.chain\[0\]\.rules\[0\]\.action"),
    ("route-port", set_field(["tenants", 0, "chain", 1, "routes", 0, "port"], "dmz"),
     r"tenants\[0\]\.chain\[1\]\.routes\[0\]\.port"),
    ("route-prefix", set_field(["tenants", 0, "chain", 1, "routes", 0, "prefix"],
                               "10.99.0.0/40"),
     r"tenants\[0\]\.chain\[1\]\.routes\[0\]\.prefix"),
]


def write(tmp_path, cfg, name="c.json"):
    f = tmp_path / name
    f.write_text(json.dumps(cfg, indent=2) if isinstance(cfg, dict) else cfg)
    return f


def test_valid_config_passes_check(slnfd, tmp_path):
    f = write(tmp_path, valid_config(tmp_path))
    r = run([slnfd_path(), "--check", "-c", str(f)], check=False, timeout=20)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_bad_config_refused(slnfd, tmp_path, case):
    _, edit, field = case
    cfg = valid_config(tmp_path)
    edit(cfg)
    f = write(tmp_path, cfg)
    want = re.compile(r"^slnfd: " + re.escape(str(f)) + r": " + field + r": \S", re.M)

    check = run([slnfd_path(), "--check", "-c", str(f)], check=False, timeout=20)
    assert check.returncode == 2, f"--check exit {check.returncode}: {check.stderr}"
    assert want.search(check.stderr), f"--check message: {check.stderr!r}"

    start = run([slnfd_path(), "-c", str(f)], check=False, timeout=20)
    assert start.returncode == 2, f"-c exit {start.returncode}: {start.stderr}"
    assert want.search(start.stderr), f"-c message: {start.stderr!r}"
    assert "ready" not in start.stderr
    # the same verdict from both
    assert want.search(check.stderr).group(0) == want.search(start.stderr).group(0)
    assert not (tmp_path / "cfg.sock").exists()


def test_unreadable_and_invalid_json_refused(slnfd, tmp_path):
    missing = tmp_path / "missing.json"
    broken = write(tmp_path, '{"name": "x", "ports": [', "broken.json")
    for f in (missing, broken):
        for args in (["--check", "-c", str(f)], ["-c", str(f)]):
            r = run([slnfd_path()] + args, check=False, timeout=20)
            assert r.returncode == 2, f"{args}: exit {r.returncode}: {r.stderr}"
            assert f"slnfd: {f}: " in r.stderr, f"{args}: {r.stderr!r}"
