#!/usr/bin/env bash
# Installs what the offline voice pipeline needs: espeak-ng (speaks, and makes
# the tests' speech), sox, and PocketSphinx with Debian's en-us model (cgo:
# headers and pkg-config). Idempotent.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have espeak-ng || need+=(espeak-ng)
have sox || need+=(sox)
have pkg-config || need+=(pkg-config)
pkg-config --exists pocketsphinx sphinxbase 2>/dev/null || need+=(libpocketsphinx-dev libsphinxbase-dev)
[ -f /usr/share/pocketsphinx/model/en-us/en-us/mdef ] || need+=(pocketsphinx-en-us)
if ((${#need[@]})); then
	echo "deps-voice: apt-get install ${need[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
