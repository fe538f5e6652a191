#!/usr/bin/env bash
# Installs what `make bench-baseline` needs to run the seed's design on this
# machine: Debian's uvicorn, FastAPI and websockets for the single-call
# workers, supervisor standing in for systemd's voxcore@ instances, and
# nginx in front. Idempotent: a second run installs nothing.
set -euo pipefail

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in python3-uvicorn python3-fastapi python3-websockets supervisor nginx; do
	have_pkg "$pkg" || need_apt+=("$pkg")
done

if ((${#need_apt[@]})); then
	echo "deps-baseline: apt-get install ${need_apt[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
	# Debian starts the packaged services; the benchmark runs its own.
	for svc in supervisor nginx; do
		$SUDO service "$svc" stop >/dev/null 2>&1 || true
	done
fi

# Debian's interpreter, by path: a python3 earlier on PATH (pyenv, a venv)
# does not see Debian's packages. The benchmark runs this one.
/usr/bin/python3 -c 'import uvicorn, fastapi, websockets' || {
	echo "deps-baseline: /usr/bin/python3 cannot import uvicorn, fastapi and websockets" >&2
	exit 1
}
echo "deps-baseline: ok"
