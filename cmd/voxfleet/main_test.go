package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatchUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage: voxfleet"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "scale N"},
		{"version", []string{"version"}, exitOK, "voxfleet "},
		{"scale without N", []string{"scale"}, exitUsage, "usage: voxfleet scale N"},
		{"scale not a number", []string{"scale", "many"}, exitUsage, `got "many"`},
		{"scale negative", []string{"scale", "-3"}, exitUsage, ""},
		{"scale too many", []string{"scale", "5000"}, exitUsage, "from 0 to 1024"},
		{"drain bad index", []string{"drain", "0"}, exitUsage, "worker indices"},
		{"drain one bad index among good", []string{"drain", "1", "x"}, exitUsage, `got "x"`},
		{"drain without index", []string{"drain"}, exitUsage, "usage: voxfleet drain INDEX..."},
		{"version flag", []string{"--version"}, exitOK, "voxfleet "},
		{"short version flag", []string{"-v"}, exitOK, "voxfleet "},
		{"completion without shell", []string{"completion"}, exitUsage, "bash|zsh"},
		{"completion unknown shell", []string{"completion", "fish"}, exitUsage, `unknown shell "fish"`},
		{"status bad interval", []string{"status", "--watch", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"restart bad index", []string{"restart", "x"}, exitUsage, `got "x"`},
		{"status extra argument", []string{"status", "now"}, exitUsage, "takes no arguments"},
		{"unknown flag", []string{"status", "--bogus"}, exitUsage, "flag provided but not defined"},
		{"status without daemon", []string{"status", "--socket-dir", "/nonexistent/vox"}, exitFail, "not running or not reachable"},
		{"scale without daemon", []string{"scale", "3", "--socket-dir", "/nonexistent/vox"}, exitFail, "not running or not reachable"},
		{"worker without index", []string{"worker", "--socket", "/tmp/x.sock"}, exitUsage, "--index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			if both := out.String() + errOut.String(); !strings.Contains(both, tt.want) {
				t.Fatalf("output does not mention %q:\n%s", tt.want, both)
			}
		})
	}
}

func TestRunNamesEveryBadSetting(t *testing.T) {
	t.Setenv("VOX_SERVICE_SECRET", "short")
	t.Setenv("VOXFLEET_WORKERS", "lots")
	t.Setenv("VOXFLEET_STOP_TIMEOUT", "forever")
	t.Setenv("VOXFLEET_FLEET_ID", "not a fleet id")
	var out, errOut bytes.Buffer
	code := dispatch([]string{"run", "--socket-dir", "relative/dir", "--listen", "nowhere",
		"--nginx-reload", "nginx -s reload", "--log-level", "loud"}, &out, &errOut)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut.String())
	}
	for _, name := range []string{"$VOXFLEET_WORKERS", "$VOXFLEET_STOP_TIMEOUT", "$VOX_SERVICE_SECRET",
		"$VOXFLEET_FLEET_ID", "--socket-dir", "--listen", "--nginx-test", "--log-level"} {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("message does not name %s:\n%s", name, errOut.String())
		}
	}
}

