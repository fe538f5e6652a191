package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// system is one design under test: single-call workers on Unix sockets,
// a manager process that keeps them running, and an nginx in front.
// Both designs are driven through it with the same scenarios.
type system interface {
	// name is the table column's heading.
	name() string
	// open starts the system's nginx; the workers are not running yet.
	open(ctx context.Context) error
	// startWorkers starts the manager (supervisord, voxfleet run) and
	// returns the time from its start until every worker answers
	// GET /health on its socket.
	startWorkers(ctx context.Context) (time.Duration, error)
	// waitRouting returns once nginx sends requests to the workers.
	waitRouting(ctx context.Context) error
	// sockets lists the worker sockets in index order.
	sockets() []string
	// managerPID is the pid of supervisord or of the voxfleet daemon.
	managerPID() int
	// callURL is the Media Streams URL through nginx.
	callURL() string
	// token is the bearer token calls present (empty: none needed).
	token() string
	// rollingRestart replaces every worker one at a time, as the design's
	// operator does it.
	rollingRestart(ctx context.Context) error
	// fullRestart restarts every worker at once.
	fullRestart(ctx context.Context) error
	// operations names the commands rollingRestart, fullRestart and the
	// kill use, for the report.
	operations() (rolling, full string)
	// stopWorkers stops the manager and every worker.
	stopWorkers()
	// close stops everything still running and removes the system's files.
	close()
}

// probeClient sends each probe on a new connection, as a load balancer's
// health check would.
var probeClient = func() *http.Client {
	tr := fleetapi.NewSocketTransport()
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr}
}()

// health sends GET /health to a worker's socket. Both designs answer with
// fleetapi.Health (the baseline fills state and pid).
func health(ctx context.Context, path string, timeout time.Duration) (fleetapi.Health, error) {
	return fleetapi.Socket(path, fleetapi.WithHTTPClient(probeClient), fleetapi.WithTimeout(timeout)).Health(ctx)
}

// waitAllHealthy polls every socket until each answers /health and returns
// the time the last one first answered, measured from start.
func waitAllHealthy(ctx context.Context, start time.Time, paths []string, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var (
		mu      sync.Mutex // guards slowest and errs
		slowest time.Duration
		errs    []error
		wg      sync.WaitGroup
	)
	for _, p := range paths {
		wg.Go(func() {
			for {
				if _, err := health(ctx, p, time.Second); err == nil {
					mu.Lock()
					slowest = max(slowest, time.Since(start))
					mu.Unlock()
					return
				}
				select {
				case <-ctx.Done():
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s not answering /health after %s", p, limit))
					mu.Unlock()
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, errs[0]
	}
	return slowest, nil
}

// killToServing kills the worker behind path with SIGKILL and returns the
// time until the socket answers /health from a new pid.
func killToServing(ctx context.Context, path string, limit time.Duration) (time.Duration, error) {
	h, err := health(ctx, path, 2*time.Second)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := killPID(h.PID); err != nil {
		return 0, err
	}
	for time.Since(start) < limit {
		if n, err := health(ctx, path, time.Second); err == nil && n.PID != h.PID {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("%s not serving %s after kill -9 of pid %d", path, limit, h.PID)
}
