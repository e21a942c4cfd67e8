#!/usr/bin/env bash
# Fuzzes the Linux path walk (openFile) against the kernel's own open(2), for
# a fixed short time per target (about 75 s in all, with the build). The seed
# corpus in testdata/fuzz also runs under `go test ./...`. A failing input is
# written to testdata/fuzz/<target>/ and printed; rerun it with
# `go test -run '<target>/<name>' .`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export CI=true # FuzzOpenFileOwners fails instead of skipping without root
for target in FuzzOpenFile FuzzOpenFileOwners; do
  printf '\n== fuzz %s\n' "$target"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime 30s -parallel 1 .
done
