// Command fleetbench measures the voxfleet daemon on this machine and prints
// the figures recorded in docs/BENCHMARKS.md: time for N workers to be all
// ready, kill -9 to serving again, idle worker memory, and /health/fleet
// latency with many workers. It asserts nothing; it reports.
//
//	go run ./bench/fleetbench -bin bin/voxfleet
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

func main() {
	bin := flag.String("bin", "bin/voxfleet", "voxfleet binary")
	readyRuns := flag.Int("ready-runs", 5, "daemon starts for the all-ready figure")
	readyWorkers := flag.Int("ready-workers", 16, "workers for the all-ready and kill -9 figures")
	healthWorkers := flag.Int("health-workers", 64, "workers for the /health/fleet figure")
	healthReqs := flag.Int("health-requests", 1000, "requests for the /health/fleet figure")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	fmt.Printf("voxfleet benchmarks — %s, %d CPUs\n\n", time.Now().UTC().Format(time.RFC3339), numCPU())

	// 1. All ready.
	var readies []time.Duration
	for range *readyRuns {
		d := startDaemon(abs, *readyWorkers)
		readies = append(readies, d.readyIn)
		d.stop()
	}
	fmt.Printf("%d workers all ready (daemon start to /health/fleet ready=%d), %d runs: median %s, max %s\n",
		*readyWorkers, *readyWorkers, *readyRuns, median(readies), slices.Max(readies))

	// 2. kill -9 to serving again, and 3. idle memory, on one fleet.
	d := startDaemon(abs, *readyWorkers)
	f := d.status()
	var rss, pss []int
	for _, w := range f.Workers {
		r, p := memKB(w.PID)
		rss, pss = append(rss, r), append(pss, p)
	}
	fmt.Printf("idle worker memory over %d workers: RSS median %.1f MB (max %.1f), PSS median %.1f MB\n",
		len(rss), mb(medianInt(rss)), mb(slices.Max(rss)), mb(medianInt(pss)))
	var kills []time.Duration
	for _, w := range f.Workers {
		kills = append(kills, killToServing(d, w))
	}
	fmt.Printf("kill -9 to serving again (a request sent right after the kill, answered by the new worker), %d kills: median %s, max %s\n",
		len(kills), median(kills), slices.Max(kills))
	d.stop()

	// 4. /health/fleet latency.
	d = startDaemon(abs, *healthWorkers)
	lat := healthLatency(d.listen, *healthReqs)
	fmt.Printf("GET /health/fleet with %d workers, %d sequential requests: p50 %s, p99 %s, max %s\n",
		*healthWorkers, len(lat), pct(lat, 50), pct(lat, 99), slices.Max(lat))
	d.stop()
}

type daemon struct {
	cmd     *exec.Cmd
	dir     string
	listen  string
	readyIn time.Duration
	ctl     *control.Client
}

func startDaemon(bin string, n int) *daemon {
	dir, err := os.MkdirTemp("", "vxb")
	if err != nil {
		fail(err)
	}
	d := &daemon{dir: dir, listen: freeAddr(), ctl: control.NewClient(dir)}
	d.cmd = exec.Command(bin, "run", "--workers", strconv.Itoa(n), "--socket-dir", dir,
		"--state-file", filepath.Join(dir, "state.json"), "--listen", d.listen,
		"--upstream-file", filepath.Join(dir, "upstream.conf"), "--log-level", "warn", "--worker-log-level", "warn")
	d.cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET=benchmark-service-secret-0123", "VOXFLEET_FLEET_ID=bench-fleet")
	d.cmd.Stderr = os.Stderr
	start := time.Now()
	if err := d.cmd.Start(); err != nil {
		fail(err)
	}
	hc := &http.Client{Timeout: time.Second}
	for {
		if time.Since(start) > 30*time.Second {
			fail(fmt.Errorf("%d workers not ready after 30s", n))
		}
		resp, err := hc.Get("http://" + d.listen + "/health/fleet")
		if err == nil {
			var f fleetapi.Fleet
			json.NewDecoder(resp.Body).Decode(&f)
			resp.Body.Close()
			if f.Ready == n {
				d.readyIn = time.Since(start)
				return d
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func (d *daemon) status() fleetapi.Fleet {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := d.ctl.Status(ctx)
	if err != nil {
		fail(err)
	}
	return f
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	os.RemoveAll(d.dir)
}

// killToServing kills w and times a /health request sent right after the
// kill until it is answered by the replacement.
func killToServing(d *daemon, w fleetapi.FleetWorker) time.Duration {
	path := filepath.Join(d.dir, "worker-"+strconv.Itoa(w.Index)+".sock")
	start := time.Now()
	if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
		fail(err)
	}
	for time.Since(start) < 10*time.Second {
		pid, err := healthPID(path)
		if err == nil && pid != w.PID {
			return time.Since(start)
		}
		time.Sleep(200 * time.Microsecond)
	}
	fail(fmt.Errorf("worker %d not serving 10s after kill -9", w.Index))
	return 0
}

func healthPID(path string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := fleetapi.Socket(path).Health(ctx)
	return h.PID, err
}

func healthLatency(addr string, n int) []time.Duration {
	hc := &http.Client{Timeout: 5 * time.Second}
	var out []time.Duration
	for range n {
		start := time.Now()
		resp, err := hc.Get("http://" + addr + "/health/fleet")
		if err != nil {
			fail(err)
		}
		var f fleetapi.Fleet
		json.NewDecoder(resp.Body).Decode(&f)
		resp.Body.Close()
		out = append(out, time.Since(start))
	}
	return out
}

// memKB reads a process's resident and proportional set sizes.
func memKB(pid int) (rss, pss int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		fail(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fs[1])
		switch fs[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))].Round(10 * time.Microsecond)
}

func medianInt(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func mb(kb int) float64 { return float64(kb) / 1024 }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fleetbench:", err)
	os.Exit(1)
}
