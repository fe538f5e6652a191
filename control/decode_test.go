package control

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeIsStrict(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		v        Request
		want     string // "" accepts
		tooLarge bool
	}{
		{"scale", `{"workers":3}`, &ScaleRequest{}, "", false},
		{"scale to zero", `{"workers":0}`, &ScaleRequest{}, "", false},
		{"scale without body", ``, &ScaleRequest{}, "a JSON body is required", false},
		{"scale blank body", " \n", &ScaleRequest{}, "a JSON body is required", false},
		{"scale empty object", `{}`, &ScaleRequest{}, `"workers" is required`, false},
		{"scale null", `null`, &ScaleRequest{}, `"workers" is required`, false},
		{"scale trailing garbage", `{"workers":3}xyz`, &ScaleRequest{}, "unexpected data after", false},
		{"scale second object", `{"workers":3}{"workers":0}`, &ScaleRequest{}, "unexpected data after", false},
		{"scale unknown field", `{"workers":3,"force":true}`, &ScaleRequest{}, `unknown field "force"`, false},
		{"scale wrong type", `{"workers":"3"}`, &ScaleRequest{}, "cannot unmarshal", false},
		{"scale negative", `{"workers":-1}`, &ScaleRequest{}, "between 0 and 1024", false},
		{"scale oversize", `{"workers":3}` + strings.Repeat(" ", MaxRequestBytes), &ScaleRequest{}, "body over", true},
		{"drain one", `{"index":2}`, &DrainRequest{}, "", false},
		{"drain several", `{"indices":[1,3]}`, &DrainRequest{}, "", false},
		{"drain empty", `{}`, &DrainRequest{}, `"index" or "indices" is required`, false},
		{"drain both", `{"index":1,"indices":[2]}`, &DrainRequest{}, "not both", false},
		{"drain zero", `{"indices":[0]}`, &DrainRequest{}, "between 1 and", false},
		{"restart all", `{}`, &RestartRequest{}, "", false},
		{"restart bad index", `{"indices":[-2]}`, &RestartRequest{}, "between 1 and", false},
		{"restart without body", ``, &RestartRequest{}, "a JSON body is required", false},
		{"upgrade", `{}`, &UpgradeRequest{}, "", false},
		{"upgrade unknown field", `{"force":true}`, &UpgradeRequest{}, `unknown field "force"`, false},
		{"upgrade trailing", `{} []`, &UpgradeRequest{}, "unexpected data after", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(strings.NewReader(tt.body), tt.v)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DecodeError", err, err)
			}
			if !strings.Contains(de.Msg, tt.want) || de.TooLarge != tt.tooLarge {
				t.Fatalf("error %q (too large %v), want %q (too large %v)", de.Msg, de.TooLarge, tt.want, tt.tooLarge)
			}
		})
	}
}
