package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

// counts is what a load run saw.
type counts struct {
	Setup, Refused, Completed, Cut, CutByKill int64
	AttachServed, AttachRefused               int64
}

func (c counts) String() string {
	return fmt.Sprintf("set up %d, refused %d, completed %d, cut %d (+%d on workers killed by the suite), attach served %d refused %d",
		c.Setup, c.Refused, c.Completed, c.Cut, c.CutByKill, c.AttachServed, c.AttachRefused)
}

// load keeps `callers` long Twilio calls going through nginx, each talking
// in cycles (speak, hear the echo) for callLength before pressing '#', plus
// a stream of short /attach requests.
type load struct {
	t          *testing.T
	f          *fleet
	callLength time.Duration
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	setup, refused, completed   atomic.Int64
	attachServed, attachRefused atomic.Int64

	mu     sync.Mutex          // guards killed and cuts
	killed map[string]struct{} // call ids on workers the suite killed
	cuts   map[string]string   // call id → why it was cut; told apart from kills when counted
}

func startLoad(t *testing.T, f *fleet, callers int, callLength time.Duration) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{t: t, f: f, callLength: callLength, cancel: cancel, killed: map[string]struct{}{}, cuts: map[string]string{}}
	for range callers {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.caller(ctx) }()
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.attacher(ctx) }()
	// A test that fails early still stops its callers before it ends:
	// they log through t.
	t.Cleanup(func() { l.stop() })
	return l
}

// markKilled records that the suite killed (or is about to kill) the worker
// carrying callID; a cut of that call counts as caused by the suite.
func (l *load) markKilled(callID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killed[callID] = struct{}{}
}

func (l *load) snapshot() counts {
	c := counts{Setup: l.setup.Load(), Refused: l.refused.Load(), Completed: l.completed.Load(),
		AttachServed: l.attachServed.Load(), AttachRefused: l.attachRefused.Load()}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.cuts {
		if _, byKill := l.killed[id]; byKill {
			c.CutByKill++
		} else {
			c.Cut++
		}
	}
	return c
}

// unexplainedCuts lists the cut calls not on a worker the suite killed.
func (l *load) unexplainedCuts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id, why := range l.cuts {
		if _, byKill := l.killed[id]; !byKill {
			out = append(out, id+": "+why)
		}
	}
	return out
}

// stop lets every caller finish its call and returns the totals.
func (l *load) stop() counts {
	l.cancel()
	l.wg.Wait()
	return l.snapshot()
}

func (l *load) caller(ctx context.Context) {
	ws := strings.Replace(l.f.nginx.URL("/ws/twilio"), "http://", "ws://", 1)
	for ctx.Err() == nil {
		tok, _ := svcauth.Sign([]byte(secret), svcauth.FleetAudience(fleetID), "soak", time.Minute)
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		cl, resp, err := twilio.Dial(dctx, twilio.ClientConfig{URL: ws, Token: tok})
		cancel()
		if err != nil {
			if resp != nil {
				resp.Body.Close()
			}
			l.refused.Add(1)
			l.t.Logf("call refused: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		l.setup.Add(1)
		if why := l.converse(ctx, cl); why != "" {
			l.mu.Lock()
			l.cuts[cl.CallSID()] = why
			l.mu.Unlock()
		} else {
			l.completed.Add(1)
		}
		cl.Close()
	}
}

// converse runs one call to its end; it returns why the call was cut, or "".
func (l *load) converse(stop context.Context, cl *twilio.Client) string {
	wait := func(d time.Duration, cond func(twilio.Stats) bool) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := cl.Wait(ctx, func(s twilio.Stats) bool { return cond(s) || s.Closed })
		if err == nil && cl.Stats().Closed && !cond(cl.Stats()) {
			return errors.New("closed by the far end")
		}
		return err
	}
	if err := cl.Start(); err != nil {
		return "start: " + err.Error()
	}
	if err := wait(10*time.Second, func(s twilio.Stats) bool { return slices.Contains(s.Marks, agent.MarkGreeting) }); err != nil {
		return "no greeting: " + err.Error()
	}
	end := time.Now().Add(l.callLength)
	for time.Now().Before(end) && stop.Err() == nil {
		before := cl.Stats().VoicedBytes
		if err := cl.SendAudio(context.Background(), append(twilio.Tone(300*time.Millisecond, 440, 8000), twilio.Silence(700*time.Millisecond)...), 0); err != nil {
			return "speak: " + err.Error()
		}
		if err := wait(8*time.Second, func(s twilio.Stats) bool { return s.VoicedBytes > before }); err != nil {
			return "no echo: " + err.Error()
		}
		time.Sleep(150 * time.Millisecond)
	}
	if err := cl.SendDTMF("#"); err != nil {
		return "hang up: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if st, err := cl.Wait(ctx, func(s twilio.Stats) bool { return s.Closed }); err != nil || st.CloseCode != 1000 {
		return fmt.Sprintf("hang up: close %d %v", st.CloseCode, err)
	}
	return ""
}

func (l *load) attacher(ctx context.Context) {
	tok, _ := svcauth.Sign([]byte(secret), svcauth.FleetAudience(fleetID), "soak", 10*time.Minute)
	n := 0
	for ctx.Err() == nil {
		n++
		req, _ := http.NewRequest(http.MethodPost, l.f.nginx.URL("/attach"),
			strings.NewReader(fmt.Sprintf(`{"call_id":"soak-attach-%d","room":"r"}`, n)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// A free worker answers; without LiveKit it declines without taking its slot.
			if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "livekit not configured") {
				l.attachServed.Add(1)
			} else {
				l.attachRefused.Add(1)
				l.t.Logf("attach refused: %d %s", resp.StatusCode, b)
			}
		} else {
			l.attachRefused.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
