package testnginx

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
)

// Options describe the nginx to start.
type Options struct {
	// Workers is worker_processes; 4 when zero.
	Workers int
	// Site is http-level configuration (upstream, map and server blocks)
	// included into the http block. It is a text/template over Vars, so a
	// server block listens with `listen {{.Addr}};`.
	Site string
	// User is the user nginx workers run as when the tests run as root;
	// "root" when empty, so that sockets in temporary directories are
	// reachable. Ignored when not root.
	User string
}

// Vars are what Options.Site may reference.
type Vars struct {
	// Addr is 127.0.0.1:Port.
	Addr string
	// Port is the free loopback port chosen for the site.
	Port int
	// Prefix is the nginx prefix directory.
	Prefix string
}

// Nginx is a running nginx master.
type Nginx struct {
	// Prefix is the nginx prefix directory holding nginx.conf, site.conf,
	// the pid file, logs and temp directories.
	Prefix string
	// Conf is the path of the main configuration file.
	Conf string
	// Site is the path of the rendered site file that Conf includes.
	Site string
	// ErrorLog is the path of the error log (level notice).
	ErrorLog string
	// Addr is the loopback address the site listens on.
	Addr string
	// Port is Addr's port.
	Port int
	// Bin is the nginx executable.
	Bin string

	cmd  *exec.Cmd
	done chan struct{} // closed when the master has exited
}

// ShortTempDir returns a new temporary directory with a short path, removed
// when the test ends. Unix socket paths are limited to 108 bytes, which
// t.TempDir can exceed for long test names.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vx")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

const mainConf = `# written by internal/testnginx
daemon off;
master_process on;
worker_processes {{.Workers}};
{{- if .User}}
user {{.User}};
{{- end}}
pid {{.Prefix}}/nginx.pid;
error_log {{.Prefix}}/error.log notice;

events {
    worker_connections 512;
}

http {
    access_log {{.Prefix}}/access.log;
    client_body_temp_path {{.Prefix}}/tmp/body;
    proxy_temp_path {{.Prefix}}/tmp/proxy;
    fastcgi_temp_path {{.Prefix}}/tmp/fastcgi;
    uwsgi_temp_path {{.Prefix}}/tmp/uwsgi;
    scgi_temp_path {{.Prefix}}/tmp/scgi;

    include {{.Prefix}}/site.conf;
}
`

// Start writes the configuration, starts nginx and waits until its port
// answers. The nginx is stopped (quit, then killed) when the test ends.
func Start(t testing.TB, opts Options) *Nginx {
	t.Helper()
	bin := testenv.Require(t, "nginx", "apt-get install -y nginx")
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	user := ""
	if os.Geteuid() == 0 {
		user = opts.User
		if user == "" {
			user = "root"
		}
	}
	prefix := ShortTempDir(t)
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		t.Fatalf("testnginx: %v", err)
	}
	n := &Nginx{
		Prefix:   prefix,
		Conf:     filepath.Join(prefix, "nginx.conf"),
		Site:     filepath.Join(prefix, "site.conf"),
		ErrorLog: filepath.Join(prefix, "error.log"),
		Bin:      bin,
	}
	writeTemplate(t, n.Conf, mainConf, struct {
		Workers      int
		User, Prefix string
	}{opts.Workers, user, prefix})

	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		n.Port = freePort(t)
		n.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port))
		writeTemplate(t, n.Site, opts.Site, Vars{Addr: n.Addr, Port: n.Port, Prefix: prefix})
		if lastErr = n.start(); lastErr == nil {
			t.Cleanup(n.stop)
			return n
		}
		if !strings.Contains(n.ErrorLogTail(20), "Address already in use") {
			break
		}
	}
	t.Fatalf("testnginx: start: %v\nerror log:\n%s", lastErr, n.ErrorLogTail(30))
	return nil
}

func (n *Nginx) start() error {
	if out, err := exec.Command(n.Bin, n.args("-t", "-q")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %w: %s", err, out)
	}
	var out bytes.Buffer
	cmd := exec.Command(n.Bin, n.args()...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nginx: %w", err)
	}
	n.cmd = cmd
	n.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(n.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			return fmt.Errorf("nginx exited early: %s: %s", cmd.ProcessState, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", n.Addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.kill()
	return errors.New("nginx did not answer on " + n.Addr + " within 10s")
}

// stop asks the master to quit gracefully and kills the process group if
// it has not exited within 10 seconds.
func (n *Nginx) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.kill()
	}
}

