package api_test

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite frontend/openapi.json from the server's document")

// consoleOpenAPI is the OpenAPI document the Console's API types are
// generated from, committed so that the Console builds without a server.
const consoleOpenAPI = "../frontend/openapi.json"

// TestConsoleOpenAPIMatchesServer fails when the Console's committed
// OpenAPI document differs from what the server serves at /openapi.json
// (its version aside). Update it with
// go test ./api -run TestConsoleOpenAPIMatchesServer -update-openapi.
func TestConsoleOpenAPIMatchesServer(t *testing.T) {
	h := newHarness(t)
	r := h.req("GET", "/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	var served map[string]any
	if err := json.Unmarshal(r.Body, &served); err != nil {
		t.Fatal(err)
	}
	served["info"].(map[string]any)["version"] = "console"
	if *updateOpenAPI {
		b, err := json.MarshalIndent(served, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(consoleOpenAPI, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(consoleOpenAPI)
	if err != nil {
		t.Fatalf("%v (make it with -update-openapi)", err)
	}
	var committed map[string]any
	if err := json.Unmarshal(b, &committed); err != nil {
		t.Fatalf("%s: %v", consoleOpenAPI, err)
	}
	if !reflect.DeepEqual(served, committed) {
		for _, part := range []string{"paths", "components"} {
			s, _ := json.Marshal(served[part])
			c, _ := json.Marshal(committed[part])
			if string(s) != string(c) {
				t.Errorf("%s differs from the served document's %s", consoleOpenAPI, part)
			}
		}
		t.Fatalf("%s is out of date: go test ./api -run TestConsoleOpenAPIMatchesServer -update-openapi, then rebuild the Console", consoleOpenAPI)
	}
}
