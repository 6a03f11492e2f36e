#!/bin/bash
# demo.sh - slnf in three network namespaces, one step per line.
#
#   client (10.10.1.2) --veth-- gateway: slnfd --veth-- server (10.10.2.2)
#
# Builds the topology, starts slnfd with examples/demo.json (a copy whose
# control socket lives in a temporary directory), then shows: ping of the
# gateway (answered by slnfd), ping through the chain, a 10 MB download
# through filter + firewall + NAT + router with its sha256 checked and the
# server seeing only the NAT's address, 20 connections to a load-balanced
# VIP spread over two backends, the filter blocking tcp/8081, the firewall
# blocking connections from outside, and a summary of slnfd's counters.
# The chain (examples/demo.json) is filter -> firewall -> nat -> lb ->
# router with "inside": ["lan"], so replies run it backwards (lb, nat,
# firewall, filter, router). Everything is torn down on exit, Ctrl-C or failure; the exit
# status is non-zero if any step failed.
#
# Usage (as root): examples/demo.sh [PATH/TO/slnfd]     (make run does this)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SLNFD=$(realpath -m "${1:-$HERE/../build/slnfd}")
PY=/usr/bin/python3
CONFIG=$HERE/demo.json

NS_C=slnf-demo-client
NS_G=slnf-demo-gw
NS_S=slnf-demo-server
IF_C=slnf-c0 # client end of the client <-> gateway veth
IF_S=slnf-s0 # server end of the gateway <-> server veth
# the gateway's ends, and its addresses, come from demo.json
iface_of() { # N: the iface of ports[N] in demo.json
	$PY -c 'import json, sys; c = json.load(open(sys.argv[1]))
print(c["ports"][int(sys.argv[2])]["iface"])' "$CONFIG" "$1"
}
IF_LAN=$(iface_of 0)
IF_WAN=$(iface_of 1)
GW_LAN=10.10.1.1
GW_WAN=10.10.2.1
CLIENT=10.10.1.2
SERVER=10.10.2.2
VIP=10.10.9.9                       # the lb VIP (demo.json)
BACKENDS=(10.10.2.10 10.10.2.11)    # its backends, on ports 8090 and 8091

TMP=
SLNFD_PID=
HTTPD_PIDS=()
STEPS=0
FAILED=0
DETAIL=

die() {
	echo "demo: $*" >&2
	exit 1
}

