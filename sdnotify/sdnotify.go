// Package sdnotify speaks systemd's notify protocol: readiness, status text,
// stopping and watchdog keep-alives, sent as datagrams to $NOTIFY_SOCKET.
// Outside systemd (no NOTIFY_SOCKET) every call does nothing.
//
// sdnotify imports nothing from this module.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Messages understood by systemd.
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Reloading = "RELOADING=1"
	Watchdog  = "WATCHDOG=1"
)

// Notify sends state (one or more newline-separated assignments) to systemd.
// It returns false, nil when not running under a notify-type unit.
func Notify(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify dial: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify write: %w", err)
	}
	return true, nil
}

// Status formats a STATUS= line.
func Status(s string) string { return "STATUS=" + s }

// MainPID formats a MAINPID= line, used when a daemon re-executes itself.
func MainPID(pid int) string { return "MAINPID=" + strconv.Itoa(pid) }

// WatchdogInterval returns how often to send Watchdog (half of
// WATCHDOG_USEC), or 0 when systemd expects no keep-alives from this process.
func WatchdogInterval() time.Duration {
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}
