package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executed as a child process: SPOOL_CHILD names what it
// does (see TestMain).
func TestMain(m *testing.M) {
	switch os.Getenv("SPOOL_CHILD") {
	case "writer":
		childWriter()
	case "drainer":
		childDrainer()
	default:
		os.Exit(m.Run())
	}
}

type rec struct {
	Key  string `json:"key"`
	N    int    `json:"n"`
	Body string `json:"body"`
}

// childWriter puts records until killed: keys w{id}-{n%keys}, each a
// later state of its key, with a large body so that a kill lands mid-write.
func childWriter() {
	s, err := Open(os.Getenv("SPOOL_DIR"))
	if err != nil {
		os.Exit(3)
	}
	id := os.Getenv("SPOOL_ID")
	keys, _ := strconv.Atoi(os.Getenv("SPOOL_KEYS"))
	limit, _ := strconv.Atoi(os.Getenv("SPOOL_LIMIT"))
	body := string(make([]byte, 64<<10))
	for n := 0; limit == 0 || n < limit; n++ {
		k := fmt.Sprintf("w%s-%d", id, n%keys)
		if err := s.Put(k, rec{Key: k, N: n, Body: body}); err != nil {
			os.Exit(4)
		}
		if n == 2*keys { // every key written at least once
			os.WriteFile(filepath.Join(os.Getenv("SPOOL_DIR"), "started-"+id), nil, 0o600)
		}
	}
	os.Exit(0)
}

// childDrainer drains into a sink that never returns: it is killed while
// delivering, holding a claim.
func childDrainer() {
	s, _ := Open(os.Getenv("SPOOL_DIR"))
	d := &Drainer{Spool: s, Sink: func(ctx context.Context, key string, _ []byte) error {
		os.WriteFile(filepath.Join(s.Dir(), "delivering"), []byte(key), 0o600)
		select {}
	}}
	_ = d.Run(context.Background())
	os.Exit(5)
}

func child(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collector is a sink that records what it got, failing on demand.
type collector struct {
	mu   sync.Mutex
	got  map[string][]byte // guarded by mu
	n    int               // deliveries, guarded by mu
	fail func(key string) error
}

func (c *collector) sink(_ context.Context, key string, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(key); err != nil {
			return err
		}
	}
	if c.got == nil {
		c.got = map[string][]byte{}
	}
	c.got[key] = append([]byte(nil), b...)
	c.n++
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not true after 20s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func run(t *testing.T, d *Drainer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("drainer: %v", err)
		}
	})
}

