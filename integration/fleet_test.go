package integration

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

// call opens a Twilio Media Streams call through nginx and waits for the
// agent's greeting.
func (f *fleet) call(t *testing.T) *twilio.Client {
	t.Helper()
	ws := strings.Replace(f.nginx.URL("/ws/twilio"), "http://", "ws://", 1)
	cl, resp, err := twilio.Dial(ctxT(t, 10*time.Second), twilio.ClientConfig{URL: ws, Token: token(t, svcauth.FleetAudience(fleetID))})
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = resp.Status + " " + string(b)
		}
		t.Fatalf("call refused: %v %s", err, body)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool {
		return s.VoicedBytes > 0 && slices.Contains(s.Marks, agent.MarkGreeting)
	}); err != nil {
		t.Fatalf("greeting not heard: %v", err)
	}
	return cl
}

func hangUp(t *testing.T, cl *twilio.Client) {
	t.Helper()
	if err := cl.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.Closed }); err != nil {
		t.Fatalf("call did not end on #: %v", err)
	}
}

func post(t *testing.T, url, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// directCall makes worker index busy with a call that nginx does not see,
// as a call started by /attach would.
func (f *fleet) directCall(t *testing.T, index int) *twilio.Client {
	t.Helper()
	cl, _, err := twilio.Dial(ctxT(t, 10*time.Second), twilio.ClientConfig{URL: "ws://worker/ws/twilio",
		SocketPath: filepath.Join(f.dir, "s", "worker-"+itoaa(index)+".sock"), Token: token(t, svcauth.FleetAudience(fleetID))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	return cl
}

func itoaa(i int) string { return strconv.Itoa(i) }

func TestFleetBehindNginx(t *testing.T) {
	const n = 4
	f := startFleet(t, n, 5)
	f.waitReady(n)

	t.Run("N calls admitted, one more refused", func(t *testing.T) {
		var calls []*twilio.Client
		for range n {
			calls = append(calls, f.call(t))
		}
		fl, _ := f.health()
		if fl.Busy != n || fl.Free != 0 {
			t.Fatalf("with %d calls: %+v", n, fl)
		}
		// Every worker holds one call: nginx (4 worker processes sharing the
		// upstream zone) must not hand a fifth call to any of them.
		ws := strings.Replace(f.nginx.URL("/ws/twilio"), "http://", "ws://", 1)
		_, resp, err := twilio.Dial(ctxT(t, 10*time.Second), twilio.ClientConfig{URL: ws, Token: token(t, svcauth.FleetAudience(fleetID))})
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("fifth call: err %v resp %v", err, resp)
		}
		if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "no free worker") {
			t.Fatalf("fifth call body %q", b)
		}
		// The calls in progress were not disturbed: each still echoes.
		for _, cl := range calls {
			before := cl.Stats().VoicedBytes
			cl.SendAudio(ctxT(t, 5*time.Second), append(twilio.Tone(400*time.Millisecond, 440, 8000), twilio.Silence(800*time.Millisecond)...), 0)
			if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > before }); err != nil {
				t.Fatalf("call in progress no longer echoes: %v", err)
			}
		}
		for _, cl := range calls {
			hangUp(t, cl)
		}
		f.waitFor(5*time.Second, "all workers free", func() bool { fl, _ := f.health(); return fl.Free == n })
	})

	t.Run("attach retried past busy workers, dispatch never", func(t *testing.T) {
		var busy []*twilio.Client
		for i := 1; i < n; i++ { // workers 1..3 busy; 4 free
			busy = append(busy, f.directCall(t, i))
		}
		f.waitFor(5*time.Second, "3 busy", func() bool { fl, _ := f.health(); return fl.Busy == n-1 })
		tok := token(t, svcauth.FleetAudience(fleetID))
		for i := range 8 {
			code, body := post(t, f.nginx.URL("/attach"), tok, `{"call_id":"att-`+itoaa(i)+`","room":"r1"}`)
			// The free worker answers; without LiveKit it declines without taking its slot.
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "livekit not configured") {
				t.Fatalf("attach %d reached a busy worker: %d %s", i, code, body)
			}
		}
		refused := 0
		for range 8 {
			code, body := post(t, f.nginx.URL("/livekit/dispatch"), tok, `{"event":"participant_joined","room":{"name":"r1"},"participant":{"identity":"sip_1"}}`)
			switch {
			case code == http.StatusTooManyRequests:
				refused++
			case code != http.StatusServiceUnavailable:
				t.Fatalf("dispatch: %d %s", code, body)
			}
		}
		if refused == 0 {
			t.Fatal("dispatch was retried past busy workers; its 429 must reach the caller")
		}
		for _, cl := range busy {
			hangUp(t, cl)
		}
		f.waitFor(5*time.Second, "all free", func() bool { fl, _ := f.health(); return fl.Free == n })
	})

	t.Run("kill -9 of a worker: it comes back and serves", func(t *testing.T) {
		fl, _ := f.health()
		victim := fl.Workers[0]
		if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		f.waitFor(5*time.Second, "replacement", func() bool {
			fl, _ := f.health()
			for _, w := range fl.Workers {
				if w.Index == victim.Index && w.PID != victim.PID && w.State == fleetapi.SlotReady && w.Restarts == 1 {
					return true
				}
			}
			return false
		})
		var calls []*twilio.Client
		for range n {
			calls = append(calls, f.call(t))
		}
		for _, cl := range calls {
			hangUp(t, cl)
		}
	})

	t.Run("scale up: upstream follows, crash-looping worker fails, nginx -t passes", func(t *testing.T) {
		// scale waits for the new count and reports the worker that cannot start.
		out, err := exec.Command(voxfleetBin, "scale", "6", "--socket-dir", filepath.Join(f.dir, "s")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "4 -> 6") || !strings.Contains(string(out), "1 worker(s) failed to start") {
			t.Fatalf("scale: %v %s", err, out)
		}
		f.waitFor(20*time.Second, "worker 5 failed, 6 ready", func() bool {
			fl, _ := f.health()
			return fl.Failed == 1 && fl.Ready == 5 && fl.Status == fleetapi.FleetDegraded
		})
		up, _ := os.ReadFile(f.upstream)
		if !bytes.Contains(up, []byte("worker-6.sock")) || bytes.Contains(up, []byte("worker-5.sock")) {
			t.Fatalf("upstream after scale:\n%s", up)
		}
		if out, err := exec.Command("sh", "-c", f.nginx.TestCmd()).CombinedOutput(); err != nil {
			t.Fatalf("nginx -t after scale: %v %s", err, out)
		}
		st, err := exec.Command(voxfleetBin, "status", "--socket-dir", filepath.Join(f.dir, "s")).CombinedOutput()
		if err != nil || !strings.Contains(string(st), "failed") || !strings.Contains(string(st), "quick deaths") {
			t.Fatalf("status: %v\n%s", err, st)
		}
		out, err = exec.Command(voxfleetBin, "scale", "4", "--socket-dir", filepath.Join(f.dir, "s")).CombinedOutput()
		if err != nil {
			t.Fatalf("scale 4: %v %s", err, out)
		}
		f.waitFor(10*time.Second, "back to 4", func() bool { fl, _ := f.health(); return fl.Ready == 4 && fl.Failed == 0 && f.upstreamServers() == 4 })
	})

	t.Run("bad input never takes a slot", func(t *testing.T) {
		tok := token(t, svcauth.FleetAudience(fleetID))
		cases := []struct {
			name, tok, body string
			want            int
		}{
			{"no token", "", `{"call_id":"x","room":"r"}`, 401},
			{"runtime token", token(t, svcauth.AudienceRuntime), `{"call_id":"x","room":"r"}`, 401},
			{"another fleet's token", token(t, svcauth.FleetAudience("other-fleet")), `{"call_id":"x","room":"r"}`, 401},
			{"token scoped to no fleet", token(t, svcauth.AudienceFleet), `{"call_id":"x","room":"r"}`, 401},
			{"malformed json", tok, `{"call_id":`, 400},
			{"wrong type", tok, `{"call_id":7,"room":"r"}`, 422},
			{"oversize", tok, `{"call_id":"` + strings.Repeat("a", 200<<10) + `"}`, 413},
		}
		for _, c := range cases {
			code, body := post(t, f.nginx.URL("/attach"), c.tok, c.body)
			if code != c.want || !strings.Contains(body, `"error"`) {
				t.Errorf("%s: %d %s; want %d with a JSON error", c.name, code, body, c.want)
			}
		}
		cl := f.call(t)
		cl.SendRaw([]byte(`{"event":"nonsense"}`))
		st, err := cl.Wait(ctxT(t, 5*time.Second), func(s twilio.Stats) bool { return s.Closed })
		if err != nil || st.CloseCode != 1008 {
			t.Fatalf("unknown event: %+v %v", st, err)
		}
		f.waitFor(5*time.Second, "every worker free", func() bool { fl, _ := f.health(); return fl.Free == 4 })
	})

	t.Run("SIGTERM lets a call finish, then nothing is left", func(t *testing.T) {
		cl := f.call(t)
		fl, _ := f.health()
		f.cmd.Process.Signal(syscall.SIGTERM)
		f.waitFor(5*time.Second, "the daemon draining the busy worker", func() bool {
			fl, _ := f.health()
			return fl.Draining == 1 && fl.Ready == 0
		})
		before := cl.Stats().VoicedBytes
		cl.SendAudio(ctxT(t, 5*time.Second), append(twilio.Tone(400*time.Millisecond, 440, 8000), twilio.Silence(800*time.Millisecond)...), 0)
		if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > before }); err != nil {
			t.Fatalf("call cut by SIGTERM: %v", err)
		}
		hangUp(t, cl)
		select {
		case <-f.exited:
			if f.exitErr != nil {
				t.Fatalf("voxfleet exit: %v", f.exitErr)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("voxfleet did not exit after its last call")
		}
		for _, w := range fl.Workers {
			if syscall.Kill(w.PID, 0) == nil {
				t.Errorf("worker %d (pid %d) outlived the daemon", w.Index, w.PID)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(f.dir, "s", "*.sock")); len(left) > 0 {
			t.Fatalf("sockets left: %v", left)
		}
	})
}
