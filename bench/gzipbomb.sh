#!/usr/bin/env bash
# Peak memory of a voxbridge process answering one gzip-bomb request: a body
# that is about 1 MB on the wire and inflates to SIZE (default 1G) of zeros,
# sent to the public POST /api/v1/auth/login. Prints the resident memory
# before, the status and the peak (VmHWM) after. Asserts nothing.
#
#   bench/gzipbomb.sh [VOXBRIDGE_BINARY] [SIZE]
#
# Starts its own MongoDB-wire server (the FerretDB build of internal/testmongo,
# built by the api tests) and redis-server on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/voxbridge}
size=${2:-1G}
ferret=.cache/vox-ferretdb
[ -x "$ferret" ] || { echo "no $ferret: run go test -run TestCompressedBodyRefused ./api/ once to build it" >&2; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
mport=$(port); rport=$(port); bport=$(port)
"$ferret" --listen "127.0.0.1:$mport" --dir "$dir/mongo" >"$dir/ferret.log" 2>&1 & pids+=($!)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$dir/redis.log" 2>&1 & pids+=($!)
MONGODB_URI="mongodb://127.0.0.1:$mport/bomb" REDIS_URL="redis://127.0.0.1:$rport/0" \
	JWT_SECRET=$(printf 'j%.0s' {1..40}) VOX_SERVICE_SECRET=$(printf 's%.0s' {1..32}) \
	VOXBRIDGE_HOST=127.0.0.1 VOXBRIDGE_PORT=$bport LOG_LEVEL=error "$bin" >"$dir/voxbridge.log" 2>&1 & pids+=($!)
vb=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$bport/health" >/dev/null && break; sleep 0.2; done
head -c "$size" /dev/zero | gzip -9 >"$dir/bomb.gz"
kb() { awk -v k="$1:" '$1==k {print $2}' "/proc/$vb/status"; }
echo "voxbridge: $bin"
echo "body: $(stat -c %s "$dir/bomb.gz") bytes gzip, inflating to $size"
echo "before: VmRSS $(( $(kb VmRSS) / 1024 )) MiB, VmHWM $(( $(kb VmHWM) / 1024 )) MiB"
start=$(date +%s.%N)
out=$(curl -s -o - -w ' HTTP %{http_code}' -X POST "http://127.0.0.1:$bport/api/v1/auth/login" \
	-H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary @"$dir/bomb.gz")
end=$(date +%s.%N)
echo "answer: $out in $(printf '%.2f' "$(echo "$end - $start" | bc)") s"
echo "after:  VmRSS $(( $(kb VmRSS) / 1024 )) MiB, VmHWM (peak) $(( $(kb VmHWM) / 1024 )) MiB"
