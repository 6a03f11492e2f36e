#!/bin/sh
# run_all.sh - run the unit tests (meson/cmocka) and the integration tests
# (pytest + scapy in network namespaces) and print one pass/fail summary.
# Usage: tests/run_all.sh BUILD_DIR PYTHON
BUILD=${1:-build}
PYTHON=${2:-/usr/bin/python3}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

echo "== unit tests =="
meson test -C "$BUILD" --suite unit --print-errorlogs
unit=$?

echo "== integration tests =="
$SUDO env SLNFD="$(cd "$BUILD" && pwd)/slnfd" "$PYTHON" -m pytest -v -p no:cacheprovider tests/integration
integ=$?

echo "== summary =="
[ $unit -eq 0 ] && echo "unit tests:        PASS" || echo "unit tests:        FAIL"
[ $integ -eq 0 ] && echo "integration tests: PASS" || echo "integration tests: FAIL (pytest exit $integ)"
[ $unit -eq 0 ] && [ $integ -eq 0 ]
