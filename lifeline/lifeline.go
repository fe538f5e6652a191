package lifeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// EnvFD names the environment variable that tells a worker which inherited
// file descriptor is its lifeline.
const EnvFD = "VOXFLEET_LIFELINE_FD"

// Event kinds sent by a worker.
const (
	KindReady     = "ready"      // serving on its socket
	KindCallStart = "call_start" // admitted a call
	KindCallEnd   = "call_end"   // a call ended; Outcome and Seconds set
	KindDraining  = "draining"   // takes no new call
	KindStalled   = "stalled"    // the call's media stopped advancing; Stalled tells which way
)

// Call outcomes carried by KindCallEnd.
const (
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"
)

// MaxEventSize bounds one encoded event; a longer line ends the channel.
const MaxEventSize = 64 << 10

// Event is one message from a worker to its daemon.
type Event struct {
	Kind    string  `json:"ev"`
	CallID  string  `json:"call_id,omitempty"`
	Outcome string  `json:"outcome,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Version string  `json:"version,omitempty"`
	PID     int     `json:"pid,omitempty"`
	Stalled bool    `json:"stalled,omitempty"`
	Calls   int     `json:"calls,omitempty"` // calls handled by this worker so far
}

// Pair makes a connected socketpair: the daemon keeps parent, the worker
// inherits child (pass it in exec.Cmd.ExtraFiles and close it in the daemon
// once the worker has started).
func Pair() (parent net.Conn, child *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), "lifeline-parent")
	child = os.NewFile(uintptr(fds[1]), "lifeline-child")
	parent, err = net.FileConn(pf)
	pf.Close()
	if err != nil {
		child.Close()
		return nil, nil, fmt.Errorf("lifeline conn: %w", err)
	}
	return parent, child, nil
}

// FromEnv opens the worker's end of the lifeline named by EnvFD. It returns
// nil, nil when the variable is unset (a worker run by hand has no daemon).
func FromEnv() (net.Conn, error) {
	v := os.Getenv(EnvFD)
	if v == "" {
		return nil, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: not an inherited file descriptor", EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "lifeline")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s=%d: %w", EnvFD, fd, err)
	}
	return c, nil
}

// Sender writes events; it is safe for concurrent use. A nil *Sender drops
// every event, so a worker without a daemon needs no special case.
type Sender struct {
	mu  sync.Mutex // guards w and err
	w   io.Writer
	err error
}

// NewSender returns a Sender writing to w.
func NewSender(w io.Writer) *Sender { return &Sender{w: w} }

// Send writes one event. After the first write error every later Send
// returns that error without writing.
func (s *Sender) Send(e Event) error {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %q: %w", e.Kind, err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = fmt.Errorf("send event %q: %w", e.Kind, err)
	}
	return s.err
}

// Read decodes events from r and calls fn for each until r ends. It returns
// nil at EOF (the other side closed), or the error that ended it. A line that
// is not a valid event is skipped.
func Read(r io.Reader, fn func(Event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), MaxEventSize)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Kind == "" {
			continue
		}
		fn(e)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("read lifeline: %w", err)
	}
	return nil
}