in_ns() { # NS CMD...: run CMD inside namespace NS
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# ---- topology ----------------------------------------------------------------

delete_namespaces() {
	local ns pid
	for ns in $NS_C $NS_G $NS_S; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
}

veth_up() { # NS IF
	# software checksums everywhere: with tx offload on, UDP and TCP leave the
	# hosts with partial checksums that a DPDK forwarder passes on as bad
	in_ns "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null
	ip -n "$1" link set "$2" up
}

build_topology() {
	local ns
	delete_namespaces # left over from an earlier, interrupted run
	for ns in $NS_C $NS_G $NS_S; do
		ip netns add "$ns"
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip -n $NS_G link add "$IF_LAN" type veth peer name $IF_C netns $NS_C
	ip -n $NS_G link add "$IF_WAN" type veth peer name $IF_S netns $NS_S
	veth_up $NS_C $IF_C
	veth_up $NS_G "$IF_LAN"
	veth_up $NS_G "$IF_WAN"
	veth_up $NS_S $IF_S
	ip -n $NS_C addr add $CLIENT/24 dev $IF_C
	ip -n $NS_C route add default via $GW_LAN
	ip -n $NS_S addr add $SERVER/24 dev $IF_S
	ip -n $NS_S addr add ${BACKENDS[0]}/24 dev $IF_S
	ip -n $NS_S addr add ${BACKENDS[1]}/24 dev $IF_S
	ip -n $NS_S route add default via $GW_WAN
	# the gateway's Linux stack has no address and does not forward: all it
	# does for the hosts is done by slnfd
	in_ns $NS_G sysctl -qw net.ipv4.ip_forward=0
}

start_slnfd() {
	$PY - "$CONFIG" "$TMP/demo.json" "$TMP/slnfd.sock" <<-'EOF'
		import json, sys
		cfg = json.load(open(sys.argv[1]))
		cfg["control"] = {"socket": sys.argv[3]}
		json.dump(cfg, open(sys.argv[2], "w"), indent=2)
	EOF
	"$SLNFD" --check -c "$TMP/demo.json" >/dev/null || die "slnfd refused the config"
	# ip netns exec execs slnfd in place: $! is slnfd's own PID
	ip netns exec $NS_G "$SLNFD" -c "$TMP/demo.json" 2>"$TMP/slnfd.log" &
	SLNFD_PID=$!
	for _ in $(seq 300); do
		grep -qw ready "$TMP/slnfd.log" && return 0
		kill -0 "$SLNFD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "slnfd did not become ready; its log:" >&2
	sed 's/^/    /' "$TMP/slnfd.log" >&2
	die "slnfd did not start"
}

stop_slnfd() {
	[ -n "$SLNFD_PID" ] || return 0
	kill -TERM "$SLNFD_PID" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$SLNFD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SLNFD_PID" 2>/dev/null; then
		echo "demo: slnfd ignored SIGTERM for 5 s; killing it" >&2
		kill -KILL "$SLNFD_PID" 2>/dev/null || true
		# a killed af_xdp port leaves its XDP program behind
		ip -n $NS_G link set dev "$IF_LAN" xdp off 2>/dev/null || true
		ip -n $NS_G link set dev "$IF_WAN" xdp off 2>/dev/null || true
	fi
	wait "$SLNFD_PID" 2>/dev/null || true
	SLNFD_PID=
}

cleanup() {
	local pid
	trap - EXIT INT TERM
	stop_slnfd
	for pid in "${HTTPD_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	delete_namespaces
	[ -z "$TMP" ] || rm -rf "$TMP"
	# the shm store outlives slnfd by design (a restarted instance finds its
	# state); the demo removes the table it created
	rm -f /dev/shm/slnf-demo
}

# ---- steps -------------------------------------------------------------------

# step TITLE FUNCTION ARGS...: run one step, print one line for it.
step() {
	local title=$1 out
	shift
	STEPS=$((STEPS + 1))
	out="$TMP/step$STEPS.out"
	DETAIL=
	if "$@" >"$out" 2>&1; then
		printf '[ ok ] %d. %s%s\n' "$STEPS" "$title" "${DETAIL:+: $DETAIL}"
	else
		FAILED=$((FAILED + 1))
		printf '[FAIL] %d. %s%s\n' "$STEPS" "$title" "${DETAIL:+: $DETAIL}"
		sed 's/^/         | /' "$out"
	fi
}

ping_all() { # NS DST COUNT: every echo answered
	local out
	out=$(in_ns "$1" ping -n -c "$3" -i 0.2 -W 2 "$2") || { echo "$out"; return 1; }
	echo "$out"
	DETAIL=$(echo "$out" | grep -o "[0-9]* received" | head -1)
	DETAIL="$DETAIL of $3, $(echo "$out" | grep -o 'rtt.*' | cut -d/ -f5) ms average"
	echo "$out" | grep -q " $3 received"
}

gateway_mac_learned() {
	local learned real
	learned=$(ip -n $NS_C neigh show $GW_LAN | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2)
	real=$(ip -n $NS_G link show "$IF_LAN" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	DETAIL="client's neighbour table: $GW_LAN is at ${learned:-?} (slnfd port lan: $real)"
	[ -n "$learned" ] && [ "$learned" = "$real" ]
}

start_httpd() { # PORT [ADDR [DIR]]
	# tests/integration/httpd.py: http.server that logs every accepted
	# connection and, unlike `python3 -m http.server`, asks DNS nothing
	: >"$TMP/conns$1"
	ip netns exec $NS_S $PY "$HERE/../tests/integration/httpd.py" --bind "${2:-$SERVER}" \
		--port "$1" --dir "${3:-$TMP/www}" --conn-log "$TMP/conns$1" >"$TMP/httpd$1.log" 2>&1 &
	HTTPD_PIDS+=($!)
	for _ in $(seq 50); do
		grep -q listening "$TMP/httpd$1.log" && return 0
		sleep 0.1
	done
	return 1
}

start_servers() {
	mkdir -p "$TMP/www"
	head -c 10M /dev/urandom >"$TMP/www/file10M.bin" || return 1
	start_httpd 8080 && start_httpd 8081 || return 1
	for i in 0 1; do
		mkdir -p "$TMP/backend$i"
		echo "backend-$i" >"$TMP/backend$i/who"
		start_httpd $((8090 + i)) "${BACKENDS[$i]}" "$TMP/backend$i" || return 1
	done
	DETAIL="HTTP servers on $SERVER:8080 and :8081 serving a 10 MB random file,"
	DETAIL="$DETAIL lb backends on ${BACKENDS[0]}:8090 and ${BACKENDS[1]}:8091"
}

server_sees_nat() {
	local peers
	peers=$(cut -d: -f1 "$TMP/conns8080" | sort -u | tr '\n' ' ')
	DETAIL="the server's connection log shows ${peers:-nothing} (the client is $CLIENT)"
	[ "$peers" = "$GW_WAN " ]
}

load_balanced() {
	local i who counts
	: >"$TMP/lb.txt"
	for i in $(seq 20); do
		who=$(in_ns $NS_C curl -sS --connect-timeout 3 --max-time 5 "http://$VIP/who") || return 1
		echo "$who" >>"$TMP/lb.txt"
	done
	counts=$(sort "$TMP/lb.txt" | uniq -c | awk '{printf "%s %s, ", $2, $1}')
	DETAIL="20 requests to $VIP:80 answered by ${counts%, }; the backends saw"
	DETAIL="$DETAIL $(cat "$TMP/conns8090" "$TMP/conns8091" | cut -d: -f1 | sort -u | tr '\n' ' ')"
	[ "$(sort -u "$TMP/lb.txt" | wc -l)" = 2 ] && ! grep -qv '^10.10.8.8:' "$TMP/conns8090" "$TMP/conns8091"
}

download() {
	local want got speed
	want=$(sha256sum <"$TMP/www/file10M.bin" | cut -d' ' -f1)
	speed=$(in_ns $NS_C curl -sS --connect-timeout 5 --max-time 60 -o "$TMP/got.bin" \
		-w '%{speed_download}' "http://$SERVER:8080/file10M.bin") || return 1
	got=$(sha256sum <"$TMP/got.bin" | cut -d' ' -f1)
	speed=${speed%.*}
	DETAIL="$(stat -c %s "$TMP/got.bin") bytes at $((${speed:-0} / 1048576)) MB/s"
	DETAIL="$DETAIL, sha256 ${got:0:16}..."
	echo "sent sha256 $want"
	echo "got  sha256 $got"
	[ "$want" = "$got" ]
}

blocked_8081() {
	if in_ns $NS_C curl -sS --connect-timeout 3 --max-time 4 -o /dev/null \
		"http://$SERVER:8081/file10M.bin"; then
		DETAIL="the download on port 8081 went through"
		return 1
	fi
	DETAIL="curl to $SERVER:8081 timed out; the server accepted $(wc -l <"$TMP/conns8081") connections"
	[ ! -s "$TMP/conns8081" ]
}

firewall_blocks_inbound() {
	local denied
	if in_ns $NS_S ping -n -c 2 -W 1 $CLIENT >/dev/null; then
		DETAIL="the server could ping the client"
		return 1
	fi
	"$SLNFD" --stats -c "$TMP/demo.json" >"$TMP/fw.json" || return 1
	denied=$($PY -c 'import json, sys
s = json.load(open(sys.argv[1]))
fw = [n for t in s["tenants"] for n in t["nfs"] if n["nf"] == "firewall"][0]
print(fw["new"]["denied"], s["store"]["entries"])' "$TMP/fw.json") || return 1
	DETAIL="the server's pings were dropped as new inbound connections (${denied% *} denied);"
	DETAIL="$DETAIL the shm store holds ${denied#* } tracked connection(s)"
	[ "${denied% *}" -ge 2 ]
}

# ---- the stats summary -----------------------------------------------------------

show_stats() {
	"$SLNFD" --stats -c "$TMP/demo.json" >"$TMP/stats.json" || return 1
	$PY - "$TMP/stats.json" <<-'EOF'
		import json, sys
		s = json.load(open(sys.argv[1]))
		def mb(n): return f"{n / 1048576:.1f} MB"
		print(f"slnfd '{s.get('name')}' pid {s.get('pid')}, up {s.get('uptime_s')} s, "
		      f"EAL init {s.get('eal_init_ms')} ms")
		print("  ports:")
		for p in s.get("ports", []):
		    print(f"    {p['name']:<5} {p['type']:<9} rx {p['rx_packets']:>8} pkts {mb(p['rx_bytes']):>8}"
		          f"   tx {p['tx_packets']:>8} pkts {mb(p['tx_bytes']):>8}"
		          f"   missed {p.get('rx_missed', 0)}"
		          f" errors {p.get('rx_errors', 0)}/{p.get('tx_errors', 0)}")
		drops = {k: v for k, v in s.get("drops", {}).items() if v}
		print("  drops:" + ("" if drops else " none"))
		for k, v in sorted(drops.items(), key=lambda kv: -kv[1]):
		    where = ", ".join(f"{p['name']} {p['drops'][k]}" for p in s.get("ports", [])
		                      if p.get("drops", {}).get(k))
		    print(f"    {k:<18} {v:>8}" + (f"   ({where})" if where else ""))
		h = s.get("host", {})
		print(f"  host: ARP requests in {h.get('arp_requests_rx')}, "
		      f"replies out {h.get('arp_replies_tx')}, requests out {h.get('arp_requests_tx')}, "
		      f"replies in {h.get('arp_replies_rx')}; "
		      f"echo replies {h.get('icmp_echo_replies')}")
		for t in s.get("tenants", []):
		    print(f"  tenant '{t['name']}' (id {t['id']}): {t.get('rx_packets')} packets")
		    for nf in t.get("nfs", []):
		        if nf["nf"] == "filter":
		            print(f"    filter: allowed {nf.get('allowed')}, denied {nf.get('denied')}")
		            for r in nf.get("rules", []):
		                print(f"      rule {r['name']:<12} {r['action']:<6} {r['hits']:>8} hits")
		            print(f"      default {'':<12}{'':<6} {nf.get('default_hits'):>8} hits")
		        elif nf["nf"] == "firewall":
		            cls = ", ".join(f"{c} {nf[c]['allowed']}/{nf[c]['denied']}"
		                            for c in ("new", "established", "related", "invalid") if c in nf)
		            print(f"    firewall (allowed/denied): {cls}; connections created "
		                  f"{nf.get('created')}, updated {nf.get('updated')}")
		            for r in nf.get("rules", []):
		                print(f"      rule {r['name']:<14} {r['action']:<6} {r['hits']:>8} hits")
		        elif nf["nf"] == "router":
		            print(f"    router: forwarded {nf.get('forwarded')}, no route {nf.get('no_route')}, "
		                  f"TTL exceeded {nf.get('ttl_exceeded')}, ICMP sent {nf.get('icmp_sent')}, "
		                  f"routes {len(r) if isinstance(r := nf.get('routes'), list) else r}")
		        else:
		            print(f"    {nf['nf']}: " + ", ".join(f"{k} {v}" for k, v in nf.items() if k != "nf"))
		print("  neighbours:")
		for n in s.get("neighbours", []):
		    print(f"    {n['port']:<5} {n['ip']:<15} {n['mac']}  {n['state']}, {n['age_s']} s")
		st = s.get("store", {})
		print(f"  store: {st.get('backend')}, {st.get('entries')} entries")
	EOF
}

# ---- main ------------------------------------------------------------------------

main() {
	[ "$(id -u)" = 0 ] || die "needs root for network namespaces: sudo $0 $*"
	[ -x "$SLNFD" ] || die "no slnfd at $SLNFD (build it with make)"
	TMP=$(mktemp -d /tmp/slnf-demo.XXXXXX)
	trap cleanup EXIT
	exec 3>&2 # the terminal, also while a step's output goes to a file
	trap 'echo >&3; echo "demo: interrupted; tearing down" >&3; exit 130' INT
	trap 'exit 143' TERM

	echo "== slnf demo: client $CLIENT -> slnfd ($GW_LAN | $GW_WAN) -> server $SERVER"
	build_topology
	echo "   namespaces $NS_C, $NS_G, $NS_S; gateway ports $IF_LAN (lan), $IF_WAN (wan)"
	start_slnfd
	echo "   slnfd running as PID $SLNFD_PID: $(grep -ow 'ready.*' "$TMP/slnfd.log" | head -1)"
	echo

	step "ping the gateway $GW_LAN (ARP and echo answered by slnfd)" ping_all $NS_C $GW_LAN 3
	step "the client learned the gateway's MAC from slnfd's ARP reply" gateway_mac_learned
	step "ping the server $SERVER through the chain (the NAT translates the echo id)" ping_all $NS_C $SERVER 5
	step "start HTTP servers in the server namespace" start_servers
	step "download 10 MB with curl through filter + firewall + nat + router, sha256 matches" download
	step "the server saw the connection from the NAT's address, not the client's" server_sees_nat
	step "20 connections to the VIP $VIP spread over both lb backends (full NAT)" load_balanced
	step "the filter blocks tcp port 8081" blocked_8081
	step "the firewall admits replies but no connection from the server side" firewall_blocks_inbound
	if show_stats >"$TMP/summary.txt" 2>&1; then
		echo "       slnfd --stats:"
		sed 's/^/       /' "$TMP/summary.txt"
	else
		FAILED=$((FAILED + 1))
		echo "[FAIL] slnfd --stats"
		sed 's/^/         | /' "$TMP/summary.txt"
	fi
	echo
	if [ "$FAILED" -eq 0 ]; then
		echo "== all $STEPS steps passed"
	else
		echo "== $FAILED of $STEPS steps FAILED (slnfd log: below)"
		sed 's/^/    /' "$TMP/slnfd.log"
		exit 1
	fi
}

main "$@"
