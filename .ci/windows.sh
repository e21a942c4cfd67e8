#!/usr/bin/env bash
# The package's own tests as a Windows binary under Debian's wine 8: one
# process per test, one wineserver for the whole run. Prints
# "windows: N passed, N failed, N skipped" and exits non-zero if any failed.
# Needs root for apt-get (CI); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export DEBIAN_FRONTEND=noninteractive

wine=/usr/lib/wine/wine64 wineserver=/usr/lib/wine/wineserver
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [ ! -x "$wine" ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64 >/dev/null
fi

work=$(mktemp -d)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
cleanup() { "$wineserver" -k 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Go's start-up needs bcryptprimitives.dll (ProcessPrng); wine 8 has none.
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" .ci/wine/bcryptprimitives.c -ladvapi32
# os.RemoveAll (t.TempDir's cleanup) under wine needs a patched Go tree.
.ci/wine/overlay.sh "$work/overlay"
exe=${WINDOWS_TEST_EXE:-$work/watchedfile.test.exe} # a prebuilt binary, to compare
[ -n "${WINDOWS_TEST_EXE:-}" ] ||
  GOOS=windows GOARCH=amd64 go test -c -overlay "$work/overlay/overlay.json" -o "$exe" .

mkdir -p "$WINEPREFIX"
"$wineserver" -p # persistent: one server for the whole run, prefix creation included
"$wine" wineboot --init >/dev/null 2>&1
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

passed=0 failed=0 skipped=0
failures=()
"$wine" "$exe" -test.list '.*' >"$work/list" 2>&1 || { echo "the test binary does not start under wine:"; cat "$work/list"; exit 1; }
for t in $(tr -d "\r" <"$work/list" | grep -E "^(Test|Example)" || true); do
  out=$work/$t.out
  rc=0
  timeout 120 "$wine" "$exe" -test.run "^$t\$" -test.count=1 -test.v >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && ! tr -d '\r' <"$out" | grep -q -E -e '^--- (FAIL|PASS|SKIP)' -e '^panic:'; then
    # The binary ended without a verdict or a panic (wine, loaded, does
    # that now and then, printing nothing): that is the harness, not the
    # test; run it once more and say so.
    echo "note $t: the binary exited $rc without a verdict; once more"
    rc=0
    timeout 120 "$wine" "$exe" -test.run "^$t\$" -test.count=1 -test.v >"$out" 2>&1 || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1)); failures+=("$t")
    echo "FAIL $t (exit $rc)"; { tr -d '\r' <"$out" | grep -v '^=== ' | tail -n 30 | sed 's/^/    /'; } || true
  elif tr -d '\r' <"$out" | grep -q -- "--- SKIP: $t[ /]" &&
    ! tr -d '\r' <"$out" | grep -q -- "--- PASS: $t/"; then
    # skipped, or every subtest skipped
    skipped=$((skipped + 1))
    echo "skip $t: $(tr -d '\r' <"$out" | grep -m1 -E '^ +[a-z_]+\.go:[0-9]+: ' | sed 's/^ *//')"
  else
    passed=$((passed + 1)); echo "ok   $t"
  fi
done
echo "windows: ${SECONDS}s in all"
echo "windows: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
