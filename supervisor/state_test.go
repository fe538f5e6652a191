package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		desired int
		clamped int
		err     string
	}{
		{"count", `{"desired":6}`, 6, 0, ""},
		{"zero", `{"desired":0}` + "\n", 0, 0, ""},
		{"at the limit", `{"desired":16}`, 16, 0, ""},
		{"above the limit", `{"desired":10000}`, 16, 10000, ""},
		{"unknown field kept for later releases", `{"desired":2,"note":"x"}`, 2, 0, ""},
		{"empty", ``, 0, 0, "empty"},
		{"blank", " \n", 0, 0, "empty"},
		{"corrupt", `{"desired":`, 0, 0, "not valid JSON"},
		{"truncated write", `{"desi`, 0, 0, "not valid JSON"},
		{"null", `null`, 0, 0, `no "desired"`},
		{"empty object", `{}`, 0, 0, `no "desired"`},
		{"negative", `{"desired":-3}`, 0, 0, "negative"},
		{"not a number", `{"desired":"4"}`, 0, 0, "not valid JSON"},
		{"trailing data", `{"desired":4}{"desired":5}`, 0, 0, "unexpected data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clamped, err := parseState([]byte(tt.in), 16)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || p.Desired != tt.desired || clamped != tt.clamped {
				t.Fatalf("= %d, clamped %d, %v; want %d, clamped %d", p.Desired, clamped, err, tt.desired, tt.clamped)
			}
		})
	}
}

// TestBadStateFileStartsWithWorkers starts the daemon on unusable state
// files: each is moved aside and the daemon serves --workers; a count above
// --max-workers is clamped.
func TestBadStateFileStartsWithWorkers(t *testing.T) {
	for _, tt := range []struct {
		name, content string
		want          int
		movedAside    bool
	}{
		{"empty", "", 2, true},
		{"null", "null", 2, true},
		{"negative", `{"desired":-1}`, 2, true},
		{"above the limit", `{"desired":10000}`, 3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir, 2)
			cfg.WorkerLimit = 3
			if err := os.WriteFile(cfg.StateFile, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			h := startDaemon(t, cfg)
			if f := h.waitReady(tt.want); f.Desired != tt.want {
				t.Fatalf("desired %d, want %d", f.Desired, tt.want)
			}
			bad, _ := filepath.Glob(cfg.StateFile + ".bad-*")
			if tt.movedAside != (len(bad) == 1) {
				t.Fatalf("moved aside: %v, want %v", bad, tt.movedAside)
			}
			if len(bad) == 1 {
				if b, _ := os.ReadFile(bad[0]); string(b) != tt.content {
					t.Fatalf("%s holds %q, want the bad file's %q", bad[0], b, tt.content)
				}
				if !strings.Contains(h.s.DesiredFrom(), "unusable") {
					t.Fatalf("DesiredFrom = %q", h.s.DesiredFrom())
				}
			}
			waitFor(t, 5*time.Second, "a good state file", func() bool {
				b, _ := os.ReadFile(cfg.StateFile)
				p, clamped, err := parseState(b, cfg.WorkerLimit)
				return err == nil && clamped == 0 && p.Desired == tt.want
			})
		})
	}
}
