package store

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voxplatform/vox/phone"
	"github.com/voxplatform/vox/runtimeapi"
)

// Roles, from least to most privileged.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
	RoleOwner    = "owner"
)

// RoleRank orders roles; an unknown role ranks 0.
func RoleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	case RoleOwner:
		return 4
	}
	return 0
}

// FieldError says which field of a request is bad and why (the runtime
// contract's, so both report bad fields alike).
type FieldError = runtimeapi.FieldError

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

func text(field, v string, lo, hi int) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return bad(field, "must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(v); n < lo || n > hi {
		return bad(field, "must be %d to %d characters, got %d", lo, hi, n)
	}
	return nil
}

// Meta is what every organisation-owned document has.
type Meta struct {
	ID        string    `bson:"_id" json:"id"`
	OrgID     string    `bson:"org_id" json:"org_id"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// M returns the document's Meta, for code generic over documents.
func (m *Meta) M() *Meta { return m }

// CursorID implements Document.
func (m Meta) CursorID() string { return m.ID }

// Org is an organisation: the unit of data isolation.
type Org struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// User is a person who logs in to the Console.
type User struct {
	Meta         `bson:",inline"`
	Email        string `bson:"email" json:"email"`
	Name         string `bson:"name" json:"name"`
	Role         string `bson:"role" json:"role"`
	PasswordHash string `bson:"password_hash" json:"-"`
}

var emailRE = regexp.MustCompile(`^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$`)

// NormalizeEmail lower-cases and trims an address.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Validate checks every field.
func (u *User) Validate() error {
	if !emailRE.MatchString(u.Email) {
		return bad("email", "is not an e-mail address")
	}
	if err := text("name", u.Name, 0, 200); err != nil {
		return err
	}
	if RoleRank(u.Role) == 0 {
		return bad("role", "must be owner, admin, operator or viewer")
	}
	return nil
}

// APIKey lets a program call /api/v1. Only a hash of its secret is stored.
// It acts with at most its owner's current role (the user on whose
// authority it was made): demoting the owner narrows it, deleting the owner
// revokes it.
type APIKey struct {
	Meta      `bson:",inline"`
	Name      string `bson:"name" json:"name"`
	Role      string `bson:"role" json:"role"`
	Hash      string `bson:"hash" json:"-"`
	CreatedBy string `bson:"created_by" json:"created_by"`
	// OwnerID is the user whose role bounds the key; empty on keys made
	// before it existed, whose CreatedBy is then read instead.
	OwnerID string `bson:"owner_id,omitempty" json:"owner_id,omitempty"`
	// Scopes are the powers beyond the role: a key may create or change
	// API keys or users only with the matching scope.
	Scopes     []string   `bson:"scopes" json:"scopes"`
	ExpiresAt  *time.Time `bson:"expires_at,omitempty" json:"expires_at,omitempty"`
	LastUsedAt *time.Time `bson:"last_used_at,omitempty" json:"last_used_at,omitempty"`
}

// API key scopes.
const (
	ScopeAPIKeysWrite = "api_keys:write" // create, change and delete API keys
	ScopeUsersWrite   = "users:write"    // create, change and delete users
)

// Owner is the id of the user whose role bounds the key.
func (k *APIKey) Owner() string {
	if k.OwnerID != "" {
		return k.OwnerID
	}
	return k.CreatedBy
}

// Validate checks every field.
func (k *APIKey) Validate() error {
	if err := text("name", k.Name, 1, 100); err != nil {
		return err
	}
	if RoleRank(k.Role) == 0 || k.Role == RoleOwner {
		return bad("role", "must be admin, operator or viewer")
	}
	for _, sc := range k.Scopes {
		if sc != ScopeAPIKeysWrite && sc != ScopeUsersWrite {
			return bad("scopes", "must be %s or %s", ScopeAPIKeysWrite, ScopeUsersWrite)
		}
	}
	if k.ExpiresAt == nil {
		return bad("expires_at", "required")
	}
	return nil
}

// ScriptStep is one step of a scripted agent (the runtime contract's).
type ScriptStep = runtimeapi.ScriptStep

// Agent is a voice agent's configuration, read by the fleet at call time
// as a runtimeapi.Agent (see Runtime).
type Agent struct {
	Meta                     `bson:",inline"`
	runtimeapi.AgentSettings `bson:",inline"`
}

// Runtime is the agent as GET /runtime/agents/{id} serves it.
func (a Agent) Runtime() runtimeapi.Agent {
	return runtimeapi.Agent{ID: a.ID, OrgID: a.OrgID, UpdatedAt: a.UpdatedAt, AgentSettings: a.AgentSettings}
}

var (
	langRE  = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	tokenRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
)

// MaxCallSecondsLimit is the longest call an agent may be configured for.
const MaxCallSecondsLimit = 4 * 3600

// Validate checks every field.
func (a *Agent) Validate() error {
	if err := text("name", a.Name, 1, 100); err != nil {
		return err
	}
	if !langRE.MatchString(a.Language) {
		return bad("language", "must be a BCP 47 tag such as en-GB")
	}
	if a.Voice != "" && !tokenRE.MatchString(a.Voice) {
		return bad("voice", "must be a voice name of letters, digits and _.:-")
	}
	if err := text("greeting", a.Greeting, 0, 2000); err != nil {
		return err
	}
	if err := text("prompt", a.Prompt, 0, 20000); err != nil {
		return err
	}
	if a.MaxCallSeconds < 10 || a.MaxCallSeconds > MaxCallSecondsLimit {
		return bad("max_call_seconds", "must be 10 to %d", MaxCallSecondsLimit)
	}
	if err := a.Providers.Validate(); err != nil {
		return err
	}
	if len(a.Script) > 100 {
		return bad("script", "at most 100 steps")
	}
	ids := map[string]bool{}
	for i, s := range a.Script {
		if !tokenRE.MatchString(s.ID) || ids[s.ID] {
			return bad(fmt.Sprintf("script[%d].id", i), "must be a unique token")
		}
		ids[s.ID] = true
		if err := text(fmt.Sprintf("script[%d].say", i), s.Say, 0, 2000); err != nil {
			return err
		}
	}
	for i, s := range a.Script {
		for d, to := range s.DTMF {
			if len(d) != 1 || !strings.Contains("0123456789*#", d) {
				return bad(fmt.Sprintf("script[%d].dtmf", i), "keys must be one of 0-9, * or #")
			}
			if !ids[to] {
				return bad(fmt.Sprintf("script[%d].dtmf.%s", i, d), "unknown step %q", to)
			}
		}
		if s.Next != "" && !ids[s.Next] {
			return bad(fmt.Sprintf("script[%d].next", i), "unknown step %q", s.Next)
		}
		if err := validRoutes(i, s.Routes, ids); err != nil {
			return err
		}
		if s.Field != "" && !fieldNameRE.MatchString(s.Field) {
			return bad(fmt.Sprintf("script[%d].field", i), "a letter, then letters, digits, _ and -, at most 64")
		}
		if s.Transfer != "" && !phone.IsE164(s.Transfer) && !sipURIRE.MatchString(s.Transfer) {
			return bad(fmt.Sprintf("script[%d].transfer", i), "must be an E.164 number or a sip: URI")
		}
	}
	return nil
}

var (
	fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`) // runtimeapi's field keys
	sipURIRE    = regexp.MustCompile(`^sips?:[A-Za-z0-9+*#@._:;=-]{1,200}$`)
)

