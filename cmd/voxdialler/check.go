package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/voxplatform/vox/dialler"
)

// check is `voxdialler check [--url URL]`, what the healthcheck timer runs:
// /health must answer 200 with a loop that ticks (leader or standby), and a
// smoke check of /metrics must find the loop's counters. It prints one line
// and exits 0 (healthy), 1 (unhealthy) or 2 (usage).
func check(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	base := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--url" && i+1 < len(args):
			base = args[i+1]
			i++
		case strings.HasPrefix(a, "--url="):
			base = strings.TrimPrefix(a, "--url=")
		default:
			fmt.Fprintf(stderr, "voxdialler check: unknown argument %q\nusage: voxdialler check [--url http://127.0.0.1:8090]\n", a)
			return 2
		}
	}
	if base == "" {
		host, port := getenv("HEALTH_HOST"), getenv("HEALTH_PORT")
		if host == "" || host == "0.0.0.0" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "8090"
		}
		base = "http://" + host + ":" + port
	}
	base = strings.TrimRight(base, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stdout, "UNHEALTHY %s: %s\n", base, fmt.Sprintf(format, a...))
		return 1
	}
	var h dialler.Health
	code, body, err := get(ctx, base+"/health")
	if err != nil {
		return fail("GET /health: %v", err)
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fail("GET /health: HTTP %d, not JSON: %v", code, err)
	}
	if code != http.StatusOK || h.Status != "ok" {
		return fail("GET /health: HTTP %d, status %s, last tick %.1fs ago", code, h.Status, h.LastTickAgeS)
	}
	code, body, err = get(ctx, base+"/metrics")
	if err != nil || code != http.StatusOK {
		return fail("GET /metrics: HTTP %d %v", code, err)
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "vox_dialler_ticks_total{") {
			found = true
		}
	}
	if !found {
		return fail("GET /metrics: no vox_dialler_ticks_total")
	}
	fmt.Fprintf(stdout, "OK %s: %s, epoch %d, leader %s, last tick %.1fs ago, %d campaigns running, %d calls in flight\n",
		base, h.Role, h.Epoch, h.Leader, h.LastTickAgeS, h.CampaignsRunning, h.CallsInFlight)
	return 0
}

func get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}
