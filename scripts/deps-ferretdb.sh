#!/usr/bin/env bash
# Builds the test-only MongoDB-wire server (FerretDB embedded, see
# internal/testmongo/ferretdb) into .cache/vox-ferretdb. Idempotent: nothing is
# rebuilt while the binary is newer than its sources.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/internal/testmongo/ferretdb
bin=$root/.cache/vox-ferretdb
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
echo "deps: ferretdb ok ($bin)"
