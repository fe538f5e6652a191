#!/usr/bin/env bash
# Prints the voxfleet figures of docs/BENCHMARKS.md. Needs bin/voxfleet (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/fleetbench -bin bin/voxfleet "$@"
