package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/roomleg"
)

// workerResult is one worker's report (a JSON line on stdout).
type workerResult struct {
	Room       string  `json:"room"`
	Attach     int64   `json:"attach_unix_ns"`
	FirstAudio int64   `json:"first_audio_unix_ns"`
	CPU        float64 `json:"cpu_s"`
	Wall       float64 `json:"wall_s"`
	PSSKB      int     `json:"pss_kb"`
	Cause      string  `json:"cause"`
	Error      string  `json:"error,omitempty"`
	Heard      audio   `json:"heard"`
	// RTP packets of the caller: sent (by sequence number), arrived,
	// decoded (passed the jitter buffer in time).
	Sent    int64 `json:"sent"`
	Arrived int64 `json:"arrived"`
	Decoded int64 `json:"decoded"`
}

// recorder writes both sides to disk as the recording feature would: two
// 16-bit streams, caller and agent, flushed at the end.
type recorder struct {
	mu     sync.Mutex // guards the writers
	caller *bufio.Writer
	agent  *bufio.Writer
	files  []*os.File
	clock  *frameClock
}

func newRecorder(dir string, clock *frameClock) (*recorder, error) {
	r := &recorder{clock: clock}
	for i, name := range []string{"caller.raw", "agent.raw"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		r.files = append(r.files, f)
		w := bufio.NewWriterSize(f, 64<<10)
		if i == 0 {
			r.caller = w
		} else {
			r.agent = w
		}
	}
	return r, nil
}

func (r *recorder) CallerAudio(pcm []int16) {
	r.clock.add(len(pcm))
	r.mu.Lock()
	_ = binary.Write(r.caller, binary.LittleEndian, pcm)
	r.mu.Unlock()
}

func (r *recorder) AgentAudio(pcm []int16) {
	r.mu.Lock()
	_ = binary.Write(r.agent, binary.LittleEndian, pcm)
	r.mu.Unlock()
}

func (r *recorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.caller.Flush()
	_ = r.agent.Flush()
	for _, f := range r.files {
		_ = f.Close()
	}
}

func worker(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	url := fs.String("url", "", "LiveKit URL")
	key := fs.String("key", "", "API key")
	secret := fs.String("secret", "", "API secret")
	room := fs.String("room", "", "room")
	single := fs.Bool("single", false, "one PeerConnection")
	complexity := fs.Int("complexity", 0, "Opus complexity (0: roomleg's default)")
	dir := fs.String("dir", os.TempDir(), "recording directory")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the call here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	roomleg.SetSDKLogger(log)
	clock := &frameClock{}
	rec, err := newRecorder(*dir, clock)
	if err != nil {
		log.Error("recorder", "err", err)
		return 1
	}
	defer rec.close()
	cfg := roomleg.Config{
		LiveKit: lkapi.Config{URL: *url, Key: *key, Secret: *secret},
		Room:    *room, Identity: "agent-" + *room, Caller: "caller-" + *room,
		SinglePeerConnection: *single, OpusComplexity: *complexity, Tap: rec,
		CallerTimeout: time.Minute,
	}
	// Ready: wait for the orchestrator's "go", the moment of /attach.
	os.Stdout.WriteString("ready\n")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 1
	}
	if *profile != "" {
		if f, err := os.Create(*profile); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	attach := time.Now()
	cpu0 := cpuSeconds()
	res := workerResult{Room: *room, Attach: attach.UnixNano()}
	var pssMu sync.Mutex
	stop := make(chan struct{})
	go func() { // PSS of the busy worker, sampled every second
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := pssKB(); v > 0 {
					pssMu.Lock()
					res.PSSKB = max(res.PSSKB, v)
					pssMu.Unlock()
				}
			}
		}
	}()
	ctx := context.Background()
	leg, err := roomleg.Join(ctx, cfg, log)
	if err != nil {
		res.Error = err.Error()
	} else {
		r, err := leg.Run(ctx, agent.Scripted{}, agent.Call{ID: *room})
		res.Cause = string(r.Cause)
		res.Sent, res.Arrived, res.Decoded = r.CallerPackets, r.Arrived, r.Decoded
		if err != nil {
			res.Error = err.Error()
		}
		if !r.FirstAudio.IsZero() {
			res.FirstAudio = r.FirstAudio.UnixNano()
		}
	}
	end := time.Now()
	close(stop)
	res.CPU = cpuSeconds() - cpu0
	res.Wall = end.Sub(attach).Seconds()
	res.Heard = clock.report(roomleg.Rate)
	pssMu.Lock()
	defer pssMu.Unlock()
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}
