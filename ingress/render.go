package ingress

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// Defaults of Params.
const (
	DefaultListen      = ":443"
	DefaultStatsSocket = "/run/haproxy/admin.sock"
	// TunnelTimeout is how long a WebSocket call may stay silent in both
	// directions; the fleet's nginx allows the same (proxy_read_timeout 2h).
	TunnelTimeout = "2h"
	// Backend is the HAProxy backend holding the fleet hosts.
	Backend = "vox_fleets"
)

// Params are the ingress settings that are not fleets.
type Params struct {
	// Listen is the bind address, ":443" by default.
	Listen string
	// Cert is the PEM file (certificate and key) HAProxy terminates TLS
	// with. Empty: plain HTTP, for an ingress behind a TLS load balancer.
	Cert string
	// StatsSocket is HAProxy's admin socket, which `voxingress list` reads.
	// Empty: DefaultStatsSocket; "-" for none.
	StatsSocket string
	// Source names the state file in the rendered header.
	Source string
}

type server struct {
	Name  string
	Addr  string
	Host  string
	TLS   bool
	Drain bool
}

var tmpl = template.Must(template.New("haproxy").Parse(`# Rendered by voxingress from {{.Source}}. Do not edit: change the fleets with
# voxingress add-fleet | remove-fleet | drain | undrain, which check this file
# with haproxy -c before it replaces the running one.
global
    log /dev/log local0
    # Calls at once across every fleet host (each takes two descriptors).
    maxconn 4096
{{- if .StatsSocket}}
    stats socket {{.StatsSocket}} mode 660 level admin expose-fd listeners
{{- end}}
    # After a reload the previous processes keep the calls they carry (up to
    # the longest call) while the new ones take new calls.
    hard-stop-after {{.Tunnel}}
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-server-options ssl-min-ver TLSv1.2

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 10s
    # A WebSocket call: silent for up to this long in both directions.
    timeout tunnel {{.Tunnel}}
    timeout client-fin 30s
    # A request refused before any worker took it (no connection, or the
    # fleet's "no free worker" 503) is sent to another fleet host.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503

frontend vox_ingress
    bind {{.Listen}}{{if .Cert}} ssl crt {{.Cert}} alpn http/1.1{{end}}
    # 200 while some fleet host is up, 503 when none is.
    monitor-uri /health/ingress
    monitor fail if { nbsrv({{.Backend}}) eq 0 }
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request return status 404 content-type application/json string "{\"error\":\"not found\"}" if { path /metrics }
    default_backend {{.Backend}}

backend {{.Backend}}
    # Each call is one long connection: the host with the fewest wins.
    balance leastconn
    # A host takes new calls while its /health/fleet reports a free worker;
    # a full or stopped host leaves rotation, its calls in progress carry on.
    option httpchk
    http-check send meth GET uri /health/fleet ver HTTP/1.1 hdr Host vox-ingress
    http-check expect rstring "\"free\":[1-9]"
    # A host name that does not resolve when HAProxy starts leaves that host
    # in maintenance (voxingress list shows MAINT) instead of failing the
    # whole ingress.
    # A host out of rotation is checked again every second, so it takes calls
    # again soon after a worker frees up.
    default-server inter 2s downinter 1s fall 2 rise 1 init-addr last,libc,none
{{- range .Servers}}
    server {{.Name}} {{.Addr}} check{{if .TLS}} ssl verify required ca-file @system-ca sni str({{.Host}}) check-sni {{.Host}}{{end}}{{if .Drain}} weight 0{{end}}
{{- end}}
`))

// Render returns the HAProxy configuration for s and p. It validates s.
func Render(s State, p Params) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if p.Listen == "" {
		p.Listen = DefaultListen
	}
	switch p.StatsSocket {
	case "":
		p.StatsSocket = DefaultStatsSocket
	case "-":
		p.StatsSocket = ""
	}
	for _, v := range []string{p.Listen, p.Cert, p.StatsSocket, p.Source} {
		if strings.ContainsAny(v, " \t\n\"'#\\") {
			return nil, fmt.Errorf("setting %q: spaces, quotes, # and \\ are not allowed", v)
		}
	}
	if p.Source == "" {
		p.Source = "the ingress state"
	}
	data := struct {
		Params
		Tunnel, Backend string
		Servers         []server
	}{Params: p, Tunnel: TunnelTimeout, Backend: Backend}
	for _, f := range s.Fleets {
		ep, _ := endpointOf(f.URL)
		data.Servers = append(data.Servers, server{Name: f.Name, Addr: ep.Addr, Host: ep.Host, TLS: ep.TLS, Drain: f.Drain})
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return b.Bytes(), nil
}
