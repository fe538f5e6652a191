package devstack

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// tool is a program the stack runs, where it is looked for and how to get
// it.
type tool struct {
	name    string
	paths   []string // looked at first; then PATH, /usr/sbin, /usr/local/sbin
	install string   // what installs it
	// optional tools leave their part out when missing.
	optional bool
	// built tools are this repository's binaries: only paths count.
	built bool
}

// tools lists every program the stack runs, in start order.
func (c Config) tools() []tool {
	return []tool{
		{name: "redis-server", install: "apt-get install redis-server"},
		{name: "vox-ferretdb", paths: []string{filepath.Join(c.Root, ".cache", "vox-ferretdb")},
			install: "scripts/deps-ferretdb.sh"},
		{name: "minio", paths: []string{filepath.Join(gopathBin(), "minio")},
			install: "scripts/deps-minio.sh, about 6 min the first time"},
		{name: "livekit-server", paths: []string{filepath.Join(c.Root, ".cache", "bin", "livekit-server"), filepath.Join(gopathBin(), "livekit-server")},
			install: "scripts/deps-livekit.sh", optional: true},
		{name: "voxbridge", paths: []string{filepath.Join(c.BinDir, "voxbridge")}, install: "make build", built: true},
		{name: "nginx", install: "apt-get install nginx"},
		{name: "voxfleet", paths: []string{filepath.Join(c.BinDir, "voxfleet")}, install: "make build", built: true},
		{name: "voxdialler", paths: []string{filepath.Join(c.BinDir, "voxdialler")}, install: "make build", built: true, optional: true},
	}
}

// find returns the tool's path.
func (t tool) find() (string, error) {
	if t.built {
		for _, p := range t.paths {
			if fileExists(p) {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s is not built: run %s", t.paths[0], t.install)
	}
	p, err := binary(t.name, t.paths...)
	if err != nil {
		return "", fmt.Errorf("%s not found: run %s", t.name, t.install)
	}
	return p, nil
}

// lookup finds every tool: their paths by name, and one error naming every
// required tool that is missing with how to get it.
func (c Config) lookup() (map[string]string, error) {
	found := map[string]string{}
	var missing []string
	for _, t := range c.tools() {
		p, err := t.find()
		switch {
		case err == nil:
			found[t.name] = p
		case !t.optional:
			missing = append(missing, "  "+err.Error())
		}
	}
	if len(missing) > 0 {
		return found, fmt.Errorf("cannot start the platform, missing:\n%s\n(`make dev-deps` installs them all)", strings.Join(missing, "\n"))
	}
	return found, nil
}

// ports names the TCP ports the stack listens on, by offset.
var ports = []struct {
	off  int
	what string
}{
	{offConsole, "the API site and Console"}, {offBridge, "voxbridge"}, {offFleet, "the fleet site"},
	{offDaemon, "voxfleet's /health/fleet"}, {offDialler, "voxdialler's /health"}, {offRedis, "Redis"},
	{offMongo, "the MongoDB-wire server"}, {offMinIO, "MinIO"}, {offLiveKit, "livekit-server"},
	{offRTCTCP, "livekit-server's ICE over TCP"},
}

// portsFree checks that no other program listens on the stack's TCP
// ports, naming each that is taken and how to move them all.
func (c Config) portsFree() error {
	var taken []string
	for _, p := range ports {
		l, err := net.Listen("tcp", c.addr(p.off))
		if err != nil {
			taken = append(taken, fmt.Sprintf("  %s (%s): %v", c.addr(p.off), p.what, err))
			continue
		}
		l.Close()
	}
	if len(taken) > 0 {
		return fmt.Errorf("ports in use by another program:\n%s\nstop it, or move every port with `bin/voxdev up --port-base P` (P to P+%d)",
			strings.Join(taken, "\n"), PortSpan-1)
	}
	return nil
}
