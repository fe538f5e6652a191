package fleetpoll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/store"
)

// Capacity is what the poller last learnt of one fleet host.
type Capacity struct {
	FleetID   string    `json:"fleet_id"`
	OrgID     string    `json:"org_id"`
	URL       string    `json:"url"`
	Healthy   bool      `json:"healthy"`
	Status    string    `json:"status"`
	Desired   int       `json:"desired"`
	Ready     int       `json:"ready"`
	Busy      int       `json:"busy"`
	Free      int       `json:"free"`
	Draining  int       `json:"draining"`
	Failed    int       `json:"failed"`
	Version   string    `json:"version"`
	Error     string    `json:"error,omitempty"` // a generic reason, shown to the fleet's organisation
	CheckedAt time.Time `json:"checked_at"`
	// Workers are the host's worker rows as its /health/fleet reported
	// them at CheckedAt (a busy worker's call_s is its call's age then).
	Workers []fleetapi.FleetWorker `json:"workers"`
	// Rollout is the restart or upgrade under way on the host, or the last.
	Rollout *fleetapi.Rollout `json:"rollout,omitempty"`

	detail string // what went wrong, for the log only
}

// same reports whether two readings differ only in time: when they were
// taken, and the ages of calls and workers, which grow on every reading.
func (c Capacity) same(o Capacity) bool {
	return c.detail == o.detail && c.key() == o.key()
}

// key is the reading without its times, for same.
func (c Capacity) key() string {
	c.CheckedAt = time.Time{}
	c.Workers = slices.Clone(c.Workers)
	for i := range c.Workers {
		c.Workers[i].CallS, c.Workers[i].UptimeS = 0, 0
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// Lister lists the fleets to poll; *store.Store implements it.
type Lister interface {
	EnabledFleets(ctx context.Context, orgID string) ([]store.Fleet, error)
}

// Publisher receives a fleet's capacity when it changes; may be nil.
type Publisher func(ctx context.Context, orgID, kind string, data any)

// Options configure a Poller.
type Options struct {
	Interval time.Duration // between polls
	Timeout  time.Duration // of one probe
	// Platform are the platform's own fleet hosts (OrgID ""), polled with
	// the registered ones and offered to every organisation.
	Platform []store.Fleet
	// Policy restricts the addresses an organisation's fleet may reach.
	Policy AddressPolicy
}

// IsPlatform reports whether f is a platform fleet (from configuration,
// serving every organisation) rather than one an organisation registered.
func IsPlatform(f store.Fleet) bool { return f.OrgID == "" }

// Poller polls fleet hosts.
type Poller struct {
	lister   Lister
	rdb      *redis.Client
	tenant   *http.Client // for organisations' fleets: Policy enforced at connect time
	platform *http.Client // for platform fleets
	fleets   []store.Fleet
	interval time.Duration
	logger   *slog.Logger
	publish  Publisher

	mu   sync.Mutex // guards last
	last map[string]Capacity
}

// New returns a poller of the fleets lister lists and of opts.Platform.
func New(lister Lister, rdb *redis.Client, opts Options, publish Publisher, logger *slog.Logger) *Poller {
	policy := opts.Policy
	return &Poller{
		lister: lister, rdb: rdb, interval: opts.Interval, publish: publish,
		tenant:   newClient(opts.Timeout, &policy),
		platform: newClient(opts.Timeout, nil),
		fleets:   opts.Platform,
		logger:   logger.With("component", "fleetpoll"),
		last:     map[string]Capacity{},
	}
}

// Client returns the HTTP client that may reach fleet f: for an
// organisation's fleet, one that enforces the address policy at connect
// time. Its timeout is the poll timeout.
func (p *Poller) Client(f store.Fleet) *http.Client {
	if IsPlatform(f) {
		return p.platform
	}
	return p.tenant
}

// Platform returns the platform fleets, which serve every organisation.
func (p *Poller) Platform() []store.Fleet { return p.fleets }

func capKey(id string) string { return "vox:fleet:cap:" + id }
func selKey(id string) string { return "vox:fleet:sel:" + id }

// TTL is how long a reading stays in Redis: a few polls, so that a host
// nobody polls any more is soon not selected.
func (p *Poller) TTL() time.Duration { return max(3*p.interval, 5*time.Second) }

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	p.logger.Info("polling fleets", "interval", p.interval.String())
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.PollOnce(ctx)
		select {
		case <-ctx.Done():
			p.logger.Info("stopped polling fleets")
			return nil
		case <-t.C:
		}
	}
}

