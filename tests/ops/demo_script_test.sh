#!/bin/bash
# demo_script_test.sh - scripts/demo and scripts/install-deps, the parts that run cheaply
# (issue 16, newcomer friction):
# 1. both scripts parse (bash -n);
# 2. `scripts/install-deps demo --list` is a subset of the full list and holds none of the
#    test-only tools (valgrind, chromium, npm, debootstrap, LibreOffice, openpyxl, cmocka...);
#    an unknown mode is a usage error (64);
# 3. `scripts/demo --show-ports` with KC_DEMO_PORT_BASE=P: P..P+2, P+3 for HTTP and P+4 for the
#    portal (kc-office) when free;
#    with P taken by a listener this test starts (Python, on 127.0.0.1, stopped by pid) it
#    moves to P+10.. and says so; a bad KC_DEMO_PORT_BASE is a usage error (64).
#   demo_script_test.sh SOURCE_DIR
# Exit 0 ok, 1 a check failed.
set -u
src=${1:?usage: demo_script_test.sh SOURCE_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-demo-script.XXXXXX") || exit 1
lpid=""
cleanup() {
  [ -z "$lpid" ] || { kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null; }
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

# 1.
bash -n "$src/scripts/demo" || bad "scripts/demo does not parse"
bash -n "$src/scripts/install-deps" || bad "scripts/install-deps does not parse"

# 2.
"$src/scripts/install-deps" demo --list >"$tmp/demo.txt" || bad "install-deps demo --list failed"
"$src/scripts/install-deps" full --list >"$tmp/full.txt" || bad "install-deps full --list failed"
[ -s "$tmp/demo.txt" ] || bad "the demo list is empty"
while read -r p; do
  grep -qx -- "$p" "$tmp/full.txt" || bad "demo package $p is not in the full list"
done <"$tmp/demo.txt"
for p in valgrind chromium npm nodejs debootstrap libreoffice-calc-nogui python3-openpyxl \
         libcmocka-dev jq fakeroot dpkg-dev; do
  ! grep -qx -- "$p" "$tmp/demo.txt" || bad "the demo list installs the test tool $p"
done
for p in cmake libzmq3-dev liblmdb-dev scdoc libjs-chart.js; do
  grep -qx -- "$p" "$tmp/demo.txt" || bad "the demo list misses $p, which the build needs"
done
"$src/scripts/install-deps" nonsense --list >/dev/null 2>&1
[ $? -eq 64 ] || bad "install-deps with an unknown mode: expected exit 64"

# 3. a listener on a port the kernel chose; it writes the port once it listens
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept(); c.close()
' "$tmp/port" &
lpid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done # bounded wait for the file
[ -s "$tmp/port" ] || { bad "the test listener did not start"; exit 1; }
P=$(cat "$tmp/port")
if [ "$P" -gt 65300 ]; then echo "SKIP: kernel chose port $P, too high for a base"; exit 77; fi
KC_DEMO_PORT_BASE=$P "$src/scripts/demo" --show-ports >"$tmp/taken.out" 2>"$tmp/taken.err"
[ $? -eq 0 ] || bad "demo --show-ports with $P taken failed: $(cat "$tmp/taken.err")"
# the set moves by 10 (or more, if P+10.. happens to be taken too)
base=$(sed -n 's|^listen tcp://127.0.0.1:||p' "$tmp/taken.out")
[ -n "$base" ] && [ "$base" -ge $((P + 10)) ] && [ $(((base - P) % 10)) -eq 0 ] ||
  bad "with $P taken: listen port '$base', expected $((P + 10)) or a later step of 10"
grep -q "port(s) $P in use" "$tmp/taken.err" || bad "with $P taken: not said on stderr"
if [ -n "$base" ]; then
  grep -qx "feed tcp://127.0.0.1:$((base + 1))" "$tmp/taken.out" || bad "feed port not base+1"
  grep -qx "snapshot tcp://127.0.0.1:$((base + 2))" "$tmp/taken.out" || bad "snapshot not base+2"
  grep -qx "http http://127.0.0.1:$((base + 3))/" "$tmp/taken.out" || bad "http port not base+3"
  grep -qx "office http://127.0.0.1:$((base + 4))/" "$tmp/taken.out" || bad "portal port not base+4"
fi
kill "$lpid"; wait "$lpid" 2>/dev/null; lpid=""
# P is free now (unless another process took it meanwhile: then the set moves, as above)
KC_DEMO_PORT_BASE=$P "$src/scripts/demo" --show-ports >"$tmp/free.out" 2>"$tmp/free.err"
if ! grep -q "in use" "$tmp/free.err"; then
  grep -qx "listen tcp://127.0.0.1:$P" "$tmp/free.out" || bad "with $P free: not used: $(cat "$tmp/free.out")"
fi
KC_DEMO_PORT_BASE=12x "$src/scripts/demo" --show-ports >/dev/null 2>&1
[ $? -eq 64 ] || bad "KC_DEMO_PORT_BASE=12x: expected exit 64"
KC_DEMO_PORT_BASE=80 "$src/scripts/demo" --show-ports >/dev/null 2>&1
[ $? -eq 64 ] || bad "KC_DEMO_PORT_BASE=80: expected exit 64"

[ "$fail" -eq 0 ] && echo "demo_script_test: ok"
exit "$fail"
