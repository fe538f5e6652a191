package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testminio"
	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/spool"
)

// TestRecordingReachesTheCall: a recording made on a fleet host is uploaded
// to MinIO, its key attached to the call through the runtime API, and a
// person downloads it through the call's recording link.
func TestRecordingReachesTheCall(t *testing.T) {
	mi := testminio.Start(t)
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.MinIO.Endpoint, cfg.MinIO.AccessKey, cfg.MinIO.SecretKey = mi.Endpoint, testminio.AccessKey, testminio.SecretKey
	cfg.MinIO.Bucket, cfg.MinIO.URLTTL = "recordings", time.Minute
	h := start(t, cfg, false)
	tok, orgID := h.org("Recording Upload Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Rec"))["id"].(string)

	client, err := runtimeclient.New(runtimeclient.Config{BaseURL: h.base, Secret: []byte(serviceSecret)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	started := time.Now().UTC()
	if err := client.PutCall(ctx, "REC-UP-1", runtimeapi.CallRecord{AgentID: agent, Status: runtimeapi.CallCompleted,
		StartedAt: started, EndedAt: started.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	sp, _ := spool.Open(filepath.Join(dir, "uploads"))
	mc, err := recording.NewClient(recording.MinIO{Endpoint: mi.Endpoint, AccessKey: testminio.AccessKey,
		SecretKey: testminio.SecretKey, Bucket: "recordings"})
	if err != nil {
		t.Fatal(err)
	}
	u := &recording.Uploader{Dir: filepath.Join(dir, "rec"), Spool: sp, Client: mc, Bucket: "recordings",
		Attach: func(ctx context.Context, j recording.Job) error {
			return client.AttachRecording(ctx, j.CallID, j.AgentID, j.Status, j.Key)
		}}
	meta := recording.Meta{CallID: "REC-UP-1", OrgID: orgID, AgentID: agent, StartedAt: started}
	w, err := u.Begin(meta)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = int16(i * 100)
	}
	for range 10 {
		w.Caller(frame)
		w.Agent(frame)
	}
	if err := u.Finish(w, meta, runtimeapi.CallCompleted); err != nil {
		t.Fatal(err)
	}
	local, err := os.ReadFile(w.Path())
	if err != nil || len(local) <= 44 {
		t.Fatalf("local recording: %d bytes, %v", len(local), err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- u.Run(rctx) }()
	defer func() { stop(); <-done }()

	want := recording.Key(orgID, "REC-UP-1", started)
	var link string
	eventually(t, 20*time.Second, func() error {
		c := h.must(200, "GET", "/api/v1/calls/REC-UP-1", tok, nil)
		if c["recording_key"] != want {
			return errors.New("no recording key yet")
		}
		link, _ = c["recording_url"].(string)
		return nil
	})
	if !strings.Contains(want, "recordings/"+orgID+"/"+started.Format("2006/01/02")+"/REC-UP-1.wav") {
		t.Fatalf("key %s", want)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(local) {
		t.Fatalf("download: %d, %d bytes (local %d)", resp.StatusCode, len(body), len(local))
	}
}
