package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
	"go.yaml.in/yaml/v3"
)

// livekitEnv reads deploy/env/livekit.env.example: the values the SIP /
// LiveKit host's templates are rendered with.
func livekitEnv(t *testing.T) map[string]string {
	t.Helper()
	return parseEnv(t, "env/livekit.env.example")
}

var placeholder = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// renderTemplate fills ${VAR} as scripts/deploy.sh does with envsubst, and
// fails the test on a variable the env example lacks.
func renderTemplate(t *testing.T, path string, env map[string]string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(readFile(t, path), func(m string) string {
		k := placeholder.FindStringSubmatch(m)[1]
		v, ok := env[k]
		if !ok {
			t.Errorf("%s uses ${%s}, which deploy/env/livekit.env.example lacks", path, k)
		}
		return v
	})
}

// livekitServer finds livekit-server on PATH or in $(go env GOPATH)/bin.
func livekitServer(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("livekit-server"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(d, "bin", "livekit-server"); fileExists(p) {
				return p
			}
		}
	}
	return testenv.Require(t, "livekit-server", "scripts/deps-livekit.sh")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// livekitPorts runs `livekit-server --config FILE ports`: the server's own
// config loading (strict YAML: an unknown key is an error) and validation,
// then the ports it would use. It exits 0 either way, so the output decides.
func livekitPorts(t *testing.T, bin, conf string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "livekit.yaml")
	write(t, path, conf)
	cmd := exec.Command(bin, "--config", path, "ports")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	s := string(out)
	return s, err == nil && strings.Contains(s, "ICE/UDP range") && !strings.Contains(strings.ToLower(s), "could not")
}

// withLoopbackSTUN points the rendered config's STUN lookup (use_external_ip)
// at a STUN server on loopback: the only change made to the shipped file.
func withLoopbackSTUN(t *testing.T, conf string) string {
	t.Helper()
	if !strings.Contains(conf, "\nrtc:\n") {
		t.Fatal("livekit.yaml has no rtc: section")
	}
	return strings.Replace(conf, "\nrtc:\n", "\nrtc:\n  stun_servers: [\""+serveSTUN(t)+"\"]\n", 1)
}

func TestLivekitConfigLoadsInLivekitServer(t *testing.T) {
	bin := livekitServer(t)
	conf := renderTemplate(t, "livekit/livekit.yaml", livekitEnv(t))
	out, ok := livekitPorts(t, bin, withLoopbackSTUN(t, conf))
	if !ok {
		t.Fatalf("livekit-server refused deploy/livekit/livekit.yaml:\n%s", out)
	}
	for _, want := range []string{"7880", "7881", "50000"} {
		if !strings.Contains(out, want) {
			t.Errorf("livekit-server ports does not list %s:\n%s", want, out)
		}
	}
	t.Logf("livekit-server --config livekit.yaml ports:\n%s", out)

	// The same check notices a mistake: a misspelt key, a bad value.
	for name, bad := range map[string]string{
		"unknown key": strings.Replace(conf, "use_external_ip:", "use_extrnal_ip:", 1),
		"bad value":   strings.Replace(conf, "port: 7880", "port: seventy", 1),
	} {
		if out, ok := livekitPorts(t, bin, withLoopbackSTUN(t, bad)); ok {
			t.Errorf("%s: livekit-server accepted it:\n%s", name, out)
		}
	}
}

