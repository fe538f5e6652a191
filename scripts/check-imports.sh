#!/usr/bin/env bash
# Enforces the import boundaries of DESIGN.md: a worker never reaches into the
# daemon, the Backend into neither, and the shared leaf packages into nothing of ours.
set -euo pipefail
mod=$(go list -m)
fail=0
forbid() { # package, forbidden import prefix...
	local pkg=$1; shift
	local deps
	deps=$(go list -deps "$mod/$pkg/..." 2>/dev/null || true)
	for bad in "$@"; do
		if grep -qx "$mod/$bad" <<<"$deps"; then
			echo "import boundary: $pkg must not import $bad" >&2
			fail=1
		fi
	done
}
forbid callslot supervisor upstream api
[ -d api ] && forbid api supervisor callslot upstream
forbid svcauth supervisor callslot api lifeline upstream
forbid lifeline supervisor callslot api svcauth upstream
forbid upstream supervisor callslot api
exit $fail
