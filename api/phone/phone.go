package phone

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every normalisation failure.
var ErrInvalid = errors.New("invalid phone number")

// Normalize returns the E.164 form of raw. Spaces, dashes, dots and
// parentheses are ignored; a leading "00" is read as "+". A number without an
// international prefix gets countryCode (digits only, e.g. "44") with one
// leading trunk zero dropped; without a countryCode it is refused.
func Normalize(raw, countryCode string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", fmt.Errorf("%w: %q has the character %q", ErrInvalid, raw, r)
		}
	}
	n := b.String()
	switch {
	case strings.HasPrefix(n, "+"):
	case strings.HasPrefix(n, "00"):
		n = "+" + n[2:]
	case countryCode != "":
		if !digits(countryCode) || len(countryCode) > 3 || countryCode[0] == '0' {
			return "", fmt.Errorf("%w: bad country code %q", ErrInvalid, countryCode)
		}
		n = "+" + countryCode + strings.TrimPrefix(n, "0")
	default:
		return "", fmt.Errorf("%w: %q has no international prefix and no country code was given", ErrInvalid, raw)
	}
	d := n[1:]
	if !digits(d) || len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: %q is not E.164 (+ then 8 to 15 digits, no leading 0)", ErrInvalid, raw)
	}
	return n, nil
}

// IsE164 reports whether s is already in E.164 form.
func IsE164(s string) bool {
	n, err := Normalize(s, "")
	return err == nil && n == s
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
