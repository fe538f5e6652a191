#!/usr/bin/env bash
# Installs what `make dev` runs, and nothing the tests alone need: nginx,
# Redis, the libraries the fleet's binary links (Opus, soxr) and the offline
# voice (scripts/deps-voice.sh), the MongoDB-wire server, MinIO,
# livekit-server, and Node with the Console's npm packages. Idempotent: a
# second run installs nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if ! have go; then
	echo "deps-dev: Go is not installed: get Go 1.26 from https://go.dev/dl/ (the go.mod's version), then run make dev again" >&2
	exit 1
fi
if ! have apt-get; then
	echo "deps-dev: no apt-get: install nginx, redis-server, libopus-dev, libopusfile-dev, libsoxr-dev, pkg-config, espeak-ng, sox, pocketsphinx and Node.js 20 with your package manager, then run scripts/deps-dev.sh again" >&2
	exit 1
fi
need_apt=()
have nginx || need_apt+=(nginx)
have redis-server || need_apt+=(redis-server)
for pkg in libopus-dev libopusfile-dev libsoxr-dev pkg-config; do
	have_pkg "$pkg" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
	echo "deps-dev: apt-get install ${need_apt[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		if ! have sudo; then
			echo "deps-dev: not root and no sudo: as root, apt-get install ${need_apt[*]}" >&2
			exit 1
		fi
		SUDO=sudo
	else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
	# Debian starts the packaged services; the stack runs its own.
	for svc in nginx redis-server; do
		$SUDO service "$svc" stop >/dev/null 2>&1 || true
	done
fi
"$here/deps-voice.sh"      # espeak-ng and PocketSphinx: the workers' offline voice
"$here/deps-ferretdb.sh"   # the MongoDB-wire server (its own Go module)
"$here/deps-minio.sh"      # MinIO for recordings (slow the first time)
"$here/deps-livekit.sh"    # livekit-server for LiveKit calls
"$here/deps-console.sh"    # Node and the Console's npm packages
echo "deps-dev: ok"
