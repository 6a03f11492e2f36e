"""
iperf.py - one iperf3 measurement between a scene's client and server
namespaces (a topo.Topo or a fabric.Fabric: anything with ns_client,
ns_server, server_ip and spawn), shared by the forwarding benchmarks.

UDP: 18-byte payloads (64-byte frames) at unlimited rate, the packets per
second the server received; TCP: a bulk transfer, Gbit/s received.
"""
import json
import time

import topo


def iperf(t, udp, seconds, streams=1):
    srv = t.spawn(t.ns_server, ["iperf3", "-s", "-1", "-B", t.server_ip],
                  stdout=topo.subprocess.DEVNULL, stderr=topo.subprocess.DEVNULL)
    try:
        cmd = ["iperf3", "-c", t.server_ip, "-t", str(seconds), "-J", "-P", str(streams),
               "--connect-timeout", "3000"]
        if udp:
            cmd += ["-u", "-l", "18", "-b", "0"]
        for _ in range(20):  # the server may take a moment to listen
            r = topo.run(cmd, ns=t.ns_client, check=False, timeout=seconds + 30)
            if r.returncode == 0 and "error" not in json.loads(r.stdout or "{}"):
                break
            time.sleep(0.2)
        else:
            raise topo.CommandError(f"iperf3 failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        end = json.loads(r.stdout)["end"]
        if udp:
            s = end["sum"]
            return (s["packets"] - s["lost_packets"]) / s["seconds"]
        return end["sum_received"]["bits_per_second"] / 1e9
    finally:
        topo.stop_process(srv)