func TestPutReplacesAndDrains(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Put("call-1", rec{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("call-2", rec{N: 9}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("../x", rec{}); err == nil {
		t.Fatal("bad key accepted")
	}
	if keys, _ := s.Pending(); fmt.Sprint(keys) != "[call-1 call-2]" {
		t.Fatalf("pending = %v", keys)
	}
	c := &collector{}
	run(t, &Drainer{Spool: s, Sink: c.sink, Interval: 20 * time.Millisecond})
	eventually(t, "both delivered", func() bool { return c.count() == 2 })
	var r rec
	c.mu.Lock()
	json.Unmarshal(c.got["call-1"], &r)
	n := c.n
	c.mu.Unlock()
	if r.N != 2 || n != 2 {
		t.Fatalf("call-1 delivered as %+v after %d deliveries; want only the last state", r, n)
	}
	eventually(t, "spool empty", func() bool { keys, _ := s.Pending(); return len(keys) == 0 })
	// A Put later is delivered without waiting for the interval.
	if err := s.Put("call-3", rec{N: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "call-3 delivered", func() bool { return c.count() == 3 })
}

func TestFailuresKeepRecords(t *testing.T) {
	s, _ := Open(t.TempDir())
	var mu sync.Mutex
	down := true
	attempts := 0
	c := &collector{fail: func(key string) error {
		mu.Lock()
		defer mu.Unlock()
		if key == "bad" {
			return Permanent(errors.New("400 bad record"))
		}
		attempts++
		if down {
			return errors.New("connection refused")
		}
		return nil
	}}
	s.Put("bad", rec{})
	s.Put("good", rec{N: 1})
	run(t, &Drainer{Spool: s, Sink: c.sink, Interval: 10 * time.Millisecond, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	eventually(t, "retried while down", func() bool { mu.Lock(); defer mu.Unlock(); return attempts >= 3 })
	if keys, _ := s.Pending(); fmt.Sprint(keys) != "[good]" {
		t.Fatalf("pending while the sink is down = %v", keys)
	}
	// A newer state while the sink is down replaces the kept one.
	s.Put("good", rec{N: 2})
	mu.Lock()
	down = false
	mu.Unlock()
	eventually(t, "delivered when back", func() bool { return c.count() == 1 })
	var r rec
	json.Unmarshal(c.got["good"], &r)
	if r.N != 2 {
		t.Fatalf("delivered %+v, want the newest state", r)
	}
	if f, _ := s.Failed(); fmt.Sprint(f) != "[bad]" {
		t.Fatalf("failed = %v", f)
	}
}

// TestPutDuringDelivery: a newer state put while the older one is being
// delivered is delivered after it, and a failed delivery of the older one
// does not overwrite it.
func TestPutDuringDelivery(t *testing.T) {
	s, _ := Open(t.TempDir())
	s.Put("k", rec{N: 1})
	entered, release := make(chan struct{}), make(chan error)
	var got []int
	var mu sync.Mutex
	sink := func(_ context.Context, _ string, b []byte) error {
		var r rec
		json.Unmarshal(b, &r)
		if r.N == 1 {
			entered <- struct{}{}
			if err := <-release; err != nil {
				return err
			}
		}
		mu.Lock()
		got = append(got, r.N)
		mu.Unlock()
		return nil
	}
	run(t, &Drainer{Spool: s, Sink: sink, Interval: 10 * time.Millisecond, Backoff: time.Millisecond})
	<-entered
	s.Put("k", rec{N: 2})
	release <- errors.New("timeout") // the old state fails: must not come back over N=2
	eventually(t, "N=2 delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[2]" {
		t.Fatalf("delivered %v", got)
	}
}

// TestCrashes: writers killed mid-write leave only whole records; a
// drainer killed mid-delivery leaves its claim, which the next drainer
// delivers; several processes write while one drains.
func TestCrashes(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	var writers []*exec.Cmd
	for i := range 3 {
		writers = append(writers, child(t, "SPOOL_CHILD=writer", "SPOOL_DIR="+dir, "SPOOL_ID="+strconv.Itoa(i), "SPOOL_KEYS=5"))
	}
	for i := range 3 {
		waitFile(t, filepath.Join(dir, "started-"+strconv.Itoa(i)))
	}
	time.Sleep(20 * time.Millisecond) // not a synchronisation: the writers go on overwriting, so the kill lands mid-write
	for _, w := range writers {
		w.Process.Signal(syscall.SIGKILL)
		w.Wait()
	}
	keys, _ := s.Pending()
	if len(keys) != 15 {
		t.Fatalf("pending = %v, want 15 keys", keys)
	}
	for _, k := range keys {
		b, _ := s.Get(k)
		var r rec
		if err := json.Unmarshal(b, &r); err != nil || r.Key != k {
			t.Fatalf("record %s torn: %v", k, err)
		}
	}

	// A drainer killed while delivering holds a claim.
	d := child(t, "SPOOL_CHILD=drainer", "SPOOL_DIR="+dir)
	claimed := string(waitFile(t, filepath.Join(dir, "delivering")))
	d.Process.Signal(syscall.SIGKILL)
	d.Wait()
	if _, err := os.Stat(s.path(dirInflight, claimed)); err != nil {
		t.Fatalf("claim of %s not left in inflight/: %v", claimed, err)
	}

	// The next drainer delivers everything, including the claim, while
	// more writers (processes) add new keys.
	c := &collector{}
	run(t, &Drainer{Spool: s, Sink: c.sink, Interval: 10 * time.Millisecond})
	for i := 3; i < 5; i++ {
		w := child(t, "SPOOL_CHILD=writer", "SPOOL_DIR="+dir, "SPOOL_ID="+strconv.Itoa(i), "SPOOL_KEYS=4", "SPOOL_LIMIT=8")
		if err := w.Wait(); err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	eventually(t, "23 keys delivered", func() bool { return c.count() == 23 })
	eventually(t, "spool empty", func() bool { keys, _ := s.Pending(); return len(keys) == 0 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.got[claimed]; !ok {
		t.Fatalf("claimed record %s not delivered", claimed)
	}
	for k, b := range c.got {
		var r rec
		if json.Unmarshal(b, &r) != nil || r.Key != k {
			t.Fatalf("delivered %s torn", k)
		}
	}
}

// TestOneDrainer: a second drainer waits for the first one's lock and
// takes over when it stops.
func TestOneDrainer(t *testing.T) {
	s, _ := Open(t.TempDir())
	c1, c2 := &collector{}, &collector{}
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() {
		done1 <- (&Drainer{Spool: s, Sink: c1.sink, Interval: 10 * time.Millisecond}).Run(ctx1)
	}()
	s.Put("a", rec{})
	eventually(t, "first drainer delivers", func() bool { return c1.count() == 1 })
	s2, _ := Open(s.Dir()) // as another process would
	run(t, &Drainer{Spool: s2, Sink: c2.sink, Interval: 10 * time.Millisecond})
	s2.Put("b", rec{})
	eventually(t, "first drainer delivers b", func() bool { return c1.count() == 2 })
	stop1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	s2.Put("c", rec{})
	eventually(t, "second drainer takes over", func() bool { return c2.count() == 1 })
	if c2.got["a"] != nil || c2.got["b"] != nil {
		t.Fatal("delivered twice")
	}
}
