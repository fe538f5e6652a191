package fleets

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeclient"
)

// Fleets is a dialler.Attacher and dialler.Capacity over the Backend.
type Fleets struct {
	rt      *runtimeclient.Client
	secret  []byte
	subject string
	// Hosts is how many fleet hosts an answered call is offered to before
	// it is abandoned.
	Hosts int
}

// New returns Fleets asking rt and signing fleet tokens with secret.
func New(rt *runtimeclient.Client, secret []byte) *Fleets {
	return &Fleets{rt: rt, secret: secret, subject: "voxdialler", Hosts: 3}
}

// Pool implements dialler.Capacity.
func (f *Fleets) Pool(ctx context.Context, orgID string) (dialler.Pool, error) {
	c, err := f.rt.FleetCapacity(ctx, orgID)
	if err != nil {
		return dialler.Pool{}, err
	}
	return dialler.Pool{Free: c.Free, Busy: c.Busy, AsOf: c.CheckedAt}, nil
}

// Attach implements dialler.Attacher.
func (f *Fleets) Attach(ctx context.Context, d dialler.Dial) (string, error) {
	req := fleetapi.AttachRequest{CallID: d.CallID, Room: d.Room, Participant: d.Identity, AgentID: d.AgentID,
		OrgID: d.OrgID, CampaignID: d.CampaignID, ContactID: d.ContactID, To: d.To}
	var last error
	for range max(f.Hosts, 1) {
		ch, err := f.rt.SelectFleet(ctx, d.OrgID)
		var re *runtimeclient.Error
		if errors.As(err, &re) && re.Status == http.StatusServiceUnavailable {
			return "", fmt.Errorf("%w: %s", dialler.ErrNoWorker, re.Message)
		}
		if err != nil {
			return "", fmt.Errorf("select a fleet: %w", err)
		}
		cl, err := fleetapi.New(ch.URL, fleetapi.WithFleetToken(f.secret, ch.FleetID, f.subject))
		if err != nil {
			return "", err
		}
		_, err = cl.Attach(ctx, req)
		if err == nil {
			return ch.URL, nil
		}
		if !fleetapi.IsBusy(err) {
			return "", fmt.Errorf("attach to %s: %w", ch.URL, err)
		}
		last = err // this host is full: the next one
	}
	return "", fmt.Errorf("%w: every host offered was full (%v)", dialler.ErrNoWorker, last)
}
