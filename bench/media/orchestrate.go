package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testredis"
)

type proc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func start(bin string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return &proc{cmd: cmd, in: in, out: sc}, nil
}

func (p *proc) expect(line string) error {
	if !p.out.Scan() {
		return fmt.Errorf("%s: exited before %q", p.cmd.Path, line)
	}
	if got := p.out.Text(); got != line {
		return fmt.Errorf("%s: said %q, want %q", p.cmd.Path, got, line)
	}
	return nil
}

type run struct {
	K       int
	Workers []workerResult
	Callers []callerResult
}

func orchestrate(args []string) int {
	fs := flag.NewFlagSet("media", flag.ContinueOnError)
	ks := fs.String("k", "1,8,16", "comma-separated counts of concurrent calls")
	dur := fs.Duration("duration", 20*time.Second, "length of each call")
	single := fs.Bool("single", false, "workers join with one PeerConnection (roomleg's SinglePeerConnection)")
	complexity := fs.Int("complexity", 0, "Opus encoder complexity of the workers, 1-10 (0: roomleg's default)")
	gomaxprocs := fs.String("gomaxprocs", "", "GOMAXPROCS of the workers")
	gogc := fs.String("gogc", "", "GOGC of the workers")
	asJSON := fs.Bool("json", false, "print raw results as JSON")
	profile := fs.String("cpuprofile", "", "write the first worker's CPU profile to this file")
	stagger := fs.Duration("stagger", 0, "time between two /attach (0: all at once, a burst)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var counts []int
	for _, s := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			return usage(fs, fmt.Errorf("-k %q: want positive counts", *ks))
		}
		counts = append(counts, k)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "media:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "bench-media-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "media:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	lk, cleanup, err := servers(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "media:", err)
		return 1
	}
	defer cleanup()
	espeak, err1 := exec.LookPath("espeak-ng")
	sox, err2 := exec.LookPath("sox")
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "media: espeak-ng and sox are needed (make deps)")
		return 1
	}
	if _, err := testlivekit.RenderSpeech(espeak, sox, dir, "Hello, I am calling about my order. Could you tell me when it arrives?"); err != nil {
		fmt.Fprintln(os.Stderr, "media:", err)
		return 1
	}
	speech := filepath.Join(dir, "speech8k.wav")
	var env []string
	if *gomaxprocs != "" {
		env = append(env, "GOMAXPROCS="+*gomaxprocs)
	}
	if *gogc != "" {
		env = append(env, "GOGC="+*gogc)
	}
	fmt.Printf("media bench: %v per call, attach every %v, single PC %v, opus complexity %d (0: default), worker env %v, livekit-server on this host\n", *dur, *stagger, *single, *complexity, env)
	var runs []run
	for _, k := range counts {
		r, err := once(self, lk, dir, speech, k, *dur, *stagger, env, *profile, workerFlags(*single, *complexity))
		if err != nil {
			fmt.Fprintf(os.Stderr, "media: K=%d: %v\n", k, err)
			return 1
		}
		runs = append(runs, r)
		report(r)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(runs)
	}
	return 0
}

func servers(dir string) (*testlivekit.Server, func(), error) {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, fmt.Errorf("redis-server: %w (make deps)", err)
	}
	lkBin, err := testlivekit.Find()
	if err != nil {
		return nil, nil, err
	}
	rd, err := testredis.Launch(redisBin, dir)
	if err != nil {
		return nil, nil, err
	}
	lk, err := testlivekit.Launch(lkBin, dir, rd, testlivekit.Options{})
	if err != nil {
		rd.Stop()
		return nil, nil, err
	}
	return lk, func() { lk.Stop(); rd.Stop() }, nil
}

func workerFlags(single bool, complexity int) []string {
	var f []string
	if single {
		f = append(f, "-single")
	}
	if complexity > 0 {
		f = append(f, "-complexity", strconv.Itoa(complexity))
	}
	return f
}

