package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/voxplatform/vox/internal/testminio"
)

func TestRecordingLink(t *testing.T) {
	mi := testminio.Start(t)
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.MinIO.Endpoint, cfg.MinIO.AccessKey, cfg.MinIO.SecretKey = mi.Endpoint, testminio.AccessKey, testminio.SecretKey
	cfg.MinIO.Bucket, cfg.MinIO.URLTTL = "recordings", 30*time.Second
	h := start(t, cfg, false)

	mc, err := minio.New(mi.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(testminio.AccessKey, testminio.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "recordings", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	audio := "RIFF fake wav bytes"
	if _, err := mc.PutObject(ctx, "recordings", "2026/01/REC1.wav", strings.NewReader(audio), int64(len(audio)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	tok, _ := h.org("Rec Org")
	other, _ := h.org("Rec Other")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("R"))["id"].(string)
	h.must(201, "PUT", "/runtime/calls/REC1", h.service(), map[string]any{"agent_id": agent, "status": "completed", "recording_key": "2026/01/REC1.wav"})
	h.must(201, "PUT", "/runtime/calls/REC2", h.service(), map[string]any{"agent_id": agent, "status": "completed"})

	c := h.must(200, "GET", "/api/v1/calls/REC1", tok, nil)
	link, _ := c["recording_url"].(string)
	if !strings.Contains(link, "X-Amz-Expires=30") || !strings.Contains(link, "X-Amz-Signature=") {
		t.Fatalf("recording_url = %q", link)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != audio {
		t.Fatalf("GET recording: %d %q", resp.StatusCode, body)
	}
	// A tampered link is refused by MinIO.
	resp, err = http.Get(strings.Replace(link, "REC1", "REC2", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("tampered link: %d", resp.StatusCode)
	}
	if c := h.must(200, "GET", "/api/v1/calls/REC2", tok, nil); c["recording_url"] != nil {
		t.Fatalf("call without recording has a link: %v", c)
	}
	if r := h.req("GET", "/api/v1/calls/REC1", other, nil); r.Status != 404 {
		t.Fatalf("other org: %d", r.Status)
	}
}
