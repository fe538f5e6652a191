#!/usr/bin/env bash
# Runs on a target host, as root, from an unpacked release
# (/opt/vox/releases/VERSION, shipped by scripts/deploy.sh). One role at a time:
#
#   host-install.sh install ROLE VERSION   install ROLE from release VERSION and (re)start it
#   host-install.sh health ROLE            check ROLE's health, retried for VOX_HEALTH_TIMEOUT seconds
#   host-install.sh mark-good ROLE VERSION record VERSION as ROLE's last-known-good release on this host
#   host-install.sh rollback ROLE          install ROLE's last-known-good release again
#
# ROLE: api (voxbridge, Console build), fleet (voxfleet, MinIO unit), dialler
# (voxdialler and its healthcheck timer), sip (LiveKit compose stack), ingress
# (voxingress: HAProxy configuration).
#
# Fleet hosts are never restarted: a running voxfleet is upgraded in place
# (`voxfleet upgrade`: rehearsal, re-exec with the same PID, workers rolled
# canary first, no call cut). Every path is under VOX_ROOT (empty: /), so the
# script can be exercised against a temporary root.
set -euo pipefail
[ -z "${VOX_TRACE:-}" ] || set -x

ROOT=${VOX_ROOT:-}
RELEASES=$ROOT/opt/vox/releases
GOOD=$ROOT/opt/vox/last-good
BIN=$ROOT/usr/local/bin
UNITS=$ROOT/etc/systemd/system
KEEP=${VOX_KEEP_RELEASES:-5}
HEALTH_TIMEOUT=${VOX_HEALTH_TIMEOUT:-60}

say() { echo "host-install: $*"; }
die() { echo "host-install: $*" >&2; exit 1; }

usage() {
	echo "usage:" >&2
	awk 'NR > 1 && /^#/ { sub(/^# ?/, "  "); print; next } NR > 1 { exit }' "$0" >&2
	exit 2
}

# env_get FILE KEY: a KEY=VALUE setting of an EnvironmentFile, unquoted.
env_get() {
	local v
	v=$(sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1)
	v=${v#\"}; v=${v%\"}; v=${v#\'}; v=${v%\'}
	printf '%s' "$v"
}

units_changed=0
# install_unit NAME: the release's deploy/systemd/NAME, when it differs.
install_unit() {
	local src=$REL/deploy/systemd/$1
	[ -f "$src" ] || return 0
	mkdir -p "$UNITS"
	if ! cmp -s "$src" "$UNITS/$1"; then
		install -m 0644 "$src" "$UNITS/$1"
		units_changed=1
		say "unit $1 installed"
	fi
}

daemon_reload() {
	if [ "$units_changed" = 1 ]; then
		systemctl daemon-reload
	fi
}

# install_bin NAME: the release's bin/NAME at /usr/local/bin/NAME, by rename
# (a running binary is never written to).
install_bin() {
	local src=$REL/bin/$1
	[ -x "$src" ] || die "release $VERSION has no bin/$1"
	mkdir -p "$BIN"
	install -m 0755 "$src" "$BIN/.$1.new"
	mv -f "$BIN/.$1.new" "$BIN/$1"
	say "$("$BIN/$1" version 2>/dev/null || echo "$1 $VERSION") installed at $BIN/$1"
}

install_api() {
	install_bin voxbridge
	install_unit voxbridge.service
	daemon_reload
	if [ -d "$REL/console" ]; then
		local www=$ROOT/var/www/vox-console
		mkdir -p "$www/releases"
		rm -rf "$www/releases/$VERSION"
		cp -a "$REL/console" "$www/releases/$VERSION"
		ln -sfn "releases/$VERSION" "$www/current.new"
		mv -Tf "$www/current.new" "$www/current"
		say "Console $VERSION published at $www/current"
	fi
	systemctl enable voxbridge >/dev/null 2>&1 || true
	systemctl restart voxbridge
}

install_fleet() {
	local envf=$ROOT/etc/voxfleet/voxfleet.env
	[ -f "$envf" ] || die "$envf missing: install it from deploy/env/voxfleet.env.example first (docs/deploy.md)"
	local sockets
	sockets=$(env_get "$envf" VOXFLEET_SOCKET_DIR)
	sockets=${sockets:-/run/voxfleet}
	install_unit voxfleet.service
	install_unit minio.service
	daemon_reload
	local running=""
	if running=$("$BIN/voxfleet" status --json --socket-dir "$sockets" 2>/dev/null); then
		# The daemon's own version is the first one in the JSON.
		running=$(grep -o '"version": *"[^"]*"' <<<"$running" | head -n 1 | cut -d'"' -f4)
	else
		running=""
	fi
	install_bin voxfleet
	if [ -z "$running" ]; then
		say "voxfleet is not running: starting it"
		systemctl enable --now voxfleet
		return
	fi
	local new
	new=$("$BIN/voxfleet" version | awk '{print $2}')
	if [ "$new" = "$running" ]; then
		say "voxfleet already runs $new: nothing to upgrade"
		return
	fi
	say "voxfleet $running → $new: zero-cut upgrade"
	"$BIN/voxfleet" upgrade --socket-dir "$sockets"
}

install_dialler() {
	install_bin voxdialler
	install_unit voxdialler.service
	install_unit voxdialler-healthcheck.service
	install_unit voxdialler-healthcheck.timer
	daemon_reload
	systemctl enable voxdialler >/dev/null 2>&1 || true
	systemctl restart voxdialler
	if [ -f "$UNITS/voxdialler-healthcheck.timer" ]; then
		systemctl enable --now voxdialler-healthcheck.timer
	fi
}

install_sip() {
	local dir=$ROOT/opt/vox-livekit
	local envf=$dir/livekit.env
	[ -f "$envf" ] || die "$envf missing: install it from deploy/env/livekit.env.example first (docs/deploy.md)"
	# Only the settings the templates name are substituted.
	local vars
	vars=$(grep -ohE '\$\{[A-Z_][A-Z0-9_]*\}' "$REL/deploy/livekit/livekit.yaml" "$REL/deploy/livekit/sip.yaml" | sort -u | tr '\n' ' ')
	(
		set -a
		# shellcheck disable=SC1090
		. "$envf"
		set +a
		for f in livekit.yaml sip.yaml; do
			envsubst "$vars" <"$REL/deploy/livekit/$f" >"$dir/.$f.new"
			chmod 0640 "$dir/.$f.new"
			mv -f "$dir/.$f.new" "$dir/$f"
		done
	)
	install -m 0644 "$REL/deploy/livekit/compose.yaml" "$dir/compose.yaml"
	mkdir -p "$dir/trunks"
	cp "$REL"/deploy/livekit/trunks/*.json "$dir/trunks/"
	say "LiveKit configuration rendered in $dir"
	# Recreates only the services whose configuration changed.
	(cd "$dir" && docker compose up -d)
}

install_ingress() {
	install_bin voxingress
	local envf=$ROOT/etc/voxingress/voxingress.env
	(
		if [ -f "$envf" ]; then
			set -a
			# shellcheck disable=SC1090
			. "$envf"
			set +a
		fi
		"$BIN/voxingress" apply
	)
}

# health_url URL: retried until it answers 2xx or HEALTH_TIMEOUT passes.
health_url() {
	local deadline=$((SECONDS + HEALTH_TIMEOUT)) out
	while :; do
		if out=$(curl -fsS --max-time 5 "$1" 2>&1); then
			say "healthy: $1 ${out:0:120}"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			die "unhealthy after ${HEALTH_TIMEOUT}s: $1: $out"
		fi
		sleep 1
	done
}

health() {
	case $1 in
	api) health_url "${VOX_HEALTH_API:-http://127.0.0.1:8080/health}" ;;
	fleet)
		local listen
		listen=$(env_get "$ROOT/etc/voxfleet/voxfleet.env" VOXFLEET_LISTEN)
		health_url "http://${listen:-127.0.0.1:9180}/health/fleet"
		;;
	dialler) health_url "${VOX_HEALTH_DIALLER:-http://127.0.0.1:8090/health}" ;;
	sip) health_url "${VOX_HEALTH_LIVEKIT:-http://127.0.0.1:7880/}" ;;
	ingress) health_url "${VOX_HEALTH_INGRESS:-http://127.0.0.1/health/ingress}" ;;
	*) usage ;;
	esac
}

# prune keeps the KEEP newest releases and every last-known-good one.
prune() {
	local keep
	keep=$(cat "$GOOD"/* 2>/dev/null || true)
	ls -1t "$RELEASES" 2>/dev/null | tail -n +"$((KEEP + 1))" | while read -r r; do
		grep -qxF "$r" <<<"$keep" || rm -rf "${RELEASES:?}/$r"
	done
}

cmd=${1:-}
case $cmd in
install)
	[ $# = 3 ] || usage
	ROLE=$2 VERSION=$3 REL=$RELEASES/$3
	[ -d "$REL" ] || die "release $VERSION is not on this host ($REL)"
	case $ROLE in
	api | fleet | dialler | sip | ingress) "install_$ROLE" ;;
	*) usage ;;
	esac
	prune
	say "$ROLE $VERSION installed"
	;;
health)
	[ $# = 2 ] || usage
	health "$2"
	;;
mark-good)
	[ $# = 3 ] || usage
	[ -d "$RELEASES/$3" ] || die "release $3 is not on this host"
	mkdir -p "$GOOD"
	echo "$3" >"$GOOD/$2"
	say "$2: last-known-good is $3"
	;;
rollback)
	[ $# = 2 ] || usage
	[ -f "$GOOD/$2" ] || die "$2 has no last-known-good release on this host"
	good=$(cat "$GOOD/$2")
	say "$2: rolling back to $good"
	exec "$0" install "$2" "$good"
	;;
*) usage ;;
esac
