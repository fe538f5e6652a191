// Command voice measures the voice pipeline (make bench-voice): the offline
// recogniser's word error rate and real-time factor on an espeak-ng fixture
// set, then whole three-turn calls through the offline pipeline in real
// time — per-turn latency split into its stages, barge-in stop time, and
// CPU per call. It prints figures and asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/agent/legtest"
	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/llm"
	"github.com/voxplatform/vox/voice/llm/llmtest"
	"github.com/voxplatform/vox/voice/stt"
	"github.com/voxplatform/vox/voice/stt/pocketsphinx"
)

func main() { os.Exit(run()) }

func run() int {
	calls := flag.Int("calls", 5, "three-turn calls to run")
	concurrent := flag.Int("concurrent", 1, "calls at once")
	withLLM := flag.Bool("llm", true, "also run the calls with a streamed model (local test server, 300 ms to first token, 30 ms a token)")
	bandFill := flag.Float64("band-fill", 0, "PocketSphinx band fill RMS (0: its default)")
	werOnly := flag.Bool("wer-only", false, "measure the recogniser only")
	psArgs := flag.String("ps-args", "", "further PocketSphinx decoder arguments, space-separated (e.g. \"-lw 10\")")
	flag.Parse()
	if err := werBench(*bandFill, strings.Fields(*psArgs)); err != nil {
		fmt.Fprintln(os.Stderr, "wer:", err)
		return 1
	}
	if *werOnly {
		return 0
	}
	if err := callBench(*calls, *concurrent, nil); err != nil {
		fmt.Fprintln(os.Stderr, "calls:", err)
		return 1
	}
	if *withLLM {
		srv := llmtest.New(llmtest.Reply{FirstDelay: 300 * time.Millisecond, Gap: 30 * time.Millisecond,
			Tokens: llmtest.Words("Certainly, I can help you with that. Could you tell me a little more?")})
		defer srv.Close()
		if err := callBench(*calls, *concurrent, &llm.Config{BaseURL: srv.BaseURL(), Model: "bench", Greeting: "Hello, thank you for calling. How can I help?"}); err != nil {
			fmt.Fprintln(os.Stderr, "calls with a model:", err)
			return 1
		}
	}
	return 0
}

// fixtures are what callers of the demo script say.
var fixtures = []string{
	"I would like to book an appointment",
	"I want to cancel my appointment",
	"my name is John Smith",
	"my name is Mary Johnson",
	"in the morning please",
	"the afternoon would be better",
	"yes please",
	"no thank you",
	"can I speak to a person",
	"cancel it please",
	"book an appointment for tomorrow morning",
	"goodbye",
}

var voices = []string{"en-us", "en-us+m3", "en-us+f3", "en-gb"}

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func werBench(bandFill float64, args []string) error {
	rec, err := pocketsphinx.New(pocketsphinx.Config{BandFill: bandFill, Args: args})
	if err != nil {
		return err
	}
	defer rec.Close()
	type clip struct {
		text string
		pcm  []int16 // 16 kHz, as the pipeline hands it over
	}
	var clips []clip
	var audioLen time.Duration
	for _, v := range voices {
		for _, f := range fixtures {
			pcm, err := legtest.Say(f, v)
			if err != nil {
				return err
			}
			pad := make([]int16, agent.SampleRate/5)
			pcm = append(append(pad, pcm...), pad...)
			audioLen += time.Duration(len(pcm)) * time.Second / agent.SampleRate
			clips = append(clips, clip{f, audio.Resample(pcm, agent.SampleRate, 16000)})
		}
	}
	fmt.Printf("speech-to-text: PocketSphinx en-us, %d espeak-ng clips (%d sentences × voices %s), 8 kHz telephone audio, %.1f s\n",
		len(clips), len(fixtures), strings.Join(voices, " "), audioLen.Seconds())
	fmt.Printf("%-34s %8s %8s %10s\n", "language model", "WER", "RTF", "sentences ok")
	phrases := pipeline.DemoScript.Phrases()
	for _, lm := range []struct {
		name    string
		phrases []string
	}{{"script's (demo script) + base", phrases}, {"general en-us (Debian's)", nil}} {
		ctx := context.Background()
		s, err := rec.Open(ctx, stt.Options{Phrases: lm.phrases})
		if err != nil {
			return err
		}
		var errs, words, exact int
		var cpu time.Duration
		for _, c := range clips {
			before := cpuTime(syscall.RUSAGE_SELF)
			for i := 0; i < len(c.pcm); i += 320 {
				if err := s.Write(c.pcm[i:min(i+320, len(c.pcm))]); err != nil {
					return err
				}
			}
			got, err := s.Flush(ctx)
			if err != nil {
				return err
			}
			cpu += cpuTime(syscall.RUSAGE_SELF) - before
			e, n := wordErrors(c.text, got)
			errs += e
			words += n
			if e == 0 {
				exact++
			}
		}
		_ = s.Close()
		fmt.Printf("%-34s %7.1f%% %8.3f %6d/%d\n", lm.name, 100*float64(errs)/float64(words), cpu.Seconds()/audioLen.Seconds(), exact, len(clips))
	}
	fmt.Println()
	return nil
}

// wordErrors is the word-level edit distance and the reference's length.
func wordErrors(ref, hyp string) (int, int) {
	norm := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '\'') })
	}
	r, h := norm(ref), norm(hyp)
	prev := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur := make([]int, len(h)+1)
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(h)], len(r)
}

type turnStats struct {
	lat      []agent.TurnLatency
	bargeIns []time.Duration
	heard    int
	turns    int
	callSecs float64
}

