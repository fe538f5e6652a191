#!/usr/bin/env bash
# Builds promtool (Prometheus' rule and metrics checker) into .cache/bin,
# which the tests of deploy/ run on deploy/prometheus/alerts.yml and on the
# services' /metrics. Idempotent: skipped while the binary of this version is
# there. The first build takes about 8 minutes on 2 cores.
set -euo pipefail
version=v0.316.0
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.cache/bin/promtool
stamp=$root/.cache/bin/promtool.version
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
	echo "deps: go install github.com/prometheus/prometheus/cmd/promtool@$version (slow the first time)"
	mkdir -p "$root/.cache/bin"
	GOBIN=$root/.cache/bin GOFLAGS=-mod=mod GOWORK=off go install "github.com/prometheus/prometheus/cmd/promtool@$version"
	echo "$version" >"$stamp"
fi
echo "deps: promtool ok ($bin)"
