package pipeline

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/script"
	"github.com/voxplatform/vox/voice/stt"
)

// A cloud synthesiser that refuses every request leaves the call to
// espeak-ng: the caller still hears the greeting.
func TestCloudSynthesizerFallsBack(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"message":"The engine is currently overloaded","type":"server_error"}}`))
	}))
	defer srv.Close()
	f, err := NewOffline(Config{Kind: KindOffline, TTS: Provider{Name: ProviderOpenAI, URL: srv.URL + "/v1", APIKey: "k"}})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	defer f.Close()
	leg := &playSink{}
	sess, err := f.NewSession(agent.Call{ID: "cloud"}, leg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	heard := 0
	h := &harness{Session: sess, Leg: leg, Tick: tickEvery, OnFrame: func(_, a []int16) { heard += len(a) }}
	if err := h.Run(context.Background(), nil, markPlayed("reply-1"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = sess.Close()
	if heard < agent.SampleRate || asked.Load() == 0 {
		t.Fatalf("heard %d samples of greeting, cloud asked %d times", heard, asked.Load())
	}
}

func TestUnknownProviders(t *testing.T) {
	for _, c := range []Config{
		{Kind: "robot"},
		{Kind: KindOffline, STT: Provider{Name: "nope"}},
		{Kind: KindOffline, TTS: Provider{Name: "nope"}},
		{Kind: KindOffline, TTS: Provider{Name: ProviderOpenAI, URL: "ftp://x"}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if f, err := New(Config{}); err != nil {
		t.Fatal(err)
	} else if _, ok := f.(agent.Scripted); !ok {
		t.Fatalf("default agent is %T; want agent.Scripted", f)
	}
}

// A cloud recogniser that cannot be reached leaves the call to PocketSphinx:
// the caller is still understood.
func TestCloudRecognizerFallsBack(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	f, err := NewOffline(Config{Kind: KindOffline, STT: Provider{Name: ProviderDeepgram, URL: "ws://127.0.0.1:1/v1/listen", APIKey: "k"}})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	defer f.Close()
	if f.sttFB == nil {
		t.Fatal("no offline fallback behind the cloud recogniser")
	}
	rep := oneTurn(t, f, "I would like to book an appointment")
	if got := lastAgent(rep); got != "Certainly. What is your name?" {
		t.Fatalf("agent said %q", got)
	}
}

// failingSTT stands in for a cloud recogniser whose socket the server keeps
// closing: every turn's final result fails.
type failingSTT struct{}

func (failingSTT) SampleRate() int { return 16000 }
func (failingSTT) Open(context.Context, stt.Options) (stt.Stream, error) {
	return failingStream{}, nil
}

type failingStream struct{}

func (failingStream) Write([]int16) error { return nil }
func (failingStream) Flush(context.Context) (string, error) {
	return "", errors.New("closed by the server: 1011 NET-0001")
}
func (failingStream) Close() error { return nil }

// A recogniser that fails two turns in a row is replaced by the fallback
// for the rest of the call.
func TestFailingRecognizerIsReplaced(t *testing.T) {
	f := offline(t)
	leg := &playSink{}
	sess, err := NewSession(agent.Call{ID: "fails"}, leg, Providers{
		STT: failingSTT{}, FallbackSTT: f.stt, TTS: f.tts, Brain: script.New(f.cfg.Agent.Script),
	}, f.tune, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	book := say(t, "I would like to book an appointment")
	run(t, sess, leg, []caller{
		{When: markPlayed("reply-1"), Audio: book},
		{When: markPlayed("reply-2"), Audio: book},
		{When: markPlayed("reply-3"), Audio: book},
	}, markPlayed("reply-4"))
	_ = sess.Close()
	rep := sess.(agent.Reporter).Report()
	var agentSaid []string
	for _, u := range rep.Transcript {
		if u.Speaker == agent.SpeakerAgent {
			agentSaid = append(agentSaid, u.Text)
		}
	}
	if len(agentSaid) != 4 || !strings.HasPrefix(agentSaid[1], "Sorry") || !strings.HasPrefix(agentSaid[2], "Sorry") || agentSaid[3] != "Certainly. What is your name?" {
		t.Fatalf("agent said %q", agentSaid)
	}
}
