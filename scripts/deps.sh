#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Idempotent: a second
# run installs nothing and takes a second.
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have nginx || need_apt+=(nginx)
have redis-server || need_apt+=(redis-server)
have haproxy || need_apt+=(haproxy)
have systemd-analyze || need_apt+=(systemd)
# LiveKit's media SDK (cgo: Opus, resampling) and the speech fixtures of its tests.
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libopus-dev libopusfile-dev libsoxr-dev pkg-config; do
	have_pkg "$pkg" || need_apt+=("$pkg")
done
have espeak-ng || need_apt+=(espeak-ng)
have sox || need_apt+=(sox)

if ((${#need_apt[@]})); then
	echo "deps: apt-get install ${need_apt[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
	# Debian starts the packaged services; the tests run their own.
	for svc in nginx redis-server haproxy; do
		$SUDO service "$svc" stop >/dev/null 2>&1 || true
	done
fi

go mod download
"$(dirname "$0")/deps-promtool.sh"     # promtool for the alert rules and /metrics (slow the first time)
"$(dirname "$0")/deps-deploycheck.sh"  # compose-go and LiveKit's SIP types for deploy/livekit (own Go module)
here=$(dirname "$0")
"$here/deps-ferretdb.sh"   # the MongoDB-wire server the Backend's tests run (its own Go module)
"$here/deps-minio.sh"      # the MinIO server for recordings (slow the first time)
"$here/deps-livekit.sh"    # livekit-server for the LiveKit leg's tests
"$here/deps-console.sh"    # Node, Chromium and the Console's npm packages (its lint, tests and browser tests)
echo "deps: ok"
