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
here=$(dirname "$0")
"$here/deps-ferretdb.sh"   # the MongoDB-wire server the Backend's tests run (its own Go module)
"$here/deps-minio.sh"      # the MinIO server for recordings (slow the first time)
"$here/deps-console.sh"    # Node, Chromium and the Console's npm packages (its lint, tests and browser tests)
echo "deps: ok"
