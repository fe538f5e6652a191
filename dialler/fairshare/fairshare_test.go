package fairshare

import (
	"math"
	"testing"
)

// TestWeightsOverTime: with one free worker a tick, campaigns of weights
// 1, 2 and 5 get workers in proportion 1:2:5 over many ticks.
func TestWeightsOverTime(t *testing.T) {
	var d DRR
	got := map[string]int{}
	claims := []Claim{{ID: "a", Weight: 1, Want: 100}, {ID: "b", Weight: 2, Want: 100}, {ID: "c", Weight: 5, Want: 100}}
	for range 800 {
		for id, n := range d.Split(1, claims) {
			got[id] += n
		}
	}
	for id, want := range map[string]float64{"a": 100, "b": 200, "c": 500} {
		if math.Abs(float64(got[id])-want) > 2 {
			t.Errorf("campaign %s got %d workers over 800 ticks, want %v", id, got[id], want)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		free   int
		claims []Claim
		want   map[string]int
	}{
		{"equal weights", 10, []Claim{{ID: "a", Weight: 1, Want: 99}, {ID: "b", Weight: 1, Want: 99}}, map[string]int{"a": 5, "b": 5}},
		{"weights 1:3", 8, []Claim{{ID: "a", Weight: 1, Want: 99}, {ID: "b", Weight: 3, Want: 99}}, map[string]int{"a": 2, "b": 6}},
		{"a campaign that wants less leaves the rest", 10, []Claim{{ID: "a", Weight: 5, Want: 2}, {ID: "b", Weight: 1, Want: 99}},
			map[string]int{"a": 2, "b": 8}},
		{"nobody wants", 10, []Claim{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}}, map[string]int{}},
		{"never more than free", 3, []Claim{{ID: "a", Weight: 1, Want: 99}, {ID: "b", Weight: 1, Want: 99}, {ID: "c", Weight: 1, Want: 99}},
			map[string]int{"a": 1, "b": 1, "c": 1}},
	} {
		var d DRR
		got := d.Split(tc.free, tc.claims)
		total := 0
		for id, n := range got {
			total += n
			if n != tc.want[id] {
				t.Errorf("%s: %s got %d, want %d", tc.name, id, n, tc.want[id])
			}
		}
		if total > tc.free {
			t.Errorf("%s: shared %d workers of %d", tc.name, total, tc.free)
		}
	}
}

// TestLimit: a campaign over its abandon budget gets no predictive share.
func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		predictive            bool
		share, ringing, paced int
		want                  int
	}{
		{true, 4, 2, 9, 9},
		{false, 4, 2, 9, 2},
		{false, 4, 6, 9, 0},
		{false, 4, 0, 1, 1},
	} {
		if got := Limit(Claim{Predictive: tc.predictive}, tc.share, tc.ringing, tc.paced); got != tc.want {
			t.Errorf("Limit(predictive %v, share %d, ringing %d, paced %d) = %d, want %d",
				tc.predictive, tc.share, tc.ringing, tc.paced, got, tc.want)
		}
	}
}
