#!/usr/bin/env bash
# Writes into DIR a patched copy of the Go tree's
# internal/syscall/windows/at_windows.go and DIR/overlay.json naming it, for
# `go test -overlay DIR/overlay.json`: wine 8 answers
# FileDispositionInformationEx with STATUS_NOT_IMPLEMENTED (0xC0000002),
# which Go does not take as a reason to fall back to the older delete, so
# os.RemoveAll (every t.TempDir cleanup) fails with "Invalid function". The
# patch adds that status to the fallback case. Test binaries only.
# Usage: overlay.sh DIR
set -euo pipefail
dir=$1
src=$(go env GOROOT)/src/internal/syscall/windows/at_windows.go
mkdir -p "$dir"
sed 's/^\(\t\tSTATUS_NOT_SUPPORTED\):/\1, NTStatus(0xC0000002):/' "$src" >"$dir/at_windows.go"
if cmp -s "$src" "$dir/at_windows.go"; then
  echo "overlay.sh: the fallback case in $src has changed; update the patch" >&2
  exit 1
fi
printf '{"Replace":{"%s":"%s"}}\n' "$src" "$dir/at_windows.go" >"$dir/overlay.json"
