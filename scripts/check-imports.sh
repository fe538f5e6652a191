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
		# A boundary covers the package and every package under it:
		# "api" forbids api/store too.
		local hits
		hits=$(grep -E "^$mod/$bad(/|\$)" <<<"$deps" || true)
		if [ -n "$hits" ]; then
			echo "import boundary: $pkg must not import $bad ($(tr '\n' ' ' <<<"$hits" | sed 's/ $//'))" >&2
			fail=1
		fi
	done
}
forbid callslot supervisor upstream api
[ -d api ] && forbid api supervisor callslot upstream
forbid store api supervisor callslot upstream
forbid phone api store supervisor callslot upstream
forbid importer api store supervisor callslot upstream
forbid svcauth supervisor callslot api lifeline upstream
forbid lifeline supervisor callslot api svcauth upstream
forbid upstream supervisor callslot api
forbid supervisor callslot api
forbid control supervisor callslot api upstream lifeline svcauth restart
forbid internal/consolee2e supervisor callslot upstream
forbid devstack supervisor callslot api
forbid deploy supervisor callslot api
exit $fail
