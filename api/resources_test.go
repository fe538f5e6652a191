package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestAgents(t *testing.T) {
	h := newHarness(t)
	tok, orgID := h.org("Agents Org")
	a := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Sales"))
	id := a["id"].(string)
	if a["org_id"] != orgID || a["language"] != "en-GB" || a["max_call_seconds"].(float64) != 600 || len(a["script"].([]any)) != 2 ||
		a["script"].([]any)[0].(map[string]any)["field"] != "name" || len(a["script"].([]any)[0].(map[string]any)["routes"].([]any)) != 1 {
		t.Fatalf("created = %v", a)
	}
	u := h.must(200, "PATCH", "/api/v1/agents/"+id, tok, map[string]any{"greeting": "Hi there", "recording": false})
	if u["greeting"] != "Hi there" || u["recording"] != false || u["name"] != "Sales" {
		t.Fatalf("updated = %v", u)
	}
	u = h.must(200, "PATCH", "/api/v1/agents/"+id, tok, map[string]any{"providers": map[string]any{"stt": "deepgram", "brain": "script"}})
	if p, _ := u["providers"].(map[string]any); p["stt"] != "deepgram" || p["brain"] != "script" || u["greeting"] != "Hi there" {
		t.Fatalf("providers = %v", u)
	}
	bad := []map[string]any{
		{"name": ""},
		{"name": strings.Repeat("n", 101)},
		{"language": "english"},
		{"max_call_seconds": 5},
		{"max_call_seconds": 999999},
		{"voice": "bad voice!"},
		{"script": []map[string]any{{"id": "a", "say": "x", "next": "missing"}}},
		{"script": []map[string]any{{"id": "a", "say": "x", "dtmf": map[string]string{"12": "a"}}}},
		{"script": []map[string]any{{"id": "a"}, {"id": "a"}}},
		{"script": []map[string]any{{"id": "a", "routes": []map[string]any{{"words": []string{"yes"}, "next": "missing"}}}}},
		{"script": []map[string]any{{"id": "a", "routes": []map[string]any{{"words": []string{}, "next": "a"}}}}},
		{"script": []map[string]any{{"id": "a", "field": "a.b"}}},
		{"script": []map[string]any{{"id": "a", "transfer": "12345"}}},
		{"providers": map[string]any{"stt": "whisper"}},
		{"providers": map[string]any{"brain": "genius"}},
	}
	for _, b := range bad {
		body := agentBody("V")
		for k, v := range b {
			body[k] = v
		}
		r := h.req("POST", "/api/v1/agents", tok, body)
		if r.Status != 400 {
			t.Errorf("create with %v: %d %s, want 400", b, r.Status, r.Body)
			continue
		}
		r.ErrorMsg(t)
		if r := h.req("PATCH", "/api/v1/agents/"+id, tok, b); r.Status != 400 {
			t.Errorf("update with %v: %d, want 400", b, r.Status)
		}
	}
	// Filters and pagination.
	for i := 0; i < 4; i++ {
		b := agentBody(fmt.Sprintf("Bulk %d", i))
		if i%2 == 0 {
			b["language"] = "fr-FR"
		}
		h.must(201, "POST", "/api/v1/agents", tok, b)
	}
	fr := h.must(200, "GET", "/api/v1/agents?language=fr-FR", tok, nil)
	if len(fr["items"].([]any)) != 2 {
		t.Fatalf("language filter: %v", fr)
	}
	var names []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p := h.must(200, "GET", "/api/v1/agents?limit=2&cursor="+cursor, tok, nil)
		for _, it := range p["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		next, _ := p["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(names) != "[Sales Bulk 0 Bulk 1 Bulk 2 Bulk 3]" {
		t.Fatalf("paged names = %v", names)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=zzz", "recording=maybe"} {
		if r := h.req("GET", "/api/v1/agents?"+q, tok, nil); r.Status != 400 {
			t.Errorf("?%s: %d, want 400", q, r.Status)
		}
	}
	h.must(204, "DELETE", "/api/v1/agents/"+id, tok, nil)
	if r := h.req("GET", "/api/v1/agents/"+id, tok, nil); r.Status != 404 || r.ErrorMsg(t) != "not found" {
		t.Fatalf("after delete: %d %s", r.Status, r.Body)
	}
	if r := h.req("DELETE", "/api/v1/agents/"+id, tok, nil); r.Status != 404 {
		t.Fatalf("second delete: %d", r.Status)
	}
	if r := h.req("GET", "/api/v1/agents/not-an-id", tok, nil); r.Status != 404 {
		t.Fatalf("malformed id: %d", r.Status)
	}
}

func TestPhoneNumbers(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Numbers Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("In"))["id"].(string)
	n := h.must(201, "POST", "/api/v1/phone-numbers", tok, map[string]any{"e164": "+44 20 7946 0958", "trunk_id": "ST_abc", "inbound_agent_id": agent})
	if n["e164"] != "+442079460958" {
		t.Fatalf("not normalised: %v", n)
	}
	if r := h.req("POST", "/api/v1/phone-numbers", tok, map[string]any{"e164": "+442079460958"}); r.Status != 409 {
		t.Fatalf("duplicate number: %d %s", r.Status, r.Body)
	}
	for _, b := range []map[string]any{{"e164": "12345"}, {"e164": "+442079460959", "inbound_agent_id": "0123456789abcdef01234567"},
		{"e164": "+442079460959", "trunk_id": "bad trunk"}} {
		if r := h.req("POST", "/api/v1/phone-numbers", tok, b); r.Status != 400 {
			t.Errorf("%v: %d, want 400", b, r.Status)
		}
	}
	l := h.must(200, "GET", "/api/v1/phone-numbers?e164=%2B442079460958", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("e164 filter: %v", l)
	}
	l = h.must(200, "GET", "/api/v1/phone-numbers?inbound_agent_id="+agent, tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("agent filter: %v", l)
	}
	id := n["id"].(string)
	h.must(200, "PATCH", "/api/v1/phone-numbers/"+id, tok, map[string]any{"inbound_agent_id": ""})
	h.must(204, "DELETE", "/api/v1/phone-numbers/"+id, tok, nil)
}

