package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func good() map[string]string {
	return map[string]string{
		"MONGODB_URI":        "mongodb://127.0.0.1:27017/vox",
		"REDIS_URL":          "redis://127.0.0.1:6379/0",
		"JWT_SECRET":         strings.Repeat("j", 32),
		"VOX_SERVICE_SECRET": strings.Repeat("s", 16),
	}
}

func TestLoadGood(t *testing.T) {
	c, err := Load(env(good()), []string{"--port", "9000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "0.0.0.0:9000" || c.MongoDatabase != "vox" || c.FleetPollInterval != 2*time.Second {
		t.Fatalf("unexpected config %+v", c)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]string)
		want []string
	}{
		{"nothing set", func(m map[string]string) { clear(m) },
			[]string{"MONGODB_URI", "REDIS_URL", "JWT_SECRET", "VOX_SERVICE_SECRET"}},
		{"bad values", func(m map[string]string) {
			m["MONGODB_URI"] = "http://x"
			m["REDIS_URL"] = "nope://"
			m["JWT_SECRET"] = "short"
			m["VOX_SERVICE_SECRET"] = "short"
			m["VOXBRIDGE_PORT"] = "70000"
		}, []string{"MONGODB_URI", "REDIS_URL", "JWT_SECRET", "VOX_SERVICE_SECRET", "VOXBRIDGE_PORT"}},
		{"minio half set", func(m map[string]string) { m["MINIO_ENDPOINT"] = "127.0.0.1:9000" },
			[]string{"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}},
		{"livekit half set", func(m map[string]string) {
			m["LIVEKIT_URL"] = "wss://lk.example.com"
			m["LIVEKIT_API_SECRET"] = "short"
		},
			[]string{"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}},
		{"livekit bad url", func(m map[string]string) { m["LIVEKIT_URL"] = "lk.example.com" },
			[]string{"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}},
		{"bad durations", func(m map[string]string) {
			m["FLEET_POLL_INTERVAL"] = "forever"
			m["ACCESS_TOKEN_TTL"] = "1s"
		}, []string{"FLEET_POLL_INTERVAL", "ACCESS_TOKEN_TTL"}},
		{"bad host", func(m map[string]string) { m["VOXBRIDGE_HOST"] = "0.0.0.0:8080" }, []string{"VOXBRIDGE_HOST"}},
		{"bad proxies and level", func(m map[string]string) {
			m["VOXBRIDGE_TRUSTED_PROXIES"] = "127.0.0.1,not-an-ip"
			m["LOG_LEVEL"] = "loud"
		}, []string{"VOXBRIDGE_TRUSTED_PROXIES", "LOG_LEVEL"}},
		{"bad fleet settings", func(m map[string]string) {
			m["FLEET_ALLOWED_NETS"] = "10.0.0.0/8,intranet"
			m["FLEET_MAX_PER_ORG"] = "0"
		}, []string{"FLEET_ALLOWED_NETS", "FLEET_MAX_PER_ORG"}},
		{"bad platform fleets", func(m map[string]string) {
			m["FLEET_PLATFORM"] = "eu-1=https://fleet-eu-1.example.com,eu-1=https://x.example.com,nourl," +
				"65f0c0ffee0123456789abcd=https://y.example.com,bad id=https://z.example.com,us-1=ftp://a.example.com"
		}, []string{"FLEET_PLATFORM", "FLEET_PLATFORM", "FLEET_PLATFORM", "FLEET_PLATFORM", "FLEET_PLATFORM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.edit(m)
			_, err := Load(env(m), nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("problems = %q, want %d of them", ce.Problems, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w+":") {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestLoadFleets(t *testing.T) {
	m := good()
	m["FLEET_PLATFORM"] = "eu-1=https://fleet-eu-1.example.com/, us-1=http://10.1.2.3:8080"
	m["FLEET_ALLOWED_NETS"] = "10.1.0.0/16, 192.168.7.9, fd00::1/64"
	c, err := Load(env(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []PlatformFleet{{"eu-1", "https://fleet-eu-1.example.com"}, {"us-1", "http://10.1.2.3:8080"}}
	if len(c.Fleets.Platform) != 2 || c.Fleets.Platform[0] != want[0] || c.Fleets.Platform[1] != want[1] {
		t.Fatalf("platform fleets %+v, want %+v", c.Fleets.Platform, want)
	}
	var nets []string
	for _, p := range c.Fleets.AllowedNets {
		nets = append(nets, p.String())
	}
	if strings.Join(nets, " ") != "10.1.0.0/16 192.168.7.9/32 fd00::/64" || c.Fleets.MaxPerOrg != 10 {
		t.Fatalf("allowed nets %v, max per org %d", nets, c.Fleets.MaxPerOrg)
	}
}

func TestLoadMongoOnly(t *testing.T) {
	if _, err := LoadMongoOnly(env(map[string]string{"MONGODB_URI": "mongodb://h/"}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMongoOnly(env(nil), nil); err == nil || !strings.Contains(err.Error(), "MONGODB_URI") {
		t.Fatalf("err = %v", err)
	}
}

// TestEnvExample keeps deploy/env/voxbridge.env.example true: it loads
// without error, and it lists every variable voxbridge reads.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile("../../deploy/env/voxbridge.env.example")
	if err != nil {
		t.Fatal(err)
	}
	example := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not KEY=VALUE: %q", line)
		}
		if _, dup := example[k]; dup {
			t.Fatalf("%s set twice", k)
		}
		example[k] = v
	}
	asked := map[string]bool{}
	cfg, err := Load(func(k string) string { asked[k] = true; return example[k] }, nil)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	for k := range asked {
		if _, ok := example[k]; !ok {
			t.Errorf("voxbridge reads %s; the example does not list it", k)
		}
	}
	for k := range example {
		if !asked[k] {
			t.Errorf("the example lists %s, which voxbridge does not read", k)
		}
	}
	if cfg.Addr() != "0.0.0.0:8080" || cfg.MinIO.Enabled() || cfg.LiveKit.Enabled() {
		t.Errorf("example config: %s, minio %v, livekit %v", cfg.Addr(), cfg.MinIO.Enabled(), cfg.LiveKit.Enabled())
	}
}

// TestSettingsTable: the table voxbridge -h prints is what the loader
// reads, defaults included, and every setting is described.
func TestSettingsTable(t *testing.T) {
	byName := map[string]Setting{}
	for _, s := range Settings() {
		if _, dup := byName[s.Name]; dup {
			t.Errorf("%s listed twice", s.Name)
		}
		byName[s.Name] = s
		if s.Help == "" {
			t.Errorf("%s has no description", s.Name)
		}
	}
	for name, want := range map[string]string{"VOXBRIDGE_PORT": "8080", "ACCESS_TOKEN_TTL": "15m",
		"REFRESH_TOKEN_TTL": "720h", "REQUEST_TIMEOUT": "5s", "API_KEY_TTL": "2160h", "FLEET_POLL_TIMEOUT": "1.5s"} {
		if got := byName[name].Default; got != want {
			t.Errorf("%s default %q, want %q", name, got, want)
		}
	}
	if !byName["JWT_SECRET"].Required || byName["LOG_LEVEL"].Required {
		t.Error("required flags wrong")
	}
	c, err := Load(env(good()), nil)
	if err != nil || c.RequestTimeout != 5*time.Second || c.APIKeyTTL != 90*24*time.Hour {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}