func once(self string, lk *testlivekit.Server, dir, speech string, k int, dur, stagger time.Duration, env []string, profile string, flags []string) (run, error) {
	r := run{K: k}
	stamp := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	rooms := make([]string, k)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("k%d-%d-%s", k, i, stamp)
	}
	conn := []string{"-url", lk.URL, "-key", lk.Key, "-secret", lk.Secret}
	cp, err := start(self, nil, append([]string{"callers", "-rooms", strings.Join(rooms, ","), "-speech", speech}, conn...)...)
	if err != nil {
		return r, err
	}
	defer func() { _ = cp.cmd.Process.Kill(); _ = cp.cmd.Wait() }()
	if err := cp.expect("joined"); err != nil {
		return r, err
	}
	workers := make([]*proc, k)
	for i, room := range rooms {
		wdir := filepath.Join(dir, room)
		if err := os.MkdirAll(wdir, 0o755); err != nil {
			return r, err
		}
		a := append([]string{"worker", "-room", room, "-dir", wdir}, conn...)
		a = append(a, flags...)
		if profile != "" && i == 0 {
			a = append(a, "-cpuprofile", profile)
		}
		w, err := start(self, env, a...)
		if err != nil {
			return r, err
		}
		defer func() { _ = w.cmd.Process.Kill() }()
		workers[i] = w
	}
	for _, w := range workers {
		if err := w.expect("ready"); err != nil {
			return r, err
		}
	}
	for i, w := range workers { // the /attach of each call
		if i > 0 {
			time.Sleep(stagger)
		}
		_, _ = io.WriteString(w.in, "go\n")
	}
	time.Sleep(dur)
	_, _ = io.WriteString(cp.in, "end\n")
	for cp.out.Scan() {
		var c callerResult
		if err := json.Unmarshal(cp.out.Bytes(), &c); err != nil {
			return r, fmt.Errorf("callers said %q: %w", cp.out.Text(), err)
		}
		r.Callers = append(r.Callers, c)
	}
	for _, w := range workers {
		if !w.out.Scan() {
			return r, fmt.Errorf("a worker ended without a result")
		}
		var res workerResult
		if err := json.Unmarshal(w.out.Bytes(), &res); err != nil {
			return r, fmt.Errorf("worker said %q: %w", w.out.Text(), err)
		}
		r.Workers = append(r.Workers, res)
	}
	for _, w := range workers { // let them exit on their own (profiles flush)
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	return r, nil
}

func report(r run) {
	var cpu, wall float64
	var heardRx, heardExp, agentRx, agentExp, sent, arrived, decoded int64
	var wGaps, cGaps, pss, firstHeard, firstSent []float64
	causes := map[string]int{}
	attach := map[string]int64{}
	for _, w := range r.Workers {
		cpu += w.CPU
		wall += w.Wall
		sent += w.Sent
		arrived += w.Arrived
		decoded += w.Decoded
		heardRx += w.Heard.Received
		heardExp += w.Heard.Expected
		wGaps = append(wGaps, w.Heard.Gaps...)
		pss = append(pss, float64(w.PSSKB)/1024)
		causes[w.Cause+w.Error]++
		attach[w.Room] = w.Attach
		if w.FirstAudio > 0 {
			firstSent = append(firstSent, float64(w.FirstAudio-w.Attach)/1e6)
		}
	}
	for _, c := range r.Callers {
		agentRx += c.Heard.Received
		agentExp += c.Heard.Expected
		cGaps = append(cGaps, c.Heard.Gaps...)
		if c.FirstLoud > 0 && attach[c.Room] > 0 {
			firstHeard = append(firstHeard, float64(c.FirstLoud-attach[c.Room])/1e6)
		}
	}
	ratio := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	slices.Sort(pss)
	fmt.Printf("K=%-3d cpu/call-s %.4f | agent audio at callers %.2f%% of real time (p99 gap %.1f ms) | caller audio at workers: packets decoded %.2f%% arrived %.2f%% of sent, %.2f%% of real time (p99 gap %.1f ms) | PSS MB median %.1f max %.1f | attach→first audio heard p50 %.0f ms p95 %.0f ms (sent p50 %.0f p95 %.0f) | ends %v\n",
		r.K, cpu/wall, ratio(agentRx, agentExp), percentile(cGaps, 99), ratio(decoded, sent), ratio(arrived, sent), ratio(heardRx, heardExp), percentile(wGaps, 99),
		percentile(pss, 50), percentile(pss, 100), percentile(firstHeard, 50), percentile(firstHeard, 95),
		percentile(firstSent, 50), percentile(firstSent, 95), causes)
}
