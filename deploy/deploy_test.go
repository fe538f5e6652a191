package deploy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/upstream"
)

// envExample parses deploy/env/voxfleet.env.example into a map.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	return parseEnv(t, "env/voxfleet.env.example")
}

// parseEnv parses an env example into a map, unquoting values as systemd's
// EnvironmentFile does for simple quotes.
func parseEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env example: not KEY=VALUE: %q", line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if _, dup := env[k]; dup {
			t.Fatalf("env example: %s set twice", k)
		}
		env[k] = v
	}
	return env
}

// TestEnvExampleHasEverySetting checks the env example against the
// settings `voxfleet run -h` documents, so a new flag cannot go unlisted.
func TestEnvExampleHasEverySetting(t *testing.T) {
	env := envExample(t)
	out, err := exec.Command("go", "run", "github.com/voxplatform/vox/cmd/voxfleet", "run", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("voxfleet run -h: %v\n%s", err, out)
	}
	names := regexp.MustCompile(`\$(VOXFLEET_[A-Z_]+)`).FindAllStringSubmatch(string(out), -1)
	if len(names) < 10 {
		t.Fatalf("voxfleet run -h names only %d settings:\n%s", len(names), out)
	}
	for _, k := range append([]string{"VOX_SERVICE_SECRET"}, func() (ks []string) {
		for _, m := range names {
			ks = append(ks, m[1])
		}
		return ks
	}()...) {
		if _, ok := env[k]; !ok {
			t.Errorf("deploy/env/voxfleet.env.example lacks %s", k)
		}
	}
}

// TestEnvExampleFleetID checks that the example's fleet id is one voxfleet
// accepts, so that an operator editing it sees what a valid one looks like.
func TestEnvExampleFleetID(t *testing.T) {
	id, ok := envExample(t)["VOXFLEET_FLEET_ID"]
	if !ok {
		t.Fatal("deploy/env/voxfleet.env.example lacks VOXFLEET_FLEET_ID")
	}
	if err := svcauth.ValidateFleetID(id); err != nil {
		t.Fatalf("VOXFLEET_FLEET_ID=%s in the env example: %v", id, err)
	}
}