func TestCampaigns(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Campaign Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Out"))["id"].(string)
	c := h.must(201, "POST", "/api/v1/campaigns", tok, campaignBody(agent))
	id := c["id"].(string)
	if c["status"] != "draft" {
		t.Fatalf("new campaign status %v", c["status"])
	}
	bad := []map[string]any{
		{"agent_id": "0123456789abcdef01234567"},
		{"window": map[string]any{"start": "18:00", "end": "09:00", "timezone": "UTC", "days": []int{1}}},
		{"window": map[string]any{"start": "09:00", "end": "17:00", "timezone": "Mars/Olympus", "days": []int{1}}},
		{"window": map[string]any{"start": "09:00", "end": "17:00", "timezone": "UTC", "days": []int{7}}},
		{"max_attempts": 0}, {"retry_delay_seconds": 1}, {"priority": 101}, {"caller_id": "123"},
		{"status": "running"}, // status changes only through start/pause
	}
	for _, b := range bad {
		if r := h.req("PATCH", "/api/v1/campaigns/"+id, tok, b); r.Status != 400 {
			t.Errorf("%v: %d, want 400", b, r.Status)
		}
	}
	if r := h.req("POST", "/api/v1/campaigns/"+id+"/pause", tok, nil); r.Status != 409 {
		t.Fatalf("pause a draft: %d", r.Status)
	}
	if s := h.must(200, "POST", "/api/v1/campaigns/"+id+"/start", tok, nil)["status"]; s != "running" {
		t.Fatalf("start: %v", s)
	}
	if r := h.req("POST", "/api/v1/campaigns/"+id+"/start", tok, nil); r.Status != 409 {
		t.Fatalf("start twice: %d", r.Status)
	}
	if s := h.must(200, "POST", "/api/v1/campaigns/"+id+"/pause", tok, nil)["status"]; s != "paused" {
		t.Fatalf("pause: %v", s)
	}
	l := h.must(200, "GET", "/api/v1/campaigns?status=paused", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("status filter: %v", l)
	}
	// An update keeps the status set by the actions.
	if u := h.must(200, "PATCH", "/api/v1/campaigns/"+id, tok, map[string]any{"priority": 99}); u["status"] != "paused" || u["priority"].(float64) != 99 {
		t.Fatalf("update: %v", u)
	}
}

