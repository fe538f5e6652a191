#!/usr/bin/env bash
# Deploys a release to hosts by role, over ssh. The Jenkinsfile runs it; so
# can a person (docs/deploy.md).
#
#   deploy.sh package VERSION            dist/vox-VERSION.tar.gz: bin/ (make build VERSION=…), deploy/,
#                                        scripts/host-install.sh, and the Console's build if present
#   deploy.sh deploy ROLE HOST VERSION   ship the release to HOST, install ROLE from it
#   deploy.sh health ROLE HOST           ROLE's health check on HOST (/health, /health/fleet, :8090/health …)
#   deploy.sh mark-good ROLE HOST VERSION  record VERSION as HOST's last-known-good release of ROLE
#   deploy.sh rollback ROLE HOST         install HOST's last-known-good release of ROLE again (kept on HOST)
#   deploy.sh rollback-touched           roll back every ROLE HOST deployed to since the last package
#
# ROLE is api, fleet, dialler, sip or ingress (scripts/host-install.sh does
# the work on the host). Settings from the environment:
#   VOX_SSH        ssh command (default: ssh -o BatchMode=yes)
#   VOX_SSH_USER   user on the hosts (default: deploy; needs passwordless sudo)
#   VOX_ROOT       prefix of every path on the host (default: empty, i.e. /)
#   VOX_DIST       where packages are written and read (default: dist)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
DIST=${VOX_DIST:-$root/dist}
SSH=${VOX_SSH:-ssh -o BatchMode=yes}
USER_AT=${VOX_SSH_USER:-deploy}@
REMOTE_ROOT=${VOX_ROOT:-}

die() { echo "deploy: $*" >&2; exit 1; }
usage() {
	echo "usage:" >&2
	awk 'NR > 1 && /^#/ { sub(/^# ?/, "  "); print; next } NR > 1 { exit }' "$0" >&2
	exit 2
}

check_role() {
	case $1 in
	api | fleet | dialler | sip | ingress) ;;
	*) echo "deploy: unknown role '$1' (api, fleet, dialler, sip, ingress)" >&2; exit 2 ;;
	esac
}

check_version() {
	[[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || { echo "deploy: bad version '$1'" >&2; exit 2; }
}

# remote HOST CMD: run CMD as root on HOST.
remote() {
	local host=$1; shift
	# shellcheck disable=SC2086
	# VOX_ROOT only when set: a sudoers rule that allows host-install.sh alone
	# may refuse to set variables.
	$SSH "$USER_AT$host" "sudo ${REMOTE_ROOT:+VOX_ROOT='$REMOTE_ROOT' }$*"
}

release_dir() { echo "$REMOTE_ROOT/opt/vox/releases/$1"; }

cmd=${1:-}
case $cmd in
package)
	[ $# = 2 ] || usage
	check_version "$2"
	v=$2
	[ -d "$root/bin" ] || die "no bin/: run make build VERSION=$v first"
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage/scripts"
	cp -a "$root/bin" "$root/deploy" "$stage/"
	rm -f "$stage"/deploy/*.go
	cp "$here/host-install.sh" "$stage/scripts/"
	if [ -d "$root/frontend/dist" ]; then
		cp -a "$root/frontend/dist" "$stage/console"
	fi
	echo "$v" >"$stage/VERSION"
	mkdir -p "$DIST"
	: >"$DIST/touched"
	tar -czf "$DIST/vox-$v.tar.gz" -C "$stage" .
	echo "deploy: $DIST/vox-$v.tar.gz ($(ls "$stage/bin" | tr '\n' ' '))"
	;;
deploy)
	[ $# = 4 ] || usage
	role=$2 host=$3 v=$4
	check_role "$role"
	check_version "$v"
	pkg=$DIST/vox-$v.tar.gz
	[ -f "$pkg" ] || die "$pkg missing: scripts/deploy.sh package $v first"
	rel=$(release_dir "$v")
	echo "deploy: $role $v → $host"
	grep -qxF "$role $host" "$DIST/touched" 2>/dev/null || echo "$role $host" >>"$DIST/touched"
	# Unpacked beside the final place, then renamed: a release directory is
	# complete or absent.
	# shellcheck disable=SC2086
	$SSH "$USER_AT$host" "sudo sh -c 'rm -rf $rel.tmp && mkdir -p $rel.tmp && tar -xzf - -C $rel.tmp && rm -rf $rel && mv $rel.tmp $rel'" <"$pkg"
	remote "$host" "$rel/scripts/host-install.sh install $role $v"
	;;
health)
	[ $# = 3 ] || usage
	check_role "$2"
	# The newest release's script does the check.
	remote "$3" "sh -c 'exec \"\$(ls -1td $REMOTE_ROOT/opt/vox/releases/*/ | head -n 1)scripts/host-install.sh\" health $2'"
	;;
mark-good)
	[ $# = 4 ] || usage
	check_role "$2"
	check_version "$4"
	remote "$3" "$(release_dir "$4")/scripts/host-install.sh mark-good $2 $4"
	;;
rollback)
	[ $# = 3 ] || usage
	check_role "$2"
	remote "$3" "sh -c 'v=\$(cat $REMOTE_ROOT/opt/vox/last-good/$2) && exec $REMOTE_ROOT/opt/vox/releases/\$v/scripts/host-install.sh rollback $2'"
	;;
rollback-touched)
	[ $# = 1 ] || usage
	failed=0
	while read -r role host; do
		[ -n "$role" ] || continue
		"$0" rollback "$role" "$host" </dev/null || { echo "deploy: rollback of $role on $host failed" >&2; failed=1; }
	done <"$DIST/touched"
	exit $failed
	;;
*) usage ;;
esac