// TestDeployFilesAgree checks that the unit, the site and the env example
// name the same paths and timeouts.
func TestDeployFilesAgree(t *testing.T) {
	env := envExample(t)
	unit := readFile(t, "systemd/voxfleet.service")
	site := readFile(t, "nginx/voxfleet.conf")

	if !strings.Contains(site, "include "+env["VOXFLEET_UPSTREAM_FILE"]+";") {
		t.Errorf("nginx site does not include VOXFLEET_UPSTREAM_FILE %s", env["VOXFLEET_UPSTREAM_FILE"])
	}
	if !strings.Contains(site, "server "+env["VOXFLEET_LISTEN"]+";") {
		t.Errorf("nginx site does not proxy to VOXFLEET_LISTEN %s", env["VOXFLEET_LISTEN"])
	}
	if !strings.Contains(site, "proxy_pass http://"+upstream.DefaultName+";") {
		t.Errorf("nginx site does not proxy to the rendered upstream %s", upstream.DefaultName)
	}
	if d := filepath.Dir(env["VOXFLEET_UPSTREAM_FILE"]); !strings.Contains(unit, "ReadWritePaths="+d+"\n") {
		t.Errorf("unit does not let the daemon write %s (ReadWritePaths)", d)
	}
	if got := unitValue(t, unit, "RuntimeDirectory"); "/run/"+got != env["VOXFLEET_SOCKET_DIR"] {
		t.Errorf("RuntimeDirectory=%s but VOXFLEET_SOCKET_DIR=%s", got, env["VOXFLEET_SOCKET_DIR"])
	}
	if got := unitValue(t, unit, "StateDirectory"); filepath.Dir(env["VOXFLEET_STATE_FILE"]) != "/var/lib/"+got {
		t.Errorf("StateDirectory=%s but VOXFLEET_STATE_FILE=%s", got, env["VOXFLEET_STATE_FILE"])
	}
	if got := unitValue(t, unit, "EnvironmentFile"); filepath.Dir(got) != filepath.Dir(env["VOXFLEET_UPSTREAM_FILE"]) ||
		!strings.HasSuffix(got, "/voxfleet.env") {
		t.Errorf("EnvironmentFile=%s, want voxfleet.env beside the upstream file", got)
	}
	stop, err := time.ParseDuration(env["VOXFLEET_STOP_TIMEOUT"])
	if err != nil {
		t.Fatalf("VOXFLEET_STOP_TIMEOUT: %v", err)
	}
	unitStop, err := time.ParseDuration(strings.Replace(unitValue(t, unit, "TimeoutStopSec"), "min", "m", 1))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if unitStop <= stop {
		t.Errorf("TimeoutStopSec (%s) must exceed VOXFLEET_STOP_TIMEOUT (%s), or systemd kills the drain", unitStop, stop)
	}
	// The unit starts the last good release, falling back to the installed
	// binary on a first start.
	if start := unitValue(t, unit, "ExecStart"); !strings.Contains(start, env["VOXFLEET_RELEASE_DIR"]+"/current") ||
		!strings.Contains(start, env["VOXFLEET_INSTALL_PATH"]) {
		t.Errorf("ExecStart=%s does not start VOXFLEET_RELEASE_DIR/current, else VOXFLEET_INSTALL_PATH", start)
	}
	for _, kv := range []string{"Type=notify", "NotifyAccess=main", "KillMode=process", "Restart=always", "RuntimeDirectoryPreserve=yes"} {
		if !strings.Contains(unit, "\n"+kv+"\n") {
			t.Errorf("unit lacks %s", kv)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func unitValue(t *testing.T, unit, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + key + `=(.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatalf("unit has no %s=", key)
	}
	return strings.TrimSpace(m[1])
}

var execLine = regexp.MustCompile(`(?m)^(Exec[A-Za-z]+=)([-@:+!]*)(\S+)`)

// TestSystemdUnitsVerify runs systemd-analyze verify on every unit under
// deploy/systemd. Binaries that are not installed here are replaced by
// /bin/true; any line the tool prints about the unit fails the test, since
// systemd-analyze reports unknown keys and bad values on stderr yet exits 0.
func TestSystemdUnitsVerify(t *testing.T) {
	sa := testenv.Require(t, "systemd-analyze", "apt-get install -y systemd")
	var units []string
	for _, ext := range []string{"service", "socket", "timer", "path", "target"} {
		m, _ := filepath.Glob("systemd/*." + ext)
		units = append(units, m...)
	}
	if len(units) == 0 {
		t.Fatal("no units under deploy/systemd")
	}
	for _, src := range units {
		name := filepath.Base(src)
		t.Run(name, func(t *testing.T) {
			text := execLine.ReplaceAllStringFunc(readFile(t, src), func(line string) string {
				m := execLine.FindStringSubmatch(line)
				if _, err := os.Stat(m[3]); err == nil {
					return line
				}
				return m[1] + m[2] + "/bin/true"
			})
			dst := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(sa, "verify", "--man=no", dst).CombinedOutput()
			var about []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, name) {
					about = append(about, l)
				}
			}
			if err != nil || len(about) > 0 {
				t.Fatalf("systemd-analyze verify %s: %v\n%s", src, err, out)
			}
		})
	}
}

// TestSystemdVerifyCatchesMistakes proves the check above would notice a
// typo: systemd-analyze exits 0 on it, so the output is what matters.
func TestSystemdVerifyCatchesMistakes(t *testing.T) {
	sa := testenv.Require(t, "systemd-analyze", "apt-get install -y systemd")
	dst := filepath.Join(t.TempDir(), "typo.service")
	unit := "[Service]\nExecStart=/bin/true\nKillMode=procss\n"
	if err := os.WriteFile(dst, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(sa, "verify", "--man=no", dst).CombinedOutput()
	if !strings.Contains(string(out), "typo.service") {
		t.Fatalf("systemd-analyze printed nothing about a bad KillMode: %q", out)
	}
}

// testCert writes a self-signed certificate and key for localhost.
func testCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fleet.test"},
		DNSNames:     []string{"fleet.test", "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

var (
	includeRE = regexp.MustCompile(`(?m)^(\s*include\s+)(\S+);`)
	certRE    = regexp.MustCompile(`(?m)^(\s*ssl_certificate\s+)\S+;`)
	keyRE     = regexp.MustCompile(`(?m)^(\s*ssl_certificate_key\s+)\S+;`)
)

// localize rewrites the host paths of a site for a test prefix: the
// upstream file voxfleet renders becomes upstreamFile, certificates become
// the test's own, logs go to dir. Any other include must exist on this host.
func localize(t *testing.T, site, dir, upstreamFile string) string {
	t.Helper()
	generated := envExample(t)["VOXFLEET_UPSTREAM_FILE"]
	cert, key := testCert(t, dir)
	site = includeRE.ReplaceAllStringFunc(site, func(s string) string {
		m := includeRE.FindStringSubmatch(s)
		if m[2] == generated {
			return m[1] + upstreamFile + ";"
		}
		if _, err := os.Stat(m[2]); err != nil {
			t.Errorf("site includes %s, which neither exists here nor is rendered by voxfleet", m[2])
		}
		return s
	})
	site = certRE.ReplaceAllString(site, "${1}"+cert+";")
	site = keyRE.ReplaceAllString(site, "${1}"+key+";")
	return strings.ReplaceAll(site, "/var/log/nginx/", dir+"/")
}

const wrapper = `pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`

// TestNginxSitesPassNginxT runs nginx -t on every site under deploy/nginx,
// wrapped in a minimal nginx.conf, with the upstream file rendered for no
// worker and for sixteen. Warnings fail the test as errors do.
func TestNginxSitesPassNginxT(t *testing.T) {
	nginx := testenv.Require(t, "nginx", "apt-get install -y nginx")
	sites, _ := filepath.Glob("nginx/*.conf")
	if len(sites) == 0 {
		t.Fatal("no sites under deploy/nginx")
	}
	for _, src := range sites {
		for _, workers := range []int{0, 16} {
			t.Run(filepath.Base(src)+"/workers="+itoa(workers), func(t *testing.T) {
				dir := testnginx.ShortTempDir(t)
				var socks []string
				for i := 1; i <= workers; i++ {
					socks = append(socks, "/run/voxfleet/worker-"+itoa(i)+".sock")
				}
				up := filepath.Join(dir, "upstream.conf")
				write(t, up, string(upstream.Render(upstream.Params{Sockets: socks})))
				write(t, filepath.Join(dir, "site.conf"), localize(t, readFile(t, src), dir, up))
				conf := filepath.Join(dir, "nginx.conf")
				write(t, conf, fmt.Sprintf(wrapper, dir))
				out, err := exec.Command(nginx, "-p", dir+"/", "-c", conf, "-e", dir+"/error.log", "-t").CombinedOutput()
				if err != nil || strings.Contains(string(out), "[warn]") || strings.Contains(string(out), "[emerg]") {
					t.Fatalf("nginx -t on %s: %v\n%s", src, err, out)
				}
			})
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }
