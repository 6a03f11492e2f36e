# slnf top-level Makefile: the two commands a newcomer needs are
#   make run    - build and run the demo (client -> slnfd -> server in namespaces)
#   make test   - build and run every unit and integration test
# Everything else (deps, build, bench) is pulled in as needed.

BUILD   ?= build
PYTHON  ?= /usr/bin/python3
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages: build, runtime, tests and demo.
DEB_PKGS := gcc meson ninja-build pkg-config dpdk dpdk-dev libdpdk-dev \
	libjansson-dev libcmocka-dev libpcap-dev libbsd-dev libnuma-dev libelf-dev \
	libbpf-dev python3 python3-pytest python3-scapy iproute2 iputils-ping curl \
	ethtool iperf3 procps redis-server redis-tools libhiredis-dev \
	libmicrohttpd-dev nftables conntrack stun-client stun-server libcurl4-openssl-dev

.PHONY: all deps build run run-chain run-story test unit unit-asan integration bench bench-store bench-nf bench-steer bench-failover clean

all: build

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: run-chain run-story

# Part 1: one slnfd with the whole chain between two hosts.
run-chain: build
	$(SUDO) ./examples/demo.sh $(BUILD)/slnfd

# Part 2: orchestrator, steering node, instances; kill one, scale out.
run-story: build
	$(SUDO) SLNFD=$(abspath $(BUILD))/slnfd $(PYTHON) examples/story.py

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
unit-asan: deps
	[ -f $(BUILD)-asan/build.ninja ] || meson setup $(BUILD)-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD)-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(BUILD)-asan --suite unit --print-errorlogs

integration: build
	$(SUDO) SLNFD=$(abspath $(BUILD))/slnfd $(PYTHON) -m pytest -v -p no:cacheprovider tests/integration

test: build
	@./tests/run_all.sh $(BUILD) $(PYTHON)

clean:
	rm -rf $(BUILD)

bench: build
	$(SUDO) SLNFD=$(abspath $(BUILD))/slnfd $(PYTHON) bench/forward.py

# State store backends: ops/s and batch latency per batch size, with
# redis-benchmark as the reference (bench/store_bench.c, docs/benchmarks.md).
bench-store: build
	$(BUILD)/slnf-store-bench

# Each NF's packets per second on one core, local and shm state side by
# side, without ports (bench/nf_bench.c, docs/benchmarks.md).
bench-nf: build
	$(BUILD)/slnf-nf-bench

# The cost of the steering hop: direct to an instance, through the steering
# node with one and with two instances (bench/steer.py, docs/benchmarks.md).
bench-steer: build
	$(SUDO) SLNFD=$(abspath $(BUILD))/slnfd $(PYTHON) bench/steer.py

# Failover stall, detection, flows moved by scaling: the failover and scale
# tests print what they measured (docs/benchmarks.md).
bench-failover: build
	$(SUDO) SLNFD=$(abspath $(BUILD))/slnfd $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/integration/test_failover.py tests/integration/test_scale.py
