package supervisor

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
)

// The test binary doubles as the worker the daemon spawns (Nomad's trick):
// started with EnvListenFD set, it runs fakeWorker instead of the tests.
// FAKE_MODE scripts it: "" serves, "crash" exits at once, "hang" stops
// answering /health after it became ready.
func TestMain(m *testing.M) {
	if os.Getenv(EnvListenFD) != "" {
		os.Exit(fakeWorker())
	}
	os.Exit(m.Run())
}

func fakeWorker() int {
	mode := os.Getenv("FAKE_MODE")
	if mode == "crash" {
		return 3
	}
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 2
	}
	life, _ := lifeline.FromEnv()
	send := lifeline.NewSender(life)
	index, _ := strconv.Atoi(os.Getenv(EnvIndex))

	var mu sync.Mutex // guards the fields below
	var state, callID = fleetapi.WorkerIdle, ""
	calls := 0
	hung := false
	exit := make(chan int, 1)
	drain := func() {
		mu.Lock()
		defer mu.Unlock()
		if state == fleetapi.WorkerIdle {
			exit <- 0
		}
		state = fleetapi.WorkerDraining
	}
	if life != nil {
		go func() {
			buf := make([]byte, 1)
			life.Read(buf) // EOF: the daemon is gone
			drain()
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { <-sig; drain() }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hung
		resp := fleetapi.Health{State: state, CallID: callID, PID: os.Getpid(), Index: index,
			Version: os.Getenv("FAKE_VERSION")}
		mu.Unlock()
		if h {
			<-r.Context().Done()
			return
		}
		json.NewEncoder(w).Encode(resp)
	})
	// POST /call?id=X&ms=N holds the request for the call's length, as a
	// media stream holds its connection.
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		mu.Lock()
		if state != fleetapi.WorkerIdle {
			mu.Unlock()
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(fleetapi.ErrorBody{Error: "busy"})
			return
		}
		state, callID = fleetapi.WorkerBusy, r.URL.Query().Get("id")
		mu.Unlock()
		send.Send(lifeline.Event{Kind: lifeline.KindCallStart, CallID: callID})
		start := time.Now()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		mu.Lock()
		calls++
		id := callID
		callID = ""
		if state == fleetapi.WorkerDraining {
			exit <- 0
		} else {
			state = fleetapi.WorkerIdle
		}
		n := calls
		mu.Unlock()
		send.Send(lifeline.Event{Kind: lifeline.KindCallEnd, CallID: id, Outcome: lifeline.OutcomeCompleted,
			Seconds: time.Since(start).Seconds(), Calls: n})
		fmt.Fprintf(w, "completed %s on pid %d\n", id, os.Getpid())
		w.(http.Flusher).Flush()
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	send.Send(lifeline.Event{Kind: lifeline.KindReady, PID: os.Getpid(), Version: os.Getenv("FAKE_VERSION")})
	if mode == "hang" {
		time.AfterFunc(300*time.Millisecond, func() { mu.Lock(); hung = true; mu.Unlock() })
	}
	code := <-exit
	time.Sleep(20 * time.Millisecond) // let the last response flush
	return code
}
