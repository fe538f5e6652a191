package pipeline

import (
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/script"
)

// The script's transfer step hands the call over through the leg when the
// leg can transfer, and carries on when it cannot.
func TestTransfer(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	f, err := NewOffline(Config{Kind: KindOffline, Agent: AgentConfig{Script: script.Script{
		Greeting: "Hello.",
		Steps: []script.Step{
			{ID: "ask", Say: "How can I help?", Routes: []script.Route{{Words: []string{"person", "someone"}, Next: "human"}}},
			{ID: "human", Say: "Putting you through.", Transfer: "+14155550100"},
		},
	}}})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	defer f.Close()

	leg := &transferSink{}
	rep := oneTurnOn(t, f, "can I speak to a person", &leg.Leg, leg, hungUp)
	if _, hangup, to := leg.State(); to != "+14155550100" || hangup != "" || rep.TransferredTo != "+14155550100" {
		t.Fatalf("transfer to %q (report %q), hangup %q", to, rep.TransferredTo, hangup)
	}

	plain := &playSink{}
	rep = oneTurnOn(t, f, "can I speak to a person", plain, nil, nil)
	if _, hangup, _ := plain.State(); hangup != "" || rep.TransferredTo != "" || lastAgent(rep) != "Putting you through." {
		t.Fatalf("leg without transfer: hangup %q, transferred %q, said %q", hangup, rep.TransferredTo, lastAgent(rep))
	}
}