func callBench(n, concurrent int, model *llm.Config) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := pipeline.NewOffline(pipeline.Config{Kind: pipeline.KindOffline, LLM: model, Logger: log})
	if err != nil {
		return err
	}
	defer f.Close()
	lines := []string{"I would like to book an appointment", "My name is John Smith", "in the morning please"}
	var said [][]int16
	for _, l := range lines {
		pcm, err := legtest.Say(l, "en-us")
		if err != nil {
			return err
		}
		said = append(said, pcm)
	}
	// Warm the recogniser's decoders as a worker's first call would.
	warm := &legtest.Leg{}
	if s, err := f.NewSession(agent.Call{ID: "warm"}, warm); err == nil {
		_ = s.Start(context.Background())
		_ = s.Close()
	}

	var total turnStats
	cpu0, child0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
	wall := time.Now()
	results := make(chan turnStats, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, concurrent)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			st, err := oneCall(f, fmt.Sprintf("bench-%d", i), said, model != nil)
			if err != nil {
				errs <- err
				return
			}
			results <- st
		}()
	}
	for range n {
		select {
		case err := <-errs:
			return err
		case st := <-results:
			total.lat = append(total.lat, st.lat...)
			total.bargeIns = append(total.bargeIns, st.bargeIns...)
			total.heard += st.heard
			total.turns += st.turns
			total.callSecs += st.callSecs
		}
	}
	cpu := cpuTime(syscall.RUSAGE_SELF) - cpu0 + cpuTime(syscall.RUSAGE_CHILDREN) - child0
	brain := "the demo script"
	if model != nil {
		brain = "a streamed model (test server: 300 ms to first token, 30 ms a token) with the script as fallback"
	}
	fmt.Printf("calls: %d three-turn calls, %d at once, real time, offline pipeline (PocketSphinx, espeak-ng), brain: %s; %.0f s of calls in %.0f s\n",
		n, concurrent, brain, total.callSecs, time.Since(wall).Seconds())
	fmt.Printf("caller turns transcribed as said: %d/%d\n", total.heard, total.turns)
	stage := func(name string, get func(agent.TurnLatency) time.Duration) {
		var v []time.Duration
		for _, l := range total.lat {
			v = append(v, get(l))
		}
		fmt.Printf("  %-44s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms\n", name, ms(pct(v, 50)), ms(pct(v, 95)), ms(pct(v, 100)))
	}
	fmt.Printf("per-turn latency (%d agent replies to caller turns):\n", len(total.lat))
	stage("end-of-turn silence (detector)", func(l agent.TurnLatency) time.Duration { return l.EndOfTurn })
	stage("speech-to-text final", func(l agent.TurnLatency) time.Duration { return l.STT })
	stage("brain first words", func(l agent.TurnLatency) time.Duration { return l.FirstToken })
	stage("first speakable sentence", func(l agent.TurnLatency) time.Duration { return l.FirstSentence })
	stage("text-to-speech first audio", func(l agent.TurnLatency) time.Duration { return l.TTS })
	stage("platform overhead", func(l agent.TurnLatency) time.Duration { return l.Overhead })
	stage("end of turn detected → first agent audio", func(l agent.TurnLatency) time.Duration { return l.Response })
	stage("caller stops → first agent audio", func(l agent.TurnLatency) time.Duration { return l.VoiceToVoice() })
	fmt.Printf("barge-in, caller speech start → agent audio cleared (%d): p50 %.1f ms  p95 %.1f ms  max %.1f ms\n",
		len(total.bargeIns), ms(pct(total.bargeIns, 50)), ms(pct(total.bargeIns, 95)), ms(pct(total.bargeIns, 100)))
	perCallSec := cpu.Seconds() / total.callSecs
	fmt.Printf("CPU: %.2f s for %.0f call-seconds = %.3f CPU-s per call-second (bench process + espeak-ng children) → about %.0f concurrent calls per core\n\n",
		cpu.Seconds(), total.callSecs, perCallSec, 1/perCallSec)
	return nil
}

func oneCall(f agent.Factory, id string, said [][]int16, model bool) (turnStats, error) {
	var st turnStats
	leg := &legtest.Leg{}
	sess, err := f.NewSession(agent.Call{ID: id}, leg)
	if err != nil {
		return st, err
	}
	ctx := context.Background()
	start := time.Now()
	if err := sess.Start(ctx); err != nil {
		return st, err
	}
	h := &legtest.Harness{Session: sess, Leg: leg}
	steps := []legtest.Step{
		{When: legtest.MarkPlayed("reply-1"), Audio: said[0]},
		{When: legtest.MarkPlayed("reply-2"), Audio: said[1]},
		{When: func(h *legtest.Harness) bool {
			return h.Marks["reply-2"] && legtest.AgentTalking(800*time.Millisecond)(h)
		}, Audio: said[2]},
	}
	until := legtest.Ended
	if model {
		// The model never hangs up: stop once the reply after the
		// interruption has played.
		until = func(h *legtest.Harness) bool { return h.Marks["reply-4"] || legtest.Ended(h) }
	}
	err = h.Run(ctx, steps, until, 90*time.Second)
	st.callSecs = time.Since(start).Seconds()
	if cerr := sess.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, err
	}
	rep := sess.(agent.Reporter).Report()
	want := []string{"book an appointment", "my name is john", "morning"}
	for _, u := range rep.Transcript {
		if u.Latency != nil {
			st.lat = append(st.lat, *u.Latency)
		}
		if u.Speaker == agent.SpeakerCaller {
			if st.turns < len(want) && strings.Contains(u.Text, want[st.turns]) {
				st.heard++
			}
			st.turns++
		}
	}
	st.bargeIns = rep.BargeIns
	return st, nil
}

func pct(v []time.Duration, p int) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
