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
# The runtime contract is a leaf: the standard library only.
forbid runtimeapi api store phone importer supervisor callslot upstream lifeline svcauth restart control
forbid runtimeclient api store phone importer supervisor callslot upstream lifeline restart control recording
forbid recording api store phone importer supervisor callslot upstream lifeline svcauth restart control runtimeclient
forbid spool api store phone importer supervisor callslot upstream lifeline svcauth restart control runtimeapi runtimeclient recording
forbid phone api store supervisor callslot upstream
forbid importer api store supervisor callslot upstream
forbid svcauth supervisor callslot api lifeline upstream
forbid lifeline supervisor callslot api svcauth upstream
forbid upstream supervisor callslot api
forbid supervisor callslot api
forbid control supervisor callslot api upstream lifeline restart
# The fleet contract: every side imports it, so it imports nothing of ours but svcauth.
forbid fleetapi agent api callslot carrier control importer lifeline lkapi pacing phone plainbody recording restart roomleg runtimeapi runtimeclient sdnotify spool store supervisor twilio upstream version
forbid lkapi agent roomleg supervisor callslot api store upstream lifeline svcauth control
forbid roomleg supervisor callslot api store upstream lifeline control
forbid ingress supervisor callslot api upstream store
forbid internal/consolee2e supervisor callslot upstream
forbid devstack supervisor callslot api
forbid deploy supervisor callslot api
# The Dialler: its engine reaches the Backend only through store and the
# runtime contract, the fleets only through fleetapi; its pure parts import
# nothing that does I/O.
forbid dialler api supervisor callslot upstream control lifeline restart roomleg agent
forbid dialler/compliance api supervisor callslot upstream dialler/leader dialler/fairshare dialler/simulate dialler/lkplace dialler/fleets lkapi fleetapi runtimeclient
forbid dialler/fairshare api store supervisor callslot upstream pacing lkapi fleetapi runtimeclient
forbid dialler/leader api supervisor callslot upstream pacing lkapi fleetapi runtimeclient
forbid pacing api store supervisor callslot upstream dialler lkapi fleetapi runtimeclient
# The voice pipeline: agent and voice/ know nothing of workers, daemons or the Backend.
forbid agent supervisor callslot api store upstream lifeline control
forbid voice agent supervisor callslot api store upstream lifeline control twilio carrier
# Carrier protocols: messages and audio only; the leg that runs them is callslot's.
forbid carrier agent supervisor callslot api store upstream lifeline control runtimeapi runtimeclient recording
exit $fail
