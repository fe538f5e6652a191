package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// seedPython is Debian's interpreter, which sees Debian's python3-uvicorn
// and python3-fastapi whatever python3 comes first on PATH.
const seedPython = "/usr/bin/python3"

// seed is the seed's design: N `uvicorn --workers 1` processes, one per
// Unix socket, kept running by Debian's supervisor (standing in for the
// voxcore@1..N systemd instances), behind nginx with the seed's upstream
// block and locations.
type seed struct {
	n      int
	appDir string // holds app.py
	dir    string // sockets, supervisor files, logs
	ngx    *nginx
	sup    *child
	lastOp time.Time // when the last restart ended
}

func newSeed(n int, appDir string) *seed { return &seed{n: n, appDir: appDir} }

func (s *seed) name() string { return "seed's design" }

func (s *seed) operations() (string, string) {
	return "`supervisorctl restart voxcore:voxcore_I`, I = 1…N in turn", "`supervisorctl restart 'voxcore:*'`"
}

func (s *seed) sockets() []string {
	out := make([]string, s.n)
	for i := range out {
		out[i] = filepath.Join(s.dir, fmt.Sprintf("voxcore_%d.sock", i+1))
	}
	return out
}

func (s *seed) managerPID() int { return s.sup.pid() }
func (s *seed) callURL() string { return "ws://" + s.ngx.addr + "/ws/twilio" }
func (s *seed) token() string   { return "" }

const supervisorConf = `; written by bench/baseline: the seed's voxcore@1..N under Debian's supervisor
[unix_http_server]
file=%[1]s/supervisor.sock
chmod=0700

[supervisord]
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[program:voxcore]
command=%[2]s -m uvicorn app:app --uds %[1]s/voxcore_%%(process_num)d.sock --workers 1 --log-level warning
directory=%[3]s
numprocs=%[4]d
numprocs_start=1
process_name=%%(program_name)s_%%(process_num)d
autorestart=true
environment=MAX_CONCURRENT_CALLS="1"
redirect_stderr=true
stdout_logfile=%[1]s/voxcore_%%(process_num)d.log
`

// seedSite is the seed's nginx site: its map, its upstream block exactly as
// shipped (no zone) and its /ws/ and /attach locations, listening on plain
// HTTP on a loopback port instead of 443 with TLS.
func (s *seed) site(addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n\n")
	fmt.Fprintf(&b, "upstream voxcore_workers {\n    least_conn;\n")
	for _, p := range s.sockets() {
		fmt.Fprintf(&b, "    server unix:%s max_conns=1 fail_timeout=10;\n", p)
	}
	fmt.Fprintf(&b, "}\n\n")
	fmt.Fprintf(&b, `server {
    listen %s;
    access_log %s/access.log;

    # WebSocket call entry
    location /ws/ {
        proxy_pass http://voxcore_workers;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }

    # Short POST routes — retry 429 to the next worker
    location = /attach {
        proxy_pass http://voxcore_workers;
        proxy_next_upstream error timeout http_429 non_idempotent;
        proxy_next_upstream_tries 16;
    }
}
`, addr, s.dir)
	return b.String()
}

func (s *seed) open(context.Context) error {
	dir, err := os.MkdirTemp("", "vxs")
	if err != nil {
		return fmt.Errorf("seed dir: %w", err)
	}
	s.dir = dir
	conf := fmt.Sprintf(supervisorConf, dir, seedPython, s.appDir, s.n)
	if err := os.WriteFile(s.supConf(), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write supervisord.conf: %w", err)
	}
	s.ngx, err = startNginx(filepath.Join(dir, "nginx"), s.site)
	return err
}

func (s *seed) supConf() string { return filepath.Join(s.dir, "supervisord.conf") }

func (s *seed) startWorkers(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	cmd := exec.Command("supervisord", "-n", "-c", s.supConf())
	p, err := startChild("supervisord", cmd, filepath.Join(s.dir, "supervisord.out"))
	if err != nil {
		return 0, err
	}
	s.sup = p
	d, err := waitAllHealthy(ctx, start, s.sockets(), 60*time.Second)
	if err != nil {
		return 0, fmt.Errorf("seed workers: %w", err)
	}
	return d, nil
}

// failTimeout is the seed's fail_timeout: after one failed connection to
// a socket (max_fails defaults to 1), each nginx worker process leaves that
// socket out for this long.
const failTimeout = 10 * time.Second

// waitRouting waits until fail_timeout has passed since the last restart:
// the seed's upstream block is static, but a restart makes nginx mark the
// sockets it found closed as down, each nginx worker process on its own,
// and there is no status to ask which.
func (s *seed) waitRouting(ctx context.Context) error {
	if s.lastOp.IsZero() {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(s.lastOp.Add(failTimeout + time.Second))):
		return nil
	}
}

func (s *seed) ctl(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "supervisorctl", append([]string{"-c", s.supConf()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("supervisorctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	// supervisorctl 4.2 exits 0 on some failures; its output says so.
	if strings.Contains(string(out), "ERROR") {
		return fmt.Errorf("supervisorctl %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	return nil
}

// rollingRestart restarts the workers one at a time, each with
// `supervisorctl restart`, which returns once the new process has stayed up
// for supervisor's startsecs (1 s): the seed's "restart workers one at a
// time while the rest keep serving".
func (s *seed) rollingRestart(ctx context.Context) error {
	defer func() { s.lastOp = time.Now() }()
	for i := 1; i <= s.n; i++ {
		if err := s.ctl(ctx, "restart", fmt.Sprintf("voxcore:voxcore_%d", i)); err != nil {
			return err
		}
	}
	return nil
}

// fullRestart is the seed's deploy step, `systemctl restart 'voxcore@*'`.
func (s *seed) fullRestart(ctx context.Context) error {
	defer func() { s.lastOp = time.Now() }()
	return s.ctl(ctx, "restart", "voxcore:*")
}

func (s *seed) stopWorkers() {
	if s.sup == nil {
		return
	}
	// supervisord stops its programs on SIGTERM (each with SIGTERM, then
	// SIGKILL after stopwaitsecs, 10 s).
	s.sup.stop(syscall.SIGTERM, 15*time.Second)
	s.sup = nil
	for _, p := range s.sockets() {
		_ = os.Remove(p)
	}
}

func (s *seed) close() {
	s.stopWorkers()
	s.ngx.stop()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
