package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// typeCredentialsChanged is the event type, published on an
// organisation's channel, that makes its open streams check their
// credentials again at once. Streams do not forward it.
const typeCredentialsChanged = "credentials_changed"

// streamBuffer is how many events a stream may fall behind before it is
// ended (the client reconnects and reads the records from the API).
const streamBuffer = 256

// subscribeTimeout bounds the wait for Redis to confirm a subscription.
const subscribeTimeout = 2 * time.Second

// errStreamLimit is returned by join when a limit on open streams is
// reached.
type errStreamLimit struct{ what string }

func (e *errStreamLimit) Error() string { return "too many open event streams " + e.what }

// hub fans the organisations' event channels out to the event streams of
// this process over one Redis connection: it subscribes to an
// organisation's channel when its first stream opens and unsubscribes when
// its last stream closes, so that N streams cost one Redis subscription,
// not N. It also enforces the per-user and per-organisation stream limits.
type hub struct {
	rdb        *redis.Client
	logger     *slog.Logger
	maxPerUser int
	maxPerOrg  int

	startOnce sync.Once
	ps        *redis.PubSub // created by the first join
	done      chan struct{} // closed when the reader ends

	// opMu serialises the decisions to subscribe or unsubscribe together
	// with the Redis command that carries them out, so that they reach
	// Redis in the order they were taken.
	opMu sync.Mutex

	mu         sync.Mutex                      // guards the fields below
	orgs       map[string]map[*stream]struct{} // open streams by organisation
	perUser    map[string]int                  // open streams by user or key
	subscribed map[string]bool                 // organisations whose SUBSCRIBE was sent
	pending    map[string]chan struct{}        // closed when Redis confirms the SUBSCRIBE
	closed     bool
}

// stream is one open event stream's end of the hub.
type stream struct {
	org, who string
	msgs     chan string   // event payloads to send
	kick     chan struct{} // credentials to check again now, or overflow
	overflow atomic.Bool   // the stream fell more than streamBuffer behind
}

func newHub(rdb *redis.Client, maxPerUser, maxPerOrg int, logger *slog.Logger) *hub {
	return &hub{
		rdb: rdb, logger: logger, maxPerUser: maxPerUser, maxPerOrg: maxPerOrg,
		done: make(chan struct{}),
		orgs: map[string]map[*stream]struct{}{}, perUser: map[string]int{},
		subscribed: map[string]bool{}, pending: map[string]chan struct{}{},
	}
}

// start creates the shared subscription and its reader.
func (h *hub) start() {
	h.ps = h.rdb.Subscribe(context.Background())
	ch := h.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	go func() {
		defer close(h.done)
		for m := range ch {
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					h.confirmed(m.Channel)
				}
			case *redis.Message:
				h.dispatch(m.Channel, m.Payload)
			}
		}
	}()
}

// join registers a stream of org for who (a user or key id), subscribing
// to the organisation's channel if it is the first.
func (h *hub) join(ctx context.Context, org, who string) (*stream, error) {
	h.startOnce.Do(h.start)
	st := &stream{org: org, who: who, msgs: make(chan string, streamBuffer), kick: make(chan struct{}, 1)}
	h.opMu.Lock()
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		h.opMu.Unlock()
		return nil, errors.New("event hub closed")
	case h.perUser[who] >= h.maxPerUser:
		h.mu.Unlock()
		h.opMu.Unlock()
		return nil, &errStreamLimit{fmt.Sprintf("for this user (at most %d)", h.maxPerUser)}
	case len(h.orgs[org]) >= h.maxPerOrg:
		h.mu.Unlock()
		h.opMu.Unlock()
		return nil, &errStreamLimit{fmt.Sprintf("for this organisation (at most %d)", h.maxPerOrg)}
	}
	if h.orgs[org] == nil {
		h.orgs[org] = map[*stream]struct{}{}
	}
	h.orgs[org][st] = struct{}{}
	h.perUser[who]++
	need := !h.subscribed[org]
	if need {
		h.subscribed[org] = true
		h.pending[org] = make(chan struct{})
	}
	wait := h.pending[org]
	h.mu.Unlock()
	if need {
		if err := h.ps.Subscribe(ctx, eventsChannel(org)); err != nil {
			h.mu.Lock()
			h.subscribed[org] = false
			delete(h.pending, org)
			h.mu.Unlock()
			h.opMu.Unlock()
			h.leave(st)
			return nil, redisErr("subscribe to events", err)
		}
	}
	h.opMu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-time.After(subscribeTimeout):
			h.leave(st)
			return nil, redisErr("subscribe to events", errors.New("no confirmation"))
		case <-ctx.Done():
			h.leave(st)
			return nil, redisErr("subscribe to events", ctx.Err())
		}
	}
	return st, nil
}

