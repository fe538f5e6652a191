package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/runtimeapi"
)

// TestOpenAPIMatchesRoutes walks the routes fiber actually serves and the
// operations /openapi.json describes, and fails on any difference.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	r := h.req("GET", "/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
			var op struct {
				Parameters []struct{ Name, In string } `json:"parameters"`
				Responses  map[string]any              `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.Responses["default"] == nil {
				t.Errorf("%s %s: bad operation %s", m, p, raw)
			}
			inPath := map[string]bool{}
			for _, prm := range op.Parameters {
				if prm.In == "path" {
					inPath[prm.Name] = true
				}
			}
			for _, want := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(p, -1) {
				if !inPath[want[1]] {
					t.Errorf("%s %s: path parameter %s not declared", m, p, want[1])
				}
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range h.srv.App().GetRoutes(true) {
		if rt.Method == http.MethodHead || rt.Path == "/" || rt.Path == "" {
			continue // fiber adds HEAD for every GET
		}
		served[rt.Method+" "+api.OpenAPIPath(rt.Path)] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("served but not documented: %v\ndocumented but not served: %v", missing, extra)
	}
	// Bodies and answers carry the schemas of their Go types.
	var full map[string]any
	_ = json.Unmarshal(r.Body, &full)
	dig := func(v any, path ...string) any {
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}
	paths := full["paths"]
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"/api/v1/agents", "post", "requestBody", "content", "application/json", "schema", "properties", "max_call_seconds", "type"}, "integer"},
		{[]string{"/api/v1/agents", "post", "responses", "201", "content", "application/json", "schema", "properties", "org_id", "type"}, "string"},
		{[]string{"/api/v1/api-keys", "post", "responses", "201", "content", "application/json", "schema", "properties", "key", "type"}, "string"},
		{[]string{"/api/v1/calls/{call_id}", "get", "responses", "200", "content", "application/json", "schema", "properties", "recording_url", "type"}, "string"},
		{[]string{"/runtime/calls/{call_id}", "put", "requestBody", "content", "application/json", "schema", "properties", "ended_at", "format"}, "date-time"},
		{[]string{"/api/v1/agents", "get", "responses", "200", "content", "application/json", "schema", "properties", "items", "type"}, "array"},
		{[]string{"/api/v1/agents/{id}", "delete", "responses", "204", "description"}, "success"},
	} {
		if got := dig(paths, c.path...); got != c.want {
			t.Errorf("%v = %v, want %s", c.path, got, c.want)
		}
	}
	// The providers an agent may name are the enums validation uses.
	providers := []string{"/api/v1/agents/{id}", "patch", "requestBody", "content", "application/json", "schema", "properties", "providers", "properties"}
	for field, want := range map[string][]string{"stt": runtimeapi.STTProviders, "tts": runtimeapi.TTSProviders, "brain": runtimeapi.Brains} {
		got, _ := json.Marshal(dig(paths, append(providers, field, "enum")...))
		if w, _ := json.Marshal(want); string(got) != string(w) {
			t.Errorf("providers.%s enum = %s, want %s", field, got, w)
		}
	}
	if len(served) < 40 {
		t.Fatalf("only %d routes served; the walk is broken", len(served))
	}
}
