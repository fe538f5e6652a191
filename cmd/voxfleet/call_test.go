package main

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallTrustsPrivateCA calls a wss:// server whose certificate a private
// CA signed: without --ca the handshake fails on the certificate; with it
// TLS succeeds and the server's own answer (401 here) is reported.
func TestCallTrustsPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "bad.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	t.Setenv("VOX_SERVICE_SECRET", "a-test-service-secret-of-32-bytes-or-more")
	t.Setenv("VOXFLEET_FLEET_ID", "test-fleet")
	url := strings.Replace(srv.URL, "https://", "wss://", 1) + "/ws/twilio"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"system roots", nil, exitFail, "certificate"},
		{"private CA", []string{"--ca", ca}, exitFail, "refused: 401"},
		{"missing CA file", []string{"--ca", filepath.Join(dir, "none.pem")}, exitUsage, "--ca"},
		{"CA file without PEM", []string{"--ca", notPEM}, exitUsage, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(append([]string{"call", "--url", url, "--timeout", "5s"}, tt.args...), &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s%s", code, tt.code, tt.want, out.String(), errOut.String())
			}
		})
	}
}

// An unknown --carrier is a usage error naming the carriers.
func TestCallUnknownCarrier(t *testing.T) {
	t.Setenv("VOX_SERVICE_SECRET", "a-test-service-secret-of-32-bytes-or-more")
	t.Setenv("VOXFLEET_FLEET_ID", "test-fleet")
	var out, errOut bytes.Buffer
	code := dispatch([]string{"call", "--carrier", "pigeon", "--url", "ws://127.0.0.1:1/ws/pigeon"}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "exotel, plivo, telnyx, twilio, vonage") {
		t.Fatalf("exit %d, want %d naming the carriers:\n%s", code, exitUsage, errOut.String())
	}
}
