package lifeline

import (
	"strconv"
	"testing"
)

func TestPairCarriesEventsAndParentDeath(t *testing.T) {
	parent, child, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFD, strconv.Itoa(int(child.Fd())))
	cc, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	child.Close()
	defer cc.Close()

	got := make(chan Event, 4)
	done := make(chan error, 1)
	go func() { done <- Read(parent, func(e Event) { got <- e }) }()

	s := NewSender(cc)
	if err := s.Send(Event{Kind: KindCallStart, CallID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Write([]byte("not json\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Event{Kind: KindCallEnd, CallID: "c1", Outcome: OutcomeCompleted, Seconds: 1.5}); err != nil {
		t.Fatal(err)
	}
	if e := <-got; e.Kind != KindCallStart || e.CallID != "c1" {
		t.Fatalf("first event = %+v", e)
	}
	if e := <-got; e.Kind != KindCallEnd || e.Seconds != 1.5 {
		t.Fatalf("second event = %+v", e)
	}

	// The parent going away is seen by the child as EOF.
	parent.Close()
	buf := make([]byte, 1)
	if n, err := cc.Read(buf); n != 0 || err == nil {
		t.Fatalf("child read after parent close = %d, %v; want EOF", n, err)
	}
	<-done
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvFD, "")
	if c, err := FromEnv(); c != nil || err != nil {
		t.Fatalf("unset: %v, %v", c, err)
	}
	for _, bad := range []string{"x", "1", "-4"} {
		t.Setenv(EnvFD, bad)
		if _, err := FromEnv(); err == nil {
			t.Errorf("%s=%q accepted", EnvFD, bad)
		}
	}
	var nilSender *Sender
	if err := nilSender.Send(Event{Kind: KindReady}); err != nil {
		t.Fatal(err)
	}
}
