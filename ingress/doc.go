// Package ingress renders and applies the HAProxy configuration of the
// optional WSS ingress: one public address in front of several fleet hosts,
// each of which runs voxfleet behind its own nginx (deploy/nginx/voxfleet.conf).
//
// The fleets behind one ingress form one fleet to the Backend: they share one
// VOXFLEET_FLEET_ID (service tokens are scoped to it) and the ingress's URL is
// what is registered. HAProxy balances new connections with leastconn, checks
// each host's /health/fleet and takes a host out of rotation while it has no
// free worker, keeps WebSocket calls open for hours (timeout tunnel), and
// retries a request refused before any worker took it (connection failure or
// the fleet's 503 "no free worker") on another host.
//
// State (the fleet hosts) is a small JSON file. Render is pure. Apply writes
// the candidate beside the live file, runs `haproxy -c` on it, and only then
// replaces the live file and reloads; on a failed check the old configuration
// stays in place and HAProxy is not touched. A reload starts new HAProxy
// processes for new connections while the old ones keep the calls they carry,
// so adding, draining or removing a host cuts no call.
//
// ingress must not import supervisor, callslot, api or upstream: it knows the
// fleets only by their URLs.
package ingress
