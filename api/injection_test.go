package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInjectionAndBadInput(t *testing.T) {
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.JSONLimit, cfg.BodyLimit = 4096, 64<<10
	h := start(t, cfg, false)
	tok, _ := h.org("Inject Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("I"))["id"].(string)
	camp := h.must(201, "POST", "/api/v1/campaigns", tok, campaignBody(agent))["id"].(string)

	cases := []struct {
		name, method, path, body, ctype string
		want                            int
	}{
		{"login operator in email", "POST", "/api/v1/auth/login", `{"email":{"$gt":""},"password":"x"}`, "", 400},
		{"login operator in password", "POST", "/api/v1/auth/login", `{"email":"a@b.c","password":{"$ne":null}}`, "", 400},
		{"top-level $where", "POST", "/api/v1/agents", `{"name":"x","$where":"sleep(1000)"}`, "", 400},
		{"operator as name", "POST", "/api/v1/agents", `{"name":{"$ne":""}}`, "", 400},
		{"nested operator", "PATCH", "/api/v1/agents/" + agent, `{"script":[{"id":"a","say":"x","dtmf":{"$gt":"a"}}]}`, "", 400},
		{"operator in campaign window", "PATCH", "/api/v1/campaigns/" + camp, `{"window":{"$set":{"status":"running"}}}`, "", 400},
		{"number where string", "POST", "/api/v1/agents", `{"name":12}`, "", 400},
		{"string where number", "POST", "/api/v1/agents", `{"name":"x","max_call_seconds":"600"}`, "", 400},
		{"unknown field", "POST", "/api/v1/agents", `{"name":"x","org_id":"another"}`, "", 400},
		{"malformed", "POST", "/api/v1/agents", `{"name":`, "", 400},
		{"two values", "POST", "/api/v1/agents", `{"name":"a"}{"name":"b"}`, "", 400},
		{"array body", "POST", "/api/v1/agents", `[1,2]`, "", 400},
		{"wrong content type", "POST", "/api/v1/agents", `{"name":"x"}`, "text/plain", 415},
		{"oversize JSON", "POST", "/api/v1/agents", `{"name":"` + strings.Repeat("a", 5000) + `"}`, "", 413},
		{"operator in query", "GET", "/api/v1/campaigns?status=%24ne", "", "", 400},
		{"bracket query", "GET", "/api/v1/agents?name[$ne]=x", "", "", 200},
		{"unknown route", "GET", "/api/v1/nothing", "", "", 404},
		{"runtime operator body", "PUT", "/runtime/calls/c-inj", `{"agent_id":{"$ne":""},"status":"ringing"}`, "", 400},
		{"runtime bad call id", "PUT", "/runtime/calls/..%2Fx", `{"status":"ringing"}`, "", 400},
		{"runtime bad status", "PUT", "/runtime/calls/c-inj", `{"agent_id":"` + agent + `","status":"$set"}`, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := tok
			if strings.HasPrefix(c.path, "/runtime") {
				token = h.service()
			}
			if strings.HasPrefix(c.path, "/api/v1/auth/login") {
				token = ""
			}
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			r := h.req(c.method, c.path, token, body, ct)
			if r.Status != c.want {
				t.Fatalf("status %d, want %d; body %s", r.Status, c.want, r.Body)
			}
			if c.want >= 400 {
				r.ErrorMsg(t)
			}
		})
	}
	// An upload over the body limit is refused before its body is read: the
	// client announces the size and asks first (Expect: 100-continue, as curl
	// does for large bodies) and sends no byte of the body; the answer must
	// still come. (Writing the body too would race the server's close.)
	big := "phone\n" + strings.Repeat("+442079460001\n", 6000)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/campaigns/%s/contacts HTTP/1.1\r\nHost: vox\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: text/csv\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", camp, tok, len(big))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	for err == nil && res.StatusCode == http.StatusContinue {
		res, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatalf("oversize upload: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("oversize upload: %d %s", res.StatusCode, b)
	}
	(resp{Status: res.StatusCode, Body: b}).ErrorMsg(t)
	// Nothing above created or changed anything.
	l := h.must(200, "GET", "/api/v1/agents", tok, nil)
	if n := len(l["items"].([]any)); n != 1 {
		t.Fatalf("%d agents after the attempts, want 1", n)
	}
	if s := h.must(200, "GET", "/api/v1/campaigns/"+camp, tok, nil)["status"]; s != "draft" {
		t.Fatalf("campaign status %v", s)
	}
}
