package api_test

import (
	"testing"
)

// TestPhoneNumbersWithTrunkPrefix: a number written with its national
// trunk prefix after the country code ("+44 (0) 20 …") is the same number
// as without it, wherever it is entered: a do-not-call entry written one
// way blocks a contact written the other, and caller ids are stored in the
// same form.
func TestPhoneNumbersWithTrunkPrefix(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Trunk Prefix Org")
	d := h.must(201, "POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+44 (0) 20 7946 0958"})
	if d["phone"] != "+442079460958" {
		t.Fatalf("do-not-call entry stored as %v, want +442079460958", d["phone"])
	}
	h.must(201, "POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+33 (0)1 42 68 53 00"})
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("P"))["id"].(string)
	cb := campaignBody(agent)
	cb["caller_id"] = "+49 (0)30 901820"
	camp := h.must(201, "POST", "/api/v1/campaigns", tok, cb)
	if camp["caller_id"] != "+4930901820" {
		t.Fatalf("caller id stored as %v, want +4930901820", camp["caller_id"])
	}
	csv := "phone,name\n+442079460958,Blocked UK\n0033142685300,Blocked FR\n+39 06 6982 1234,Rome\n020 7946 0959,London\n"
	res := h.must(200, "POST", "/api/v1/campaigns/"+camp["id"].(string)+"/contacts?country_code=44", tok, csv, "text/csv")
	if res["do_not_call"] != 2.0 || res["inserted"] != 2.0 {
		t.Fatalf("upload: %v (want both listed numbers blocked, 2 inserted)", res)
	}
	l := h.must(200, "GET", "/api/v1/campaigns/"+camp["id"].(string)+"/contacts", tok, nil)
	got := map[string]bool{}
	for _, c := range l["items"].([]any) {
		got[c.(map[string]any)["phone"].(string)] = true
	}
	if !got["+390669821234"] || !got["+442079460959"] {
		t.Fatalf("contacts stored as %v", got)
	}
	// A filter written with the trunk prefix finds the entry too.
	if l := h.must(200, "GET", "/api/v1/do-not-call?phone=%2B44%20(0)%2020%207946%200958", tok, nil); len(l["items"].([]any)) != 1 {
		t.Fatalf("filter with trunk prefix: %v", l)
	}
}
