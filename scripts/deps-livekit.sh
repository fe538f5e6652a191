#!/usr/bin/env bash
# Builds the livekit-server the tests run (internal/testlivekit) into
# $(go env GOPATH)/bin/livekit-server. Idempotent: skipped when that binary is
# already the pinned version. About 2 minutes cold, seconds with a warm cache.
# Newer releases depend on forks the module proxy refuses.
set -euo pipefail
version=v1.9.11
bin=$(go env GOPATH)/bin/livekit-server
if ! "$bin" --version 2>/dev/null | grep -qx "livekit-server version ${version#v}"; then
	echo "deps: go install github.com/livekit/livekit-server/cmd/server@$version"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# The command's package is named "server": install it aside, then name it.
	GOBIN=$tmp GOFLAGS=-mod=mod GOWORK=off go install "github.com/livekit/livekit-server/cmd/server@$version"
	mkdir -p "$(dirname "$bin")"
	mv "$tmp/server" "$bin"
fi
echo "deps: livekit-server ok ($bin)"
