#!/bin/sh
# run_all.sh - run the unit tests (meson/cmocka), the unit tests again under
# ASan/UBSan, and the integration tests (pytest + scapy in network
# namespaces), then print one pass/fail summary. The last line counts unit
# test programs and integration test cases together.
# Usage: tests/run_all.sh BUILD_DIR PYTHON
BUILD=${1:-build}
PYTHON=${2:-/usr/bin/python3}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
JUNIT=$(mktemp /tmp/slnf-junit-XXXXXX.xml)
trap 'rm -f "$JUNIT"' EXIT

echo "== unit tests =="
meson test -C "$BUILD" --suite unit --print-errorlogs
unit=$?

echo "== unit tests under ASan/UBSan =="
make --no-print-directory unit-asan BUILD="$BUILD"
asan=$?

echo "== integration tests =="
$SUDO env SLNFD="$(cd "$BUILD" && pwd)/slnfd" "$PYTHON" -m pytest -v -p no:cacheprovider \
	--junitxml="$JUNIT" tests/integration
integ=$?

# count: meson's JSON test logs and pytest's JUnit report
counts=$("$PYTHON" - "$BUILD/meson-logs/testlog.json" "$BUILD-asan/meson-logs/testlog.json" "$JUNIT" <<'PY'
import json, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sys.argv[1:3]:
    try:
        for line in open(path):
            r = json.loads(line)["result"]
            if r == "OK": passed += 1
            elif r == "SKIP": skipped += 1
            else: failed += 1
    except OSError:
        failed += 1
try:
    root = ET.parse(sys.argv[3]).getroot()
    for s in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - sk; failed += f + e; skipped += sk
except (OSError, ET.ParseError):
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
)

echo "== summary =="
[ $unit -eq 0 ] && echo "unit tests:         PASS" || echo "unit tests:         FAIL"
[ $asan -eq 0 ] && echo "unit tests (asan):  PASS" || echo "unit tests (asan):  FAIL"
[ $integ -eq 0 ] && echo "integration tests:  PASS" || echo "integration tests:  FAIL (pytest exit $integ)"
echo "total: $counts"
[ $unit -eq 0 ] && [ $asan -eq 0 ] && [ $integ -eq 0 ]