func (n *Nginx) kill() {
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
}

// Kill ends the master and its workers with SIGKILL, as a crash would: the
// pid file is left behind, naming a process that no longer exists.
func (n *Nginx) Kill() { n.kill() }

// Restart starts the master again with the same configuration and port,
// after Kill. It fails as nginx would, e.g. when an include is missing.
func (n *Nginx) Restart() error { return n.start() }

// PidFile is the path of the master's pid file.
func (n *Nginx) PidFile() string { return filepath.Join(n.Prefix, "nginx.pid") }

func (n *Nginx) args(extra ...string) []string {
	return append([]string{"-p", n.Prefix + "/", "-c", n.Conf, "-e", n.ErrorLog}, extra...)
}

func (n *Nginx) command(extra ...string) string {
	parts := []string{shellQuote(n.Bin)}
	for _, a := range n.args(extra...) {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// TestCmd is a shell command that tests this nginx's whole configuration,
// for upstream.Config.TestCmd.
func (n *Nginx) TestCmd() string { return n.command("-t", "-q") }

// ReloadCmd is a shell command that makes this nginx reload its
// configuration, for upstream.Config.ReloadCmd. Like `nginx -s reload` it
// returns once the signal is sent; new workers start shortly after.
func (n *Nginx) ReloadCmd() string { return n.command("-s", "reload") }

// Reload reloads the configuration and waits until the master has started
// new worker processes; it fails the test if nginx rejects the configuration.
func (n *Nginx) Reload(t testing.TB) {
	t.Helper()
	off := n.logSize()
	if out, err := exec.Command("/bin/sh", "-c", n.ReloadCmd()).CombinedOutput(); err != nil {
		t.Fatalf("testnginx: reload: %v: %s\nerror log:\n%s", err, out, n.ErrorLogTail(30))
	}
	if err := n.WaitReloaded(off, 10*time.Second); err != nil {
		t.Fatalf("testnginx: %v\nerror log:\n%s", err, n.ErrorLogTail(30))
	}
}

// LogOffset returns the current size of the error log, to pass to
// WaitReloaded before triggering a reload some other way.
func (n *Nginx) LogOffset() int64 { return n.logSize() }

// WaitReloaded waits until the error log written after offset shows that
// the master started new worker processes after a reload and every older
// worker has begun its graceful shutdown (and so stopped accepting
// connections), or reports the emergency that made nginx keep the old
// configuration.
func (n *Nginx) WaitReloaded(offset int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(n.ErrorLog)
		if int64(len(b)) > offset {
			log := string(b[offset:])
			if i := strings.Index(log, "[emerg]"); i >= 0 {
				line, _, _ := strings.Cut(log[i:], "\n")
				return fmt.Errorf("nginx rejected the reload: %s", line)
			}
			if i := strings.Index(log, "reconfiguring"); i >= 0 && strings.Contains(log[i:], "start worker processes") && n.oldWorkersQuit(log[i:]) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nginx did not reload within %s", timeout)
}

// oldWorkersQuit reports whether every child of the master that was not
// started in log has logged its graceful shutdown there or is gone.
func (n *Nginx) oldWorkersQuit(log string) bool {
	pid := n.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		if strings.Contains(log, "start worker process "+f+"\n") ||
			strings.Contains(log, " "+f+"#"+f+": gracefully shutting down") ||
			strings.Contains(log, " "+f+"#"+f+": exiting") {
			continue
		}
		return false
	}
	return true
}

// ErrorLogTail returns the last lines of the error log, for failure
// messages.
func (n *Nginx) ErrorLogTail(lines int) string {
	b, err := os.ReadFile(n.ErrorLog)
	if err != nil {
		return fmt.Sprintf("(no error log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// URL returns http://Addr followed by path.
func (n *Nginx) URL(path string) string { return "http://" + n.Addr + path }

func (n *Nginx) logSize() int64 {
	fi, err := os.Stat(n.ErrorLog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func writeTemplate(t testing.TB, path, text string, data any) {
	t.Helper()
	tpl, err := template.New(filepath.Base(path)).Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("testnginx: parse %s template: %v", filepath.Base(path), err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		t.Fatalf("testnginx: render %s: %v", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatalf("testnginx: %v", err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnginx: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:=,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
