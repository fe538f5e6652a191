package api

import (
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// callDetail is a call with a short-lived link to its recording.
type callDetail struct {
	store.Call
	RecordingURL string `json:"recording_url,omitempty"`
}

func (s *Server) callRoutes() {
	s.add(routeInfo{Method: http.MethodGet, Path: "/api/v1/calls", Summary: "List calls, newest first (without transcripts)", Tag: "calls",
		Access: accessUser, Role: store.RoleViewer,
		Query: []string{"status", "agent_id", "campaign_id", "direction", "limit", "cursor"},
		Out:   store.Page[store.Call]{}}, s.listCalls)
	s.add(routeInfo{Method: http.MethodGet, Path: "/api/v1/calls/:call_id", Summary: "Get a call with its transcript and recording link",
		Tag: "calls", Access: accessUser, Role: store.RoleViewer, Out: callDetail{}}, s.getCall)
	s.widgetRoutes()
}

func (s *Server) listCalls(c *fiber.Ctx) error {
	q, err := pageQuery(c)
	if err != nil {
		return err
	}
	q.Desc, q.Field = true, "seq" // transcripts: GET /api/v1/calls/{id} only
	f := bson.M{"org_id": principal(c).OrgID}
	for _, fl := range []filter{
		oneOfFilter("status", "status", runtimeapi.Statuses...),
		idFilter("agent_id", "agent_id"), idFilter("campaign_id", "campaign_id"),
		oneOfFilter("direction", "direction", "inbound", "outbound"),
	} {
		if v := c.Query(fl.Param); v != "" {
			cv, err := fl.Check(c, v)
			if err != nil {
				return err
			}
			f[fl.Field] = cv
		}
	}
	page, err := store.List[store.Call](c.UserContext(), s.store, store.CollCalls, f, q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) getCall(c *fiber.Ctx) error {
	id := c.Params("call_id")
	if !runtimeapi.ValidCallID(id) {
		return errNotFound
	}
	ctx := c.UserContext()
	call, err := store.FindOne[store.Call](ctx, s.store, store.CollCalls, bson.M{"_id": id, "org_id": principal(c).OrgID})
	if err != nil {
		return err
	}
	if call.Transcript, err = s.store.Transcript(ctx, call.OrgID, call.CallID); err != nil {
		return err
	}
	out := callDetail{Call: call}
	if call.RecordingKey != "" && s.minio != nil {
		params := url.Values{}
		params.Set("response-content-disposition", `attachment; filename="`+call.CallID+`"`)
		u, err := s.minio.PresignedGetObject(ctx, s.cfg.MinIO.Bucket, call.RecordingKey, s.cfg.MinIO.URLTTL, params)
		if err != nil {
			return httpErr(http.StatusServiceUnavailable, "recording store unavailable").withErr(err)
		}
		out.RecordingURL = u.String()
	}
	return c.JSON(out)
}
