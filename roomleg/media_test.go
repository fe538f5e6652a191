package roomleg

import "testing"

func TestCounterSpan(t *testing.T) {
	cases := []struct {
		name       string
		seqs       []uint16
		sent, seen int64
	}{
		{"none", nil, 0, 0},
		{"in order", []uint16{10, 11, 12}, 3, 3},
		{"lost one", []uint16{10, 12}, 3, 2},
		{"reordered", []uint16{10, 12, 11, 13}, 4, 4},
		{"wraps", []uint16{65534, 65535, 0, 2}, 5, 4},
		{"late across the wrap", []uint16{65535, 1, 0}, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c counter
			for _, s := range tc.seqs {
				c.add(s)
			}
			if sent, seen := c.span(); sent != tc.sent || seen != tc.seen {
				t.Fatalf("span = %d sent %d seen, want %d %d", sent, seen, tc.sent, tc.seen)
			}
		})
	}
}
