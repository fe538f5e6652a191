package recording

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/voxplatform/vox/internal/testminio"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/spool"
)

// TestMain re-executes the test binary as a worker that records a call
// until it is killed (REC_CHILD=dir).
func TestMain(m *testing.M) {
	if dir := os.Getenv("REC_CHILD"); dir != "" {
		childRecorder(dir)
		return
	}
	os.Exit(m.Run())
}

func childRecorder(dir string) {
	sp, _ := spool.Open(filepath.Join(dir, "spool"))
	u := &Uploader{Dir: filepath.Join(dir, "rec"), Spool: sp}
	w, err := u.Begin(Meta{CallID: "killed-1", OrgID: "org1", AgentID: "0123456789abcdef01234567",
		StartedAt: time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)})
	if err != nil {
		os.Exit(3)
	}
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = 1000
	}
	for n := 0; ; n++ {
		w.Caller(frame)
		w.Agent(frame[:80])
		if n == 40 { // 0.8 s: more than flushFrames on disk
			os.WriteFile(filepath.Join(dir, "recording"), nil, 0o600)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// readWAV checks the header and returns the two channels.
func readWAV(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	if len(b) < headerSize || string(b[:headerSize]) != string(header(int64(len(b)-headerSize))) {
		t.Fatalf("header %q does not match %d bytes of audio", b[:min(len(b), headerSize)], len(b)-headerSize)
	}
	for i := headerSize; i+4 <= len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	return left, right
}

func fill(n int, v int16) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestTimeline: the caller's 20 ms frames fill the left channel in order;
// an agent reply queued at once lands on the right channel from when it
// was queued; a silent side is silence; Clear drops what was not played.
func TestTimeline(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "c.wav")
	w, err := create(path, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create(path, c.now); err == nil {
		t.Fatal("a second writer of the same file got its lock")
	}
	for i := 0; i < 150; i++ { // 3 s of caller audio, 20 ms at a time
		c.add(20 * time.Millisecond)
		w.Caller(fill(160, int16(i+1)))
		switch i {
		case 24: // at 0.5 s the agent queues 1 s of reply
			w.Agent(fill(8000, -7))
		case 99: // at 2 s, 2 s more, cleared 0.5 s later
			w.Agent(fill(16000, -9))
		case 124:
			w.ClearAgent()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	left, right := readWAV(t, b)
	if len(left) != 150*160 {
		t.Fatalf("frames = %d, want %d", len(left), 150*160)
	}
	for i := range 150 {
		if left[i*160] != int16(i+1) || left[i*160+159] != int16(i+1) {
			t.Fatalf("caller frame %d misplaced: %d", i, left[i*160])
		}
	}
	count := func(from, to int, v int16) int {
		n := 0
		for _, s := range right[from:to] {
			if s == v {
				n++
			}
		}
		return n
	}
	if n := count(0, 4000, 0); n != 4000 {
		t.Fatalf("agent silent before 0.5 s: %d/4000 zero", n)
	}
	if n := count(4000, 12000, -7); n != 8000 {
		t.Fatalf("first reply from 0.5 s: %d/8000", n)
	}
	if n := count(16000, 20000, -9); n != 4000 {
		t.Fatalf("second reply from 2 s until cleared at 2.5 s: %d/4000", n)
	}
	if n := count(20000, len(right), -9); n != 0 {
		t.Fatalf("cleared reply still recorded: %d samples", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal("second close:", err)
	}
}

func newUploader(t *testing.T, mi *testminio.Server, dir string) *Uploader {
	t.Helper()
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := NewClient(MinIO{Endpoint: mi.Endpoint, AccessKey: testminio.AccessKey, SecretKey: testminio.SecretKey, Bucket: "vox"})
	if err != nil {
		t.Fatal(err)
	}
	return &Uploader{Dir: filepath.Join(dir, "rec"), Spool: sp, Client: mc, Bucket: "vox"}
}

func runUploader(t *testing.T, u *Uploader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&spool.Drainer{Spool: u.Spool, Sink: u.Sink, Interval: 20 * time.Millisecond,
			Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func eventually(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func download(t *testing.T, u *Uploader, key string) []byte {
	t.Helper()
	o, err := u.Client.GetObject(context.Background(), u.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// TestUploadThroughOutage: MinIO killed in the middle of an upload; the
// recording waits on disk, is retried, and arrives whole once MinIO is back.
func TestUploadThroughOutage(t *testing.T) {
	mi := testminio.Start(t)
	dir := t.TempDir()
	u := newUploader(t, mi, dir)
	var attached []Job
	var mu sync.Mutex
	u.Attach = func(_ context.Context, j Job) error {
		mu.Lock()
		attached = append(attached, j)
		mu.Unlock()
		return nil
	}
	// Kill MinIO once the first 2 MB of the upload have been sent.
	var sent atomic.Int64
	var killed atomic.Bool
	u.putOptions.Progress = progressFunc(func(n int) {
		if sent.Add(int64(n)) > 2<<20 && killed.CompareAndSwap(false, true) {
			go mi.Stop()
		}
	})

	// A 5-minute call, recorded on a fast clock.
	c := &clock{t: time.Now()}
	m := Meta{CallID: "CA-outage", OrgID: "org1", AgentID: "0123456789abcdef01234567", StartedAt: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := u.Begin(m)
	if err != nil {
		t.Fatal(err)
	}
	w.now, w.start = c.now, c.now()
	for i := 0; i < 5*60*50; i++ {
		c.add(20 * time.Millisecond)
		w.Caller(fill(160, int16(i)))
	}
	if err := u.Finish(w, m, runtimeapi.CallCompleted); err != nil {
		t.Fatal(err)
	}
	local, _ := os.ReadFile(w.Path())
	runUploader(t, u)
	eventually(t, "MinIO killed mid-upload", 30*time.Second, killed.Load)
	mi.Stop() // waits for the kill
	if !u.Spool.Has(m.CallID) {
		t.Fatal("upload job gone while MinIO is down")
	}
	mu.Lock()
	if len(attached) != 0 {
		t.Fatal("attached before the upload succeeded")
	}
	mu.Unlock()
	mi.Restart()
	eventually(t, "upload after MinIO is back", 60*time.Second, func() bool { return !u.Spool.Has(m.CallID) })
	key := "recordings/org1/2026/02/03/CA-outage.wav"
	if got := download(t, u, key); string(got) != string(local) {
		t.Fatalf("object %s: %d bytes, local file %d bytes", key, len(got), len(local))
	}
	if sent.Load() <= int64(len(local)) {
		t.Fatalf("%d bytes sent for a %d-byte file: the cut upload was not retried", sent.Load(), len(local))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attached) != 1 || attached[0].Key != key || attached[0].Status != runtimeapi.CallCompleted {
		t.Fatalf("attached = %+v", attached)
	}
	if _, err := os.Stat(w.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local recording kept after upload: %v", err)
	}
}

type progressFunc func(n int)

func (f progressFunc) Read(p []byte) (int, error) { f(len(p)); return len(p), nil }

// TestKilledMidCall: a worker killed while recording leaves a file that
// RecoverDir fixes up and uploads; a recording in progress is left alone.
func TestKilledMidCall(t *testing.T) {
	mi := testminio.Start(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REC_CHILD="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "child recording", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "recording"))
		return err == nil
	})
	u := newUploader(t, mi, dir)
	if n, err := u.RecoverDir(); err != nil || n != 0 {
		t.Fatalf("recover while the worker records: %d %v", n, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// One killed before its header was written, which is dropped.
	os.WriteFile(filepath.Join(u.Dir, "empty-1.wav"), []byte("RIFF"), 0o600)
	os.WriteFile(filepath.Join(u.Dir, "empty-1.meta.json"), []byte(`{"call_id":"empty-1","org_id":"org1"}`), 0o600)

	// One of ours in progress, which must be left alone.
	live, err := u.Begin(Meta{CallID: "live-1", OrgID: "org1"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	n, err := u.RecoverDir()
	if err != nil || n != 1 {
		t.Fatalf("recover: %d %v", n, err)
	}
	if n, _ := u.RecoverDir(); n != 0 {
		t.Fatalf("recovered twice: %d", n)
	}
	if _, err := os.Stat(filepath.Join(u.Dir, "empty-1.wav")); !errors.Is(err, os.ErrNotExist) || u.Spool.Has("empty-1") {
		t.Fatalf("a recording without audio was kept or spooled: %v", err)
	}
	var job Job
	b, _ := u.Spool.Get("killed-1")
	if err := json.Unmarshal(b, &job); err != nil || !job.Recovered || job.Key != "recordings/org1/2026/03/01/killed-1.wav" {
		t.Fatalf("job = %+v %v", job, err)
	}
	local, _ := os.ReadFile(job.Path)
	left, right := readWAV(t, local) // fixed up
	if len(left) < flushFrames || left[0] != 1000 || right[0] != 1000 {
		t.Fatalf("recovered %d frames, first %d/%d", len(left), left[0], right[0])
	}
	runUploader(t, u)
	eventually(t, "recovered recording uploaded", 30*time.Second, func() bool { return !u.Spool.Has("killed-1") })
	if got := download(t, u, job.Key); string(got) != string(local) {
		t.Fatalf("uploaded %d bytes, local %d", len(got), len(local))
	}
	if u.Spool.Has("live-1") {
		t.Fatal("a live recording was spooled")
	}
}

func TestRecoverRefusesOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(p, []byte("not a wav file at all, but long enough to have a header......"), 0o600)
	if _, err := Recover(p); !errors.Is(err, ErrNotRecording) {
		t.Fatalf("err = %v", err)
	}
	if Key("o", "c", time.Date(2026, 12, 31, 23, 0, 0, 0, time.FixedZone("x", 3*3600))) != "recordings/o/2026/12/31/c.wav" {
		t.Fatal("key not dated in UTC")
	}
}

// BenchmarkCallSecond records one second of a call (50 frames of 20 ms per
// side) to disk: the recording's share of a worker's CPU per call-second.
func BenchmarkCallSecond(b *testing.B) {
	c := &clock{t: time.Now()}
	w, err := create(filepath.Join(b.TempDir(), "b.wav"), c.now)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	frame := fill(160, 1234)
	b.ReportAllocs()
	for b.Loop() {
		for range 50 {
			c.add(20 * time.Millisecond)
			w.Caller(frame)
			w.Agent(frame)
		}
	}
}
