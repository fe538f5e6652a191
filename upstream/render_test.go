package upstream

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		golden string
		p      Params
	}{
		{"empty.conf", Params{}},
		{"one.conf", Params{Sockets: []string{"/run/voxfleet/worker-1.sock"}}},
		{"sixteen.conf", Params{Sockets: workerSockets("/run/voxfleet", 16, true)}},
		{"custom.conf", Params{Name: "fleet_b", ZoneSize: "1m", Sockets: []string{"/srv/b/w2.sock", "/srv/b/w1.sock", "/srv/b/w2.sock"}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			if err := Validate(tt.p); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := Render(tt.p)
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./upstream -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (rerun with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// workerSockets returns dir/worker-1.sock … dir/worker-n.sock, reversed when
// asked, so tests prove the output order does not follow the input order.
func workerSockets(dir string, n int, reverse bool) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, filepath.Join(dir, "worker-"+itoa(i)+".sock"))
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestRenderProperties(t *testing.T) {
	tests := []struct {
		name     string
		p        Params
		contains []string
		excludes []string
	}{
		{
			name:     "defaults",
			p:        Params{Sockets: []string{"/s/a.sock"}},
			contains: []string{Header + "\n", "upstream voxfleet_workers {", "zone voxfleet_workers 64k;", "least_conn;", "server unix:/s/a.sock max_conns=1 max_fails=0;"},
			excludes: []string{"down", "fail_timeout"},
		},
		{
			name:     "empty gets a down placeholder",
			p:        Params{},
			contains: []string{"server unix:" + PlaceholderSocket + " down;", "zone voxfleet_workers 64k;"},
			excludes: []string{"max_conns"},
		},
		{
			name:     "name and zone size",
			p:        Params{Name: "x", ZoneSize: "128k", Sockets: []string{"/a"}},
			contains: []string{"upstream x {", "zone x 128k;"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Render(tt.p))
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("output lacks %q:\n%s", s, got)
				}
			}
			for _, s := range tt.excludes {
				if strings.Contains(got, s) {
					t.Errorf("output contains %q:\n%s", s, got)
				}
			}
			if strings.Count(got, "{") != 1 || strings.Count(got, "}") != 1 || !strings.HasSuffix(got, "}\n") {
				t.Errorf("not one closed block:\n%s", got)
			}
		})
	}
}

func TestRenderIsOrderInsensitive(t *testing.T) {
	a := Render(Params{Sockets: []string{"/r/worker-10.sock", "/r/worker-2.sock", "/r/worker-1.sock"}})
	b := Render(Params{Sockets: []string{"/r/worker-1.sock", "/r/worker-10.sock", "/r/worker-2.sock", "/r/worker-2.sock"}})
	if !bytes.Equal(a, b) {
		t.Fatalf("order or duplicates changed the output:\n%s\n%s", a, b)
	}
	i1 := bytes.Index(a, []byte("worker-1.sock"))
	i2 := bytes.Index(a, []byte("worker-2.sock"))
	i10 := bytes.Index(a, []byte("worker-10.sock"))
	if !(i1 < i2 && i2 < i10) {
		t.Fatalf("want natural order 1, 2, 10:\n%s", a)
	}
}

func TestNormalizeAndSameSet(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"/b", "/a", "/b"}, []string{"/a", "/b"}},
		{[]string{"/w-10", "/w-9", "/w-09", "/w-1"}, []string{"/w-1", "/w-9", "/w-09", "/w-10"}},
		{[]string{"/x2y10", "/x2y9", "/x10"}, []string{"/x2y9", "/x2y10", "/x10"}},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !SameSet([]string{"/a", "/b"}, []string{"/b", "/a", "/a"}) {
		t.Error("SameSet: same sockets in another order reported different")
	}
	if SameSet([]string{"/a"}, []string{"/a", "/b"}) {
		t.Error("SameSet: different sets reported same")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     Params
		field string // "" = valid
	}{
		{"zero", Params{}, ""},
		{"good", Params{Name: "voxfleet_workers", ZoneSize: "1m", Sockets: []string{"/run/voxfleet/worker-1.sock"}}, ""},
		{"name with space", Params{Name: "a b"}, "name"},
		{"name with brace", Params{Name: "a{"}, "name"},
		{"zone size word", Params{ZoneSize: "big"}, "zone_size"},
		{"zone size zero", Params{ZoneSize: "0"}, "zone_size"},
		{"relative socket", Params{Sockets: []string{"run/w.sock"}}, "socket"},
		{"unclean socket", Params{Sockets: []string{"/run/../w.sock"}}, "socket"},
		{"socket with semicolon", Params{Sockets: []string{"/run/w.sock; server evil"}}, "socket"},
		{"socket with newline", Params{Sockets: []string{"/run/w\n.sock"}}, "socket"},
		{"socket with brace", Params{Sockets: []string{"/run/}w.sock"}}, "socket"},
		{"socket path too long", Params{Sockets: []string{"/" + strings.Repeat("s", 107)}}, "socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.p)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("Validate = %v, want an InvalidError for %s", err, tt.field)
			}
		})
	}
}
