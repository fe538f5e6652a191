package importer

import (
	"errors"
	"strings"
	"testing"
)

func TestCSV(t *testing.T) {
	in := "Phone,Name,city\n" +
		"+44 20 7946 0958,Ann,London\n" +
		"020 7946 0958,Ann again,London\n" + // duplicate after normalisation
		"not-a-number,Bob,\n" +
		"+14155552671,\"Carl\n" + // unterminated quote swallows the rest
		"+14155552672,Dee\n"
	res, err := CSV(strings.NewReader(in), Options{CountryCode: "44"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0].Phone != "+442079460958" || res.Rows[0].Metadata["city"] != "London" {
		t.Fatalf("rows = %+v", res.Rows)
	}
	if res.Duplicates != 1 {
		t.Fatalf("duplicates = %d", res.Duplicates)
	}
	if len(res.Errors) < 2 || res.Errors[0].Row != 3 {
		t.Fatalf("errors = %+v", res.Errors)
	}
}

func TestCSVFieldCount(t *testing.T) {
	res, err := CSV(strings.NewReader("phone,name\n+14155552671,A,extra\n+14155552672,B\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || len(res.Errors) != 1 || res.Errors[0].Row != 1 {
		t.Fatalf("res = %+v", res)
	}
}

func TestCSVBad(t *testing.T) {
	tests := map[string]string{
		"empty":      "",
		"no phone":   "name,city\nA,B\n",
		"dollar col": "phone,$where\n+14155552671,x\n",
		"dotted col": "phone,a.b\n+14155552671,x\n",
		"two phones": "phone,number\n1,2\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := CSV(strings.NewReader(in), Options{}); !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
		})
	}
	big := "phone\n" + strings.Repeat("+14155552671\n", 11)
	if _, err := CSV(strings.NewReader(big), Options{MaxRows: 10}); !errors.Is(err, ErrFormat) {
		t.Fatalf("max rows: err = %v", err)
	}
}

func TestJSON(t *testing.T) {
	in := `[{"phone":"+14155552671","name":"A","metadata":{"k":"v"}},
	{"phone":{"$ne":null}},
	{"phone":"+14155552672","$where":"1"},
	{"phone":"+14155552673","metadata":{"$gt":"x"}},
	{"phone":"+1 415 555 2671"}]`
	res, err := JSON([]byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Duplicates != 1 || len(res.Errors) != 3 {
		t.Fatalf("res = %+v", res)
	}
	for i, want := range []int{2, 3, 4} {
		if res.Errors[i].Row != want {
			t.Fatalf("errors = %+v", res.Errors)
		}
	}
	if _, err := JSON([]byte(`{"phone":"+14155552671"}`), Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("object instead of array: %v", err)
	}
}

func TestFormulaLike(t *testing.T) {
	for v, want := range map[string]bool{
		"=1+1": true, "@SUM(A1)": true, "-2+3": true, "+cmd|' /C calc'!A0": true, "\t=1": true,
		"+44 20 7946 0958": false, "+14155552671": false, "Ann": false, "": false, "a=b": false,
	} {
		if got := FormulaLike(v); got != want {
			t.Errorf("FormulaLike(%q) = %v, want %v", v, got, want)
		}
	}
	if Neutralize("=1+1") != "'=1+1" || Neutralize("Ann") != "Ann" {
		t.Fatal("Neutralize")
	}
}

func TestJSONInvalidUTF8(t *testing.T) {
	res, err := JSON([]byte("[{\"phone\":\"+14155552671\",\"name\":\"B\xffd\"}]"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 0 || len(res.Errors) != 1 {
		t.Fatalf("invalid UTF-8 accepted: %+v", res)
	}
}
