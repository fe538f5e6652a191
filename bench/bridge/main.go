// Command bridge measures voxbridge's runtime API on loopback: latency
// (p50/p90/p99/max) and throughput of GET /runtime/agents/{id} (served from
// the Redis cache) and PUT /runtime/calls/{id}, first at a fixed offered rate
// (open loop: latency counts from when each request was due, so a stall is
// not hidden), then closed loop at a fixed concurrency for the ceiling.
//
// It starts its own MongoDB-wire server (FerretDB, see internal/testmongo)
// and redis-server unless --mongodb-uri and --redis-url are given, and runs
// voxbridge in-process on 127.0.0.1. It prints figures and asserts nothing.
//
//	go run ./bench/bridge -get-rate 1000 -put-rate 100 -duration 10s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
)

func main() { os.Exit(run()) }

const secret = "bench-service-secret-0123456789"

func run() int {
	getRate := flag.Int("get-rate", 1000, "offered GET /runtime/agents requests per second (open loop)")
	putRate := flag.Int("put-rate", 100, "offered PUT /runtime/calls requests per second (open loop)")
	dur := flag.Duration("duration", 10*time.Second, "length of each run")
	conc := flag.Int("concurrency", 32, "concurrent clients in the closed-loop runs")
	mongoURI := flag.String("mongodb-uri", "", "MongoDB to use (default: start FerretDB)")
	redisURL := flag.String("redis-url", "", "Redis to use (default: start redis-server)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "bridgebench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *mongoURI == "" {
		bin, err := testmongo.Binary()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridge:", err)
			return 1
		}
		m, err := testmongo.Launch(bin, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridge:", err)
			return 1
		}
		defer m.Stop()
		*mongoURI = m.URI()
	}
	if *redisURL == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridge: redis-server not found (apt-get install -y redis-server)")
			return 1
		}
		r, err := testredis.Launch(bin, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridge:", err)
			return 1
		}
		defer r.Stop()
		*redisURL = r.URL()
	}

	env := map[string]string{
		"MONGODB_URI": *mongoURI, "MONGODB_DATABASE": "bridgebench", "REDIS_URL": *redisURL,
		"JWT_SECRET": strings.Repeat("b", 40), "VOX_SERVICE_SECRET": secret, "LOG_LEVEL": "error",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		return 1
	}
	srv, err := api.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	if err := srv.EnsureIndexes(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		return 1
	}
	now := time.Now().UTC()
	agent := store.Agent{Meta: store.Meta{ID: store.NewID(), OrgID: store.NewID(), CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "Bench", Language: "en-GB", Greeting: "Hello",
			Prompt: strings.Repeat("Be helpful. ", 50), Script: []store.ScriptStep{{ID: "a", Say: "Hi"}}, MaxCallSeconds: 600}}
	if err := store.Insert(ctx, srv.Store(), store.CollAgents, agent); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		return 1
	}
	token, _ := svcauth.Sign([]byte(secret), svcauth.AudienceRuntime, "bench", time.Hour)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 10 * time.Second}

	getAgent := func(int64) (*http.Request, int) {
		r, _ := http.NewRequest(http.MethodGet, base+"/runtime/agents/"+agent.ID, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r, http.StatusOK
	}
	statuses := []string{"ringing", "in-progress", "completed"}
	var run atomic.Int64
	putCall := func(i int64) (*http.Request, int) {
		// Each call gets three writes in order: created, then two updates.
		call, st := i/3, statuses[i%3]
		body := fmt.Sprintf(`{"agent_id":%q,"status":%q,"direction":"outbound","to":"+14155550100"}`, agent.ID, st)
		r, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/runtime/calls/bench-%d-%d", base, run.Load(), call), bytes.NewReader([]byte(body)))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/json")
		// 201 for a new record, 200 for an update (out of order under load).
		return r, http.StatusCreated
	}
	// Warm the cache and the connections.
	warm(client, getAgent, 200)

	fmt.Printf("voxbridge runtime API on loopback, GOMAXPROCS=%d, %s each run\n\n", runtime.GOMAXPROCS(0), *dur)
	fmt.Println("| endpoint | load | requests | errors | req/s | p50 | p90 | p99 | max |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, sc := range []struct {
		name string
		rate int
		mk   func(int64) (*http.Request, int)
	}{{"GET /runtime/agents/{id} (cached)", *getRate, getAgent}, {"PUT /runtime/calls/{id}", *putRate, putCall}} {
		run.Add(1)
		fmt.Println(openLoop(client, sc.name, sc.mk, sc.rate, *dur).row())
		run.Add(1)
		fmt.Println(closedLoop(client, sc.name, sc.mk, *conc, *dur).row())
	}
	return 0
}

type result struct {
	name, load string
	lat        []time.Duration
	errors     int64
	elapsed    time.Duration
}

func (r result) row() string {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	q := func(p float64) string {
		if len(r.lat) == 0 {
			return "-"
		}
		return fmtDur(r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))])
	}
	n := len(r.lat)
	return fmt.Sprintf("| %s | %s | %d | %d | %.0f | %s | %s | %s | %s |", r.name, r.load, n, r.errors,
		float64(n)/r.elapsed.Seconds(), q(.50), q(.90), q(.99), q(1))
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// reported counts the failures printed so far.
var reported atomic.Int64

// do sends one request and reports its success; the first few failures are
// printed to stderr.
func do(c *http.Client, r *http.Request, want int) bool {
	resp, err := c.Do(r)
	if err != nil {
		if reported.Add(1) <= 5 {
			fmt.Fprintf(os.Stderr, "bridge: %s %s: %v\n", r.Method, r.URL.Path, err)
		}
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want && !(want == http.StatusCreated && resp.StatusCode == http.StatusOK) {
		if reported.Add(1) <= 5 {
			fmt.Fprintf(os.Stderr, "bridge: %s %s: %d %s\n", r.Method, r.URL.Path, resp.StatusCode, b)
		}
		return false
	}
	return true
}

func warm(c *http.Client, mk func(int64) (*http.Request, int), n int) {
	for i := 0; i < n; i++ {
		r, want := mk(int64(i))
		do(c, r, want)
	}
}

// openLoop sends rate requests per second for d, each at its due time, and
// measures each from that due time.
func openLoop(c *http.Client, name string, mk func(int64) (*http.Request, int), rate int, d time.Duration) result {
	total := int64(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex // guards lat
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := int64(0); i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		r, want := mk(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := do(c, r, want)
			l := time.Since(due)
			if !ok {
				errs.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{name: name, load: fmt.Sprintf("open loop, %d req/s offered", rate), lat: lat, errors: errs.Load(), elapsed: time.Since(start)}
}

// closedLoop runs conc clients back to back for d.
func closedLoop(c *http.Client, name string, mk func(int64) (*http.Request, int), conc int, d time.Duration) result {
	var next atomic.Int64
	var errs atomic.Int64
	lats := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				r, want := mk(next.Add(1) - 1)
				t0 := time.Now()
				if !do(c, r, want) {
					errs.Add(1)
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return result{name: name, load: fmt.Sprintf("closed loop, %d clients", conc), lat: all, errors: errs.Load(), elapsed: time.Since(start)}
}