// Limits of a script step's routes.
const (
	maxRoutes     = 20
	maxRouteWords = 50
	maxWordLen    = 100
)

// validRoutes checks the routes of script step i: each has words and goes
// to a known step.
func validRoutes(i int, routes []runtimeapi.ScriptRoute, ids map[string]bool) error {
	if len(routes) > maxRoutes {
		return bad(fmt.Sprintf("script[%d].routes", i), "at most %d routes", maxRoutes)
	}
	for j, r := range routes {
		field := fmt.Sprintf("script[%d].routes[%d]", i, j)
		if len(r.Words) == 0 || len(r.Words) > maxRouteWords {
			return bad(field+".words", "1 to %d words or phrases", maxRouteWords)
		}
		for _, w := range r.Words {
			if err := text(field+".words", w, 1, maxWordLen); err != nil {
				return err
			}
		}
		if !ids[r.Next] {
			return bad(field+".next", "unknown step %q", r.Next)
		}
	}
	return nil
}

// PhoneNumber is a number the platform answers or calls from. Several
// organisations may register the same number; it takes inbound calls only
// once the platform has verified it for one of them (see numbers.go).
type PhoneNumber struct {
	Meta               `bson:",inline"`
	E164               string `bson:"e164" json:"e164"`
	TrunkID            string `bson:"trunk_id" json:"trunk_id"`
	InboundAgentID     string `bson:"inbound_agent_id" json:"inbound_agent_id"`
	NumberVerification `bson:",inline"`
}

// Validate checks every field; E164 must already be normalised. A number
// stored before verification existed (no status) is pending.
func (p *PhoneNumber) Validate() error {
	if p.Status == "" {
		p.Status = NumberPending
	}
	if !phone.IsE164(p.E164) {
		return bad("e164", "must be an E.164 number such as +442079460958")
	}
	if p.TrunkID != "" && !tokenRE.MatchString(p.TrunkID) {
		return bad("trunk_id", "must be a LiveKit SIP trunk id")
	}
	if p.InboundAgentID != "" && !ValidID(p.InboundAgentID) {
		return bad("inbound_agent_id", "must be an agent id")
	}
	return nil
}

// Campaign statuses.
const (
	CampaignDraft     = "draft"
	CampaignRunning   = "running"
	CampaignPaused    = "paused"
	CampaignCompleted = "completed"
)