// PollOnce polls every enabled fleet once and stores the readings.
func (p *Poller) PollOnce(ctx context.Context) {
	fleets, err := p.lister.EnabledFleets(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			p.logger.Warn("list fleets", "err", err)
		}
		return
	}
	fleets = append(fleets, p.fleets...)
	caps := make([]Capacity, len(fleets))
	var wg sync.WaitGroup
	for i, f := range fleets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			caps[i] = p.probe(ctx, f)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	pipe := p.rdb.Pipeline()
	for _, c := range caps {
		b, _ := json.Marshal(c)
		pipe.Set(ctx, capKey(c.FleetID), b, p.TTL())
		pipe.Del(ctx, selKey(c.FleetID))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		p.logger.Warn("store fleet capacity", "err", err)
		return
	}
	p.mu.Lock()
	seen := map[string]bool{}
	var changed []Capacity
	for _, c := range caps {
		seen[c.FleetID] = true
		if old, ok := p.last[c.FleetID]; !ok || !old.same(c) {
			changed = append(changed, c)
			if ok && old.Healthy != c.Healthy {
				p.logger.Info("fleet health changed", "fleet_id", c.FleetID, "org_id", c.OrgID, "url", c.URL,
					"healthy", c.Healthy, "err", c.detail)
			} else if c.detail != "" {
				p.logger.Info("fleet check failed", "fleet_id", c.FleetID, "org_id", c.OrgID, "url", c.URL,
					"err", c.detail)
			}
		}
		p.last[c.FleetID] = c
	}
	for id := range p.last {
		if !seen[id] {
			delete(p.last, id)
		}
	}
	p.mu.Unlock()
	if p.publish != nil {
		for _, c := range changed {
			p.publish(ctx, c.OrgID, "fleet", c)
		}
	}
}

// probe reads one host's /health/fleet. What went wrong is logged; the
// organisation is told only a generic reason (see publicReason).
func (p *Poller) probe(ctx context.Context, f store.Fleet) Capacity {
	c := Capacity{FleetID: f.ID, OrgID: f.OrgID, URL: f.URL, CheckedAt: time.Now().UTC(), Workers: []fleetapi.FleetWorker{}}
	failed := func(err error) Capacity {
		c.Healthy, c.Error, c.detail = false, publicReason(err), err.Error()
		return c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/health/fleet", nil)
	if err != nil {
		return failed(err)
	}
	client := p.tenant
	if IsPlatform(f) {
		client = p.platform
	}
	resp, err := client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	var h fleetapi.Fleet // the JSON of a fleet host's GET /health/fleet
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h)
	c.Status, c.Desired, c.Ready, c.Busy, c.Free = string(h.Status), h.Desired, h.Ready, h.Busy, h.Free
	c.Draining, c.Failed, c.Version = h.Draining, h.Failed, h.Version
	c.Workers, c.Rollout = h.Workers, h.Rollout
	if c.Workers == nil {
		c.Workers = []fleetapi.FleetWorker{}
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return failed(fmt.Errorf("GET /health/fleet: HTTP %d", resp.StatusCode))
	case err != nil:
		return failed(fmt.Errorf("GET /health/fleet: bad JSON: %w", err))
	case h.Free < 0:
		return failed(errors.New("GET /health/fleet: negative free"))
	}
	c.Healthy = true
	return c
}

// Read returns the stored capacity of each fleet id that has a reading.
func Read(ctx context.Context, rdb *redis.Client, ids []string) (map[string]Capacity, error) {
	out := map[string]Capacity{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = capKey(id)
	}
	vals, err := rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read fleet capacity: %w", err)
	}
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var c Capacity
		if json.Unmarshal([]byte(s), &c) == nil {
			out[c.FleetID] = c
		}
	}
	return out, nil
}

// Choose picks the healthy fleet with the most free slots left after the
// selections already made since its last reading (selected, by fleet id).
// Ties go to the fleet listed first. ok is false when no fleet has a free
// slot.
func Choose(fleets []store.Fleet, caps map[string]Capacity, selected map[string]int) (f store.Fleet, c Capacity, ok bool) {
	best := 0
	for _, fl := range fleets {
		cp, have := caps[fl.ID]
		if !have || !cp.Healthy || cp.URL != fl.URL {
			continue
		}
		if left := cp.Free - selected[fl.ID]; left > best {
			best, f, c, ok = left, fl, cp, true
		}
	}
	return f, c, ok
}

// Select chooses a fleet among fleets from the readings in Redis and counts
// the selection against it until its next reading.
func Select(ctx context.Context, rdb *redis.Client, fleets []store.Fleet, ttl time.Duration) (store.Fleet, Capacity, bool, error) {
	ids := make([]string, len(fleets))
	for i, f := range fleets {
		ids[i] = f.ID
	}
	caps, err := Read(ctx, rdb, ids)
	if err != nil {
		return store.Fleet{}, Capacity{}, false, err
	}
	sel := map[string]int{}
	if len(ids) > 0 {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = selKey(id)
		}
		vals, err := rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return store.Fleet{}, Capacity{}, false, fmt.Errorf("read fleet selections: %w", err)
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				var n int
				fmt.Sscan(s, &n)
				sel[ids[i]] = n
			}
		}
	}
	f, c, ok := Choose(fleets, caps, sel)
	if !ok {
		return f, c, false, nil
	}
	pipe := rdb.Pipeline()
	pipe.Incr(ctx, selKey(f.ID))
	pipe.Expire(ctx, selKey(f.ID), ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return f, c, false, fmt.Errorf("count fleet selection: %w", err)
	}
	c.Free -= sel[f.ID] + 1
	return f, c, true, nil
}