// leave removes a stream, unsubscribing from its organisation's channel if
// it was the last.
func (h *hub) leave(st *stream) {
	h.opMu.Lock()
	defer h.opMu.Unlock()
	h.mu.Lock()
	set := h.orgs[st.org]
	if _, ok := set[st]; !ok {
		h.mu.Unlock()
		return
	}
	delete(set, st)
	if h.perUser[st.who]--; h.perUser[st.who] <= 0 {
		delete(h.perUser, st.who)
	}
	last := len(set) == 0 && h.subscribed[st.org]
	if len(set) == 0 {
		delete(h.orgs, st.org)
		delete(h.subscribed, st.org)
		delete(h.pending, st.org)
	}
	closed := h.closed
	h.mu.Unlock()
	if last && !closed {
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		defer cancel()
		if err := h.ps.Unsubscribe(ctx, eventsChannel(st.org)); err != nil {
			h.logger.Warn("unsubscribe from events", "org_id", st.org, "err", err)
		}
	}
}

// confirmed wakes the streams waiting for channel's subscription.
func (h *hub) confirmed(channel string) {
	org := strings.TrimPrefix(channel, eventsChannel(""))
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.pending[org]; w != nil {
		close(w)
		delete(h.pending, org)
	}
}

// dispatch hands a payload to every stream of the channel's organisation.
// A credentials change kicks them instead; a stream that is too far
// behind is kicked with its overflow flag set.
func (h *hub) dispatch(channel, payload string) {
	org := strings.TrimPrefix(channel, eventsChannel(""))
	var e struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal([]byte(payload), &e)
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.orgs[org] {
		if e.Type == typeCredentialsChanged {
			st.poke()
			continue
		}
		select {
		case st.msgs <- payload:
		default:
			st.overflow.Store(true)
			st.poke()
		}
	}
}

// poke asks the stream to check its credentials (or overflow) now.
func (st *stream) poke() {
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// collectors are the hub's metrics: open streams and subscribed
// organisations (each costs one channel on one shared Redis connection).
func (h *hub) collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return float64(f())
		})
	}
	return []prometheus.Collector{
		gauge("voxbridge_event_streams", "Open event streams (GET /api/v1/events).", func() int {
			n := 0
			for _, set := range h.orgs {
				n += len(set)
			}
			return n
		}),
		gauge("voxbridge_event_subscriptions", "Organisation event channels subscribed on the shared Redis connection.",
			func() int { return len(h.subscribed) }),
	}
}

// close ends the shared subscription.
func (h *hub) close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	started := false
	h.startOnce.Do(func() {}) // a hub never joined has nothing to close
	h.opMu.Lock()
	defer h.opMu.Unlock()
	if h.ps != nil {
		started = true
		if err := h.ps.Close(); err != nil {
			return fmt.Errorf("close event subscription: %w", err)
		}
	}
	if started {
		<-h.done
	}
	return nil
}

// streamLimitErr is the HTTP error of a stream limit.
func streamLimitErr(err *errStreamLimit) *HTTPError {
	return &HTTPError{Status: http.StatusTooManyRequests, Msg: err.Error() + "; close one first", RetryAfter: 30 * time.Second}
}
