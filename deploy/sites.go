package deploy

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// FleetSite is deploy/nginx/voxfleet.conf as shipped.
//
//go:embed nginx/voxfleet.conf
var FleetSite string

// APISite is deploy/nginx/voxbridge.conf as shipped.
//
//go:embed nginx/voxbridge.conf
var APISite string

// Loopback describes where a shipped site runs on one machine without TLS:
// `make dev` and the tests that run the sites in a real nginx.
type Loopback struct {
	// Listen is the plain-HTTP address the site's TLS server listens on
	// instead of 443, e.g. 127.0.0.1:7702.
	Listen string
	// LogDir replaces /var/log/nginx.
	LogDir string
	// UpstreamFile replaces /etc/voxfleet/upstream.conf (fleet site).
	UpstreamFile string
	// Daemon replaces the voxfleet daemon address 127.0.0.1:9180 (fleet site).
	Daemon string
	// API replaces voxbridge's address 127.0.0.1:8080 (API site).
	API string
	// Root replaces /var/www/vox-console, the Console's build (API site).
	Root string
}

var (
	listenTLS   = regexp.MustCompile(`(?m)^(\s*)listen 443 ssl( http2)?;`)
	sslLine     = regexp.MustCompile(`(?m)^\s*ssl_\S+ .*;\n`)
	redirect    = regexp.MustCompile(`(?s)server \{\s*listen 80;.*?\n\}\n`)
	upstreamInc = regexp.MustCompile(`(?m)^include /etc/voxfleet/upstream.conf;`)
)

// replaceAll replaces every old by new in s and fails when old is absent, so
// that a change of the shipped file's shape is noticed instead of silently
// leaving a production path in a development site.
func replaceAll(s, old, new, what string) (string, error) {
	if !strings.Contains(s, old) {
		return "", fmt.Errorf("deploy: %s: %q not found in the shipped site", what, old)
	}
	return strings.ReplaceAll(s, old, new), nil
}

// loopback removes the port-80 redirect and TLS from a shipped site and
// points its logs at l.LogDir; everything else stays as shipped.
func loopback(site string, l Loopback, what string) (string, error) {
	for _, must := range []*regexp.Regexp{listenTLS, redirect} {
		if !must.MatchString(site) {
			return "", fmt.Errorf("deploy: %s: %s not found in the shipped site", what, must)
		}
	}
	site = redirect.ReplaceAllString(site, "")
	site = listenTLS.ReplaceAllString(site, "${1}listen "+l.Listen+";")
	site = sslLine.ReplaceAllString(site, "")
	return replaceAll(site, "/var/log/nginx/", strings.TrimSuffix(l.LogDir, "/")+"/", what)
}

// LoopbackFleetSite adapts the shipped fleet site to l: plain HTTP on
// l.Listen, the upstream file and daemon address of this machine, logs in
// l.LogDir.
func LoopbackFleetSite(l Loopback) (string, error) {
	s, err := loopback(FleetSite, l, "fleet site")
	if err != nil {
		return "", err
	}
	if !upstreamInc.MatchString(s) {
		return "", fmt.Errorf("deploy: fleet site: upstream include not found in the shipped site")
	}
	s = upstreamInc.ReplaceAllString(s, "include "+l.UpstreamFile+";")
	return replaceAll(s, "127.0.0.1:9180", l.Daemon, "fleet site")
}

// LoopbackAPISite adapts the shipped API site to l: plain HTTP on l.Listen,
// voxbridge at l.API, the Console build from l.Root, logs in l.LogDir.
func LoopbackAPISite(l Loopback) (string, error) {
	s, err := loopback(APISite, l, "API site")
	if err != nil {
		return "", err
	}
	if s, err = replaceAll(s, "server 127.0.0.1:8080;", "server "+l.API+";", "API site"); err != nil {
		return "", err
	}
	return replaceAll(s, "/var/www/vox-console", strings.TrimSuffix(l.Root, "/"), "API site")
}
