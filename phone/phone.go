package phone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is wrapped by every normalisation failure.
var ErrInvalid = errors.New("invalid phone number")

// Normalize returns the E.164 form of raw, read with the numbering plan of
// its country (github.com/nyaruka/phonenumbers, Google's libphonenumber
// metadata): a national trunk prefix is dropped where the country has one
// and kept where it is part of the number ("+44 (0) 20 7946 0958" is
// +442079460958, "+39 06 6982 1234" keeps its 0).
//
// Only digits, one leading "+", spaces, dashes, dots and parentheses are
// accepted. A number with "+" is international; a leading "00" is read as
// "+" when no countryCode is given. Otherwise countryCode (digits only,
// e.g. "44") names the country of a national number, whose own
// international dialling prefix is then understood too ("011 44 …" with
// country code 1). The result must have a possible length for its country.
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
	region := ""
	switch {
	case strings.HasPrefix(n, "+"):
	case countryCode != "":
		cc, err := strconv.Atoi(countryCode)
		if err != nil || !digits(countryCode) || len(countryCode) > 3 || countryCode[0] == '0' {
			return "", fmt.Errorf("%w: bad country code %q", ErrInvalid, countryCode)
		}
		region = phonenumbers.GetRegionCodeForCountryCode(cc)
		if region == "ZZ" || region == "" {
			return "", fmt.Errorf("%w: unknown country code %q", ErrInvalid, countryCode)
		}
	case strings.HasPrefix(n, "00"):
		n = "+" + n[2:]
	default:
		return "", fmt.Errorf("%w: %q has no international prefix and no country code was given", ErrInvalid, raw)
	}
	if len(n) > 20 {
		return "", fmt.Errorf("%w: %q is too long", ErrInvalid, raw)
	}
	num, err := phonenumbers.Parse(n, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalid, raw, err)
	}
	if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		return "", fmt.Errorf("%w: %q is not a possible number of its country", ErrInvalid, raw)
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	if d := e[1:]; len(d) < 7 || len(d) > 15 || !digits(d) || d[0] == '0' {
		return "", fmt.Errorf("%w: %q is not E.164", ErrInvalid, raw)
	}
	return e, nil
}

// IsE164 reports whether s is already in the E.164 form Normalize returns.
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
