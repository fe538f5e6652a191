#!/usr/bin/env bash
# Builds vox-deploycheck (internal/deploycheck: compose-go and LiveKit's
# protocol types, in a Go module of their own) into .cache/vox-deploycheck,
# which the tests of deploy/ run on the compose file and the SIP trunk
# requests. Idempotent: nothing is rebuilt while the binary is newer than its
# sources.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/internal/deploycheck
bin=$root/.cache/vox-deploycheck
mkdir -p "$root/.cache"
stale=0
[ -x "$bin" ] || stale=1
for f in main.go go.mod go.sum; do
	[ "$src/$f" -nt "$bin" ] && stale=1
done
if [ "$stale" = 1 ]; then
	echo "deps: building $bin"
	(cd "$src" && GOFLAGS=-mod=mod GOWORK=off go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
echo "deps: deploycheck ok ($bin)"
