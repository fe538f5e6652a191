package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitter(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		want   []string
	}{
		{"tokens", []string{"Hel", "lo", " there", ".", " How", " can", " I", " help", "?"}, []string{"Hello there.", "How can I help?"}},
		{"short sentence waits", []string{"Hi. ", "Thanks for calling. ", "Bye"}, []string{"Hi. Thanks for calling.", "Bye"}},
		{"decimal point is no end", []string{"It costs 3.50 dollars. Okay"}, []string{"It costs 3.50 dollars.", "Okay"}},
		{"run on cut at a comma", []string{strings.Repeat("word ", 34) + "and so, on and on"}, []string{strings.Repeat("word ", 34) + "and so,", "on and on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s splitter
			var got []string
			for _, tok := range tt.tokens {
				got = append(got, s.add(tok)...)
			}
			if r := s.flush(); r != "" {
				got = append(got, r)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}