// Window is when a campaign may call, in its own time zone.
type Window struct {
	Start    string `bson:"start" json:"start"` // HH:MM
	End      string `bson:"end" json:"end"`     // HH:MM, after Start
	Timezone string `bson:"timezone" json:"timezone"`
	Days     []int  `bson:"days" json:"days"` // 0 = Sunday … 6 = Saturday
}

// Campaign is an outbound calling campaign.
type Campaign struct {
	Meta              `bson:",inline"`
	Name              string `bson:"name" json:"name"`
	AgentID           string `bson:"agent_id" json:"agent_id"`
	TrunkID           string `bson:"trunk_id" json:"trunk_id"`
	CallerID          string `bson:"caller_id" json:"caller_id"`
	Window            Window `bson:"window" json:"window"`
	MaxAttempts       int    `bson:"max_attempts" json:"max_attempts"`
	RetryDelaySeconds int    `bson:"retry_delay_seconds" json:"retry_delay_seconds"`
	Priority          int    `bson:"priority" json:"priority"`
	Status            string `bson:"status" json:"status"`
}

var hhmmRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Validate checks every field.
func (c *Campaign) Validate() error {
	if err := text("name", c.Name, 1, 100); err != nil {
		return err
	}
	if !ValidID(c.AgentID) {
		return bad("agent_id", "must be an agent id")
	}
	if !tokenRE.MatchString(c.TrunkID) {
		return bad("trunk_id", "must be a LiveKit SIP trunk id")
	}
	if c.CallerID != "" && !phone.IsE164(c.CallerID) {
		return bad("caller_id", "must be an E.164 number")
	}
	w := c.Window
	if !hhmmRE.MatchString(w.Start) || !hhmmRE.MatchString(w.End) || w.End <= w.Start {
		return bad("window", "start and end must be HH:MM with end after start")
	}
	if w.Timezone == "" || w.Timezone == "Local" {
		return bad("window.timezone", "must be an IANA time zone such as Europe/London")
	}
	if _, err := time.LoadLocation(w.Timezone); err != nil {
		return bad("window.timezone", "unknown time zone %q", w.Timezone)
	}
	if len(w.Days) == 0 || len(w.Days) > 7 {
		return bad("window.days", "must list 1 to 7 days, 0 = Sunday")
	}
	seen := map[int]bool{}
	for _, d := range w.Days {
		if d < 0 || d > 6 || seen[d] {
			return bad("window.days", "days must be distinct, 0 to 6")
		}
		seen[d] = true
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		return bad("max_attempts", "must be 1 to 20")
	}
	if c.RetryDelaySeconds < 60 || c.RetryDelaySeconds > 7*24*3600 {
		return bad("retry_delay_seconds", "must be 60 to 604800")
	}
	if c.Priority < 1 || c.Priority > 100 {
		return bad("priority", "must be 1 to 100")
	}
	return nil
}

// Contact is one number to call in a campaign.
type Contact struct {
	Meta       `bson:",inline"`
	CampaignID string            `bson:"campaign_id" json:"campaign_id"`
	Phone      string            `bson:"phone" json:"phone"`
	Name       string            `bson:"name" json:"name"`
	Metadata   map[string]string `bson:"metadata,omitempty" json:"metadata,omitempty"`
	Status     string            `bson:"status" json:"status"`
	Attempts   int               `bson:"attempts" json:"attempts"`
	// Timezone is the contact's IANA time zone where known; empty means
	// the campaign's. The Dialler calls only inside the window there.
	Timezone string `bson:"timezone,omitempty" json:"timezone,omitempty"`
	// DialState is what the Dialler keeps on the contact (see dialler.go).
	DialState `bson:",inline"`
}

// DNCEntry is a number of the organisation's do-not-call list.
type DNCEntry struct {
	Meta   `bson:",inline"`
	Phone  string `bson:"phone" json:"phone"`
	Reason string `bson:"reason" json:"reason"`
}

// Fleet is a registered fleet host, polled for capacity at URL/health/fleet.
type Fleet struct {
	Meta    `bson:",inline"`
	Name    string `bson:"name" json:"name"`
	URL     string `bson:"url" json:"url"`
	Enabled bool   `bson:"enabled" json:"enabled"`
}

// Validate checks every field and normalises URL (no trailing slash).
func (f *Fleet) Validate() error {
	if err := text("name", f.Name, 1, 100); err != nil {
		return err
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(f.URL) > 500 {
		return bad("url", "must be an http(s) URL without credentials, query or fragment")
	}
	f.URL = strings.TrimRight(u.String(), "/")
	return nil
}

// Validate checks every field; Phone must already be normalised.
func (d *DNCEntry) Validate() error {
	if !phone.IsE164(d.Phone) {
		return bad("phone", "must be an E.164 number")
	}
	return text("reason", d.Reason, 0, 200)
}
