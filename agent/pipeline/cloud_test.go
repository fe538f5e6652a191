package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testenv"
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
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
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
		if testenv.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
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
