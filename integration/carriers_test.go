package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/carrier"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/svcauth"
)

// carrierCall dials carrier p's route through nginx with the service token
// in ?token=, as a carrier that cannot set headers does.
func (f *fleet) carrierCall(t *testing.T, ctx context.Context, p *carrier.Protocol, cfg carrier.ClientConfig) *carrier.Client {
	t.Helper()
	cfg.URL = strings.Replace(f.nginx.URL(fleetapi.StreamPath(p.Name)), "http://", "ws://", 1) +
		"?token=" + url.QueryEscape(token(t, svcauth.FleetAudience(fleetID)))
	cl, resp, err := carrier.Dial(ctx, p, cfg)
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = resp.Status + " " + string(b)
		}
		t.Fatalf("%s call refused: %v %s", p.Name, err, body)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	return cl
}

// Every carrier's protocol through the shipped nginx site to a real
// worker: the caller hears the greeting, talks over it and is cleared as
// its carrier clears, hears its echo, presses a key, and stops the stream
// as its carrier does; a bad frame ends the call with a policy violation.
// After each call the one worker is free for the next.
func TestCarriersThroughNginx(t *testing.T) {
	f := startFleet(t, 1, 0)
	f.waitReady(1)
	free := func() {
		t.Helper()
		f.waitFor(15*time.Second, "the worker free again", func() bool {
			fl, _ := f.health()
			return fl.Free == 1
		})
	}
	for _, name := range carrier.Names() {
		p := carrier.Protocols()[name]
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			cl := f.carrierCall(t, ctx, p, carrier.ClientConfig{Reorder: p == carrier.Telnyx})
			if _, err := cl.Wait(ctx, func(s carrier.Stats) bool { return s.VoicedSamples > 0 }); err != nil {
				t.Fatalf("greeting not heard: %v", err)
			}
			if fl, _ := f.health(); fl.Busy != 1 {
				t.Fatalf("fleet during the call: %+v", fl)
			}
			// The one worker is taken: a second stream of any carrier is
			// refused before the upgrade.
			other := strings.Replace(f.nginx.URL(fleetapi.StreamPath(carrier.Names()[0])), "http://", "ws://", 1) +
				"?token=" + url.QueryEscape(token(t, svcauth.FleetAudience(fleetID)))
			if _, resp, err := carrier.Dial(ctx, carrier.Protocols()[carrier.Names()[0]], carrier.ClientConfig{URL: other}); err == nil ||
				resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("second stream while the worker is busy: %v %v; want 503", resp, err)
			}
			if err := cl.SendAudio(ctx, carrier.Tone(400*time.Millisecond, 300, 8000), cl.FrameDuration()); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Wait(ctx, func(s carrier.Stats) bool { return s.Clears > 0 }); err != nil {
				t.Fatalf("agent not cleared on barge-in: %v", err)
			}
			before := cl.Stats().VoicedSamples
			if err := cl.SendAudio(ctx, carrier.Silence(800*time.Millisecond), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Wait(ctx, func(s carrier.Stats) bool {
				return s.VoicedSamples > before && slices.Contains(s.Marks, agent.MarkEchoPrefix+"1")
			}); err != nil {
				t.Fatalf("echo not heard: %v", err)
			}
			before = cl.Stats().Samples
			if err := cl.SendDTMF("7"); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Wait(ctx, func(s carrier.Stats) bool { return s.Samples > before }); err != nil {
				t.Fatalf("no beep after a key press: %v", err)
			}
			if err := cl.Stop(); err != nil {
				t.Fatal(err)
			}
			st, err := cl.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
			if err != nil {
				t.Fatalf("stream not ended by stop: %v", err)
			}
			if p.NewCaller(carrier.CallerConfig{}).Stop() != nil && st.CloseCode != websocket.CloseNormalClosure {
				t.Fatalf("close %d %q; want normal closure", st.CloseCode, st.CloseText)
			}
			free()

			bad := f.carrierCall(t, ctx, p, carrier.ClientConfig{})
			if err := bad.SendRaw(carrier.Text([]byte(`{"event":"bogus"}`))); err != nil {
				t.Fatal(err)
			}
			st, err = bad.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
			if err != nil || st.CloseCode != websocket.ClosePolicyViolation || st.CloseText == "" {
				t.Fatalf("bad frame: close %d %q, %v; want policy violation with a reason", st.CloseCode, st.CloseText, err)
			}
			free()
		})
	}
}

// `voxfleet call --carrier NAME` places a test call through nginx in each
// carrier's protocol: greeting, echo, '#' hangs up.
func TestVoxfleetCallEachCarrier(t *testing.T) {
	f := startFleet(t, 1, 0)
	f.waitReady(1)
	for _, name := range carrier.Names() {
		t.Run(name, func(t *testing.T) {
			ws := strings.Replace(f.nginx.URL(fleetapi.StreamPath(name)), "http://", "ws://", 1)
			cmd := exec.Command(voxfleetBin, "call", "--carrier", name, "--url", ws, "--speak", "300ms", "--timeout", "30s", "--json")
			cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
			out, err := cmd.Output()
			var rep struct {
				Carrier    string `json:"carrier"`
				GreetingMS int    `json:"greeting_ms"`
				EchoMS     int    `json:"echo_ms"`
				Ended      bool   `json:"ended"`
				CloseCode  int    `json:"close_code"`
				OK         bool   `json:"ok"`
				Problem    string `json:"problem"`
			}
			if jerr := json.Unmarshal(out, &rep); err != nil || jerr != nil || !rep.OK || rep.Carrier != name ||
				rep.GreetingMS < 500 || rep.EchoMS < 150 || !rep.Ended || rep.CloseCode != websocket.CloseNormalClosure {
				t.Fatalf("voxfleet call --carrier %s: %v %s", name, err, out)
			}
			f.waitFor(15*time.Second, "the worker free again", func() bool { fl, _ := f.health(); return fl.Free == 1 })
		})
	}
}
