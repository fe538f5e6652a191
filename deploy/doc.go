// Package deploy holds what a host needs to run the platform: systemd units
// (systemd/), nginx sites (nginx/) and environment file examples (env/). Its
// Go code embeds the shipped sites and adapts them to one machine without TLS
// (LoopbackFleetSite, LoopbackAPISite: `make dev` and tests run them so), and
// its tests check every file with the real tools: `systemd-analyze verify` on
// every unit, `nginx -t` on every site, and a real nginx running the fleet
// site in front of fake workers.
//
// It must not import supervisor, callslot or api; its tests may import
// upstream, to render the file the fleet site includes.
package deploy
