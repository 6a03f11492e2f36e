"""
test_hugepages.py - slnfd on hugepages ("eal": {"hugepages": true}) forwards
like it does with --no-huge.

The machine has no hugepages by default, so the test reserves 2 MB pages and
mounts a hugetlbfs of its own for the duration, then unmounts it and puts the
page count back, also on failure. Skipped (with the reason) when the kernel
cannot give enough pages.
"""

import os
import subprocess
import tempfile

import pytest

from topo import Topo, assert_ping, port_stats

NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"
PAGES = 200  # 400 MB: slnfd asks for 256 MB


@pytest.fixture
def hugepages():
    with open(NR_HUGEPAGES) as f:
        before = int(f.read())
    mnt = tempfile.mkdtemp(prefix="slnft-huge-")
    mounted = False
    try:
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(before + PAGES))
        with open(NR_HUGEPAGES) as f:
            got = int(f.read())
        if got < before + PAGES:
            pytest.skip(f"kernel gave {got - before} of {PAGES} hugepages")
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", mnt],
                       check=True)
        mounted = True
        yield
    finally:
        if mounted:
            subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(before))


def use_hugepages(cfg):
    cfg["eal"]["hugepages"] = True


def test_forwarding_on_hugepages(slnfd, hugepages):
    with Topo(config=use_hugepages) as t:
        assert "(hugepages)" in t.log()
        assert_ping(t, t.ns_client, t.server_ip, count=3)
        s = t.stats()
        assert port_stats(s, "wan")["tx_packets"] >= 3
        assert t.stop() == 0