func TestContacts(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Contacts Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("C"))["id"].(string)
	camp := h.must(201, "POST", "/api/v1/campaigns", tok, campaignBody(agent))["id"].(string)
	h.must(201, "POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+44 20 7946 0999", "reason": "asked"})

	csv := "phone,name,account\n" +
		"+44 20 7946 0001,Ann,A1\n" +
		"020 7946 0002,Bob,B2\n" +
		"+442079460001,Ann dup,A1\n" + // duplicate in file
		"12,Short,\n" + // bad number
		"+442079460999,Blocked,\n" + // do-not-call
		"+442079460003,Too,many,fields\n"
	up := h.must(200, "POST", "/api/v1/campaigns/"+camp+"/contacts?country_code=44", tok, csv, "text/csv")
	want := map[string]float64{"total": 6, "inserted": 2, "duplicates": 1, "do_not_call": 1, "rejected": 2}
	for k, v := range want {
		if up[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, up[k], v, up)
		}
	}
	errs := up["errors"].([]any)
	if len(errs) != 3 {
		t.Fatalf("errors = %v", errs)
	}
	rows := map[float64]bool{}
	for _, e := range errs {
		rows[e.(map[string]any)["row"].(float64)] = true
	}
	if !rows[4] || !rows[5] || !rows[6] {
		t.Fatalf("error rows = %v", errs)
	}
	// JSON upload: one new, one already in the campaign, one injection attempt.
	js := `[{"phone":"+442079460004","name":"Dee","metadata":{"tier":"gold"}},{"phone":"+442079460002"},{"phone":{"$ne":""}}]`
	up = h.must(200, "POST", "/api/v1/campaigns/"+camp+"/contacts", tok, js)
	if up["inserted"] != 1.0 || up["duplicates"] != 1.0 || up["rejected"] != 1.0 {
		t.Fatalf("json upload: %v", up)
	}
	l := h.must(200, "GET", "/api/v1/campaigns/"+camp+"/contacts?limit=200", tok, nil)
	items := l["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("contacts = %v", items)
	}
	first := items[0].(map[string]any)
	if first["phone"] != "+442079460001" || first["metadata"].(map[string]any)["account"] != "A1" || first["status"] != "pending" {
		t.Fatalf("first contact = %v", first)
	}
	cid := first["id"].(string)
	h.must(200, "GET", "/api/v1/campaigns/"+camp+"/contacts/"+cid, tok, nil)
	l = h.must(200, "GET", "/api/v1/campaigns/"+camp+"/contacts?phone=%2B442079460004", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("phone filter: %v", l)
	}
	h.must(204, "DELETE", "/api/v1/campaigns/"+camp+"/contacts/"+cid, tok, nil)
	// A number listed after its upload is not called either.
	h.must(201, "POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+442079460004"})
	l = h.must(200, "GET", "/api/v1/campaigns/"+camp+"/contacts?phone=%2B442079460004", tok, nil)
	if st := l["items"].([]any)[0].(map[string]any)["status"]; st != "do_not_call" {
		t.Fatalf("listed contact status = %v", st)
	}
	// Whole-upload errors.
	for name, c := range map[string]struct{ body, ct string }{
		"no phone column": {"name\nx\n", "text/csv"},
		"not an array":    {`{"phone":"+442079460005"}`, "application/json"},
		"bad column name": {"phone,$where\n+442079460005,1\n", "text/csv"},
	} {
		if r := h.req("POST", "/api/v1/campaigns/"+camp+"/contacts", tok, c.body, c.ct); r.Status != 400 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := h.req("POST", "/api/v1/campaigns/"+camp+"/contacts", tok, "x", "text/plain"); r.Status != 415 {
		t.Errorf("text/plain: %d", r.Status)
	}
	if r := h.req("POST", "/api/v1/campaigns/"+camp+"/contacts?country_code=abc", tok, "phone\n1\n", "text/csv"); r.Status != 400 {
		t.Errorf("bad country code: %d", r.Status)
	}
}

