package compliance

import (
	"testing"
	"time"

	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/store"
)

func TestInWindow(t *testing.T) {
	weekdays := store.Window{Start: "09:00", End: "17:00", Timezone: "Europe/London", Days: []int{1, 2, 3, 4, 5}}
	// 2026-06-03 is a Wednesday; London is on UTC+1 in June.
	wed := func(h, m int) time.Time { return time.Date(2026, 6, 3, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		w    store.Window
		tz   string
		now  time.Time
		want bool
	}{
		{"inside, campaign zone", weekdays, "", wed(12, 0), true},
		{"start is inclusive (09:00 London)", weekdays, "", wed(8, 0), true},
		{"before start (08:59 London)", weekdays, "", wed(7, 59), false},
		{"end is exclusive (17:00 London)", weekdays, "", wed(16, 0), false},
		{"contact zone closed (Tokyo 21:00)", weekdays, "Asia/Tokyo", wed(12, 0), false},
		{"contact zone open (New York 09:30)", weekdays, "America/New_York", wed(13, 30), true},
		{"contact zone on another day (Auckland Thursday 00:00)", weekdays, "Pacific/Auckland", wed(12, 0), false},
		{"not on a listed day (Sunday)", weekdays, "", time.Date(2026, 6, 7, 12, 0, 0, 0, time.UTC), false},
		{"unknown zone is never open", weekdays, "Mars/Olympus", wed(12, 0), false},
		{"Local is never open", weekdays, "Local", wed(12, 0), false},
	} {
		if got := InWindow(tc.w, tc.tz, tc.now); got != tc.want {
			t.Errorf("%s: InWindow = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOpenZones(t *testing.T) {
	w := store.Window{Start: "09:00", End: "17:00", Timezone: "UTC", Days: []int{0, 1, 2, 3, 4, 5, 6}}
	open, campaign := OpenZones(w, []string{"", "Asia/Tokyo", "Europe/Berlin"}, time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC))
	if !campaign || len(open) != 1 || open[0] != "Europe/Berlin" {
		t.Fatalf("OpenZones = %v, %v; want [Europe/Berlin], true", open, campaign)
	}
}

func TestAfterAttempt(t *testing.T) {
	c := store.Campaign{MaxAttempts: 3, RetryDelaySeconds: 3600}
	now := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	for _, tc := range []struct {
		name     string
		attempts int
		o        Outcome
		status   string
		next     *time.Time
		abandon  bool
	}{
		{"answered is final", 1, Answered, store.ContactAnswered, nil, false},
		{"not reached: retry after the delay", 1, NotReached, store.ContactPending, at(time.Hour), false},
		{"not reached on the last attempt: exhausted", 3, NotReached, store.ContactExhausted, nil, false},
		{"abandoned: not before 72 hours", 1, Abandoned, store.ContactPending, at(72 * time.Hour), true},
		{"abandoned on the last attempt: exhausted, abandon kept", 3, Abandoned, store.ContactExhausted, nil, true},
	} {
		n := AfterAttempt(c, tc.attempts, tc.o, now)
		if n.Status != tc.status || (n.NextAttemptAt == nil) != (tc.next == nil) ||
			(tc.next != nil && !n.NextAttemptAt.Equal(*tc.next)) || (n.LastAbandonAt != nil) != tc.abandon {
			t.Errorf("%s: %+v, want status %s next %v abandon %v", tc.name, n, tc.status, tc.next, tc.abandon)
		}
	}
	long := store.Campaign{MaxAttempts: 3, RetryDelaySeconds: 4 * 24 * 3600}
	if n := AfterAttempt(long, 1, Abandoned, now); !n.NextAttemptAt.Equal(now.Add(96 * time.Hour)) {
		t.Errorf("retry delay longer than 72 h after an abandon: next %v, want the retry delay", n.NextAttemptAt)
	}
}

func TestOverBudget(t *testing.T) {
	for _, tc := range []struct {
		day, month pacing.Tally
		want       bool
	}{
		{pacing.Tally{}, pacing.Tally{}, false},
		{pacing.Tally{HumanAnswers: 100, Abandons: 2}, pacing.Tally{HumanAnswers: 1000, Abandons: 20}, false},
		{pacing.Tally{HumanAnswers: 100, Abandons: 3}, pacing.Tally{HumanAnswers: 1000, Abandons: 20}, true},
		{pacing.Tally{HumanAnswers: 100, Abandons: 0}, pacing.Tally{HumanAnswers: 1000, Abandons: 30}, true},
	} {
		if got := OverBudget(tc.day, tc.month, 0.03); got != tc.want {
			t.Errorf("OverBudget(%+v, %+v) = %v, want %v", tc.day, tc.month, got, tc.want)
		}
	}
}
