// Package deploy holds what a host needs to run the platform, role by role:
// systemd units (systemd/), nginx sites (nginx/), environment file examples
// (env/), the SIP / LiveKit host's compose stack and templates (livekit/),
// Prometheus alert rules (prometheus/) and the Grafana dashboard (grafana/).
// Its Go code embeds the shipped sites and adapts them to one machine without
// TLS (LoopbackFleetSite, LoopbackAPISite: `make dev` and tests run them so).
// Its tests check every file with the real tools: `systemd-analyze verify` on
// every unit, `nginx -t` on every site, a real nginx running the fleet site in
// front of fake workers, MinIO started with its env example, livekit-server's
// own parser on livekit.yaml, compose-go (the loader of `docker compose
// config`) on compose.yaml, LiveKit's protocol types on the trunk examples,
// `promtool check rules|test rules|check metrics`, and scripts/deploy.sh
// driven through a fake ssh against a temporary root. The Jenkinsfile's
// structure is checked here too.
//
// It must not import supervisor, callslot or api; its tests may import
// upstream, to render the file the fleet site includes.
package deploy
