#!/usr/bin/env bash
# Runs systemd-analyze verify on every unit under deploy/systemd against the
# binaries built into bin/ (make build): each /usr/local/bin/NAME a unit
# starts is pointed at bin/NAME (minio at $(go env GOPATH)/bin/minio), so the
# check covers the units as they will run, without installing anything.
# systemd-analyze exits 0 on many mistakes (an unknown key, a bad value), so
# any line it prints about a unit fails. `make verify-units` runs this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v systemd-analyze >/dev/null || { echo "verify-units: systemd-analyze not found (apt-get install -y systemd)" >&2; exit 1; }
gobin=$(go env GOPATH)/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for unit in "$root"/deploy/systemd/*.{service,timer,socket,path,target}; do
	[ -e "$unit" ] || continue
	name=$(basename "$unit")
	sed -E "s#/usr/local/bin/([a-z-]+)#$root/bin/\\1#g; s#$root/bin/minio#$gobin/minio#g" "$unit" >"$tmp/$name"
	for b in $(grep -oE "($root/bin|$gobin)/[a-z-]+" "$tmp/$name" | sort -u); do
		[ -x "$b" ] || { echo "verify-units: $name starts $b, which is not built (make build; scripts/deps-minio.sh)" >&2; fail=1; }
	done
done
[ "$fail" = 0 ] || exit 1
for u in "$tmp"/*; do
	name=$(basename "$u")
	out=$(systemd-analyze verify --man=no "$u" 2>&1) || { echo "$out" >&2; fail=1; continue; }
	if grep -F "$name" <<<"$out" >&2; then
		fail=1
	else
		echo "verify-units: $name ok"
	fi
done
exit $fail