func TestLogFormat(t *testing.T) {
	tests := []struct {
		format   string
		terminal bool
		want     string
		bad      bool
	}{
		{"auto", true, logText, false},
		{"auto", false, logJSON, false},
		{"", false, logJSON, false},
		{"text", false, logText, false},
		{"json", true, logJSON, false},
		{"yaml", true, "", true},
	}
	for _, tt := range tests {
		got, err := resolveLogFormat(tt.format, tt.terminal)
		if got != tt.want || (err != nil) != tt.bad {
			t.Errorf("resolveLogFormat(%q, terminal %v) = %q, %v; want %q", tt.format, tt.terminal, got, err, tt.want)
		}
	}
	// A buffer is not a terminal: auto writes JSON; text writes key=value.
	for format, want := range map[string]string{"auto": `"msg":"hello"`, "text": `msg=hello`} {
		var b bytes.Buffer
		l, err := newLogger(&b, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("hello", "component", "test")
		if !strings.Contains(b.String(), want) {
			t.Errorf("--log-format %s wrote %q, want %q", format, b.String(), want)
		}
	}
}

func TestDefaultStateFile(t *testing.T) {
	for dir, want := range map[string]string{
		"/run/voxfleet":       "/var/lib/voxfleet/state.json",
		"/run/voxfleet/":      "/var/lib/voxfleet/state.json",
		"/tmp/vf":             "/tmp/vf/state.json",
		"/home/me/vox/run":    "/home/me/vox/run/state.json",
		"/run/voxfleet-green": "/run/voxfleet-green/state.json",
	} {
		if got := defaultStateFile(dir); got != want {
			t.Errorf("defaultStateFile(%q) = %q, want %q", dir, got, want)
		}
	}
}

// TestCallSettings checks that every bad LiveKit, Backend and spool setting
// is named, by the daemon and by a worker, before anything starts.
func TestCallSettings(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		name string
		env  map[string]string
		want []string // "" entries: none; the settings are good
	}{
		{"none", nil, nil},
		{"all good", map[string]string{envLiveKitURL: "ws://127.0.0.1:7880", envLiveKitKey: "k", envLiveKitSecret: secret,
			envLiveKitTrunk: "ST_abc", envBackendURL: "http://127.0.0.1:8080", envSpoolDir: "/var/lib/voxfleet/spool",
			envFleetURL: "https://fleet-1.example.com"}, nil},
		{"url only", map[string]string{envLiveKitURL: "ws://127.0.0.1:7880"},
			[]string{"$VOXFLEET_LIVEKIT_API_KEY is required", "$VOXFLEET_LIVEKIT_API_SECRET is required"}},
		{"short secret and bad url", map[string]string{envLiveKitURL: "livekit", envLiveKitKey: "k", envLiveKitSecret: "short"},
			[]string{"$VOXFLEET_LIVEKIT_URL", "$VOXFLEET_LIVEKIT_API_SECRET is 5 characters"}},
		{"trunk without livekit", map[string]string{envLiveKitTrunk: "ST_abc"}, []string{"$VOXFLEET_LIVEKIT_TRUNK"}},
		{"bad backend and spool", map[string]string{envBackendURL: "voxbridge:8080", envSpoolDir: "spool"},
			[]string{"$VOXFLEET_BACKEND_URL", "$VOXFLEET_SPOOL_DIR"}},
		{"minio without keys", map[string]string{envMinIOEndpoint: "minio"},
			[]string{"$VOXFLEET_MINIO_ENDPOINT \"minio\": want host:port", "$VOXFLEET_MINIO_ACCESS_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{envLiveKitURL, envLiveKitKey, envLiveKitSecret, envLiveKitTrunk, envBackendURL, envSpoolDir, envFleetURL,
				envMinIOEndpoint, envMinIOKey, envMinIOSecret, envMinIOBucket} {
				t.Setenv(k, tt.env[k])
			}
			_, problems := loadCallSettings()
			all := strings.Join(problems, "\n")
			if len(tt.want) == 0 && len(problems) > 0 {
				t.Fatalf("good settings refused: %s", all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not name %q:\n%s", w, all)
				}
			}
			if len(tt.want) == 0 {
				return
			}
			// The daemon and a worker both refuse to start, naming them.
			t.Setenv("VOX_SERVICE_SECRET", secret)
			t.Setenv("VOXFLEET_FLEET_ID", "fleet-1")
			for _, args := range [][]string{{"run", "--socket-dir", t.TempDir()}, {"worker", "--index", "1", "--socket", t.TempDir() + "/w.sock"}} {
				var out, errOut bytes.Buffer
				if code := dispatch(args, &out, &errOut); code != exitUsage {
					t.Fatalf("%s: exit %d, want %d: %s", args[0], code, exitUsage, errOut.String())
				}
				if !strings.Contains(errOut.String(), tt.want[0]) {
					t.Errorf("%s does not name %s:\n%s", args[0], tt.want[0], errOut.String())
				}
			}
		})
	}
}
