package fairshare

import "sort"

// Claim is one campaign's claim on a pool's free workers at a tick.
type Claim struct {
	ID     string
	Weight int // the campaign's priority, ≥ 1
	// Want is the most free workers the campaign can use now (its
	// eligible contacts); 0 takes no share.
	Want int
	// Predictive is false for a campaign over its abandon budget.
	Predictive bool
}

// DRR is a weighted deficit round robin over free workers. The zero value
// is ready; it is not safe for concurrent use.
type DRR struct {
	// deficit is each campaign's credit carried between ticks, in workers.
	deficit map[string]float64
	// next is the position the next round starts from, so that no campaign
	// is always served first.
	next int
}

// Split gives each claim a share of free workers. Each round adds to every
// campaign that still wants workers a quantum of weight/Σweight, and the
// campaign with the most credit takes one worker per whole unit of credit;
// a campaign that wants nothing more loses its credit (it has nothing
// queued), as in DRR.
func (d *DRR) Split(free int, claims []Claim) map[string]int {
	if d.deficit == nil {
		d.deficit = map[string]float64{}
	}
	out := make(map[string]int, len(claims))
	cs := append([]Claim(nil), claims...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	active := func() (n int, sum float64) {
		for _, c := range cs {
			if out[c.ID] < c.Want && c.Weight > 0 {
				n++
				sum += float64(c.Weight)
			}
		}
		return n, sum
	}
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.ID] = true
		if c.Want <= 0 {
			delete(d.deficit, c.ID)
		}
	}
	for id := range d.deficit {
		if !seen[id] {
			delete(d.deficit, id)
		}
	}
	if len(cs) == 0 {
		return out
	}
	start := d.next % len(cs)
	d.next++
	for free > 0 {
		n, sum := active()
		if n == 0 {
			break
		}
		// The campaign with the most credit takes the next worker; when
		// none has a whole worker of credit, a round adds every wanting
		// campaign its quantum.
		best, bestD := -1, 0.0
		for k := range cs {
			i := (start + k) % len(cs)
			c := cs[i]
			if out[c.ID] >= c.Want || c.Weight <= 0 {
				continue
			}
			if dd := d.deficit[c.ID]; dd >= 1 && (best < 0 || dd > bestD) {
				best, bestD = i, dd
			}
		}
		if best < 0 {
			for _, c := range cs {
				if out[c.ID] < c.Want && c.Weight > 0 {
					d.deficit[c.ID] += float64(c.Weight) / sum
				}
			}
			continue
		}
		out[cs[best].ID]++
		d.deficit[cs[best].ID]--
		free--
	}
	for _, c := range cs {
		if out[c.ID] >= c.Want {
			delete(d.deficit, c.ID) // satisfied: nothing queued, no credit kept
		}
	}
	return out
}

// Limit bounds a campaign's dials for the tick: a predictive campaign
// dials what its pacer says; one over its abandon budget dials at most one
// call per free worker of its share not already covered by a call ringing.
func Limit(c Claim, share, ringing, paced int) int {
	if c.Predictive {
		return max(paced, 0)
	}
	return max(min(paced, share-ringing), 0)
}