func TestLivekitTemplatesAgree(t *testing.T) {
	env := livekitEnv(t)
	var lk struct {
		Redis struct {
			Address string `yaml:"address"`
		} `yaml:"redis"`
		Keys       map[string]string `yaml:"keys"`
		DataTracks bool              `yaml:"enable_data_tracks"`
		RTC        map[string]any    `yaml:"rtc"`
		Webhook    struct {
			APIKey string   `yaml:"api_key"`
			URLs   []string `yaml:"urls"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(renderTemplate(t, "livekit/livekit.yaml", env)), &lk); err != nil {
		t.Fatalf("livekit.yaml: %v", err)
	}
	// livekit-sip cannot be installed here: its file is checked against the
	// keys its documentation lists, with unknown keys refused.
	var sip struct {
		APIKey    string `yaml:"api_key"`
		APISecret string `yaml:"api_secret"`
		WSURL     string `yaml:"ws_url"`
		Redis     struct {
			Address  string `yaml:"address"`
			Username string `yaml:"username"`
			Password string `yaml:"password"`
			DB       int    `yaml:"db"`
		} `yaml:"redis"`
		SIPPort        int    `yaml:"sip_port"`
		RTPPort        string `yaml:"rtp_port"`
		UseExternalIP  bool   `yaml:"use_external_ip"`
		HealthPort     int    `yaml:"health_port"`
		PrometheusPort int    `yaml:"prometheus_port"`
		LogLevel       string `yaml:"log_level"`
	}
	dec := yaml.NewDecoder(strings.NewReader(renderTemplate(t, "livekit/sip.yaml", env)))
	dec.KnownFields(true)
	if err := dec.Decode(&sip); err != nil {
		t.Fatalf("sip.yaml: %v", err)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"livekit.yaml and sip.yaml share one Redis", lk.Redis.Address != "" && lk.Redis.Address == sip.Redis.Address},
		{"sip.yaml's key is one of livekit-server's keys", lk.Keys[sip.APIKey] == sip.APISecret && sip.APISecret != ""},
		{"the API secret is at least 32 characters", len(sip.APISecret) >= 32},
		{"webhooks are signed with a configured key", lk.Keys[lk.Webhook.APIKey] != ""},
		{"the webhook posts to the fleet's /livekit/dispatch", len(lk.Webhook.URLs) == 1 && lk.Webhook.URLs[0] == env["VOX_FLEET_URL"]+"/livekit/dispatch"},
		{"livekit-server advertises its external address", lk.RTC["use_external_ip"] == true},
		{"livekit-server keeps browsers' data-track channel open", lk.DataTracks},
		{"livekit-sip advertises its external address", sip.UseExternalIP},
		{"livekit-sip reaches the local livekit-server", sip.WSURL == "ws://127.0.0.1:7880"},
		{"the RTP range is a range", regexp.MustCompile(`^\d+-\d+$`).MatchString(sip.RTPPort)},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: no", c.what)
		}
	}
	site := readFile(t, "nginx/voxfleet.conf")
	if !strings.Contains(site, "location = /livekit/dispatch") {
		t.Error("the fleet site has no /livekit/dispatch route for LiveKit's webhook")
	}
}

// deployCheck finds the binary scripts/deps-deploycheck.sh builds.
func deployCheck(t *testing.T) string {
	t.Helper()
	p, _ := filepath.Abs("../.cache/vox-deploycheck")
	if !fileExists(p) {
		msg := p + " not found (scripts/deps-deploycheck.sh; or run `make deps`)"
		testenv.Unavailable(t, msg)
	}
	return p
}

// TestComposeFileParses loads deploy/livekit/compose.yaml with compose-go,
// the loader of `docker compose config` (no Docker engine installs here):
// the compose-spec schema, interpolation and normalisation. A broken copy
// must be refused too.
func TestComposeFileParses(t *testing.T) {
	bin := deployCheck(t)
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml", "livekit.yaml", "sip.yaml"} {
		write(t, filepath.Join(dir, f), readFile(t, filepath.Join("livekit", f)))
	}
	out, err := exec.Command(bin, "compose", filepath.Join(dir, "compose.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("compose config: %v\n%s", err, out)
	}
	var model struct {
		Services map[string]struct {
			Image       string `yaml:"image"`
			NetworkMode string `yaml:"network_mode"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &model); err != nil {
		t.Fatalf("compose config output: %v\n%s", err, out)
	}
	for _, s := range []string{"livekit", "sip", "redis"} {
		if model.Services[s].Image == "" || model.Services[s].NetworkMode != "host" {
			t.Errorf("service %s: %+v, want an image on host networking", s, model.Services[s])
		}
	}
	if !strings.Contains(model.Services["livekit"].Image, "v1.9.11") {
		t.Errorf("livekit image %s is not the release the tests run (v1.9.11)", model.Services["livekit"].Image)
	}
	compose := readFile(t, "livekit/compose.yaml")
	for name, bad := range map[string]string{
		"unknown key": strings.Replace(compose, "    restart: unless-stopped", "    restrat: unless-stopped", 1),
		"bad value":   strings.Replace(compose, "condition: service_healthy", "condition: service_happy", 1),
	} {
		p := filepath.Join(dir, "compose.yaml")
		write(t, p, bad)
		if out, err := exec.Command(bin, "compose", p).CombinedOutput(); err == nil {
			t.Errorf("%s: compose-go accepted it:\n%s", name, out)
		}
	}
}

// TestSIPTrunkExamplesDecode decodes every trunk and dispatch rule example
// into LiveKit's own request types, refusing unknown fields.
func TestSIPTrunkExamplesDecode(t *testing.T) {
	bin := deployCheck(t)
	files, _ := filepath.Glob("livekit/trunks/*.json")
	if len(files) < 3 {
		t.Fatalf("trunk examples: %v", files)
	}
	carriers := map[string]int{}
	for _, f := range files {
		base := filepath.Base(f)
		kind := ""
		switch {
		case strings.HasSuffix(base, "-inbound.json"):
			kind = "inbound"
			carriers[strings.TrimSuffix(base, "-inbound.json")]++
		case strings.HasSuffix(base, "-outbound.json"):
			kind = "outbound"
			carriers[strings.TrimSuffix(base, "-outbound.json")]++
		case strings.HasPrefix(base, "dispatch"):
			kind = "dispatch"
		default:
			t.Errorf("%s: name it CARRIER-inbound.json, CARRIER-outbound.json or dispatch*.json", f)
			continue
		}
		if out, err := exec.Command(bin, "sip", kind, f).CombinedOutput(); err != nil {
			t.Errorf("%s as a %s request: %v\n%s", f, kind, err, out)
		}
	}
	for c, n := range carriers {
		if n != 2 {
			t.Errorf("carrier %s has %d of its inbound and outbound trunk examples", c, n)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	write(t, bad, `{"trunk":{"name":"x","adress":"sip.example.com"}}`)
	if out, err := exec.Command(bin, "sip", "outbound", bad).CombinedOutput(); err == nil {
		t.Errorf("a misspelt field was accepted:\n%s", out)
	}
}
