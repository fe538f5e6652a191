package plainbody

import "testing"

func TestCoded(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"", false},
		{"identity", false},
		{" Identity ", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate", true},
		{"br", true},
		{"identity, gzip", true},
		{"gzip, identity", true},
		{"x-unknown", true},
		{",", false},
	} {
		if got := Coded(tc.v); got != tc.want {
			t.Errorf("Coded(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}
