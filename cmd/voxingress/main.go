// Command voxingress keeps the HAProxy configuration of the WSS ingress, which
// fronts several fleet hosts, in step with the list of those hosts.
//
//	voxingress render                  print the configuration for the current fleets
//	voxingress apply                   check it with haproxy -c, install it, reload HAProxy
//	voxingress add-fleet NAME URL      front one more fleet host (then apply)
//	voxingress remove-fleet NAME       stop fronting a host (then apply)
//	voxingress drain NAME | undrain NAME  stop or resume new calls to a host (then apply)
//	voxingress list [--json]           the fleets, with HAProxy's live view of each
//	voxingress version
//
// Every change is config-only: the candidate is checked with haproxy -c
// before it replaces the running configuration, and on failure the old
// configuration and the old fleet list stay. Exit codes: 0 ok, 1 failed,
// 2 usage.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
