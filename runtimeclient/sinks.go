package runtimeclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/spool"
)

// CallSink delivers a spool of call records (key: call id, record: a
// runtimeapi.CallRecord in JSON) with PutCall. A record the Backend refuses
// for good (a 4xx) is given up (spool.Permanent); any other failure keeps it
// for the next try.
func (c *Client) CallSink() spool.Sink {
	return func(ctx context.Context, callID string, b []byte) error {
		var rec runtimeapi.CallRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return spool.Permanent(fmt.Errorf("call record %s: %w", callID, err))
		}
		return c.classify(c.PutCall(ctx, callID, rec))
	}
}

// AttachRecording tells the Backend that call callID's recording is
// uploaded under key. status is the call's status as the recorder last knew
// it; the Backend attaches a recording key whatever the status ordering. A
// refusal for good is wrapped by spool.Permanent (see recording.Uploader's
// Attach).
func (c *Client) AttachRecording(ctx context.Context, callID, agentID, status, key string) error {
	if status == "" {
		status = runtimeapi.CallInProgress
	}
	return c.classify(c.PutCall(ctx, callID, runtimeapi.CallRecord{AgentID: agentID, Status: status, RecordingKey: key}))
}

func (c *Client) classify(err error) error {
	if err != nil && Permanent(err) {
		return spool.Permanent(err)
	}
	return err
}
