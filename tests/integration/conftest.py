"""
conftest.py - shared setup for slnf's integration tests.

The tests build network namespaces and start slnfd, so they need root: without
it every test is skipped with that reason. The slnfd binary comes from $SLNFD
(the Makefile sets it) or build/slnfd; a missing binary is a failure, not a
skip.

At the end of the session this file checks that no namespace, slnfd or helper
process started by the session is left behind. Leftovers are removed and the
session fails loudly: a test that leaks namespaces is a broken test.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import topo  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests need root "
                                       "(network namespaces, veths, DPDK)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def slnfd():
    path = topo.slnfd_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"slnfd binary not found or not executable: {path} "
                    "(build it, or set SLNFD=/path/to/slnfd)")
    return path


def _leftovers():
    found = []
    for ns in topo.netns_list():
        if ns.startswith(topo.NS_PREFIX):
            found.append(f"namespace {ns}")
    found += [f"shm table /dev/shm/{n}" for n in topo.shm_leftovers()]
    for pid, proc in list(topo.LIVE_PROCS.items()):
        if proc.poll() is None:
            found.append(f"process {pid}: {' '.join(proc.args)}")
    return found


def _remove_leftovers():
    for pid, proc in list(topo.LIVE_PROCS.items()):
        topo.stop_process(proc, timeout=3)
    for name in topo.shm_leftovers():
        topo.remove_shm(name)
    for ns in topo.netns_list():
        if ns.startswith(topo.NS_PREFIX):
            try:
                topo.delete_netns(ns)
            except topo.CommandError as e:
                sys.stderr.write(f"could not delete {ns}: {e}\n")


def pytest_sessionfinish(session, exitstatus):
    if os.geteuid() != 0:
        return
    left = _leftovers()
    if not left:
        return
    _remove_leftovers()
    msg = ("\n" + "!" * 72 + "\nLEFTOVERS after the integration tests "
           "(removed now, but a test failed to clean up):\n  "
           + "\n  ".join(left) + "\n" + "!" * 72 + "\n")
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr:
        tr.write_line(msg, red=True, bold=True)
    else:
        sys.stderr.write(msg)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ---- measured figures ---------------------------------------------------------
# Tests that measure something a person should see (failover stall, detection
# time, share of flows moved) record it with record_property("figure: ...",
# value); the figures are listed at the end of the run. They are reported,
# never asserted against a time.

def pytest_terminal_summary(terminalreporter):
    lines = []
    for rep in terminalreporter.getreports("passed") + terminalreporter.getreports("failed"):
        for key, value in getattr(rep, "user_properties", []):
            if key.startswith("figure: "):
                lines.append(f"{rep.nodeid.split('::')[-1]}: {key[8:]} = {value}")
    if lines:
        terminalreporter.section("measured figures")
        for line in lines:
            terminalreporter.write_line(line)
