package phone

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		raw, cc, want string
	}{
		{"+44 20 7946 0958", "", "+442079460958"},
		{"0044 (20) 7946-0958", "", "+442079460958"},
		{"020 7946 0958", "44", "+442079460958"},
		{"(415) 555.2671", "1", "+14155552671"},
		{"+14155552671", "", "+14155552671"},
		{"4155552671", "", ""},        // no prefix, no country
		{"+0123456789", "", ""},       // leading zero
		{"+1234567", "", ""},          // too short
		{"+1234567890123456", "", ""}, // too long
		{"+1 415 555 abcd", "", ""},   // letters
		{"1+4155552671", "", ""},      // plus inside
		{"", "", ""},                  // empty
		{"4155552671", "0", ""},       // bad country code
		{`{"$ne":1}`, "", ""},         // not a number at all
		{"\u00a0+1 415 555 2671 ", "", "+14155552671"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.cc)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Normalize(%q) = %q, %v; want ErrInvalid", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %q, %v; want %q", tt.raw, tt.cc, got, err, tt.want)
			}
		})
	}
	if !IsE164("+14155552671") || IsE164("+1 415 555 2671") {
		t.Fatal("IsE164")
	}
}
