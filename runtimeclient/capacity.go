package runtimeclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/voxplatform/vox/runtimeapi"
)

// FleetCapacity returns the free and busy workers of the fleets a call of
// orgID may use, as the Backend last polled them.
func (c *Client) FleetCapacity(ctx context.Context, orgID string) (runtimeapi.FleetCapacity, error) {
	var f runtimeapi.FleetCapacity
	err := c.do(ctx, http.MethodGet, runtimeapi.PathFleetCapacity+"?org_id="+url.QueryEscape(orgID), nil, &f)
	return f, err
}