func TestFleetsAndDNC(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Fleet Org")
	f := h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "eu-1", "url": "http://127.0.0.1:9/"})
	if f["url"] != "http://127.0.0.1:9" || f["enabled"] != true {
		t.Fatalf("fleet = %v", f)
	}
	for _, u := range []string{"ftp://x", "http://user:pw@host", "http://h/?q=1", "not a url", ""} {
		if r := h.req("POST", "/api/v1/fleets", tok, map[string]any{"name": "x", "url": u}); r.Status != 400 {
			t.Errorf("url %q: %d", u, r.Status)
		}
	}
	if r := h.req("POST", "/api/v1/fleets", tok, map[string]any{"name": "again", "url": "http://127.0.0.1:9"}); r.Status != 409 {
		t.Errorf("duplicate url: %d", r.Status)
	}
	id := f["id"].(string)
	h.must(200, "PATCH", "/api/v1/fleets/"+id, tok, map[string]any{"enabled": false})
	l := h.must(200, "GET", "/api/v1/fleets?enabled=false", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("enabled filter: %v", l)
	}
	d := h.must(201, "POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+1 415 555 2671"})
	if d["phone"] != "+14155552671" {
		t.Fatalf("dnc = %v", d)
	}
	if r := h.req("POST", "/api/v1/do-not-call", tok, map[string]any{"phone": "+14155552671"}); r.Status != 409 {
		t.Fatalf("duplicate dnc: %d", r.Status)
	}
	if r := h.req("PATCH", "/api/v1/do-not-call/"+d["id"].(string), tok, map[string]any{"reason": "x"}); r.Status != 405 && r.Status != 404 {
		t.Fatalf("dnc update: %d", r.Status)
	}
	h.must(204, "DELETE", "/api/v1/do-not-call/"+d["id"].(string), tok, nil)
}

func TestUsers(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Users Org")
	u := h.must(201, "POST", "/api/v1/users", tok, map[string]any{"email": "Zed@Users.test", "name": "Zed", "role": "viewer", "password": "zed-password-1"})
	if u["email"] != "zed@users.test" {
		t.Fatalf("email not normalised: %v", u)
	}
	if _, leaked := u["password_hash"]; leaked {
		t.Fatal("password hash returned")
	}
	for _, b := range []map[string]any{
		{"email": "zed@users.test", "password": "zed-password-1"}, // taken: 409 below
		{"email": "bad", "password": "zed-password-1"},
		{"email": "a@users.test", "password": "short"},
		{"email": "b@users.test"},
		{"email": "c@users.test", "password": "zed-password-1", "role": "god"},
	} {
		r := h.req("POST", "/api/v1/users", tok, b)
		if b["email"] == "zed@users.test" {
			if r.Status != 409 {
				t.Errorf("taken e-mail: %d", r.Status)
			}
			continue
		}
		if r.Status != 400 {
			t.Errorf("%v: %d %s", b, r.Status, r.Body)
		}
	}
	id := u["id"].(string)
	h.must(200, "PATCH", "/api/v1/users/"+id, tok, map[string]any{"password": "new-password-22"})
	if r := login(h, "zed@users.test", "new-password-22"); r.Status != 200 {
		t.Fatalf("login with new password: %d", r.Status)
	}
	l := h.must(200, "GET", "/api/v1/users?role=viewer", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatalf("role filter: %v", l)
	}
}
