package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// nginx is an nginx master of the benchmark's own: its prefix, its
// configuration and its loopback port, nothing of the system's nginx.
type nginx struct {
	bin    string
	prefix string
	conf   string
	addr   string
	proc   *child
}

const nginxMain = `# written by bench/baseline
daemon off;
master_process on;
worker_processes 4;
%s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log notice;

events {
    worker_connections 1024;
}

http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;

    include %[2]s/site.conf;
}
`

// startNginx writes prefix/nginx.conf and prefix/site.conf, the latter made
// by site from the chosen loopback address, and starts nginx with 4 worker
// processes. It returns once the port answers.
func startNginx(prefix string, site func(addr string) string) (*nginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, serr := os.Stat(bin); serr != nil {
			return nil, fmt.Errorf("find nginx: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("nginx prefix: %w", err)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers reach sockets in temporary directories.
		user = "user root;"
	}
	n := &nginx{bin: bin, prefix: prefix, conf: filepath.Join(prefix, "nginx.conf")}
	if err := os.WriteFile(n.conf, []byte(fmt.Sprintf(nginxMain, user, prefix)), 0o644); err != nil {
		return nil, fmt.Errorf("write nginx.conf: %w", err)
	}
	for range 3 { // a free port can be taken between choosing and binding it
		if n.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(prefix, "site.conf"), []byte(site(n.addr)), 0o644); err != nil {
			return nil, fmt.Errorf("write site.conf: %w", err)
		}
		if err = n.start(); err == nil {
			return n, nil
		}
	}
	return nil, err
}

func (n *nginx) start() error {
	if out, err := exec.Command(n.bin, n.args("-t", "-q")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %w: %s", err, out)
	}
	p, err := startChild("nginx", exec.Command(n.bin, n.args()...), filepath.Join(n.prefix, "nginx.out"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.exited() {
			b, _ := os.ReadFile(filepath.Join(n.prefix, "error.log"))
			return fmt.Errorf("nginx exited at start: %s", lastLines(string(b), 5))
		}
		if c, err := net.DialTimeout("tcp", n.addr, 200*time.Millisecond); err == nil {
			c.Close()
			n.proc = p
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop(syscall.SIGKILL, 0)
	return errors.New("nginx did not answer on " + n.addr + " within 10s")
}

func (n *nginx) args(extra ...string) []string {
	return append([]string{"-p", n.prefix + "/", "-c", n.conf, "-e", filepath.Join(n.prefix, "error.log")}, extra...)
}

// command renders this nginx's command line with extra arguments, for sh -c.
func (n *nginx) command(extra ...string) string {
	parts := []string{n.bin}
	for _, a := range n.args(extra...) {
		parts = append(parts, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(parts, " ")
}

// testCmd tests this nginx's configuration.
func (n *nginx) testCmd() string { return n.command("-t", "-q") }

// reloadCmd makes this nginx reload its configuration.
func (n *nginx) reloadCmd() string { return n.command("-s", "reload") }

// url returns http://addr followed by path.
func (n *nginx) url(path string) string { return "http://" + n.addr + path }

// stop asks nginx to quit and kills it after a few seconds.
func (n *nginx) stop() {
	if n != nil && n.proc != nil {
		n.proc.stop(syscall.SIGQUIT, 5*time.Second)
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
