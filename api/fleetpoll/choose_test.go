package fleetpoll

import (
	"testing"

	"github.com/voxplatform/vox/store"
)

func TestChoose(t *testing.T) {
	fl := []store.Fleet{{Meta: store.Meta{ID: "a"}, URL: "http://a"}, {Meta: store.Meta{ID: "b"}, URL: "http://b"}, {Meta: store.Meta{ID: "c"}, URL: "http://c"}}
	tests := []struct {
		name string
		caps map[string]Capacity
		sel  map[string]int
		want string // "" = none
	}{
		{"no readings", nil, nil, ""},
		{"most free", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 1},
			"b": {URL: "http://b", Healthy: true, Free: 3},
		}, nil, "b"},
		{"unhealthy skipped", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 1},
			"b": {URL: "http://b", Healthy: false, Free: 9},
		}, nil, "a"},
		{"all full", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 0},
			"b": {URL: "http://b", Healthy: true},
		}, nil, ""},
		{"selections count", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 2},
			"b": {URL: "http://b", Healthy: true, Free: 3},
		}, map[string]int{"b": 2}, "a"},
		{"selections exhaust", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 1},
		}, map[string]int{"a": 1}, ""},
		{"reading of an old URL ignored", map[string]Capacity{
			"c": {URL: "http://old", Healthy: true, Free: 5},
		}, nil, ""},
		{"tie goes first", map[string]Capacity{
			"a": {URL: "http://a", Healthy: true, Free: 2},
			"c": {URL: "http://c", Healthy: true, Free: 2},
		}, nil, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, ok := Choose(fl, tt.caps, tt.sel)
			got := ""
			if ok {
				got = f.ID
			}
			if got != tt.want {
				t.Fatalf("chose %q, want %q", got, tt.want)
			}
		})
	}
}
