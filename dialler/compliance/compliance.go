package compliance

import (
	"fmt"
	"strconv"
	"time"

	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/store"
)

// AbandonQuiet is how long a contact whose call was abandoned is not called
// again: 72 hours.
const AbandonQuiet = 72 * time.Hour

// NumberBusyWait is how long a contact whose number has a call in flight in
// the organisation (another contact with the same number being dialled or
// in a call) waits before it is leased again. It is not an attempt, so the
// campaign's retry delay does not apply: the number is free again as soon
// as that call ends.
const NumberBusyWait = time.Minute

// InWindow reports whether now falls inside window w in time zone tz (the
// window's own zone when tz is empty): on one of its days, at or after its
// start and before its end. A zone that cannot be loaded is never open.
func InWindow(w store.Window, tz string, now time.Time) bool {
	if tz == "" {
		tz = w.Timezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" || tz == "Local" {
		return false
	}
	start, err1 := minutes(w.Start)
	end, err2 := minutes(w.End)
	if err1 != nil || err2 != nil {
		return false
	}
	t := now.In(loc)
	day := int(t.Weekday())
	on := false
	for _, d := range w.Days {
		if d == day {
			on = true
		}
	}
	m := t.Hour()*60 + t.Minute()
	return on && m >= start && m < end
}

// minutes parses HH:MM into minutes after midnight.
func minutes(hhmm string) (int, error) {
	if len(hhmm) != 5 || hhmm[2] != ':' {
		return 0, fmt.Errorf("not HH:MM: %q", hhmm)
	}
	h, err1 := strconv.Atoi(hhmm[:2])
	m, err2 := strconv.Atoi(hhmm[3:])
	if err1 != nil || err2 != nil || h > 23 || m > 59 {
		return 0, fmt.Errorf("not HH:MM: %q", hhmm)
	}
	return h*60 + m, nil
}

// OpenZones splits the contact time zones of a campaign into those inside
// its window now; campaignOpen says whether contacts without a zone (called
// in the campaign's zone) are.
func OpenZones(w store.Window, zones []string, now time.Time) (open []string, campaignOpen bool) {
	campaignOpen = InWindow(w, "", now)
	for _, z := range zones {
		if z != "" && InWindow(w, z, now) {
			open = append(open, z)
		}
	}
	return open, campaignOpen
}

// Outcome is how one attempt ended, as far as the contact is concerned.
type Outcome int

const (
	// Answered: a person answered and a worker took the call.
	Answered Outcome = iota
	// Abandoned: a person answered and no worker was free.
	Abandoned
	// NotReached: no answer, busy, failed, or not placed.
	NotReached
)

// Next is what an attempt's outcome does to its contact.
type Next struct {
	Status        string     // store.Contact* status
	NextAttemptAt *time.Time // earliest next attempt (pending only)
	LastAbandonAt *time.Time // set when the attempt was abandoned
}

// AfterAttempt returns the contact's state after attempt number attempts
// (counting this one) of campaign c ended with o at now:
//
//   - answered → answered, final;
//   - the campaign's MaxAttempts reached → exhausted, final;
//   - abandoned → pending, not before 72 hours (nor the retry delay);
//   - otherwise → pending, not before the campaign's retry delay.
func AfterAttempt(c store.Campaign, attempts int, o Outcome, now time.Time) Next {
	if o == Answered {
		return Next{Status: store.ContactAnswered}
	}
	var n Next
	if o == Abandoned {
		at := now.UTC()
		n.LastAbandonAt = &at
	}
	if attempts >= c.MaxAttempts {
		n.Status = store.ContactExhausted
		return n
	}
	wait := time.Duration(c.RetryDelaySeconds) * time.Second
	if o == Abandoned && wait < AbandonQuiet {
		wait = AbandonQuiet
	}
	next := now.Add(wait).UTC()
	n.Status, n.NextAttemptAt = store.ContactPending, &next
	return n
}

// OverBudget reports whether a campaign's abandon rate over the last 24
// hours or 30 days has reached cap: such a campaign gets no predictive
// share and dials at most one call per free worker.
func OverBudget(day, month pacing.Tally, cap float64) bool {
	return (day.HumanAnswers > 0 && day.Rate() >= cap) || (month.HumanAnswers > 0 && month.Rate() >= cap)
}
