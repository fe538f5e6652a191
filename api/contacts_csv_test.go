package api_test

import (
	"encoding/csv"
	"strings"
	"testing"
)

// TestContactsFormulaCellsAndUTF8: cells a spreadsheet would run as
// formulas are flagged on import and neutralised on export (phone numbers
// starting with + are left alone); invalid UTF-8 is a row error, never
// replaced silently.
func TestContactsFormulaCellsAndUTF8(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Formula Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("F"))["id"].(string)
	camp := h.must(201, "POST", "/api/v1/campaigns", tok, campaignBody(agent))["id"].(string)
	base := "/api/v1/campaigns/" + camp + "/contacts"

	in := "phone,name,city,note\n" +
		"+14155552671,\"=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")\",@SUM(1+1),ok\n" +
		"+14155552672,Bob,London,-2+3\n" +
		"+14155552673,Ann,Paris,+44 20 7946 0958\n"
	res := h.must(200, "POST", base, tok, in, "text/csv")
	if res["inserted"] != 3.0 {
		t.Fatalf("upload: %v", res)
	}
	flagged := map[float64]int{}
	for _, f := range res["flagged"].([]any) {
		flagged[f.(map[string]any)["row"].(float64)]++
	}
	if flagged[1] != 2 || flagged[2] != 1 || flagged[3] != 0 {
		t.Fatalf("flagged = %v, want row 1 twice (name, city), row 2 once (note), row 3 not", res["flagged"])
	}

	// Invalid UTF-8: a row error in both formats.
	badJSON := []byte(`[{"phone":"+14155552674","name":"Bad ` + "\xff\xfe" + `"},{"phone":"+14155552675","name":"Good"}]`)
	res = h.must(200, "POST", base, tok, badJSON, "application/json")
	if res["inserted"] != 1.0 || res["rejected"] != 1.0 || !strings.Contains(res["errors"].([]any)[0].(map[string]any)["error"].(string), "UTF-8") {
		t.Fatalf("JSON upload with invalid UTF-8: %v", res)
	}
	res = h.must(200, "POST", base, tok, "phone,name\n+14155552676,Bad \xff\n", "text/csv")
	if res["inserted"] != 0.0 || res["rejected"] != 1.0 {
		t.Fatalf("CSV upload with invalid UTF-8: %v", res)
	}
	if l := h.must(200, "GET", base+"?phone=%2B14155552674", tok, nil); len(l["items"].([]any)) != 0 {
		t.Fatalf("a contact with invalid UTF-8 was stored: %v", l)
	}

	r := h.req("GET", base+"/export", tok, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %v %s", r.Status, r.Header, r.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = rec[i]
		}
		rows[m["phone"]] = m
	}
	for _, c := range []struct{ phone, col, want string }{
		{"+14155552671", "name", `'=HYPERLINK("http://evil.test","x")`},
		{"+14155552671", "city", "'@SUM(1+1)"},
		{"+14155552672", "note", "'-2+3"},
		{"+14155552673", "note", "+44 20 7946 0958"},
		{"+14155552673", "name", "Ann"},
	} {
		if got := rows[c.phone][c.col]; got != c.want {
			t.Errorf("export %s %s = %q, want %q", c.phone, c.col, got, c.want)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("export has %d contacts, want 4: %s", len(rows), r.Body)
	}
}
