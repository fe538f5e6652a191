#!/usr/bin/env bash
# Installs what the Console's checks and browser tests need: Node.js and
# npm, Debian's Chromium (playwright-core drives it; no browser download),
# and the Console's npm packages from its lock file (npm ci, skipped when
# node_modules already matches package-lock.json). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-dejavu-core)
if ((${#need_apt[@]})); then
	echo "deps-console: apt-get install ${need_apt[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
cd "$here/../frontend"
# npm ci writes node_modules/.package-lock.json: newer than the lock file
# means the installed packages are the locked ones.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "deps-console: npm ci"
	npm ci --no-audit --no-fund --loglevel=error
else
	npm run --silent gen
fi
echo "deps-console: ok"
