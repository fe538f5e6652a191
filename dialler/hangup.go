package dialler

import (
	"errors"
	"slices"
)

// prune asks the campaign's pacer which ringing dials to hang up (see
// pacing.Pacer.Prune), takes them out of the plan's snapshot and returns
// their call ids. The campaign's lock must be held.
func (p *plan) prune() []string {
	cut := p.c.pacer.Prune(p.snap)
	if len(cut) == 0 {
		return nil
	}
	var hang []string
	ringing, ids := p.snap.Ringing[:0:0], p.ringIDs[:0:0]
	for j, age := range p.snap.Ringing {
		if slices.Contains(cut, j) {
			hang = append(hang, p.ringIDs[j])
			continue
		}
		ringing, ids = append(ringing, age), append(ids, p.ringIDs[j])
	}
	p.snap.Ringing, p.ringIDs = ringing, ids
	return hang
}

// errHungUp is the cause given to a ringing dial's placement when the
// pacer hangs it up.
var errHungUp = errors.New("hung up while ringing: the pacer expected no free worker for its answer")

// hangUp hangs up the ringing dials of c named by ids (see
// pacing.Pacer.Prune): each one's placement is cancelled, which ends the
// call before it is answered.
func (d *Dialler) hangUp(c *campaign, ids []string) {
	for _, id := range ids {
		c.mu.Lock()
		hang := c.hangups[id]
		c.mu.Unlock()
		if hang != nil {
			hang(errHungUp)
		}
	}
}
