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
		// National trunk prefixes written after the country code are dropped
		// where the country has one…
		{"+44 (0) 20 7946 0958", "", "+442079460958"},
		{"+4402079460958", "", "+442079460958"},
		{"0044 (0)20 7946 0958", "", "+442079460958"},
		{"+33 (0)1 42 68 53 00", "", "+33142685300"},
		{"01 42 68 53 00", "33", "+33142685300"},
		{"+49 (0)30 901820", "", "+4930901820"},
		{"030 901820", "49", "+4930901820"},
		{"+61 (0)2 9374 4000", "", "+61293744000"},
		{"(02) 9374 4000", "61", "+61293744000"},
		{"03-3224-9999", "81", "+81332249999"},
		// …and kept where it is part of the number (Italy).
		{"+39 06 6982 1234", "", "+390669821234"},
		{"06 6982 1234", "39", "+390669821234"},
		// A country's own international prefix, with its country code.
		{"011 44 20 7946 0958", "1", "+442079460958"},
		{"+1 415 555", "", ""},          // too short for its country
		{"+44 20 7946 0958 12", "", ""}, // too long for its country
		{"020 7946 0958", "999", ""},    // no such country code
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
